"""HTTP API of the contact base under /api (behind the API's bearer token):
cards by id, merge (``?dry_run=true``: what would move, nothing written) and undo, the
merge journal. Later sections add duplicates, hygiene and do-not-call (daemon/contacts/api_*.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from daemon.contacts.merge import MergeResult, merge_contacts
from daemon.contacts.store import ContactStore
from daemon.contacts.undo import undo_merge
from daemon.http.boundary import json_response, plain
from daemon.http.inputs import MAX_ID, json_model, path_id, query_flag, query_int
from daemon.http.lookup import profile_json
from daemon.runtime.keys import REPOSITORY
from daemon.store.repository import Tx

MAX_JOURNAL = 500


class MergeBody(BaseModel):
    survivor_id: int = Field(gt=0, le=MAX_ID)
    merged_ids: list[int] = Field(min_length=1, max_length=100)
    actor: str = Field(default="api", min_length=1, max_length=200)
    reason: str = Field(default="", max_length=2000)


class UndoBody(BaseModel):
    actor: str = Field(default="api", min_length=1, max_length=200)


def store(request: web.Request) -> ContactStore:
    return ContactStore(request.app[REPOSITORY])


def card_json(card: dict[str, Any]) -> dict[str, Any]:
    responsible = None
    if card["responsible_extension"] or card["responsible_name"]:  # a manager by name has no extension yet
        responsible = {"extension": card["responsible_extension"], "name": card["responsible_name"]}
    keys = ("id", "requested_id", "name", "phones", "emails", "telegram_ids", "vk_ids", "max_ids", "avito_ids",
            "instagram_ids", "invalid_identifiers", "open_lead_id", "ad_source", "do_not_call", "communications",
            "leads", "note")
    doc = {k: card[k] for k in keys}
    doc |= {"responsible": responsible, "tags": card["tags"] or [],
            "birthday": plain(card["birthday"]),
            "created_at": plain(card["created_at"]), "last_communication_at": plain(card["last_communication_at"])}
    return doc | profile_json(card)


def merge_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in row.items()}


async def get_card(request: web.Request) -> web.Response:
    card = await store(request).card(path_id(request, "contact_id"))
    return json_response(card_json(card))


class _Preview(Exception):  # noqa: N818 (not an error: it carries the result out of a rolled-back merge)
    def __init__(self, result: MergeResult) -> None:
        super().__init__("merge preview")
        self.result = result


async def post_merge(request: web.Request) -> web.Response:
    """The merge; with ``dry_run=true`` the same merge in a transaction rolled back: ``moved``
    says exactly what would move (the page shows it before the manager confirms)."""
    body = await json_model(request, MergeBody)
    dry_run = query_flag(request, "dry_run")

    async def merge(tx: Tx) -> MergeResult:
        result = await merge_contacts(tx, survivor_id=body.survivor_id, merged_ids=body.merged_ids,
                                      actor=body.actor, reason=body.reason)
        if dry_run:
            raise _Preview(result)  # leaves the transaction: every write of the merge is rolled back
        return result

    try:
        result = await store(request).in_transaction(merge)
    except _Preview as preview:
        return json_response(preview.result.as_json() | {"merge_id": None, "dry_run": True})
    return json_response(result.as_json())


async def post_undo(request: web.Request) -> web.Response:
    merge_id = path_id(request, "merge_id")
    force = query_flag(request, "force")
    body = await json_model(request, UndoBody, optional=True)
    result = await store(request).in_transaction(
        lambda tx: undo_merge(tx, merge_id=merge_id, actor=body.actor, force=force))
    return json_response(result.as_json())


async def get_merges(request: web.Request) -> web.Response:
    rows = await store(request).recent_merges(query_int(request, "limit", default=50, most=MAX_JOURNAL))
    return json_response([merge_json(r) for r in rows])


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/contacts/merge", post_merge)
    app.router.add_get(r"/api/contacts/{contact_id:\d+}", get_card)
    app.router.add_get("/api/merges", get_merges)
    app.router.add_post("/api/merges/{merge_id}/undo", post_undo)
