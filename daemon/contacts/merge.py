"""Merge contacts into one, in the caller's transaction, with a journal for undo.

Everything a merged contact has moves to the survivor: identifiers (with their
do-not-call marks), invalid identifiers, communications (and their notes),
leads, tags, duplicate hints, and trips where that table exists. Two open leads
become one: the oldest survives and the others are closed as ``merged``, their
communications moved to it and their wishes laid under its own (merge_wishes.py).
Merged contacts are kept, marked ``merged_into``.

Each step journals the columns it is about to write, writes them, and at the
end the journal records what was written (sql/queries/merges.sql), so that
daemon.contacts.undo can restore exactly that.

Lock order (the same in undo): the pipeline's per-phone advisory locks of the
group, in the pipeline's one order (``callbridge_lock_v1``), those the caller
already holds skipped (an inquiry's merge runs inside a batch that holds its
identifiers); then communications, leads, and last the contacts, each sorted
by id. Concurrent merges, and the call pipeline (which locks a call's
communication before its contact), therefore cannot deadlock with a merge.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

from daemon.contacts.errors import ContactRefused
from daemon.contacts.merge_wishes import carry_wishes
from daemon.store.queries import q
from daemon.store.repository import Tx

log = structlog.get_logger(__name__)

MAX_MERGED = 100  # a merge joins a handful of cards; more is a mistake in the request
# Journal table name -> the key of MergeResult.moved.
MOVED_NAMES = {"contact_identifiers": "identifiers", "communications": "communications", "leads": "leads",
               "contact_invalid_identifiers": "invalid_identifiers", "trips": "trips"}


@dataclass(frozen=True)
class MergeResult:
    merge_id: int
    survivor_id: int
    merged_ids: tuple[int, ...]
    moved: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"merge_id": self.merge_id, "survivor_id": self.survivor_id,
                "merged_ids": list(self.merged_ids), "moved": self.moved}


async def merge_contacts(tx: Tx, *, survivor_id: int, merged_ids: Sequence[int], actor: str,
                         reason: str) -> MergeResult:
    """Merge ``merged_ids`` into ``survivor_id`` inside ``tx``; raises ContactRefused (4xx)."""
    merged = _checked_ids(survivor_id, merged_ids)
    group = [survivor_id, *merged]
    conn = tx.conn
    _check_group(await conn.fetch(q("merge_group_contacts"), group), group)
    await lock_group(conn, group, held=tx.held)
    _check_group(await conn.fetch(q("merge_lock_contacts"), group), group)
    open_leads = [r["id"] for r in await conn.fetch(q("merge_open_leads"), group)]
    surviving_lead, closing = (open_leads[0], open_leads[1:]) if open_leads else (None, [])
    merge_id = await conn.fetchval(q("insert_merge"), survivor_id, merged, actor, reason)
    await _move_rows(conn, merge_id, survivor_id, merged, surviving_lead, closing)
    await conn.execute(q("journal_contacts"), merge_id, group)
    await conn.execute(q("fill_survivor"), survivor_id, merged)
    await conn.execute(q("mark_merged"), survivor_id, merged)
    await conn.execute(q("journal_after"), merge_id)
    counts = {r["table_name"]: r["n"] for r in await conn.fetch(q("merge_journal_counts"), merge_id)}
    moved = {name: counts.get(table, 0) for table, name in MOVED_NAMES.items()}
    await conn.execute(q("finish_merge"), merge_id, json.dumps(moved))
    log.info("contacts_merged", merge_id=merge_id, survivor_id=survivor_id, merged_ids=merged,
             actor=actor, **moved)
    return MergeResult(merge_id, survivor_id, tuple(merged), moved)


async def lock_group(conn: asyncpg.Connection, group: Sequence[int], *, held: Collection[str] = ()) -> None:
    """Take the merge's locks on the group, in the one fixed order (see the module's doc);
    ``held``: the advisory lock keys the caller holds already (skipped)."""
    await conn.fetchval(q("merge_lock_phones"), list(group), sorted(held))
    await conn.fetchval(q("merge_lock_rows"), list(group))
    await conn.fetch(q("merge_lock_contacts"), list(group))


async def trips_have_contacts(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(q("trips_have_contacts")))


async def _move_rows(conn: asyncpg.Connection, merge_id: int, survivor_id: int, merged: list[int],
                     surviving_lead: int | None, closing: list[int]) -> None:
    await conn.execute(q("journal_identifiers"), merge_id, merged)
    await conn.execute(q("move_identifiers"), survivor_id, merged)
    await conn.execute(q("journal_invalid_identifiers_dropped"), merge_id, survivor_id, merged)
    await conn.execute(q("drop_journaled_invalid_identifiers"), merge_id)
    await conn.execute(q("journal_invalid_identifiers"), merge_id, merged)
    await conn.execute(q("move_invalid_identifiers"), survivor_id, merged)
    await conn.execute(q("journal_communications"), merge_id, merged, closing)
    await conn.execute(q("move_communications"), survivor_id, merged, closing, surviving_lead)
    await conn.execute(q("journal_leads"), merge_id, merged, closing)
    if closing:
        assert surviving_lead is not None
        await conn.execute(q("close_merged_leads"), closing, surviving_lead)
        await carry_wishes(conn, merge_id, surviving_lead, closing)
    await conn.execute(q("move_leads"), survivor_id, merged)
    await conn.execute(q("repoint_hints"), merge_id, merged, survivor_id)
    await conn.execute(q("repoint_not_duplicates"), merge_id, merged, survivor_id)
    if await trips_have_contacts(conn):
        await conn.execute(q("merge_trips"), merge_id, survivor_id, merged)


def _checked_ids(survivor_id: int, merged_ids: Sequence[int]) -> list[int]:
    merged = list(dict.fromkeys(merged_ids))
    if not merged:
        raise ContactRefused(400, "name at least one contact to merge into the survivor")
    if len(merged) > MAX_MERGED:
        raise ContactRefused(400, f"at most {MAX_MERGED} contacts per merge")
    if survivor_id in merged:
        raise ContactRefused(400, "the survivor cannot also be merged", survivor_id=survivor_id)
    return merged


def _check_group(rows: Sequence[asyncpg.Record], group: list[int]) -> None:
    found = {r["id"]: r for r in rows}
    missing = [i for i in group if i not in found]
    if missing:
        raise ContactRefused(404, "no such contact", contact_ids=missing)
    merged = [i for i in group if found[i]["merged_into"] is not None]
    if merged:
        raise ContactRefused(409, "already merged into another contact", contact_ids=merged,
                             merged_into=[found[i]["merged_into"] for i in merged])
    removed = [i for i in group if found[i]["removed_at"] is not None]
    if removed:
        raise ContactRefused(409, "removed (purged); restore it first", contact_ids=removed)
