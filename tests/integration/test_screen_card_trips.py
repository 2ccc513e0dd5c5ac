"""The caller card knows the tourist: his paid trips, their total, and the latest one with its dates and sum."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from daemon.screen.cards import card_json, load_snapshot
from daemon.store.repository import Repository
from tests.scenarios import replay, steps

ANNA = "+79161234567"


async def _card(office: Repository, entry_id: str) -> dict:
    snapshot = await load_snapshot(office, entry_id)
    assert snapshot is not None
    return card_json(snapshot, phase="ended", region="RU")


async def test_the_card_counts_paid_trips_and_shows_the_latest(client: TestClient, office: Repository) -> None:
    await replay(client, steps("answered_incoming.json"))
    entry_id, anna = await office.pool.fetchrow(
        "SELECT entry_id, contact_id FROM communications WHERE phone = $1", ANNA)
    assert (await _card(office, entry_id))["contact"]["trips"] is None  # never booked: nothing to say

    await office.pool.execute(
        "INSERT INTO trips (order_number, contact_id, status, amount, starts_on, ends_on, booked_at) VALUES"
        " ('T-1', $1, 'paid', 100000, '2024-05-10', '2024-05-20', now()),"
        " ('T-2', $1, 'paid', 150000.50, '2025-08-01', '2025-08-12', now()),"
        " ('T-3', $1, 'cancelled', 90000, '2026-01-05', '2026-01-15', now()),"
        " ('T-4', NULL, 'paid', 70000, '2026-02-01', '2026-02-10', now())", anna)
    trips = (await _card(office, entry_id))["contact"]["trips"]
    assert trips == {"paid": 2, "paid_total": 250000.5,
                     "last": {"starts_on": "2025-08-01", "ends_on": "2025-08-12", "amount": 150000.5,
                              "status": "paid"}}

    # A booking not paid yet is the latest trip, and is not counted as paid.
    await office.pool.execute("INSERT INTO trips (order_number, contact_id, status, amount, starts_on, booked_at)"
                              " VALUES ('T-5', $1, 'pending', 80000, '2026-06-01', now())", anna)
    trips = (await _card(office, entry_id))["contact"]["trips"]
    assert (trips["paid"], trips["paid_total"]) == (2, 250000.5)
    assert trips["last"] == {"starts_on": "2026-06-01", "ends_on": None, "amount": 80000.0, "status": "pending"}
