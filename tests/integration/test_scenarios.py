"""Every example scenario of the PBX, replayed over HTTP against a real PostgreSQL.

Each one must meet its ``expect`` block delivered in order, delivered shuffled
with repeats, and delivered all at once.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from daemon.store.repository import Repository
from tests.conftest import fixture_json
from tests.scenarios import REPLAYED, REPORT_SINCE, REPORT_UNTIL, final_state, replay, shuffled_with_repeats, steps

# A scenario whose expect block speaks of what an earlier call left behind.
PRECEDED_BY = {"outgoing_callback.json": ["missed_incoming.json"]}


async def _replay_scenario(client: TestClient, name: str, **kwargs: Any) -> None:
    for earlier in PRECEDED_BY.get(name, []):
        await replay(client, steps(earlier))
    await replay(client, steps(name), **kwargs)


async def _clean_state_then_reset(client: TestClient, repo: Repository, db_reset, name: str) -> dict:
    """The state an in-order delivery gives; then an empty office with only the earlier calls."""
    await _replay_scenario(client, name)
    clean = await final_state(repo)
    await db_reset()
    for earlier in PRECEDED_BY.get(name, []):
        await replay(client, steps(earlier))
    return clean


async def _check_expect(repo: Repository, name: str, expect: dict[str, Any]) -> None:
    entry_ids = sorted({s.json["entry_id"] for s in steps(name) if "entry_id" in s.json})
    rows = [dict(r) for r in await repo.pool.fetch(
        "SELECT * FROM communications WHERE entry_id = ANY($1::text[])", entry_ids)]
    comm = rows[0] if rows else {}
    new_contacts = await repo.pool.fetch(
        "SELECT c.*, (SELECT array_agg(value) FROM contact_identifiers p"
        " WHERE p.contact_id = c.id AND p.kind = 'phone') AS phones,"
        " (SELECT count(*) FROM leads l WHERE l.contact_id = c.id AND l.status = 'open') AS open_leads"
        " FROM contacts c WHERE created_by_entry_id IS NOT NULL")
    missed = [r for r in await repo.missed_callers(since=REPORT_SINCE, until=REPORT_UNTIL)
              if not r["called_back"]]
    for key, want in expect.items():
        match key:
            case "communications":
                got = len(rows)
            case "customer_communications":
                got = sum(r["direction"] in ("inbound", "outbound") for r in rows)
            case "direction" | "status" | "manager_extension" | "talk_seconds" | "line_number":
                got = comm[key]
            case "participants":
                got = list(comm["participants"])
            case "recording_id":
                assert comm["recording_ids"] == [want]
                continue
            case "contact":
                got = comm["contact_id"]
            case "ad_source":
                assert comm["ad_source"] == want
                got = new_contacts[0]["ad_source"]
            case "new_contacts":
                got = len(new_contacts)
            case "new_contact_phone":
                got = new_contacts[0]["phones"] == [want] and comm["phone"] == want and want
            case "open_leads_for_contact":
                got = new_contacts[0]["open_leads"]
                lead = await repo.pool.fetchval(
                    "SELECT id FROM leads WHERE contact_id = $1 AND status = 'open'", comm["contact_id"])
                assert comm["lead_id"] == lead
            case "new_leads":
                got = await repo.pool.fetchval(
                    "SELECT count(*) FROM leads WHERE opened_by_entry_id = ANY($1::text[])", entry_ids)
            case "missed_report_rows" | "missed_report_rows_after_missed_incoming":
                got = len(missed)
            case "missed_report_phone":
                got = missed[0]["phone"]
            case "missed_report_responsible_extension":
                got = missed[0]["responsible_extension"]
            case _:
                pytest.fail(f"{name}: expect key {key!r} is not checked by this test")
        assert got == want, f"{name}: {key}: got {got!r}, want {want!r}"


@pytest.mark.parametrize("name", REPLAYED)
async def test_scenario_meets_its_expect_block(name: str, client: TestClient, office: Repository) -> None:
    await _replay_scenario(client, name)
    await _check_expect(office, name, fixture_json(name)["expect"])


@pytest.mark.parametrize("name", REPLAYED)
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_shuffled_repeated_delivery_gives_the_same_state(
    name: str, seed: int, client: TestClient, office: Repository, db_reset
) -> None:
    clean = await _clean_state_then_reset(client, office, db_reset, name)
    await replay(client, shuffled_with_repeats(steps(name), random.Random(seed)))
    assert await final_state(office) == clean
    await _check_expect(office, name, fixture_json(name)["expect"])


@pytest.mark.parametrize("name", REPLAYED)
async def test_events_of_one_call_processed_at_the_same_moment(
    name: str, client: TestClient, office: Repository, db_reset
) -> None:
    clean = await _clean_state_then_reset(client, office, db_reset, name)
    items = steps(name)
    await replay(client, items + items, concurrently=True)
    assert await final_state(office) == clean


async def test_the_whole_day_in_one_database(client: TestClient, office: Repository) -> None:
    """All scenarios together: the examples' people meet again across calls."""
    for name in REPLAYED:
        await replay(client, steps(name))
    state = await final_state(office)
    entry_ids = {c["entry_id"] for c in state["communications"]}
    assert len(entry_ids) == len(state["communications"]) == 8  # the shuffled file repeats a call
    # Кузнецова called twice (answered, then transferred): both join her one open lead.
    anna = [c for c in state["communications"] if c["phone"] == "+79161234567"]
    assert len(anna) == 2 and anna[0]["lead_id"] == anna[1]["lead_id"] is not None
    # Орлов was called back, so only the hidden caller is left to call back.
    assert [r["phone"] for r in state["missed"] if not r["called_back"]] == [None]
