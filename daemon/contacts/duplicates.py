"""Duplicate candidates: pairs of active contacts that may be one person, with a reason and a score.

* ``identifier`` (score 1.0): the pipeline saw one inquiry carry identifiers of
  both (contact_duplicate_hints);
* ``name``: the same normalised name (contacts.name_key: case, ё/е and word
  order ignored) plus a shared responsible manager or a similar phone (at most
  two digits different, all among the last five or all among the five before); 0.5 for
  the name, 0.25 for each piece of evidence. For one contact, with pg_trgm,
  similar names count too (0.5 × trigram similarity).

A pair marked "not a duplicate" is never proposed again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from daemon.contacts.errors import ContactRefused
from daemon.contacts.store import ContactStore
from daemon.queries import q
from daemon.repository import Tx

# A typo or two among the last five digits, or among the five before them (the rest equal).
SIMILAR_PHONE_DIGITS = 2
NAME_QUERY_WORK_MEM = "64MB"
SIMILARITY_THRESHOLD = 0.6  # pg_trgm similarity of two name keys for "similar"


@dataclass(frozen=True)
class Candidate:
    contact_ids: list[int]
    reason: str
    score: float
    evidence: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"contact_ids": self.contact_ids, "reason": self.reason, "score": round(self.score, 3),
                "evidence": self.evidence}


def _candidates(rows: list[dict[str, Any]]) -> list[Candidate]:
    return [Candidate(list(r["contact_ids"]), r["reason"], r["score"], json.loads(r["evidence"] or "{}"))
            for r in rows]


async def duplicates(store: ContactStore, *, limit: int, contact_id: int | None = None) -> list[Candidate]:
    """The best ``limit`` candidates, identifier ones first; or those of one contact."""
    if contact_id is not None:
        return await _of_contact(store, contact_id, limit)
    found = _candidates(await store.fetch("identifier_duplicates", limit))

    async def by_name(tx: Tx) -> list[dict[str, Any]]:
        await tx.conn.execute(q("set_work_mem"), NAME_QUERY_WORK_MEM)
        return [dict(r) for r in await tx.conn.fetch(q("name_duplicates"), limit, SIMILAR_PHONE_DIGITS)]

    found += _candidates(await store.in_transaction(by_name))
    found.sort(key=lambda c: (-c.score, c.reason != "identifier", c.contact_ids))
    return found[:limit]


async def _of_contact(store: ContactStore, contact_id: int, limit: int) -> list[Candidate]:
    contact_id = (await store.card(contact_id))["id"]  # a merged id: its survivor; 404 when none

    async def job(tx: Tx) -> list[dict[str, Any]]:
        if await tx.conn.fetchval(q("has_pg_trgm")):
            await tx.conn.execute(q("set_similarity_threshold"), str(SIMILARITY_THRESHOLD))
            name = "similar_names_of_contact"
        else:
            name = "same_names_of_contact"
        return [dict(r) for r in await tx.conn.fetch(q(name), contact_id, SIMILAR_PHONE_DIGITS, limit)]

    by_name = _candidates(await store.in_transaction(job))
    hints = _candidates(await store.fetch("identifier_duplicates_of_contact", contact_id))
    seen = {tuple(c.contact_ids) for c in hints}
    return (hints + [c for c in by_name if tuple(c.contact_ids) not in seen])[:limit]


async def mark_not_duplicates(store: ContactStore, contact_ids: list[int], *, actor: str) -> list[int]:
    if len(set(contact_ids)) != 2:
        raise ContactRefused(400, "give exactly two different contact ids")
    a, b = contact_ids
    row = await store.fetchrow("mark_not_duplicates", a, b, actor)
    if row is None:
        raise ContactRefused(404, "no such contact", contact_ids=contact_ids)
    return [row["contact_low"], row["contact_high"]]
