"""Every route of daemon/leads, registered with one call from daemon/runtime/app.py."""

from __future__ import annotations

from aiohttp import web

from daemon.leads import analytics_api, api, campaigns_api, funnel_api, tasks_api, wish_api


def add_routes(app: web.Application) -> None:
    api.add_routes(app)
    wish_api.add_routes(app)  # after api's /api/leads/reasons
    analytics_api.add_routes(app)
    funnel_api.add_routes(app)
    campaigns_api.add_routes(app)
    tasks_api.add_routes(app)
