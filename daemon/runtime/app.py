"""The aiohttp application: webhook intake, read API, and the resources they share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from adapters.mango import webhooks as mango
from config.settings import WEBHOOK_BODY_LIMIT_BYTES, Settings
from daemon.calls.api import CallsApi
from daemon.contacts import routes as contacts_api
from daemon.contacts.score import flush_forever
from daemon.http import boundary, metrics_endpoint, security
from daemon.http.lookup import ReadApi, bearer_auth
from daemon.inbox.web import add_inbox
from daemon.inquiries import api as inquiries_api
from daemon.inquiries import replies_api
from daemon.inquiries.mail_tasks import reload_mailboxes, start_mailboxes
from daemon.inquiries.outbox_sender import start_reply_sender
from daemon.intake import webhooks
from daemon.intake.spool import Spool
from daemon.leads import web as leads_web
from daemon.leads.nightly import nightly_forever
from daemon.report import api as report_api
from daemon.routing.context import pbx_and_routing
from daemon.runtime import health, logs
from daemon.runtime.connect import CONNECT_TASK, background_connect, database_context
from daemon.runtime.keys import INTAKE, METRICS, RELOADER, REPOSITORY, SETTINGS, SPOOL, TASKS
from daemon.runtime.metrics import Metrics
from daemon.runtime.reload import Reloader
from daemon.runtime.tasks import TaskGroup
from daemon.screen import add_screen
from daemon.store.settle import settle_forever
from daemon.store.statistics import keep_statistics_forever

log = structlog.get_logger(__name__)

SHUTDOWN_GRACE_S = 10.0


def build_app(settings: Settings, *, database_url: str, apply_migrations: bool = True) -> web.Application:
    """The daemon's app; its cleanup contexts open (and close) the database pool."""
    settings.require("mango_api_key", "mango_api_salt", "api_token")
    app = web.Application(
        client_max_size=WEBHOOK_BODY_LIMIT_BYTES,
        # The log context and the error answers wrap everything else, the limits included.
        # Ours are plain callables; aiohttp's Middleware is a protocol that also
        # names the parameters: the same thing at runtime.
        middlewares=cast(list[Middleware], [*boundary.middlewares(), *security.middlewares(
            prefix=settings.mango.prefix, allowed=settings.mango.allowed_networks,
            trusted_proxies=settings.http.trusted_proxies, max_concurrent=settings.http.max_concurrent_requests,
            timeout_s=settings.http.request_timeout_s,
        ), bearer_auth(settings.secret("api_token"))]),
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[RELOADER] = Reloader(settings)
    # A source added on SIGHUP brings its secret: redacted from the logs from then on.
    app[RELOADER].subscribe(lambda old, new: logs.remember_secrets(health.secrets_of(new)))
    if settings.spool.enabled:
        app.cleanup_ctx.append(_spool)
    app.cleanup_ctx.append(database_context(database_url, apply_migrations=apply_migrations))
    app.cleanup_ctx.append(_background_tasks(database_url, apply_migrations=apply_migrations))
    app.cleanup_ctx.append(pbx_and_routing)
    add_screen(app, database_url=database_url)  # after the tasks context: starts tasks in it
    add_inbox(app)  # likewise: its sweep is one of app[TASKS]

    pbx = webhooks.Sender(name=mango.SOURCE, kind=mango.SOURCE, label=mango.path_label,
                          translate=mango.translator(api_key=settings.secret("mango_api_key"),
                                                     api_salt=settings.secret("mango_api_salt")),
                          body_limit_bytes=WEBHOOK_BODY_LIMIT_BYTES)

    def pbx_sender(request: web.Request) -> webhooks.Sender:
        path = request.match_info["path"].strip("/")
        structlog.contextvars.bind_contextvars(pbx_path=path[:mango.MAX_PATH_LOGGED])
        return pbx

    # The PBX's events and every inquiry source's (daemon/inquiries/api.py) go through one handler.
    app.router.add_post(settings.mango.prefix + "/{path:.*}", webhooks.handler(pbx_sender))
    ReadApi(region=settings.default_region).add_routes(app)
    CallsApi(region=settings.default_region).add_routes(app)
    report_api.add_routes(app)
    inquiries_api.add_routes(app)
    replies_api.add_routes(app)
    leads_web.add_routes(app)
    contacts_api.add_routes(app)
    health.add_routes(app)
    metrics_endpoint.add_routes(app)
    return app


async def _spool(app: web.Application) -> AsyncIterator[None]:
    """The local spool opens before the database: events spooled by an earlier run wait there."""
    spool = Spool(app[SETTINGS].state_dir / "spool")
    app[SPOOL] = spool
    yield
    spool.close()


def _background_tasks(database_url: str, *, apply_migrations: bool):
    """Registered after the database so that it is cleaned up first: tasks stop before the pool closes.

    The replayer and the connector are restartable (factories); see daemon.runtime.tasks.
    """

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        metrics = app[METRICS]
        tasks = TaskGroup(on_restart=lambda name: metrics.task_restarts.labels(name).inc())
        app[TASKS] = tasks
        intake, repo = app[INTAKE], app[REPOSITORY]
        if not repo.connected:
            tasks.start(CONNECT_TASK, background_connect(app, database_url, apply_migrations=apply_migrations))
        tasks.start("spool-replayer", lambda: intake.replay_forever(repo.ping))
        # Scores whose inputs changed, every 30 s; the nightly jobs once a day across daemons.
        tasks.start("score-flush", lambda: flush_forever(lambda: repo.pool, lambda: app[RELOADER].current))
        tasks.start("nightly", lambda: nightly_forever(lambda: repo.pool, lambda: app[RELOADER].current))
        # The duplicate candidates and analytics facts the webhooks touched, just after their commit.
        tasks.start("settle", lambda: settle_forever(lambda: repo.pool))
        # ANALYZE of the tables the webhooks grow, where autovacuum is off or behind.
        tasks.start("statistics", lambda: keep_statistics_forever(lambda: repo.pool))
        start_mailboxes(app, app[SETTINGS])  # one "mailbox:<source>" task per e-mail source
        app[RELOADER].subscribe(lambda old, new: reload_mailboxes(app, old, new))
        start_reply_sender(app)  # "reply-sender": the outbox's replies (daemon/inquiries/outbox_sender.py)
        yield
        await tasks.stop()

    return ctx
