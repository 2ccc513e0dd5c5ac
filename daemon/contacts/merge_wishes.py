"""A merge carries the wishes of the leads it closes into the surviving lead; undo gives them back.

Two open leads of one person become one (daemon/contacts/merge.py): what the tourist
wants (``lead_wishes``, migration 0024) must not stay behind on the lead closed as
``merged``. Field by field, parsed and edited apart, the surviving lead's own fields win
and the closed leads' fill its gaps (the newest first): a manager's field stays a
manager's, so it still wins over what the inquiries said (sql/queries/merges.sql,
``carry_wishes``). The closed leads keep their own wishes.

Undo puts back, field by field, what the merge changed, but only a field that still holds
what the merge wrote: a message or a manager that refined it since is not the merge's
business, and stays (so a wish never blocks an undo). A wish the merge created and the
undo empties is deleted.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from daemon.store.queries import q

SIDES = ("parsed", "edited")


async def carry_wishes(conn: asyncpg.Connection, merge_id: int, surviving_lead: int, closing: list[int]) -> None:
    """Journal the surviving lead's wish, then lay the closing leads' wishes under it."""
    await conn.execute(q("journal_wishes"), merge_id, surviving_lead, closing)
    await conn.execute(q("carry_wishes"), surviving_lead, closing)


async def restore_wishes(conn: asyncpg.Connection, merge_id: int) -> None:
    for row in await conn.fetch(q("undo_wishes"), merge_id):
        now = _json(row["now"])
        if not now:
            continue  # the lead's wish is gone (the lead deleted): nothing to give back
        before, after = _json(row["before"]), _json(row["after"])
        back = {side: restored(now.get(side, {}), before.get(side, {}), after.get(side, {})) for side in SIDES}
        if not row["before"] and not any(back.values()):
            await conn.execute(q("drop_wish"), row["lead_id"])
        else:
            await conn.execute(q("restore_wish"), row["lead_id"], json.dumps(back["parsed"], ensure_ascii=False),
                               json.dumps(back["edited"], ensure_ascii=False))


def restored(now: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``now`` with each field the merge changed (``before`` -> ``after``) back as it was,
    where it still holds what the merge wrote."""
    out = dict(now)
    for key, written in after.items():
        if before.get(key) == written or now.get(key) != written:
            continue
        if key in before:
            out[key] = before[key]
        else:
            del out[key]
    return out


def _json(value: Any) -> dict[str, Any]:
    found = json.loads(value) if isinstance(value, str) else value
    return found if isinstance(found, dict) else {}
