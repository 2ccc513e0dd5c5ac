"""The read API under /api: contact lookup and communications, behind a bearer token."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import tzinfo
from typing import Any

from aiohttp import web

from daemon.domain.errors import BadInput
from daemon.domain.identifiers import KINDS, Identifier, parse_identifier
from daemon.domain.phones import normalise_phone
from daemon.http.auth import bearer_matches
from daemon.http.boundary import json_error, json_response, plain
from daemon.http.inputs import query_id, query_int, query_time
from daemon.runtime.keys import RELOADER, REPOSITORY, SETTINGS
from daemon.store.queries import q
from daemon.store.repository import translated_errors
from daemon.wishes.present import wish_document

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_COMMUNICATIONS = 500
DEFAULT_COMMUNICATIONS = 100
TEXT_SHOWN_CHARS = 4000


def bearer_auth(token: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Middleware: every /api/* request needs ``Authorization: Bearer <token>``."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/api/") and not bearer_matches(
                request.headers.get("Authorization", ""), token):
            response = json_error(401, "missing or wrong bearer token")
            response.headers["WWW-Authenticate"] = 'Bearer realm="callbridge"'
            return response
        return await handler(request)

    return middleware


def office_tz(request: web.Request) -> tzinfo:
    """The office's time zone as of now (SIGHUP may change it)."""
    settings = request.app[RELOADER].current if RELOADER in request.app else request.app[SETTINGS]
    return settings.tz


class ReadApi:
    """Handlers of /api/*; the repository comes from the running app."""

    def __init__(self, *, region: str) -> None:
        self.region = region

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/contacts/lookup", self.lookup)
        app.router.add_get("/api/communications", self.communications)

    async def lookup(self, request: web.Request) -> web.Response:
        given = [kind for kind in KINDS if request.query.get(kind, "").strip()]
        if len(given) != 1:
            raise BadInput(400, "give exactly one of " + ", ".join(KINDS))
        kind = given[0]
        found = parse_identifier(kind, request.query[kind], region=self.region)
        if not isinstance(found, Identifier):
            raise BadInput(400, f"{kind} is not valid", reason=getattr(found, "reason", None))
        card = await request.app[REPOSITORY].contact_card(found.kind, found.value)
        if card is None:
            raise BadInput(404, f"no contact with this {kind}", **{kind: found.value})
        responsible = None
        if card["responsible_extension"] or card["responsible_name"]:  # a manager by name has no extension yet
            responsible = {"extension": card["responsible_extension"], "name": card["responsible_name"]}
        return json_response({
            "id": card["id"],
            "name": card["name"],
            "phones": card["phones"],
            "emails": card["emails"],
            "telegram_ids": card["telegram_ids"],
            "vk_ids": card["vk_ids"],
            "max_ids": card["max_ids"],
            "avito_ids": card["avito_ids"],
            "instagram_ids": card["instagram_ids"],
            "responsible": responsible,
            "open_lead_id": card["open_lead_id"],
            "open_lead_wish": await _open_lead_wish(request, card["open_lead_id"]),
            "tags": card["tags"] or [],
            "ad_source": card["ad_source"],
            "birthday": plain(card["birthday"]),
            "note": card["note"],
            "do_not_call": card["do_not_call"],
            **profile_json(card),
        })

    async def communications(self, request: web.Request) -> web.Response:
        query = request.query
        phone = contact_id = None
        if "phone" in query:
            phone = normalise_phone(query["phone"], self.region)
            if phone is None:
                raise BadInput(400, "phone is not a valid phone number")
        else:
            contact_id = query_id(request, "contact_id")
            if contact_id is None:
                raise BadInput(400, "give phone=<number> or contact_id=<id> (ASCII digits)")
        limit = query_int(request, "limit", default=DEFAULT_COMMUNICATIONS, most=MAX_COMMUNICATIONS)
        tz = office_tz(request)
        rows = await request.app[REPOSITORY].communications(
            phone=phone, contact_id=contact_id, since=query_time(request, "since", tz),
            until=query_time(request, "until", tz), limit=limit,
        )
        return json_response([communication_json(r) for r in rows])


async def _open_lead_wish(request: web.Request, lead_id: int | None) -> dict[str, Any] | None:
    """What the tourist wants, as the open lead's wish says (docs/LEADS.md); None when nothing is known."""
    if lead_id is None:
        return None
    with translated_errors():
        row = await request.app[REPOSITORY].pool.fetchrow(q("wish_of_open_lead"), lead_id)
    if row is None:
        return None
    return wish_document(*(json.loads(v) if isinstance(v, str) else v for v in (row["parsed"], row["edited"])))


def profile_json(row: dict[str, Any]) -> dict[str, Any]:
    """The score, the preferred channel and the first contact of a contact's row (docs/LEADS.md)."""
    return {
        "score": row["score"],
        "score_reasons": json.loads(row["score_reasons"]) if row["score_reasons"] else [],
        "preferred_channel": row["preferred_channel"],
        "preferred_channel_by_hand": row["preferred_channel_by_hand"],
        "first_seen_at": plain(row["first_seen_at"]),
        "first_channel": row["first_channel"],
        "first_ad_source": row["first_ad_source"],
    }


def communication_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "entry_id": row["entry_id"],
        "channel": row["channel"],
        "direction": row["direction"],
        "status": row["status"],
        "phone": row["phone"] or row["phone_raw"],
        "contact_id": row["contact_id"],
        "lead_id": row["lead_id"],
        "manager_extension": row["manager_extension"],
        "participants": row["participants"],
        "line_number": row["line_number"],
        "ad_source": row["ad_source"],
        "started_at": plain(row["started_at"]),
        "answered_at": plain(row["answered_at"]),
        "ended_at": plain(row["ended_at"]),
        "talk_seconds": row["talk_seconds"],
        "recording_ids": row["recording_ids"],
        "note": row["note"],
        "routed_to": row.get("routed_to"),
        "route_reason": row.get("route_reason"),
        # Inquiries: which sender, what was written (a transcript is cut
        # here; the whole text stays in the database), and the ad campaign's tags.
        "source": row.get("source"),
        "text": (row.get("text") or "")[:TEXT_SHOWN_CHARS] or None,
        "utm": json.loads(row["utm"]) if row.get("utm") else None,
        "page_url": row.get("page_url"),
        "email": row.get("email"),
        "message_count": row.get("message_count"),
        "replied_at": plain(row.get("replied_at")),
    }
