"""/api/leads: list a contact's leads, close one as won or lost; the reasons a lost lead may give."""

from __future__ import annotations

import asyncio

from aiohttp import web

from daemon.domain.errors import BadInput
from daemon.http.boundary import json_response
from daemon.http.inputs import json_object, json_value, path_id, query_id, query_int
from daemon.leads import lost
from daemon.leads.closing import (
    STATUSES,
    close_lead,
    lead_json,
    list_leads,
    validate_close,
)
from daemon.leads.tags import MAX_TAG_CHARS, add_tag, remove_tag
from daemon.runtime.keys import RELOADER, REPOSITORY


async def leads(request: web.Request) -> web.Response:
    query = request.query
    contact_text, status = query.get("contact_id"), query.get("status")
    if contact_text is None and status is None:
        raise BadInput(400, "give contact_id=<id> or status=<status> (or both)")
    contact_id = query_id(request, "contact_id")
    if status is not None and status not in STATUSES:
        raise BadInput(400, f"status must be one of {', '.join(STATUSES)}")
    rows = await list_leads(request.app[REPOSITORY].pool, contact_id=contact_id, status=status)
    return json_response([lead_json(r) for r in rows])


async def close(request: web.Request) -> web.Response:
    lead_id = path_id(request, "lead_id")
    body = await json_object(request, example='{"outcome": "won"|"lost", "reason": "…"}')
    reasons = request.app[RELOADER].current.leads.lost_reasons
    outcome, reason = validate_close(body.get("outcome"), body.get("reason"), reasons)
    row = await close_lead(request.app[REPOSITORY].pool, lead_id, outcome, reason)
    return json_response(lead_json(row))


async def reasons(request: web.Request) -> web.Response:
    return json_response({"reasons": list(request.app[RELOADER].current.leads.lost_reasons)})


async def untag(request: web.Request) -> web.Response:
    """DELETE /api/contacts/{id}/tags/{tag}: removed by hand, and a computed tag stays removed."""
    contact_id = path_id(request, "contact_id")
    tag = request.match_info["tag"].strip()
    if not tag:
        raise BadInput(404, "no such tag")
    tags = await remove_tag(request.app[REPOSITORY].pool, contact_id, tag,
                            by=request.query.get("by") or None)
    if tags is None:
        raise BadInput(404, f"no contact {contact_id}")
    return json_response({"id": contact_id, "tags": tags})


async def tag(request: web.Request) -> web.Response:
    """POST /api/contacts/{id}/tags {"tag": "…"}: a manager's own tag."""
    contact_id = path_id(request, "contact_id")
    body = await json_value(request, example=f'{{"tag": "…"}} with 1..{MAX_TAG_CHARS} characters')
    text = body.get("tag") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TAG_CHARS:
        raise BadInput(400, f'the body must be {{"tag": "…"}} with 1..{MAX_TAG_CHARS} characters')
    tags = await add_tag(request.app[REPOSITORY].pool, contact_id, text.strip())
    if tags is None:
        raise BadInput(404, f"no contact {contact_id}")
    return json_response({"id": contact_id, "tags": tags})


LOST_CONTENT_TYPES = {"json": "application/json", "csv": "text/csv", "text": "text/plain",
                      "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


LOST_PAGE_ROWS = 200
LOST_PAGE_MOST = 10_000  # one spreadsheet for a day of calls; the CLI writes all of them
MAX_OFFSET = 100_000_000


async def lost_clients(request: web.Request) -> web.Response:
    """GET /api/reports/lost-clients?format=json|csv|xlsx|text&limit=1..10000&offset=N (the best first).

    JSON is ``{total, offset, limit, items}``; the other formats carry the same page's rows.
    """
    fmt = request.query.get("format", "json")
    if fmt not in lost.LOST_FORMATS:
        raise BadInput(400, f"format must be one of {', '.join(lost.LOST_FORMATS)}")
    limit = query_int(request, "limit", default=LOST_PAGE_ROWS, most=LOST_PAGE_MOST)
    offset = query_int(request, "offset", default=0, least=0, most=MAX_OFFSET)
    page = await lost.lost_clients_page(request.app[REPOSITORY].pool, request.app[RELOADER].current,
                                        limit=limit, offset=offset)
    if fmt == "json":
        return json_response(lost.page_json(page, limit=limit))
    headers = {"X-Total-Count": str(page.total)}
    if fmt == "xlsx":  # xlsxwriter writes cell by cell: not in the event loop
        body = await asyncio.to_thread(lost.render_xlsx, page.rows)
        headers["Content-Disposition"] = 'attachment; filename="lost-clients.xlsx"'
        return web.Response(body=body, content_type=LOST_CONTENT_TYPES[fmt], headers=headers)
    text = (lost.render_csv(page.rows) if fmt == "csv"
            else lost.render_text(page.rows, request.app[RELOADER].current.tz))
    return web.Response(text=text, content_type=LOST_CONTENT_TYPES[fmt], charset="utf-8", headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/reports/lost-clients", lost_clients)
    app.router.add_post("/api/contacts/{contact_id}/tags", tag)
    app.router.add_delete("/api/contacts/{contact_id}/tags/{tag}", untag)
    app.router.add_get("/api/leads", leads)
    app.router.add_get("/api/leads/reasons", reasons)
    app.router.add_put("/api/leads/{lead_id}/close", close)
