"""PostgreSQL goes away, hangs, or cannot keep up: every event is still answered 200 and kept.

Each test plays a stream of generated calls (tests/callgen.py) through the
real app while it injects the fault, lets the spool drain, and then compares
the database with the state a clean delivery of the same calls gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings
from daemon.runtime.app import build_app
from daemon.runtime.keys import INTAKE, SPOOL
from daemon.store.repository import Repository
from tests.callgen import (
    app_settings,
    clean_state,
    distinct_events,
    durable_state,
    generate_calls,
    stream,
)
from tests.conftest import load_office
from tests.support.faults import Sender, TcpProxy, eventually, proxied_url

CALLS = 40
BUDGET_S = 1.0
SHORT_FREEZE_S = 3.0
LONG_FREEZE_S = 10.0
# How long past the budget a request may take while PostgreSQL is frozen:
# scheduling slack on a loaded 2-core machine, not a performance target.
BUDGET_SLACK_S = 2.0
LAGGING_EVENTS = 24


@pytest.fixture
def freeze_s(request: pytest.FixtureRequest) -> float:
    """How long a fault lasts: short in CI, the full 10 s with --long-faults."""
    long = request.config.getoption("--long-faults") or os.environ.get("CALLBRIDGE_TEST_LONG_FAULTS") == "1"
    return LONG_FREEZE_S if long else SHORT_FREEZE_S


def _thirds(items: list) -> tuple[list, list, list]:
    a, b = len(items) // 3, 2 * len(items) // 3
    return items[:a], items[a:b], items[b:]


@pytest.fixture
async def expected(server_url: str, template_db: str, tmp_path: Path) -> dict:
    return await clean_state(server_url, template_db, str(tmp_path / "clean"), count=CALLS)


@contextlib.asynccontextmanager
async def _serve(settings: Settings, url: str) -> AsyncIterator[TestClient]:
    app = build_app(settings, database_url=url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def _drained(client: TestClient, repo: Repository, events: int) -> bool:
    if client.app[SPOOL].backlog() or not client.app[INTAKE].database_ok:
        return False
    return await repo.pool.fetchval("SELECT count(*) FROM inbox") == events


async def _health(client: TestClient) -> tuple[int, dict]:
    resp = await client.get("/health")
    return resp.status, await resp.json(content_type=None)


async def test_postgres_stopped_mid_stream_loses_nothing(
    db_url: str, office: Repository, expected: dict, tmp_path: Path, freeze_s: float
) -> None:
    """PostgreSQL refuses connections for a while: every event is answered 200 (spooled) and drained after."""
    calls = generate_calls(CALLS)
    before, during, after = _thirds(stream(calls))
    parts = urlsplit(db_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    url = proxied_url(db_url, proxy)
    settings = app_settings(url, str(tmp_path / "state"), db_budget_s=str(BUDGET_S))
    try:
        async with _serve(settings, url) as client:
            sender = Sender([str(client.make_url("")).rstrip("/")])
            await sender.send(before)
            await proxy.set_mode("reset")
            down_at = asyncio.get_running_loop().time()
            await sender.send(during, start_index=len(before))
            status, doc = await _health(client)
            assert (status, doc["status"]) == (200, "warn"), doc
            assert client.app[SPOOL].backlog() > 0
            await asyncio.sleep(max(0.0, freeze_s - (asyncio.get_running_loop().time() - down_at)))
            await proxy.set_mode("pass")
            await sender.send(after, start_index=len(before) + len(during))
            # Nothing needed a retry: the PBX saw a 200 for every event, outage or not.
            assert sender.failed_attempts == 0
            assert sender.outcomes["spooled"] >= len(during)
            await eventually(lambda: _drained(client, office, distinct_events(calls)), what="spool drained")
    finally:
        await proxy.close()
    assert await durable_state(office) == expected


async def test_slow_then_silent_network_to_postgres_loses_nothing(
    db_url: str, office: Repository, expected: dict, tmp_path: Path
) -> None:
    """The link to PostgreSQL first lags (every packet delayed), then goes silent (packets swallowed,
    connections kept open): events wait at most the budget, are spooled, and drain once it flows."""
    calls = generate_calls(CALLS)
    items = stream(calls)
    # A lagging link costs each event some dozen round trips: a short stretch of it is enough.
    lagging, rest = items[:LAGGING_EVENTS], items[LAGGING_EVENTS:]
    silent, after = rest[:len(rest) // 2], rest[len(rest) // 2:]
    parts = urlsplit(db_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    url = proxied_url(db_url, proxy)
    settings = app_settings(url, str(tmp_path / "state"), db_budget_s=str(BUDGET_S))
    try:
        async with _serve(settings, url) as client:
            sender = Sender([str(client.make_url("")).rstrip("/")], workers=4)
            await proxy.set_mode("delay", delay_s=0.01)
            await sender.send(lagging)
            await proxy.set_mode("stall")
            stalled = Sender(sender.targets, workers=4)
            await stalled.send(silent, start_index=len(lagging))
            await proxy.set_mode("pass")
            await sender.send(after, start_index=len(lagging) + len(silent))
            assert sender.failed_attempts == stalled.failed_attempts == 0
            assert stalled.outcomes["spooled"] == len(silent)
            assert stalled.slowest_s <= BUDGET_S + BUDGET_SLACK_S
            await eventually(lambda: _drained(client, office, distinct_events(calls)), timeout_s=40,
                             what="spool drained")
    finally:
        await proxy.close()
    assert await durable_state(office) == expected


async def test_overload_spools_the_excess_instead_of_queueing_it(
    db_url: str, office: Repository, expected: dict, tmp_path: Path
) -> None:
    """At the in-flight cap an event is spooled at once, so a burst never queues work in memory."""
    calls = generate_calls(CALLS)
    items = stream(calls)
    max_in_flight = 4
    settings = app_settings(db_url, str(tmp_path / "state"), max_in_flight=str(max_in_flight),
                            db_pool_max="16")
    db_name = urlsplit(db_url).path.lstrip("/")
    busy_peak = 0
    bursting = True

    async def watch_busy_connections() -> None:
        """The database's own view: how many of our connections are inside a transaction at once."""
        nonlocal busy_peak
        conn = await asyncpg.connect(db_url)
        try:
            while bursting:
                busy = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
                    " AND state IN ('active', 'idle in transaction')", db_name)
                busy_peak = max(busy_peak, busy)
                await asyncio.sleep(0.002)
        finally:
            await conn.close()

    async with _serve(settings, db_url) as client:
        watcher = asyncio.create_task(watch_busy_connections())
        sender = Sender([str(client.make_url("")).rstrip("/")], workers=100)
        await sender.send(items)  # about 100 requests in flight at every moment
        bursting = False
        await watcher
        assert sender.failed_attempts == 0
        assert sender.outcomes["spooled"] > 0
        await eventually(lambda: _drained(client, office, distinct_events(calls)), what="spool drained")
    # The cap, plus the spool replayer's one connection, plus the office fixture's own pool.
    assert busy_peak <= max_in_flight + 1
    assert await durable_state(office) == expected


# -- PostgreSQL hangs: a private server whose processes we may freeze ----------------

@pytest.fixture
def private_postgres() -> Iterator[tuple[str, Path]]:
    """An embedded PostgreSQL of this test's own (the shared one must never be signalled)."""
    with tempfile.TemporaryDirectory(prefix="callbridge-freeze-pg-") as data_dir:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver then uses /tmp, which is fine.
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(data_dir, cleanup_mode="stop")
        try:
            yield server.get_uri("postgres"), Path(data_dir)
        finally:
            _signal_postgres(Path(data_dir), signal.SIGCONT)
            server.cleanup()


def _postgres_pids(data_dir: Path) -> list[int]:
    """The postmaster (first line of postmaster.pid) and every backend it forked."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            children.append(int(stat.parent.name))
    return [postmaster, *children]


def _signal_postgres(data_dir: Path, sig: signal.Signals) -> None:
    if not (data_dir / "postmaster.pid").exists():
        return
    for pid in _postgres_pids(data_dir):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


@pytest.mark.timeout(90)
async def test_postgres_frozen_each_request_waits_only_the_budget(
    private_postgres: tuple[str, Path], expected: dict, tmp_path: Path, freeze_s: float
) -> None:
    """SIGSTOP on PostgreSQL: requests answer 200 spooled within about the budget, health says warn,
    and once it runs again everything drains."""
    url, data_dir = private_postgres
    calls = generate_calls(CALLS)
    before, during, after = _thirds(stream(calls))
    settings = app_settings(url, str(tmp_path / "state"), db_budget_s=str(BUDGET_S))
    app = build_app(settings, database_url=url, apply_migrations=True)
    async with TestClient(TestServer(app)) as client:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        repo = Repository(pool)
        try:
            await load_office(repo)
            sender = Sender([str(client.make_url("")).rstrip("/")], workers=4)
            await sender.send(before)
            assert sender.outcomes["spooled"] == 0
            loop = asyncio.get_running_loop()
            _signal_postgres(data_dir, signal.SIGSTOP)
            frozen_at = loop.time()
            try:
                frozen_sender = Sender(sender.targets, workers=4)
                await frozen_sender.send(during, start_index=len(before))
                status, doc = await _health(client)
                answered_while_frozen = loop.time() - frozen_at < freeze_s
                await asyncio.sleep(max(0.0, freeze_s - (loop.time() - frozen_at)))
            finally:
                _signal_postgres(data_dir, signal.SIGCONT)
            assert answered_while_frozen, "requests waited for PostgreSQL instead of spooling"
            assert frozen_sender.failed_attempts == 0
            assert frozen_sender.outcomes["spooled"] == len(during)
            assert frozen_sender.slowest_s <= BUDGET_S + BUDGET_SLACK_S
            # Alive and telling the truth: the loop answers, the database check fails, the spool carries us.
            assert (status, doc["status"]) == (200, "warn"), doc
            await sender.send(after, start_index=len(before) + len(during))
            await eventually(lambda: _drained(client, repo, distinct_events(calls)), timeout_s=40,
                             what="spool drained after SIGCONT")
            assert await durable_state(repo) == expected
        finally:
            await pool.close()
