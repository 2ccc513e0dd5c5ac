"""The routing runtime when the PBX or the timing misbehaves, and with two daemons on one database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from adapters.mango.models import CallEvent
from adapters.mango.translate import call_event
from daemon.domain.events import Envelope
from daemon.runtime.keys import INTAKE, METRICS, RELOADER, ROUTER
from daemon.store.repository import Repository
from tests.conftest import fixture_json, post_event
from tests.pbx_standin import EXAMPLE_HOURS_TOML, FixedClock, replay_live, routing_client, routing_settings
from tests.scenarios import steps
from tests.support.pbx import StandInPbx, serving_pbx

ANSWERED = steps("answered_incoming.json")
APPEARED = ANSWERED[0].json             # Кузнецова (responsible 105) rings, the call waits in the IVR
IVR_LEFT = ANSWERED[1].json             # the IVR leg ends: the caller has moved on
ORLOV = steps("missed_incoming.json")[0].json  # Орлов (responsible 106)


@pytest.fixture
async def pbx() -> AsyncIterator[StandInPbx]:
    async with serving_pbx() as standin:
        yield standin


@contextlib.asynccontextmanager
async def daemon(db_url: str, tmp_path: Path, pbx: StandInPbx, toml: str = EXAMPLE_HOURS_TOML,
                 **env: str) -> AsyncIterator[TestClient]:
    async with routing_client(routing_settings(db_url, tmp_path, pbx, toml=toml, **env), FixedClock()) as client:
        yield client


async def decision(repo: Repository, entry_id: str) -> dict[str, Any]:
    row = await repo.pool.fetchrow(
        "SELECT c.routed_to, c.route_reason, c.route_command_id, c.route_result, d.pbx_outcome, d.target"
        " FROM communications c LEFT JOIN route_decisions d USING (entry_id) WHERE c.entry_id = $1", entry_id)
    return dict(row) if row else {}


async def test_a_slow_pbx_does_not_delay_the_webhook_answer(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    """The PBX holds our route command unanswered; the webhook is answered 200 all the same,
    and the decision is stored once the PBX answers."""
    gate = asyncio.Event()
    pbx.respond("commands/route", gate=gate)
    async with daemon(db_url, tmp_path, pbx) as client:
        resp = await post_event(client, "/events/call", APPEARED)
        assert resp.status == 200
        await pbx.wait_for("commands/route")
        assert pbx.in_progress == 1  # the route command is still waiting for the PBX
        assert await office.pool.fetchval("SELECT count(*) FROM inbox") == 1
        # Later events of other calls are answered meanwhile too.
        assert (await post_event(client, "/events/call", ORLOV)).status == 200
        gate.set()
        await client.app[ROUTER].drain()
    assert (await decision(office, APPEARED["entry_id"]))["routed_to"] == "105"


async def test_a_pbx_slower_than_the_request_timeout_is_a_pbx_error_and_nothing_is_lost(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    pbx.respond("commands/route", delay_s=2.0)
    async with daemon(db_url, tmp_path, pbx, pbx_request_timeout_s="0.2") as client:
        assert (await post_event(client, "/events/call", APPEARED)).status == 200
        await client.app[ROUTER].drain()
        metrics = client.app[METRICS]
        assert metrics.route_commands.labels("unreachable")._value.get() == 1
    found = await decision(office, APPEARED["entry_id"])
    assert (found["routed_to"], found["route_reason"], found["pbx_outcome"]) == (None, "pbx_error", "unreachable")
    assert await office.pool.fetchval("SELECT count(*) FROM inbox") == 1


@pytest.mark.parametrize(("status", "outcome"), [(500, "server_error"), (503, "server_error"),
                                                 (429, "rate_limited")])
async def test_a_failing_pbx_is_logged_counted_and_the_call_falls_through(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository, status: int, outcome: str
) -> None:
    pbx.respond("commands/route", status=status, body={"status": status})
    async with daemon(db_url, tmp_path, pbx) as client:
        await replay_live(client, ANSWERED, FixedClock())
        metrics = client.app[METRICS]
        assert metrics.route_commands.labels(outcome)._value.get() == 1
    assert len(pbx.routes()) == 1  # tried once, never retried
    found = await decision(office, APPEARED["entry_id"])
    assert (found["routed_to"], found["route_reason"], found["pbx_outcome"]) == (None, "pbx_error", outcome)
    # The call itself is complete: the PBX's own scheme took it to 105.
    comm = await office.pool.fetchrow("SELECT status, manager_extension FROM communications")
    assert (comm["status"], comm["manager_extension"]) == ("answered", "105")


async def test_the_pbx_saying_the_call_is_gone_is_too_late(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    pbx.respond("commands/route", body={"result": 4101})
    async with daemon(db_url, tmp_path, pbx) as client:
        await replay_live(client, ANSWERED[:1], FixedClock())
    found = await decision(office, APPEARED["entry_id"])
    assert (found["routed_to"], found["route_reason"], found["pbx_outcome"]) == (None, "too_late", "call_gone")


async def test_a_route_waiting_for_the_rate_limit_is_dropped_when_the_caller_moves_on(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    """One route per second: the second call waits for a token; its IVR leg ends meanwhile,
    so its route is dropped as too_late rather than sent late."""
    async with daemon(db_url, tmp_path, pbx, route_rate_per_s="1") as client:
        await replay_live(client, ANSWERED[:1], FixedClock())          # takes the only token
        assert (await post_event(client, "/events/call", ORLOV)).status == 200
        orlov_left = steps("missed_incoming.json")[1].json
        assert (await post_event(client, "/events/call", orlov_left)).status == 200
        await client.app[ROUTER].drain()
    assert pbx.routes() == [{"call_id": APPEARED["call_id"], "to_number": "105"}]
    assert (await decision(office, ORLOV["entry_id"]))["route_reason"] == "too_late"


async def test_a_route_that_cannot_get_a_token_within_the_ivr_hold_is_too_late(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    async with daemon(db_url, tmp_path, pbx, route_rate_per_s="0.5", ivr_hold_s="0.3") as client:
        await replay_live(client, ANSWERED[:1], FixedClock())
        await replay_live(client, [steps("missed_incoming.json")[0]], FixedClock())
    assert len(pbx.routes()) == 1
    assert (await decision(office, ORLOV["entry_id"]))["route_reason"] == "too_late"


async def test_an_event_stored_longer_ago_than_the_ivr_hold_is_not_routed(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    """The hold counts from when we stored the Appeared event (the database's clock), not from
    the PBX's timestamp, whose zone is uncertain."""
    async with daemon(db_url, tmp_path, pbx) as client:
        translated = call_event(CallEvent.model_validate(APPEARED))
        env = Envelope(source="mango", path="events/call", raw="{}", dedup_key=translated.dedup_key,
                       event=translated.event)
        await client.app[INTAKE]._pipeline.apply(env)
        await office.pool.execute("UPDATE inbox SET received_at = now() - interval '9 seconds'")
        client.app[INTAKE].announce(env)
        await client.app[ROUTER].drain()
    assert pbx.routes() == []
    assert (await decision(office, APPEARED["entry_id"]))["route_reason"] == "too_late"


async def test_two_daemons_on_one_database_send_one_route(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    """Both daemons are told of the same Appeared event; the claim in route_decisions lets
    exactly one of them send."""
    # Two daemons, two state directories: one spool belongs to one process.
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    async with daemon(db_url, tmp_path / "first", pbx) as first, \
            daemon(db_url, tmp_path / "second", pbx) as second:
        assert (await post_event(first, "/events/call", APPEARED)).status == 200
        translated = call_event(CallEvent.model_validate(APPEARED))
        env = Envelope(source="mango", path="events/call", raw="{}", dedup_key=translated.dedup_key,
                       event=translated.event)
        second.app[INTAKE].announce(env)
        await asyncio.gather(first.app[ROUTER].drain(), second.app[ROUTER].drain())
        # The same event delivered to both at once: one stores it, one routes.
        both = await asyncio.gather(post_event(first, "/events/call", ORLOV),
                                    post_event(second, "/events/call", ORLOV))
        assert [r.status for r in both] == [200, 200]
        await asyncio.gather(first.app[ROUTER].drain(), second.app[ROUTER].drain())
    assert sorted(r["to_number"] for r in pbx.routes()) == ["105", "106"]
    assert await office.pool.fetchval("SELECT count(*) FROM route_decisions") == 2


async def test_route_result_from_the_pbx_is_stored_with_the_decision(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    async with daemon(db_url, tmp_path, pbx) as client:
        await replay_live(client, ANSWERED[:1], FixedClock())
        command_id = pbx.commands("commands/route")[0]["command_id"]
        resp = await post_event(client, "/result/route", {"command_id": command_id, "result": 1000})
        assert resp.status == 200
        await client.app[ROUTER].drain()
    found = await decision(office, APPEARED["entry_id"])
    assert (found["route_command_id"], found["route_result"]) == (command_id, 1000)
    assert await office.pool.fetchval("SELECT pbx_result FROM route_decisions") == 1000


async def test_inactive_responsible_manager_goes_to_the_administrator(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    await office.pool.execute("UPDATE managers SET active = false WHERE extension = '105'")
    async with daemon(db_url, tmp_path, pbx, administrator_extension="101") as client:
        await replay_live(client, ANSWERED[:1], FixedClock())
    assert pbx.routes() == [{"call_id": APPEARED["call_id"], "to_number": "101"}]
    assert (await decision(office, APPEARED["entry_id"]))["route_reason"] == "administrator"


async def test_inactive_responsible_manager_without_administrator_is_left_to_the_pbx(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    await office.pool.execute("UPDATE managers SET active = false WHERE extension = '105'")
    async with daemon(db_url, tmp_path, pbx) as client:
        await replay_live(client, ANSWERED[:1], FixedClock())
    assert pbx.routes() == []
    assert (await decision(office, APPEARED["entry_id"]))["route_reason"] == "manager_inactive"


async def test_a_line_rule_routes_even_unknown_callers(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    toml = EXAMPLE_HOURS_TOML + '\n[line_rules]\n"74957654321" = "300"\n'
    async with daemon(db_url, tmp_path, pbx, toml=toml) as client:
        await replay_live(client, steps("unknown_caller.json"), FixedClock())
    first = fixture_json("unknown_caller.json")["steps"][0]["json"]
    assert pbx.routes() == [{"call_id": first["call_id"], "to_number": "300"}]
    assert (await decision(office, first["entry_id"]))["route_reason"] == "line_rule"


async def test_after_hours_nothing_is_sent_even_to_the_administrator(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    sunday_noon = 1760263200  # 2025-10-12 13:00 Moscow
    async with routing_client(routing_settings(db_url, tmp_path, pbx, administrator_extension="101"),
                              FixedClock(sunday_noon)) as client:
        assert (await post_event(client, "/events/call", APPEARED)).status == 200
        await client.app[ROUTER].drain()
    assert pbx.routes() == []
    assert (await decision(office, APPEARED["entry_id"]))["route_reason"] == "after_hours"


async def test_without_office_hours_routing_is_off_and_nothing_is_stored(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    async with daemon(db_url, tmp_path, pbx, toml='timezone = "Europe/Moscow"\n') as client:
        await replay_live(client, ANSWERED, FixedClock())
    assert pbx.received == []
    assert await office.pool.fetchval("SELECT count(*) FROM route_decisions") == 0


async def test_a_reload_that_adds_office_hours_switches_routing_on(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    """SIGHUP re-reads the settings: the new hours and rules take effect without a restart."""
    async with daemon(db_url, tmp_path, pbx, toml='timezone = "Europe/Moscow"\n') as client:
        await replay_live(client, [steps("missed_incoming.json")[0]], FixedClock())
        assert pbx.routes() == []
        with_hours = routing_settings(db_url, tmp_path, pbx, administrator_extension="101")
        result = await client.app[RELOADER].reload(lambda: with_hours)
        assert result.ok
        await replay_live(client, ANSWERED[:1], FixedClock())
    assert pbx.routes() == [{"call_id": APPEARED["call_id"], "to_number": "105"}]


async def test_two_daemons_share_the_pbx_route_limit(
    db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository
) -> None:
    """The PBX counts routes per office: with two daemons on one database the combined pace stays
    within route_rate_per_s (each used to allow the whole rate, so together they sent twice it)."""
    rate, calls = 4.0, 12
    burst = int(rate)
    env = {"route_rate_per_s": str(rate), "ivr_hold_s": "60"}
    async with (routing_client(routing_settings(db_url, tmp_path, pbx, state_dir=str(tmp_path / "a"), **env))
                as first,
                routing_client(routing_settings(db_url, tmp_path, pbx, state_dir=str(tmp_path / "b"), **env))
                as second):
        legs = [{**APPEARED, "entry_id": f"{APPEARED['entry_id']}-{n}", "call_id": f"{APPEARED['call_id']}-{n}"}
                for n in range(calls)]
        answers = await asyncio.gather(*(post_event((first, second)[n % 2], "/events/call", leg)
                                         for n, leg in enumerate(legs)))
        assert {a.status for a in answers} == {200}
        await asyncio.gather(first.app[ROUTER].drain(), second.app[ROUTER].drain())
    arrivals = sorted(r.at for r in pbx.received if r.path == "commands/route")
    assert len(arrivals) == calls  # every call routed once, none given up
    # After the burst, a route every 1/rate seconds at most: the last cannot come sooner than this.
    # (A lower bound only: a loaded machine makes the span longer, never shorter.)
    assert arrivals[-1] - arrivals[0] >= (calls - burst) / rate * 0.9, arrivals
    reasons = await office.pool.fetch("SELECT DISTINCT route_reason FROM communications")
    assert [r["route_reason"] for r in reasons] == ["responsible"]
