"""``GET /api/contacts/duplicates`` and ``POST /api/contacts/not-duplicates``."""

from __future__ import annotations

import math
import re

from aiohttp import web
from pydantic import BaseModel, Field

from daemon.contacts import duplicates
from daemon.contacts.api import store
from daemon.domain.errors import BadInput
from daemon.http.boundary import json_response
from daemon.http.inputs import json_model, query_id, query_int

MAX_CANDIDATES = 500
EXTENSION = re.compile(r"^[0-9A-Za-z_-]{1,32}$")  # as the screen's sign-in accepts it
MAX_OFFSET = 10_000_000


class NotDuplicatesBody(BaseModel):
    contact_ids: list[int] = Field(min_length=2, max_length=2)
    actor: str = Field(default="api", min_length=1, max_length=200)


def _min_score(request: web.Request) -> float | None:
    """``min_score``: a number from 0 to 1, or absent."""
    text = request.query.get("min_score")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # NaN fails this too
        raise BadInput(400, "min_score must be a number from 0 to 1")
    return value


def _responsible(request: web.Request) -> str | None:
    """``responsible``: a manager's extension (the page's «мои»), or absent."""
    text = request.query.get("responsible")
    if not text:
        return None
    if not EXTENSION.match(text):
        raise BadInput(400, "responsible must be an extension such as 105")
    return text


async def get_duplicates(request: web.Request) -> web.Response:
    """``{total, items}``: a page of the kept candidates (``limit``, ``offset``, ``reason``,
    ``min_score``, ``responsible``), or those of one contact (``contact_id``)."""
    count = query_int(request, "limit", default=100, most=MAX_CANDIDATES)
    contact_id = query_id(request, "contact_id")
    if contact_id is not None:
        page = await duplicates.duplicates_of_contact(store(request), contact_id, limit=count)
    else:
        offset = query_int(request, "offset", default=0, least=0, most=MAX_OFFSET)
        page = await duplicates.duplicates(store(request), limit=count, offset=offset,
                                           reason=request.query.get("reason") or None,
                                           min_score=_min_score(request),
                                           responsible=_responsible(request))
    return json_response(page.as_json())


async def post_not_duplicates(request: web.Request) -> web.Response:
    body = await json_model(request, NotDuplicatesBody)
    pair = await duplicates.mark_not_duplicates(store(request), body.contact_ids, actor=body.actor)
    return json_response({"contact_ids": pair, "not_duplicates": True})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/contacts/duplicates", get_duplicates)
    app.router.add_post("/api/contacts/not-duplicates", post_not_duplicates)
