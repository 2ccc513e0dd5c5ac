"""The aiohttp application: webhook intake, read API, and the resources they share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from adapters.mango.webhooks import MangoWebhooks
from config.settings import WEBHOOK_BODY_LIMIT_BYTES, Settings
from daemon import health, metrics_endpoint, migrate, security
from daemon.api import ReadApi, bearer_auth
from daemon.database import create_pool
from daemon.domain import Envelope
from daemon.intake import Intake
from daemon.leads import web as leads_web
from daemon.keys import INTAKE, METRICS, PIPELINE, RELOADER, REPOSITORY, SETTINGS, SPOOL, TASKS
from daemon.spool import Spool
from daemon.metrics import Metrics
from daemon.tasks import TaskGroup
from daemon.pipeline import Pipeline
from daemon.reload import Reloader
from daemon.report import api as report_api
from daemon.repository import Repository
from daemon.calls_api import CallsApi
from daemon.routing.context import pbx_and_routing
from daemon.screen import add_screen

log = structlog.get_logger(__name__)

SHUTDOWN_GRACE_S = 10.0


def build_app(settings: Settings, *, database_url: str, apply_migrations: bool = True) -> web.Application:
    """The daemon's app; its cleanup contexts open (and close) the database pool."""
    settings.require("mango_api_key", "mango_api_salt", "api_token")
    app = web.Application(
        client_max_size=WEBHOOK_BODY_LIMIT_BYTES,
        middlewares=[*security.middlewares(
            prefix=settings.mango_prefix, allowed=settings.pbx_allowed_networks,
            trusted_proxies=settings.trusted_proxies, max_concurrent=settings.max_concurrent_requests,
            timeout_s=settings.request_timeout_s,
        ), bearer_auth(settings.secret("api_token"))],
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[RELOADER] = Reloader(settings)
    if settings.spool_enabled:
        app.cleanup_ctx.append(_spool)
    app.cleanup_ctx.append(_database(database_url, apply_migrations=apply_migrations))
    app.cleanup_ctx.append(_background_tasks)
    app.cleanup_ctx.append(pbx_and_routing)
    add_screen(app, database_url=database_url)  # after the tasks context: starts tasks in it

    async def sink(env: Envelope) -> str:
        return await app[INTAKE].accept(env)

    MangoWebhooks(
        api_key=settings.secret("mango_api_key"),
        api_salt=settings.secret("mango_api_salt"),
        sink=sink,
        body_limit_bytes=WEBHOOK_BODY_LIMIT_BYTES,
        metrics=app[METRICS],
    ).add_routes(app, settings.mango_prefix)
    ReadApi(region=settings.default_region).add_routes(app)
    CallsApi(region=settings.default_region).add_routes(app)
    report_api.add_routes(app)
    leads_web.add_routes(app)
    health.add_routes(app)
    metrics_endpoint.add_routes(app)
    return app


async def _spool(app: web.Application) -> AsyncIterator[None]:
    """The local spool opens before the database: events spooled by an earlier run wait there."""
    spool = Spool(app[SETTINGS].state_dir / "spool")
    app[SPOOL] = spool
    yield
    spool.close()


async def _background_tasks(app: web.Application) -> AsyncIterator[None]:
    """Registered after the database so that it is cleaned up first: tasks stop before the pool closes."""
    tasks = TaskGroup()
    app[TASKS] = tasks
    tasks.start("spool-replayer", app[INTAKE].replay_forever(app[REPOSITORY].ping))
    yield
    await tasks.stop()


def _database(url: str, *, apply_migrations: bool):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        pool = await create_pool(settings, url, attempts=settings.db_connect_attempts)
        try:
            if apply_migrations:
                async with pool.acquire() as conn:
                    await migrate.migrate(conn)
            repo = Repository(pool)
            app[REPOSITORY] = repo
            app[PIPELINE] = Pipeline(repo, region=settings.default_region,
                                     lead_stale_days=settings.lead_stale_days)
            app[INTAKE] = Intake(app[PIPELINE], spool=app.get(SPOOL), db_budget_s=settings.db_budget_s,
                                 max_in_flight=settings.max_in_flight)
            log.info("database_ready", pool_max=settings.db_pool_max)
            yield
        finally:
            await pool.close()

    return ctx

