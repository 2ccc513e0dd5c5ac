"""``GET /metrics``: this process's Prometheus metrics, in the text format.

Counters and histograms are kept up to date where things happen (the webhook
handler, the router); the gauges that describe a state (database connections
in use, spool backlog) are read at scrape time, so they are never stale.
No token: like /health it is for the monitoring on the same host or network,
and it holds no secret and no caller data (labels come from fixed sets).
"""

from __future__ import annotations

import inspect

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from daemon.runtime.keys import METRICS, REPOSITORY, SPOOL
from daemon.runtime.metrics import Metrics


async def refresh_gauges(app: web.Application, metrics: Metrics) -> None:
    repo = app.get(REPOSITORY)
    if repo is not None and repo.connected:  # not yet while PostgreSQL is away since the start
        pool = repo.pool
        metrics.pool_in_use.set(max(0, pool.get_size() - pool.get_idle_size()))
    spool = app.get(SPOOL)
    if spool is not None:
        backlog = spool.backlog()
        metrics.spool_backlog.set(await backlog if inspect.isawaitable(backlog) else backlog)


async def metrics_handler(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    await refresh_gauges(request.app, metrics)
    return web.Response(
        body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics_handler)
