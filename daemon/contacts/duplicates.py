"""Duplicate candidates: pairs of active contacts that may be one person, with a reason and a score.

* ``identifier`` (score 1.0): the pipeline or an import saw one inquiry or row
  carry identifiers of both (contact_duplicate_hints);
* ``name`` (0.75): the same normalised name (contacts.name_key: case, ё/е and
  word order ignored) and a similar phone (at most two digits different, all
  among the last five or all among the five before). A name alone is no
  evidence: a common «Иванова Елена» is many people; a shared responsible
  manager is no evidence at all.

The list is kept in contact_duplicate_candidates, which triggers update in the
transaction of every write that changes the evidence (migration 0015), so that
reading it is one index scan at any size; the webhooks' writes note their contacts
instead, probed a moment later (daemon/store/settle.py, migration 0036), and
every read here settles what is still noted before it reads. For one contact, with pg_trgm,
similar names with a similar phone count too (0.5 × trigram similarity + 0.25),
found when asked.

A pair marked "not a duplicate" is never proposed again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from daemon.contacts.errors import ContactRefused
from daemon.contacts.store import ContactStore
from daemon.store.queries import q
from daemon.store.repository import Tx
from daemon.store.settle import settle

# A typo or two among the last five digits, or among the five before them (the rest equal).
SIMILAR_PHONE_DIGITS = 2
SIMILARITY_THRESHOLD = 0.6  # pg_trgm similarity of two name keys for "similar"
REASONS = ("identifier", "name")
# The daemon's command timeout is for the hot path; recomputing a million contacts'
# candidates is one statement of tens of seconds. Still bounded.
REBUILD_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Candidate:
    contact_ids: list[int]
    reason: str
    score: float
    evidence: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"contact_ids": self.contact_ids, "reason": self.reason, "score": round(self.score, 3),
                "evidence": self.evidence}


@dataclass(frozen=True)
class Page:
    total: int
    items: list[Candidate]

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "items": [c.as_json() for c in self.items]}


def _candidates(rows: list[dict[str, Any]]) -> list[Candidate]:
    return [Candidate(list(r["contact_ids"]), r["reason"], r["score"], json.loads(r["evidence"] or "{}"))
            for r in rows]


async def duplicates(store: ContactStore, *, limit: int, offset: int = 0, reason: str | None = None,
                     min_score: float | None = None, responsible: str | None = None) -> Page:
    """One page of the kept candidates, best first, and how many there are in all (of those the
    filters keep: ``reason``, a least ``min_score``, ``responsible``: pairs of that manager's contacts)."""
    if reason is not None and reason not in REASONS:
        raise ContactRefused(400, f"reason must be one of {', '.join(REASONS)}")
    await settle(store.pool)
    if min_score is not None or responsible is not None:
        total = await store.fetchval("candidates_total_filtered", reason, min_score, responsible)
        rows = await store.fetch("candidates_page_filtered", limit, offset, reason, min_score, responsible)
    elif reason is None:
        total = await store.fetchval("candidates_total")
        rows = await store.fetch("candidates_page", limit, offset)
    else:
        total = await store.fetchval("candidates_total_of_reason", reason)
        rows = await store.fetch("candidates_page_of_reason", limit, offset, reason)
    return Page(total, _candidates(rows))


async def duplicates_of_contact(store: ContactStore, contact_id: int, *, limit: int) -> Page:
    """The candidates of one contact (a merged id: its survivor's): the kept ones, then similar names."""
    contact_id = (await store.card(contact_id))["id"]  # 404 when none
    await settle(store.pool)
    kept = _candidates(await store.fetch("candidates_of_contact", contact_id))
    similar: list[dict[str, Any]] = []
    if await store.fetchval("has_pg_trgm"):  # the embedded PostgreSQL (pgserver) has none: the kept ones only
        similar = await store.fetch("similar_names_of_contact", contact_id, SIMILAR_PHONE_DIGITS, limit,
                                    SIMILARITY_THRESHOLD)
    seen = {tuple(c.contact_ids) for c in kept}
    by_name = [c for c in _candidates(similar) if tuple(c.contact_ids) not in seen]
    found = kept + by_name
    return Page(len(found), found[:limit])


async def rebuild(store: ContactStore) -> int:
    """Recompute the kept candidates of every contact (one set-based pass); returns how many.

    A repair: two writes committed at the same moment each recompute their own
    contacts without seeing the other's new phone, so a pair they make together
    waits for the next write to either contact; a base loaded with triggers off
    has none at all."""

    async def job(tx: Tx) -> int:
        await tx.conn.execute(q("candidates_queue_all"), timeout=REBUILD_TIMEOUT_S)
        return int(await tx.conn.fetchval(q("candidates_flush"), timeout=REBUILD_TIMEOUT_S))

    return await store.in_transaction(job)


async def mark_not_duplicates(store: ContactStore, contact_ids: list[int], *, actor: str) -> list[int]:
    if len(set(contact_ids)) != 2:
        raise ContactRefused(400, "give exactly two different contact ids")
    a, b = contact_ids
    row = await store.fetchrow("mark_not_duplicates", a, b, actor)
    if row is None:
        raise ContactRefused(404, "no such contact", contact_ids=contact_ids)
    return [row["contact_low"], row["contact_high"]]
