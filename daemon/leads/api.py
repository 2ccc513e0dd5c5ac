"""/api/leads: list a contact's leads, close one as won or lost; the reasons a lost lead may give."""

from __future__ import annotations

from aiohttp import web

from daemon.http.inputs import json_object, json_value, path_id, query_id
from daemon.leads import lost
from daemon.leads.closing import (
    STATUSES,
    LeadError,
    close_lead,
    lead_json,
    list_leads,
    validate_close,
)
from daemon.leads.tags import MAX_TAG_CHARS, add_tag, remove_tag
from daemon.runtime.keys import RELOADER, REPOSITORY


def _error(status: int, problem: str) -> web.Response:
    return web.json_response({"error": problem}, status=status)


async def leads(request: web.Request) -> web.Response:
    query = request.query
    contact_text, status = query.get("contact_id"), query.get("status")
    if contact_text is None and status is None:
        return _error(400, "give contact_id=<id> or status=<status> (or both)")
    contact_id = query_id(request, "contact_id")
    if status is not None and status not in STATUSES:
        return _error(400, f"status must be one of {', '.join(STATUSES)}")
    rows = await list_leads(request.app[REPOSITORY].pool, contact_id=contact_id, status=status)
    return web.json_response([lead_json(r) for r in rows])


async def close(request: web.Request) -> web.Response:
    lead_id = path_id(request, "lead_id")
    body = await json_object(request, example='{"outcome": "won"|"lost", "reason": "…"}')
    reasons = request.app[RELOADER].current.leads.lost_reasons
    try:
        outcome, reason = validate_close(body.get("outcome"), body.get("reason"), reasons)
        row = await close_lead(request.app[REPOSITORY].pool, lead_id, outcome, reason)
    except LeadError as exc:
        return _error(exc.status, str(exc))
    return web.json_response(lead_json(row))


async def reasons(request: web.Request) -> web.Response:
    return web.json_response({"reasons": list(request.app[RELOADER].current.leads.lost_reasons)})


async def untag(request: web.Request) -> web.Response:
    """DELETE /api/contacts/{id}/tags/{tag}: removed by hand, and a computed tag stays removed."""
    contact_id = path_id(request, "contact_id")
    tag = request.match_info["tag"].strip()
    if not tag:
        return _error(404, "no such tag")
    tags = await remove_tag(request.app[REPOSITORY].pool, contact_id, tag,
                            by=request.query.get("by") or None)
    if tags is None:
        return _error(404, f"no contact {contact_id}")
    return web.json_response({"id": contact_id, "tags": tags})


async def tag(request: web.Request) -> web.Response:
    """POST /api/contacts/{id}/tags {"tag": "…"}: a manager's own tag."""
    contact_id = path_id(request, "contact_id")
    body = await json_value(request, example=f'{{"tag": "…"}} with 1..{MAX_TAG_CHARS} characters')
    text = body.get("tag") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TAG_CHARS:
        return _error(400, f'the body must be {{"tag": "…"}} with 1..{MAX_TAG_CHARS} characters')
    tags = await add_tag(request.app[REPOSITORY].pool, contact_id, text.strip())
    if tags is None:
        return _error(404, f"no contact {contact_id}")
    return web.json_response({"id": contact_id, "tags": tags})


LOST_CONTENT_TYPES = {"json": "application/json", "csv": "text/csv", "text": "text/plain",
                      "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


async def lost_clients(request: web.Request) -> web.Response:
    """GET /api/reports/lost-clients?format=json|csv|xlsx|text."""
    fmt = request.query.get("format", "json")
    if fmt not in lost.LOST_FORMATS:
        return _error(400, f"format must be one of {', '.join(lost.LOST_FORMATS)}")
    rows = await lost.lost_clients(request.app[REPOSITORY].pool, request.app[RELOADER].current)
    if fmt == "json":
        return web.json_response({"rows": [lost.row_json(r) for r in rows]})
    if fmt == "xlsx":
        return web.Response(body=lost.render_xlsx(rows), content_type=LOST_CONTENT_TYPES[fmt],
                            headers={"Content-Disposition": 'attachment; filename="lost-clients.xlsx"'})
    text = lost.render_csv(rows) if fmt == "csv" else lost.render_text(rows)
    return web.Response(text=text, content_type=LOST_CONTENT_TYPES[fmt], charset="utf-8")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/reports/lost-clients", lost_clients)
    app.router.add_post("/api/contacts/{contact_id}/tags", tag)
    app.router.add_delete("/api/contacts/{contact_id}/tags/{tag}", untag)
    app.router.add_get("/api/leads", leads)
    app.router.add_get("/api/leads/reasons", reasons)
    app.router.add_put("/api/leads/{lead_id}/close", close)
