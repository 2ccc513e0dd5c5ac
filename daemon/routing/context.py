"""The app's PBX client session and its router: opened and closed by one cleanup context."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import structlog
from aiohttp import web

from adapters.mango.client import MangoClient
from config.settings import Settings
from daemon.routing.pacing import SharedRateLimit
from daemon.routing.policy import RoutingPolicy
from daemon.routing.router import Router
from daemon.runtime.keys import (
    INTAKE,
    METRICS,
    PBX_CLIENT,
    RELOADER,
    REPOSITORY,
    ROUTER,
    ROUTING_CLOCK,
    SETTINGS,
    TASKS,
)
from daemon.store.repository import Repository

log = structlog.get_logger(__name__)

ROUTING_TASK = "routing"


async def pbx_and_routing(app: web.Application) -> AsyncIterator[None]:
    """Registered after the database and the task group.

    Cleanup runs in reverse, so the router stops and the PBX session closes
    before the task group and the pool go.
    """
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as session:
        client = MangoClient(session, base_url=settings.mango.api_url,
                             api_key=settings.secret("mango_api_key"),
                             api_salt=settings.secret("mango_api_salt"),
                             timeout_s=settings.mango.request_timeout_s)
        app[PBX_CLIENT] = client
        policy = RoutingPolicy.from_settings(settings)
        router = Router(repo=app[REPOSITORY], client=client, policy=policy,
                        limiter=SharedRateLimit(app[REPOSITORY], settings.routing.rate_per_s),
                        ivr_hold_s=settings.routing.ivr_hold_s,
                        request_timeout_s=settings.mango.request_timeout_s,
                        metrics=app[METRICS], clock=app.get(ROUTING_CLOCK))
        app[ROUTER] = router
        # Always listening: a reload that adds office hours switches routing on.
        app[INTAKE].subscribe(router.on_event)
        task = app[TASKS].start(ROUTING_TASK, router.run())
        if RELOADER in app:
            repo = app[REPOSITORY]
            app[RELOADER].subscribe(lambda old, new: _reconfigure(router, repo, old, new))
        _log_policy(settings, policy)
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _reconfigure(router: Router, repo: Repository, old: Settings, new: Settings) -> None:
    policy = RoutingPolicy.from_settings(new)
    rate_changed = new.routing.rate_per_s != old.routing.rate_per_s
    limiter = SharedRateLimit(repo, new.routing.rate_per_s) if rate_changed else None
    router.reconfigure(policy=policy, ivr_hold_s=new.routing.ivr_hold_s,
                       request_timeout_s=new.mango.request_timeout_s, limiter=limiter)
    _log_policy(new, policy)


def _log_policy(settings: Settings, policy: RoutingPolicy) -> None:
    if policy.enabled:
        log.info("routing_enabled", administrator=policy.administrator,
                 line_rules=len(policy.line_rules), route_rate_per_s=settings.routing.rate_per_s,
                 ivr_hold_s=settings.routing.ivr_hold_s)
    else:
        # A choice of the settings (a trial, an office that routes in the PBX), not a fault: info.
        log.info("routing_disabled", why="no office_hours configured: calls are left to the PBX")
