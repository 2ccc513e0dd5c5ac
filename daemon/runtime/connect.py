"""Opening PostgreSQL: at start when it answers, else in the background while the spool keeps events.

With a spool, PostgreSQL is not needed to keep events, so it is not needed to
start: after a restart during a database outage the daemon listens, spools
and says ``warn`` on /health, while a supervised task (``database-connect``)
keeps trying, logging each failed attempt, with back-off up to
``RETRY_MAX_S``. Once the pool opens (and the migrations are applied) it is
attached to the repository and the spool replayer drains the backlog.

Without a spool (``spool_enabled = false``) an event could not be kept, so the
start waits for PostgreSQL as before: ``db_connect_attempts`` tries, then one
clear error and a non-zero exit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from config.settings import Settings
from daemon.domain.errors import CallbridgeError, StorageError, StorageUnavailable
from daemon.inquiries.projector import InquiryPipeline
from daemon.inquiries.reply_status import ReplyStatusProjector
from daemon.intake.durable import Intake
from daemon.intake.pipeline import Pipeline
from daemon.runtime.keys import INTAKE, METRICS, PIPELINE, RELOADER, REPOSITORY, SETTINGS, SPOOL
from daemon.store import migrate
from daemon.store.database import CONNECT_BACKOFF_S, create_pool
from daemon.store.repository import Repository

log = structlog.get_logger(__name__)

RETRY_MAX_S = 10.0
CONNECT_TASK = "database-connect"


async def open_pool(settings: Settings, url: str, *, attempts: int, apply_migrations: bool) -> asyncpg.Pool:
    """A pool on a migrated database, or StorageUnavailable / StorageError."""
    pool = await create_pool(settings, url, attempts=attempts)
    try:
        if apply_migrations:
            async with pool.acquire() as conn:
                await migrate.migrate(conn)
    except asyncpg.PostgresError as exc:
        await pool.close()
        raise StorageError(f"migrations failed: {exc}") from exc
    except (OSError, asyncpg.InterfaceError, TimeoutError) as exc:
        await pool.close()
        raise StorageUnavailable(f"PostgreSQL went away while migrating: {exc}") from exc
    except BaseException:
        pool.terminate()
        raise
    return pool


def database_context(url: str, *, apply_migrations: bool):
    """Cleanup context: the repository, pipeline and intake, with the pool if PostgreSQL answers."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        repo = Repository()
        app[REPOSITORY] = repo
        inquiries = InquiryPipeline(region=settings.default_region, settings=lambda: app[RELOADER].current,
                                    on_filed=app[METRICS].inquiry_filed)
        # The projector registry: the core hands each stored event to its kind's projector.
        app[PIPELINE] = Pipeline(repo, region=settings.default_region, projectors=[inquiries, ReplyStatusProjector()],
                                 lead_stale_days=lambda: app[RELOADER].current.leads.stale_days)
        app[INTAKE] = Intake(app[PIPELINE], spool=app.get(SPOOL), db_budget_s=settings.spool.db_budget_s,
                             max_in_flight=settings.spool.max_in_flight, metrics=app.get(METRICS))
        try:
            if app.get(SPOOL) is None:
                repo.attach(await open_pool(settings, url, attempts=settings.database.connect_attempts,
                                            apply_migrations=apply_migrations))
            else:
                try:
                    repo.attach(await open_pool(settings, url, attempts=1, apply_migrations=apply_migrations))
                except CallbridgeError as exc:
                    log.warning("database_not_connected_at_start", error=str(exc),
                                then="listening and spooling; connecting in the background")
                    app[INTAKE].database_ok = False
            if repo.connected:
                log.info("database_ready", pool_max=settings.database.pool_max)
            yield
        finally:
            await app[INTAKE].committer.close()  # its writers hold pool connections
            await repo.close()

    return ctx


def background_connect(app: web.Application, url: str, *,
                       apply_migrations: bool) -> Callable[[], Coroutine[Any, Any, None]]:
    """The ``database-connect`` task's factory (restartable: a crash just starts it over)."""

    async def connect() -> None:
        settings, repo = app[SETTINGS], app[REPOSITORY]
        delay, attempt = CONNECT_BACKOFF_S, 0
        while not repo.connected:
            attempt += 1
            try:
                pool = await open_pool(settings, url, attempts=1, apply_migrations=apply_migrations)
            except CallbridgeError as exc:
                # Wrong credentials are logged as errors but retried too: the events wait safely
                # in the spool, and an administrator may fix pg_hba.conf without restarting us.
                level = log.warning if isinstance(exc, StorageUnavailable) else log.error
                level("database_connect_retry", attempt=attempt, error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            repo.attach(pool)
            log.info("database_ready", pool_max=settings.database.pool_max, attempts=attempt)
            app[INTAKE].wake()

    return connect
