"""Replaying the PBX's examples with routing on sends exactly the route commands each lists.

The stand-in PBX is a real local server that checks every signature. Office
hours put every example call inside them except the hidden caller at night.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from daemon.store.repository import Repository
from tests.conftest import auth, fixture_json
from tests.pbx_standin import FixedClock, replay_live, routing_client, routing_settings
from tests.scenarios import REPLAYED, steps
from tests.support.pbx import StandInPbx, serving_pbx

# What the examples' configuration makes of each call (file -> routed_to, route_reason).
DECISIONS = {
    "answered_incoming.json": ("105", "responsible"),
    "missed_incoming.json": ("106", "responsible"),
    "transfer_blind.json": ("105", "responsible"),
    "group_answered_by_second.json": (None, "no_responsible"),
    "unknown_caller.json": (None, "unknown_caller"),
    "hidden_number_after_hours.json": (None, "after_hours"),
    "outgoing_callback.json": (None, None),
    "internal_call.json": (None, None),
    # Its IVR Appeared comes after the summary: the caller has long left the IVR.
    "answered_incoming_shuffled.json": (None, "too_late"),
}


@pytest.fixture
async def pbx() -> AsyncIterator[StandInPbx]:
    async with serving_pbx() as standin:
        yield standin


@pytest.fixture
async def routed(db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository) -> AsyncIterator[
        tuple[TestClient, FixedClock]]:
    clock = FixedClock()
    async with routing_client(routing_settings(db_url, tmp_path, pbx), clock) as client:
        yield client, clock


@pytest.mark.parametrize("name", REPLAYED)
async def test_each_example_sends_exactly_its_route_commands(
    name: str, routed: tuple[TestClient, FixedClock], pbx: StandInPbx, office: Repository
) -> None:
    client, clock = routed
    await replay_live(client, steps(name), clock)
    expected = fixture_json(name).get("route_commands_expected", [])
    assert pbx.routes() == expected
    assert pbx.bad_signatures == 0
    # Everything else the example expects still holds with routing on.
    entry_id = steps(name)[0].json["entry_id"]
    row = await office.pool.fetchrow(
        "SELECT routed_to, route_reason, route_command_id FROM communications WHERE entry_id = $1", entry_id)
    routed_to, reason = DECISIONS[name]
    assert (row["routed_to"], row["route_reason"]) == (routed_to, reason)
    if expected:
        assert row["route_command_id"] == pbx.commands("commands/route")[0]["command_id"]


async def test_the_whole_example_day_routes_three_calls(
    routed: tuple[TestClient, FixedClock], pbx: StandInPbx, office: Repository
) -> None:
    """All examples in one database, one after the other: only the known callers with an
    active responsible manager, in office hours, are routed; every event is stored."""
    client, clock = routed
    for name in REPLAYED:
        await replay_live(client, steps(name), clock)
    assert pbx.routes() == [
        cmd for name in REPLAYED for cmd in fixture_json(name).get("route_commands_expected", [])]
    assert len(pbx.routes()) == 3
    stored = await office.pool.fetchval("SELECT count(*) FROM inbox")
    assert stored == len({(s.path, str(sorted(s.json.items()))) for n in REPLAYED for s in steps(n)})


async def test_api_communications_show_routed_to_and_reason(
    routed: tuple[TestClient, FixedClock], pbx: StandInPbx, office: Repository
) -> None:
    client, clock = routed
    await replay_live(client, steps("missed_incoming.json"), clock)
    await replay_live(client, steps("outgoing_callback.json"), clock)
    resp = await client.get("/api/communications?phone=79031112233", headers=auth())
    comms = await resp.json()
    assert [(c["direction"], c["routed_to"], c["route_reason"]) for c in comms] == [
        ("outbound", None, None), ("inbound", "106", "responsible")]
