"""HTTP API of the contact base under /api (behind the API's bearer token):
cards by id, merge and undo, the merge journal. Later sections add duplicates,
hygiene and do-not-call (daemon/contacts/api_*.py)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from daemon.contacts.errors import ContactRefused
from daemon.contacts.merge import merge_contacts
from daemon.contacts.store import ContactStore
from daemon.contacts.undo import undo_merge
from daemon.http import inputs
from daemon.runtime.keys import REPOSITORY

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_ID = inputs.MAX_ID
MAX_JOURNAL = 500


class MergeBody(BaseModel):
    survivor_id: int = Field(gt=0, le=MAX_ID)
    merged_ids: list[int] = Field(min_length=1, max_length=100)
    actor: str = Field(default="api", min_length=1, max_length=200)
    reason: str = Field(default="", max_length=2000)


class UndoBody(BaseModel):
    actor: str = Field(default="api", min_length=1, max_length=200)


def answers(handler: Handler) -> Handler:
    """Our refusals (with their details, which may hold times) and an invalid body become 4xx with a
    reason; the rest (bad input, storage away or out of time) is daemon/http/boundary.py's to answer."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ContactRefused as exc:
            return web.json_response(exc.as_json(), status=exc.status, dumps=dumps)
        except ValidationError as exc:
            problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
            return web.json_response({"error": "invalid request body", "problems": problems}, status=400)

    return wrapped


def store(request: web.Request) -> ContactStore:
    return ContactStore(request.app[REPOSITORY])


async def json_body(request: web.Request) -> Any:
    """The body as JSON (daemon.http.inputs: 400 for anything else)."""
    return await inputs.json_value(request, example="a JSON object")


def path_id(request: web.Request, name: str) -> int:
    """A positive bigint id from the path (daemon.http.inputs: 404 for anything else)."""
    return inputs.path_id(request, name)


def flag(request: web.Request, name: str) -> bool:
    return inputs.query_flag(request, name)


def limit(request: web.Request, *, default: int, most: int) -> int:
    return inputs.query_int(request, "limit", default=default, most=most)


def _iso(value: Any) -> Any:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_iso)


def card_json(card: dict[str, Any]) -> dict[str, Any]:
    responsible = None
    if card["responsible_extension"] or card["responsible_name"]:  # a manager by name has no extension yet
        responsible = {"extension": card["responsible_extension"], "name": card["responsible_name"]}
    keys = ("id", "requested_id", "name", "phones", "emails", "telegram_ids", "vk_ids", "invalid_identifiers",
            "open_lead_id", "ad_source", "do_not_call", "communications", "leads", "note")
    doc = {k: card[k] for k in keys}
    doc |= {"responsible": responsible, "tags": card["tags"] or [],
            "birthday": card["birthday"].isoformat() if card["birthday"] else None,
            "created_at": _iso(card["created_at"]), "last_communication_at": _iso(card["last_communication_at"])}
    return doc


def merge_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _iso(v) for k, v in row.items()}


@answers
async def get_card(request: web.Request) -> web.Response:
    card = await store(request).card(path_id(request, "contact_id"))
    return web.json_response(card_json(card), dumps=dumps)


@answers
async def post_merge(request: web.Request) -> web.Response:
    body = MergeBody.model_validate(await json_body(request))
    result = await store(request).in_transaction(lambda tx: merge_contacts(
        tx, survivor_id=body.survivor_id, merged_ids=body.merged_ids, actor=body.actor, reason=body.reason))
    return web.json_response(result.as_json())


@answers
async def post_undo(request: web.Request) -> web.Response:
    merge_id = path_id(request, "merge_id")
    force = flag(request, "force")
    body = UndoBody.model_validate(await json_body(request) if request.can_read_body else {})
    result = await store(request).in_transaction(
        lambda tx: undo_merge(tx, merge_id=merge_id, actor=body.actor, force=force))
    return web.json_response(result.as_json())


@answers
async def get_merges(request: web.Request) -> web.Response:
    rows = await store(request).recent_merges(limit(request, default=50, most=MAX_JOURNAL))
    return web.json_response([merge_json(r) for r in rows], dumps=dumps)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/contacts/merge", post_merge)
    app.router.add_get(r"/api/contacts/{contact_id:\d+}", get_card)
    app.router.add_get("/api/merges", get_merges)
    app.router.add_post("/api/merges/{merge_id}/undo", post_undo)
