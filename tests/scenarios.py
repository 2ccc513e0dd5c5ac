"""Replaying the PBX's example scenarios (tests/fixtures/*.json) and reading the outcome."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from daemon.store.repository import Repository
from tests.conftest import fixture_json, post_event

REPLAYED = [
    "answered_incoming.json",
    "answered_incoming_shuffled.json",
    "missed_incoming.json",
    "outgoing_callback.json",
    "unknown_caller.json",
    "hidden_number_after_hours.json",
    "group_answered_by_second.json",
    "transfer_blind.json",
    "internal_call.json",
]
# The whole example day: every scenario's timestamps fall inside it.
REPORT_SINCE = datetime(2025, 10, 1, tzinfo=UTC)
REPORT_UNTIL = datetime(2025, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Step:
    path: str
    json: dict[str, Any]


def steps(name: str) -> list[Step]:
    return [Step(s["path"], s["json"]) for s in fixture_json(name)["steps"]]


def shuffled_with_repeats(items: list[Step], rng: random.Random) -> list[Step]:
    """Every step once or twice, in a random order: what at-least-once parallel delivery gives."""
    out = list(items) + [s for s in items if rng.random() < 0.5]
    rng.shuffle(out)
    return out


async def replay(client: TestClient, items: list[Step], *, concurrently: bool = False) -> None:
    async def one(step: Step) -> None:
        resp = await post_event(client, step.path, step.json)
        assert resp.status == 200, (step.path, resp.status, await resp.text())

    if concurrently:
        await asyncio.gather(*(one(s) for s in items))
    else:
        for step in items:
            await one(step)


async def final_state(repo: Repository) -> dict[str, Any]:
    """Everything the examples' expect blocks speak of, in a comparable form."""
    conn = repo.pool
    comms = [dict(r) for r in await conn.fetch(
        "SELECT c.*, (SELECT count(*) FROM leads l WHERE l.contact_id = c.contact_id AND l.status = 'open')"
        " AS open_leads FROM communications c ORDER BY entry_id")]
    # Ids depend on sequence use (ON CONFLICT spends values), so name rows by content.
    phones_of = {r["contact_id"]: tuple(r["phones"]) for r in await conn.fetch(
        "SELECT contact_id, array_agg(value ORDER BY value) AS phones FROM contact_identifiers"
        " WHERE kind = 'phone' GROUP BY 1")}
    lead_owner = {r["id"]: phones_of.get(r["contact_id"]) for r in await conn.fetch("SELECT * FROM leads")}
    for c in comms:
        for volatile in ("updated_at", "created_at", "id", "manager_id"):
            c.pop(volatile)
        c["lead_id"] = lead_owner.get(c["lead_id"], c["lead_id"])
        c["contact_id"] = phones_of.get(c["contact_id"], c["contact_id"])
    contacts = await conn.fetch(
        "SELECT c.ad_source, c.created_by_entry_id, array_agg(p.value ORDER BY p.value) AS phones"
        " FROM contacts c LEFT JOIN contact_identifiers p ON p.contact_id = c.id AND p.kind = 'phone'"
        " WHERE c.created_by_entry_id IS NOT NULL GROUP BY c.id ORDER BY 3")
    leads = await conn.fetch("SELECT contact_id, status, ad_source, line_number FROM leads")
    missed = await repo.missed_callers(since=REPORT_SINCE, until=REPORT_UNTIL)
    for row in missed:
        row["contact_id"] = phones_of.get(row["contact_id"], row["contact_id"])
    return {
        "communications": comms,
        "new_contacts": [dict(r) for r in contacts],
        "leads": sorted((phones_of.get(r["contact_id"]), r["status"], r["ad_source"], r["line_number"])
                        for r in leads),
        "missed": missed,
        "managers": sorted(r["extension"] for r in await conn.fetch("SELECT extension FROM managers")),
    }
