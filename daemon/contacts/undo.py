"""Undo a merge: restore what its journal says it moved, or refuse naming what changed since.

Communications that arrived while the contacts were merged are not in the
journal: those filed under an identifier that goes back to a restored contact
go back with it (restore_later_communications in sql/queries/merges.sql).

"Changed" means a journaled row no longer holds the values the merge wrote into
it (or is gone): another merge took it further, someone re-pointed it. Other
columns of the row (a call's later events, a do-not-call mark) are not the
merge's and stay as they are. With ``force`` the journal's values are written
back anyway (rows that are gone stay gone).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from daemon.contacts.errors import ContactRefused, UndoConflict
from daemon.contacts.merge import lock_group, trips_have_contacts
from daemon.contacts.merge_wishes import restore_wishes
from daemon.store.queries import q
from daemon.store.repository import Tx

log = structlog.get_logger(__name__)

RESTORE_STEPS = ("restore_identifiers", "restore_invalid_identifiers", "reinsert_invalid_identifiers",
                 "restore_communications", "restore_lead_owners", "restore_lead_states",
                 "restore_later_communications", "restore_contacts", "restore_pairs")


@dataclass(frozen=True)
class UndoResult:
    merge_id: int
    survivor_id: int
    restored_ids: tuple[int, ...]
    forced_rows: tuple[dict[str, Any], ...]

    def as_json(self) -> dict[str, Any]:
        return {"merge_id": self.merge_id, "survivor_id": self.survivor_id,
                "restored_ids": list(self.restored_ids), "overwritten": list(self.forced_rows)}


async def undo_merge(tx: Tx, *, merge_id: int, actor: str, force: bool = False) -> UndoResult:
    conn = tx.conn
    merge = await conn.fetchrow(q("undo_lock_merge"), merge_id)
    if merge is None:
        raise ContactRefused(404, "no such merge", merge_id=merge_id)
    if merge["undone_at"] is not None:
        raise ContactRefused(409, "this merge was already undone", merge_id=merge_id,
                             undone_at=merge["undone_at"].isoformat())
    await lock_group(conn, [merge["survivor_id"], *merge["merged_ids"]])
    conflicts = await _conflicts(conn, merge_id)
    if conflicts and not force:
        raise UndoConflict(merge_id, conflicts)
    try:
        for step in RESTORE_STEPS:
            await conn.execute(q(step), merge_id)
        if await conn.fetchval(q("undo_has_trips"), merge_id):
            await conn.execute(q("restore_trips"), merge_id)
        await restore_wishes(conn, merge_id)
    except asyncpg.UniqueViolationError as exc:
        # Forced over a change that makes the old state impossible (e.g. a second open lead).
        raise ContactRefused(409, f"merge #{merge_id} cannot be undone even by force: {exc.detail or exc}",
                             rows=conflicts) from exc
    await conn.execute(q("mark_undone"), merge_id, actor, bool(conflicts))
    log.info("merge_undone", merge_id=merge_id, actor=actor, forced_rows=len(conflicts))
    return UndoResult(merge_id, merge["survivor_id"], tuple(merge["merged_ids"]), tuple(conflicts))


async def _conflicts(conn: asyncpg.Connection, merge_id: int) -> list[dict[str, Any]]:
    rows = list(await conn.fetch(q("undo_conflicts"), merge_id))
    if await conn.fetchval(q("undo_has_trips"), merge_id) and await trips_have_contacts(conn):
        rows += await conn.fetch(q("undo_conflicts_trips"), merge_id)
    return [{"table": r["table_name"], "key": json.loads(r["row_key"])} for r in rows]
