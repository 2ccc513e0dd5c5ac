"""The manual's call flows and the partial-evidence cases through the real pipeline and PostgreSQL.

Delivered in random orders with repeats, each flow's communication meets the
hand-written state of tests/unit/test_callstate.py, and a supplier rung by a manager
never becomes a contact with a lead, whichever part of the call arrives first.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from daemon.store.repository import Repository
from tests.callflows import DOCUMENTED, PARTIAL, flow_steps
from tests.scenarios import Step, replay, shuffled_with_repeats
from tests.unit.test_callstate import EXPECTED, HOTEL

HOTEL_E164 = "+" + HOTEL
# Inbound flows of unknown callers: each caller becomes a contact with an open lead.
NEW_CALLERS = {"queue-connects-caller-gives-up": "+79035550101", "voicemail-after-no-answer": "+79035550102",
               "hand-on-and-hang-up-in-one-second": "+79035550103"}
FIELDS = ("direction", "status", "manager_extension", "participants", "talk_seconds", "line_number", "finished")


async def _communication(repo: Repository, entry_id: str) -> dict[str, Any]:
    row = await repo.pool.fetchrow("SELECT * FROM communications WHERE entry_id = $1", entry_id)
    assert row is not None, entry_id
    return dict(row)


def _expected_row(name: str) -> dict[str, Any]:
    want = EXPECTED[name]
    return {k: (list(want[k]) if k == "participants" else want[k]) for k in FIELDS}


async def _hotel_links(repo: Repository) -> tuple[int, int]:
    contacts = await repo.pool.fetchval("SELECT count(*) FROM contact_identifiers WHERE kind = 'phone' AND value = $1", HOTEL_E164)
    leads = await repo.pool.fetchval(
        "SELECT count(*) FROM leads l JOIN contact_identifiers p ON p.contact_id = l.contact_id"
        " WHERE p.kind = 'phone' AND p.value = $1",
        HOTEL_E164)
    return contacts, leads


@pytest.mark.parametrize("name", sorted(DOCUMENTED) + sorted(PARTIAL))
@pytest.mark.parametrize("seed", [1, 2])
async def test_a_flow_delivered_in_any_order_gives_its_hand_written_row(
    name: str, seed: int, client: TestClient, office: Repository
) -> None:
    items = flow_steps(name)
    await replay(client, shuffled_with_repeats(items, random.Random(seed)))
    entry_id = next(s.json["entry_id"] for s in items if "entry_id" in s.json)
    row = await _communication(office, entry_id)
    assert {k: row[k] for k in FIELDS} == _expected_row(name)
    if name in NEW_CALLERS:
        lead = await office.pool.fetchval(
            "SELECT l.id FROM leads l JOIN contact_identifiers p ON p.contact_id = l.contact_id"
            " WHERE p.kind = 'phone' AND p.value = $1 AND l.status = 'open'", NEW_CALLERS[name])
        assert (row["phone"], row["lead_id"]) == (NEW_CALLERS[name], lead) and lead is not None
    assert await _hotel_links(office) == (0, 0)


def _legs_of(items: list[Step], suffix: str) -> list[Step]:
    return [s for s in items if s.json.get("call_id", "").endswith(suffix)]


@pytest.mark.parametrize(("name", "first_part"), [
    # The transfer leg (it starts at the hotel's number) before the manager's own leg.
    ("outbound-transferred-to-colleague", "-106"),
    # The callback's first leg (the PBX rings 105, showing the hotel's number) alone.
    ("callback-to-an-outside-number", "-1"),
])
async def test_a_supplier_never_becomes_a_contact_on_part_of_an_outgoing_call(
    name: str, first_part: str, client: TestClient, office: Repository
) -> None:
    items = flow_steps(name)
    early = _legs_of(items, first_part)
    await replay(client, early)
    assert await _hotel_links(office) == (0, 0)
    row = await _communication(office, items[0].json["entry_id"])
    assert (row["contact_id"], row["lead_id"]) == (None, None)
    await replay(client, [s for s in items if s not in early])
    row = await _communication(office, items[0].json["entry_id"])
    assert (row["direction"], row["status"], row["contact_id"], row["lead_id"]) == (
        "outbound", "answered", None, None)
    assert await _hotel_links(office) == (0, 0)
