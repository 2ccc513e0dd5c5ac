"""Every HTTP route of the contact base, added by one line in daemon/runtime/app.py."""

from __future__ import annotations

from aiohttp import web

from daemon.contacts import api, api_duplicates, api_hygiene, api_profile


def add_routes(app: web.Application) -> None:
    api_duplicates.add_routes(app)
    api_hygiene.add_routes(app)
    api_profile.add_routes(app)
    api.add_routes(app)
