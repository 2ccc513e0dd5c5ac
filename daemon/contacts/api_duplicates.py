"""``GET /api/contacts/duplicates`` and ``POST /api/contacts/not-duplicates``."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from daemon.contacts import duplicates
from daemon.contacts.api import MAX_ID, ContactRefused, answers, json_body, limit, store

MAX_CANDIDATES = 500
MAX_OFFSET = 10_000_000


class NotDuplicatesBody(BaseModel):
    contact_ids: list[int] = Field(min_length=2, max_length=2)
    actor: str = Field(default="api", min_length=1, max_length=200)


def _number(request: web.Request, name: str, *, least: int, most: int) -> int | None:
    text = request.query.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or not least <= int(text) <= most:
        raise ContactRefused(400, f"{name} must be an integer {least}..{most}")
    return int(text)


@answers
async def get_duplicates(request: web.Request) -> web.Response:
    """``{total, items}``: a page of the kept candidates (``limit``, ``offset``, ``reason``),
    or those of one contact (``contact_id``)."""
    count = limit(request, default=100, most=MAX_CANDIDATES)
    contact_id = _number(request, "contact_id", least=1, most=MAX_ID)
    if contact_id is not None:
        page = await duplicates.duplicates_of_contact(store(request), contact_id, limit=count)
    else:
        offset = _number(request, "offset", least=0, most=MAX_OFFSET) or 0
        page = await duplicates.duplicates(store(request), limit=count, offset=offset,
                                           reason=request.query.get("reason") or None)
    return web.json_response(page.as_json())


@answers
async def post_not_duplicates(request: web.Request) -> web.Response:
    body = NotDuplicatesBody.model_validate(await json_body(request))
    pair = await duplicates.mark_not_duplicates(store(request), body.contact_ids, actor=body.actor)
    return web.json_response({"contact_ids": pair, "not_duplicates": True})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/contacts/duplicates", get_duplicates)
    app.router.add_post("/api/contacts/not-duplicates", post_not_duplicates)
