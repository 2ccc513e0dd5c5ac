"""``GET``/``PUT /api/leads/{id}/wish`` (``GET /api/leads/{id}`` carries the wish too: daemon/leads/funnel_api.py).

``GET /api/leads/{id}/wish?format=json|uon``: the wish, or U-ON's ``lead/create`` fields
(daemon/wishes/uon.py). ``PUT /api/leads/{id}/wish?by=<who>`` with any of the wish's keys
(``null`` clears one): a manager's value, never overwritten by a later inquiry.
"""

from __future__ import annotations

from aiohttp import web

from daemon.domain.errors import BadInput
from daemon.http.boundary import json_response
from daemon.http.inputs import json_value, path_id
from daemon.leads.wish import edit_wish, wish_of
from daemon.runtime.keys import REPOSITORY
from daemon.wishes.uon import uon_fields

WISH_FORMATS = ("json", "uon")
MAX_BY_CHARS = 100
EXAMPLE = '{"destination": {"country": "Турция", "resort": "Анталья"}, "date_from": "2026-06-01", "adults": 2}'


async def wish(request: web.Request) -> web.Response:
    lead_id = path_id(request, "lead_id")
    fmt = request.query.get("format", "json")
    if fmt not in WISH_FORMATS:
        raise BadInput(400, f"format must be one of {', '.join(WISH_FORMATS)}")
    found = await wish_of(request.app[REPOSITORY].pool, lead_id)
    if fmt == "uon":
        return json_response(uon_fields(found or {}))
    return json_response({"lead_id": lead_id, "wish": found})


async def put_wish(request: web.Request) -> web.Response:
    lead_id = path_id(request, "lead_id")
    body = await json_value(request, example=EXAMPLE)
    by = (request.query.get("by") or "api").strip()[:MAX_BY_CHARS] or "api"
    found = await edit_wish(request.app[REPOSITORY].pool, lead_id, body, by=by)
    return json_response({"lead_id": lead_id, "wish": found})


def add_routes(app: web.Application) -> None:
    """After /api/leads/reasons (registered first, so «reasons» is never taken for an id)."""
    app.router.add_get("/api/leads/{lead_id}/wish", wish)
    app.router.add_put("/api/leads/{lead_id}/wish", put_wish)
