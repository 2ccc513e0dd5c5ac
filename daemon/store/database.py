"""Connecting to PostgreSQL: the configured server, or an embedded one for trial runs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import stat
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from config.settings import Settings, SettingsError
from daemon.domain.errors import StorageError, StorageRefused, StorageTimeout, StorageUnavailable
from daemon.store.queries import CURRENT_QUERY

log = structlog.get_logger(__name__)

CONNECT_ATTEMPTS = 10
CONNECT_BACKOFF_S = 0.5
CONNECT_BACKOFF_MAX_S = 5.0
CONNECT_TIMEOUT_S = 5.0
EMBEDDED_DB_NAME = "callbridge"
ROOT_TRIAL_DATA_BASE = Path("/var/tmp")

# Errors that mean "PostgreSQL is not there (yet)", worth retrying at start-up.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    # A connection the server ended in the middle of an operation can be left in a
    # protocol state asyncpg refuses to leave ("cannot switch to state 15; another
    # operation is in progress"): seen when PostgreSQL restarts under load
    # (tests/faults/test_faults_restart.py). The connection is gone, not the event bad.
    asyncpg.InternalClientError,
)


# SQLSTATE classes (and single codes) of errors that pass: the server is away,
# restarting, failing over, out of a resource, or chose this transaction as a
# deadlock or serialization victim. Retrying later (or spooling now) is right;
# the event itself is fine. https://www.postgresql.org/docs/current/errcodes-appendix.html
#   08 connection exception, 40 transaction rollback (deadlock, serialization),
#   53 insufficient resources (too many connections, out of memory or disk),
#   57 operator intervention (admin shutdown, cannot connect now, query canceled
#      by statement_timeout), 58 system error (I/O error on the server),
#   25006 read-only SQL transaction (a standby promoted late, or read-only set).
PASSING_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
PASSING_SQLSTATES = frozenset({"25006", "55P03"})  # 55P03: lock_not_available (lock_timeout)
# "This value is refused": the input's fault, not the server's, answered with a 4xx.
#   22 data exception (bad encoding, NUL, out-of-range number or date),
#   23502 not null and 23514 check violations (a value the schema rules out).
# Not a unique (23505), foreign key (23503) or exclusion (23P01) violation: those
# can come from a race with another writer, so they stay errors (a 500, which the
# PBX retries), never a 4xx that would have the event dropped.
REFUSED_SQLSTATE_CLASSES = frozenset({"22"})
REFUSED_SQLSTATES = frozenset({"23502", "23514"})


# One transaction's bad luck rather than the database gone: the same work may well pass
# at once, so a batch retries it on the spot instead of spooling or answering 503.
RETRY_AT_ONCE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def retryable(exc: BaseException) -> bool:
    """``exc`` (one of ours, raised ``from`` the driver's error) is a deadlock or a serialization failure.

    The one definition: daemon/intake/groupcommit.py and the contact import both retry on it.
    """
    return getattr(exc.__cause__, "sqlstate", None) in RETRY_AT_ONCE_SQLSTATES


def classify(exc: BaseException) -> type[StorageError | StorageUnavailable] | None:
    """Which of our errors an exception from the driver means; None: not a database error.

    Sorted by SQLSTATE, not by Python class: asyncpg maps a SQLSTATE to a class
    (AdminShutdownError, DeadlockDetectedError, ReadOnlySQLTransactionError...),
    and a class list misses every code nobody thought of.
    """
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        if state in PASSING_SQLSTATES or state[:2] in PASSING_SQLSTATE_CLASSES:
            return StorageUnavailable
        if state in REFUSED_SQLSTATES or state[:2] in REFUSED_SQLSTATE_CLASSES:
            return StorageRefused
        return StorageError
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return StorageUnavailable
    return None


# A query stopped for running out of time: PostgreSQL's statement_timeout (57014) and
# lock_timeout (55P03), whose messages name the timeout ("canceling statement due to
# statement timeout"); the same codes from pg_cancel_backend or NOWAIT are not timeouts.
# asyncpg's own command timeout is a TimeoutError.
TIMEOUT_SQLSTATES = frozenset({"57014", "55P03"})


def is_query_timeout(exc: BaseException) -> bool:
    """``exc`` says that a query ran out of time, rather than that PostgreSQL is away."""
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        return state in TIMEOUT_SQLSTATES and "timeout" in str(exc)
    return isinstance(exc, TimeoutError) and not _while_connecting(exc)


# Where asyncpg opens a connection: a TimeoutError raised there is a server that did not answer.
_CONNECTING_FRAMES = frozenset({("connection.py", "connect"), ("pool.py", "_get_new_connection"),
                                ("connect_utils.py", "_connect"), ("connect_utils.py", "_connect_addr")})


def _while_connecting(exc: BaseException) -> bool:
    """A TimeoutError raised on the way to a new connection: the server did not answer at all."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        folder, _, name = code.co_filename.rpartition(os.sep)
        if folder.endswith("asyncpg") and (name, code.co_name) in _CONNECTING_FRAMES:
            return True
        tb = tb.tb_next
    return False


def translate(exc: BaseException, *, started: float | None = None) -> StorageError | StorageUnavailable | None:
    """Our exception for ``exc`` (to be raised ``from`` it), or None to let it through.

    ``started`` (``time.monotonic()``) is when the work began: a timeout says how long it ran.
    """
    kind = classify(exc)
    if kind is None:
        return None
    if kind is StorageUnavailable and is_query_timeout(exc):
        after_s = round(time.monotonic() - started, 1) if started is not None else 0.0
        return StorageTimeout(query=CURRENT_QUERY.get(), after_s=after_s)
    state = getattr(exc, "sqlstate", None)
    suffix = f" (SQLSTATE {state})" if state else ""
    if kind is StorageUnavailable:
        return StorageUnavailable(f"PostgreSQL unavailable: {exc!r}{suffix}")
    if kind is StorageRefused:
        return StorageRefused(f"PostgreSQL refused a value: {exc}{suffix}", sqlstate=state)
    return StorageError(f"PostgreSQL error: {exc}{suffix}")


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """asyncpg's and the socket's errors become ours, sorted by ``classify``; a query that ran
    out of time becomes StorageTimeout, saying how long the block ran."""
    started = time.monotonic()
    try:
        yield
    except Exception as exc:
        ours = translate(exc, started=started)
        if ours is None:
            raise
        raise ours from exc


def _others_can_reach(path: Path) -> bool:
    """Every existing directory on the way to ``path`` lets other users pass through."""
    for folder in [path, *path.parents]:
        if folder.exists() and not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def embedded_data_dir(state_dir: Path) -> Path:
    """Where the embedded server keeps its data: ``state_dir/postgres``, except for root.

    PostgreSQL refuses to run as root, so pgserver runs it as its own user
    ``pgserver``, which cannot pass through a private folder such as /root or
    pytest's /tmp/pytest-of-root. Rather than loosen the permissions of the
    user's folders, a root trial run keeps the data under /var/tmp instead.
    """
    wanted = state_dir.resolve() / "postgres"
    if os.geteuid() != 0 or _others_can_reach(wanted.parent):
        return wanted
    digest = hashlib.sha256(str(wanted).encode()).hexdigest()[:12]
    moved = ROOT_TRIAL_DATA_BASE / f"callbridge-{digest}" / "postgres"
    moved.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    log.warning("embedded_postgres_relocated", wanted=str(wanted), data_dir=str(moved),
                reason="running as root: the embedded server's user cannot reach the state directory")
    return moved


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """The URL of the embedded server on ``data_dir``: started, or the running one joined.

    pgserver counts the processes that use a data directory and stops the server
    when the last one leaves, so a command beside a running daemon shares its server."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log.debug("embedded_postgres_starting", data_dir=str(data_dir))
    with _no_runtime_dir_warning():
        import pgserver  # imported here: only trial runs need its 40 MB of binaries

        server = pgserver.get_server(data_dir, cleanup_mode="stop")
    try:
        exists = server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DB_NAME}';"
        )
        if "(0 rows)" in exists:
            server.psql(f"CREATE DATABASE {EMBEDDED_DB_NAME};")
        uri = server.get_uri(EMBEDDED_DB_NAME)
        log.debug("embedded_postgres_ready", uri=uri)
        yield uri
    finally:
        with _no_runtime_dir_warning():
            server.cleanup()


@contextlib.contextmanager
def _no_runtime_dir_warning() -> Iterator[None]:
    """platformdirs warns on stderr when XDG_RUNTIME_DIR is unset (a server's root, a container);
    pgserver then keeps its lock files under /tmp, which is fine: no warning for the user."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        yield


async def connect_with_retries(url: str, *, attempts: int = CONNECT_ATTEMPTS) -> asyncpg.Connection:
    """One connection, retried with back-off while PostgreSQL is starting or away."""
    delay = CONNECT_BACKOFF_S
    for attempt in range(1, attempts + 1):
        try:
            return await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
        except Exception as exc:
            if classify(exc) is not StorageUnavailable:
                if isinstance(exc, asyncpg.PostgresError):
                    # Wrong database name, password or permissions: retrying will not help.
                    raise StorageError(f"PostgreSQL refused the connection: {exc}") from exc
                raise
            # Not there, starting up or shutting down (57P03), too many connections: retry.
            if attempt == attempts:
                raise StorageUnavailable(f"PostgreSQL did not answer after {attempts} attempts: {exc}") from exc
            log.warning("database_connect_retry", attempt=attempt, error=str(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, CONNECT_BACKOFF_MAX_S)
    raise AssertionError("unreachable")


def session_settings(settings: Settings) -> dict[str, str]:
    """PostgreSQL settings of every pooled connection, sent with the start-up packet."""
    return {"jit": "on" if settings.database.jit else "off"}


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.execute("SET TIME ZONE 'UTC'")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a pool connection without asyncpg's reset query: one round trip less per event.

    asyncpg still rolls back a transaction left open. There is no session state
    to clear: advisory locks are per transaction (migrate releases its session
    lock itself), nothing on the pool LISTENs (the screen has a connection of its
    own) or keeps cursors, and the one setting is the UTC time zone above, which
    the reset query used to undo.
    """


async def create_pool(settings: Settings, url: str, *, attempts: int = CONNECT_ATTEMPTS) -> asyncpg.Pool:
    """The daemon's pool, after a bounded number of connection attempts."""
    if settings.database.pool_min > settings.database.pool_max:
        raise SettingsError("setting db_pool_min: must not exceed db_pool_max")
    first = await connect_with_retries(url, attempts=attempts)
    await first.close()
    pool_kwargs: dict[str, Any] = dict(
        min_size=settings.database.pool_min,
        max_size=settings.database.pool_max,
        command_timeout=settings.database.command_timeout_s,
        timeout=CONNECT_TIMEOUT_S,
        init=_init_connection,
        reset=_keep_session,
        server_settings=session_settings(settings),
    )
    try:
        return await asyncpg.create_pool(url, **pool_kwargs)
    except Exception as exc:
        if classify(exc) is StorageUnavailable:
            raise StorageUnavailable(f"PostgreSQL pool could not be opened: {exc}") from exc
        if isinstance(exc, asyncpg.PostgresError):
            raise StorageError(f"PostgreSQL refused the connection: {exc}") from exc
        raise


@contextlib.asynccontextmanager
async def pool_from_settings(settings: Settings, url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings, url)
    try:
        yield pool
    finally:
        await pool.close()
