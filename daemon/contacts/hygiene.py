"""The base's hygiene: do-not-call marks, invalid identifiers, and purging empty contacts.

Purge is two-stage so that a mistake costs nothing: ``purge`` marks empty
contacts removed (hidden from lookups and reports; ``restore`` brings one
back), and each later ``purge`` deletes for good those removed more than
PURGE_AFTER_DAYS ago that are still empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from daemon.contacts.errors import ContactRefused
from daemon.contacts.store import ContactStore
from daemon.store.queries import q
from daemon.store.repository import Tx
from daemon.store.statistics import analyze_written

PURGE_AFTER_DAYS = 30
MAX_REASON_CHARS = 500


async def set_do_not_call(store: ContactStore, contact_id: int, reason: str) -> dict[str, Any]:
    """Mark every identifier of the contact; answers the card's ``do_not_call``."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_CHARS:
        raise ContactRefused(400, f"reason must be 1..{MAX_REASON_CHARS} characters")
    card = await store.card(contact_id)  # 404 for an unknown or removed contact
    rows = await store.fetch("set_do_not_call", contact_id, reason)
    if not rows:
        raise ContactRefused(409, "the contact has no phone, e-mail or messenger id to mark",
                             contact_id=card["id"])
    return {"contact_id": card["id"], "do_not_call": (await store.card(contact_id))["do_not_call"]}


async def lift_do_not_call(store: ContactStore, contact_id: int) -> dict[str, Any]:
    card = await store.card(contact_id)
    await store.fetch("lift_do_not_call", contact_id)
    return {"contact_id": card["id"], "do_not_call": None}


async def invalid_identifiers(store: ContactStore) -> list[dict[str, Any]]:
    return await store.fetch("invalid_identifiers")


@dataclass(frozen=True)
class PurgeResult:
    empty: list[dict[str, Any]]  # listed (dry run) or marked removed now
    deleted: list[dict[str, Any]]  # removed long enough ago: gone for good
    dry_run: bool


async def purge(store: ContactStore, *, dry_run: bool) -> PurgeResult:
    empty = await store.fetch("empty_contacts")
    if dry_run:
        return PurgeResult(empty, [], True)

    async def job(tx: Tx) -> list[dict[str, Any]]:
        marked = {r["id"] for r in await tx.conn.fetch(q("mark_removed"), [r["id"] for r in empty])}
        empty[:] = [r for r in empty if r["id"] in marked]
        return [dict(r) for r in await tx.conn.fetch(q("delete_long_removed"), PURGE_AFTER_DAYS)]

    deleted = await store.in_transaction(job)
    if empty or deleted:
        await analyze_written(store.pool, "analyze_contacts_purge")
    return PurgeResult(empty, deleted, False)


async def restore(store: ContactStore, contact_id: int) -> dict[str, Any]:
    row = await store.fetchrow("restore_removed", contact_id)
    if row is None:
        raise ContactRefused(404, "no removed contact with this id (deleted for good, or never removed)",
                             contact_id=contact_id)
    return row
