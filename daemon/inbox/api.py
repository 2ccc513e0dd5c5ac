"""``/api/inbox``: the open items, one item with its decisions, closing one by hand; shifts."""

from __future__ import annotations

import re
from datetime import datetime

from aiohttp import web

from daemon.domain.errors import BadInput
from daemon.http.boundary import json_response
from daemon.http.inputs import json_object, path_id, query_int, storable_text
from daemon.inbox import store
from daemon.inbox.keys import INBOX_CLOCK
from daemon.inbox.sweep import wall_clock
from daemon.runtime.keys import REPOSITORY

EXTENSION = re.compile(r"^[0-9A-Za-z_-]{1,32}$")
MAX_REASON_CHARS = 500


def _now(request: web.Request) -> datetime:
    return request.app.get(INBOX_CLOCK, wall_clock)()


def _extension(value: object, where: str) -> str:
    text = value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""
    if not EXTENSION.match(text):
        raise BadInput(400, f"{where} must be an extension: 1 to 32 letters, digits, _ or -")
    return text


async def inbox(request: web.Request) -> web.Response:
    """``GET /api/inbox[?extension=105][&limit=100]``: ``{total, items}``, overdue first, then by due time."""
    extension = request.query.get("extension")
    limit = query_int(request, "limit", default=100, most=store.MAX_ITEMS)
    found = await store.list_items(request.app[REPOSITORY].pool, now=_now(request), limit=limit,
                                   extension=None if extension is None else _extension(extension, "extension"))
    return json_response(found)


async def one(request: web.Request) -> web.Response:
    """``GET /api/inbox/{item_id}``: the item, its state and every assignment decision with its reason."""
    item_id = path_id(request, "item_id")
    pool = request.app[REPOSITORY].pool
    found = await store.item(pool, item_id, _now(request))
    if found is None:
        raise BadInput(404, f"no inbox item {item_id}")
    found["decisions"] = await store.decisions(pool, item_id)
    return json_response(found)


async def done(request: web.Request) -> web.Response:
    """``POST /api/inbox/{item_id}/done {"extension", "reason"}``: closed by a manager."""
    item_id = path_id(request, "item_id")
    body = await json_object(request, example='{"extension": "105", "reason": "спам"}')
    extension = _extension(body.get("extension"), "extension")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BadInput(400, "reason must be text")
    reason = storable_text(reason.strip(), "reason") or None if reason else None
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise BadInput(400, f"reason must be at most {MAX_REASON_CHARS} characters")
    closed = await store.close_item(request.app[REPOSITORY].pool, item_id, extension=extension, reason=reason)
    return json_response(closed)


async def shift(request: web.Request) -> web.Response:
    """``PUT /api/managers/{extension}/shift {"on": true|false}``."""
    extension = _extension(request.match_info["extension"], "the path's extension")
    body = await json_object(request, example='{"on": true}')
    on = body.get("on")
    if not isinstance(on, bool):
        raise BadInput(400, 'on must be true or false: {"on": true}')
    pool = request.app[REPOSITORY].pool
    await store.set_shift(pool, extension, on)
    return json_response({"extension": extension, "on": on,
                              "on_shift": await store.on_shift(pool, extension, _now(request))})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/inbox", inbox)
    app.router.add_get("/api/inbox/{item_id}", one)
    app.router.add_post("/api/inbox/{item_id}/done", done)
    app.router.add_put("/api/managers/{extension}/shift", shift)
