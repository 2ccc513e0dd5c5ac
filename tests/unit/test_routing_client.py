"""The PBX command client against a stand-in PBX (a real local server that checks our signatures)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from structlog.testing import capture_logs

from adapters.mango.client import MangoClient, Outcome, PbxApiError, outcome_of
from tests.conftest import API_KEY, API_SALT
from tests.support.pbx import SIGN_MISMATCH, StandInPbx, serving_pbx


@pytest.fixture
async def pbx() -> AsyncIterator[StandInPbx]:
    async with serving_pbx() as standin:
        yield standin


@pytest.fixture
async def mango(pbx: StandInPbx) -> AsyncIterator[MangoClient]:
    async with aiohttp.ClientSession() as session:
        yield MangoClient(session, base_url=pbx.base_url, api_key=API_KEY, api_salt=API_SALT, timeout_s=1.0)


@pytest.mark.parametrize(("status", "code", "outcome"), [
    (200, 1000, Outcome.SUCCESS),
    (200, 1090, Outcome.SUCCESS),          # an unknown code is read as its class
    (200, 4101, Outcome.CALL_GONE),
    (200, 3310, Outcome.CALL_GONE),
    (200, 3102, Outcome.BAD_REQUEST),
    (420, 3104, Outcome.BAD_REQUEST),
    (401, None, Outcome.BAD_REQUEST),
    (200, 2219, Outcome.REFUSED),
    (200, 4100, Outcome.REFUSED),
    (429, None, Outcome.RATE_LIMITED),
    (200, 4290, Outcome.RATE_LIMITED),
    (503, None, Outcome.SERVER_ERROR),
    (200, 5001, Outcome.SERVER_ERROR),
    (200, None, Outcome.SUCCESS),
])
def test_result_codes_map_to_typed_outcomes(status: int, code: int | None, outcome: Outcome) -> None:
    assert outcome_of(status, code) is outcome


async def test_route_is_signed_compact_json_and_succeeds(mango: MangoClient, pbx: StandInPbx) -> None:
    result = await mango.route("MToxMDE1OjIyMTox", "105", command_id="route-1")
    assert result.ok and result.command_id == "route-1" and result.code == 1000
    assert pbx.bad_signatures == 0
    assert pbx.commands("commands/route") == [{"command_id": "route-1", "call_id": "MToxMDE1OjIyMTox",
                                               "to_number": "105"}]
    # The PBX's request id comes back for the caller's log line.
    assert result.request_id == pbx.received[0].request_id


async def test_a_failed_command_is_logged_with_the_pbx_request_id(mango: MangoClient, pbx: StandInPbx) -> None:
    """X-Uuid is what the PBX's support asks for."""
    pbx.respond("commands/route", status=500, body={})
    with capture_logs() as logs:
        result = await mango.route("c1", "105")
    assert result.request_id == pbx.received[0].request_id
    assert [(e["event"], e["log_level"], e["pbx_request_id"]) for e in logs] == [
        ("pbx_command", "warning", result.request_id)]


async def test_a_wrong_salt_is_refused_by_the_stand_in(pbx: StandInPbx) -> None:
    """The stand-in's check is real: the same command signed with another salt is refused."""
    async with aiohttp.ClientSession() as session:
        wrong = MangoClient(session, base_url=pbx.base_url, api_key=API_KEY, api_salt="wrong", timeout_s=1.0)
        result = await wrong.route("c1", "105")
    assert (result.outcome, result.code, pbx.bad_signatures) == (Outcome.BAD_REQUEST, SIGN_MISMATCH, 1)


@pytest.mark.parametrize(("status", "body", "outcome"), [
    (200, {"result": 4101}, Outcome.CALL_GONE),
    (429, {"name": "Service Unavailable", "message": "Rate limit exceeded.", "code": 0, "status": 429},
     Outcome.RATE_LIMITED),
    (500, None, Outcome.SERVER_ERROR),
    (420, {"code": 3104}, Outcome.BAD_REQUEST),
])
async def test_failed_commands_come_back_as_outcomes_not_exceptions(
    mango: MangoClient, pbx: StandInPbx, status: int, body: dict | None, outcome: Outcome,
) -> None:
    pbx.respond("commands/route", status=status, body=body if body is not None else {})
    result = await mango.route("c1", "105")
    assert (result.outcome, result.status) == (outcome, status)


async def test_a_slow_pbx_times_out_per_request(mango: MangoClient, pbx: StandInPbx) -> None:
    pbx.respond("commands/route", delay_s=2.0)
    result = await mango.route("c1", "105", timeout_s=0.2)
    assert result.outcome is Outcome.UNREACHABLE and "Timeout" in (result.detail or "")


async def test_nothing_listening_is_unreachable() -> None:
    async with aiohttp.ClientSession() as session:
        closed = MangoClient(session, base_url="http://127.0.0.1:9/vpbx/", api_key=API_KEY,
                             api_salt=API_SALT, timeout_s=1.0)
        assert (await closed.hangup("c1")).outcome is Outcome.UNREACHABLE


async def test_callback_and_hangup_payloads(mango: MangoClient, pbx: StandInPbx) -> None:
    assert (await mango.callback("105", "79031112233", line_number="74951234567", command_id="cb-1")).ok
    assert (await mango.hangup("leg-1", command_id="h-1")).ok
    assert pbx.commands("commands/callback") == [{"command_id": "cb-1", "from": {"extension": "105"},
                                                  "to_number": "79031112233", "line_number": "74951234567"}]
    assert pbx.commands("commands/call/hangup") == [{"command_id": "h-1", "call_id": "leg-1"}]


async def test_generated_command_ids_are_unique(mango: MangoClient, pbx: StandInPbx) -> None:
    first, second = await mango.route("c1", "105"), await mango.route("c2", "105")
    assert first.command_id != second.command_id and first.command_id.startswith("route-")


async def test_recording_link_is_the_redirect_location_not_followed(
    mango: MangoClient, pbx: StandInPbx
) -> None:
    link = await mango.recording_link("MToxMDAwNjA4NTo1MDA5OjE=")
    assert link == f"{pbx.base_url}files/MToxMDAwNjA4NTo1MDA5OjE=?expires=60&token=one-shot"
    assert pbx.commands("queries/recording/post") == [
        {"recording_id": "MToxMDAwNjA4NTo1MDA5OjE=", "action": "download"}]
    # Had the client followed it, the stand-in would have seen a GET of the file.
    assert [r.path for r in pbx.received] == ["queries/recording/post"]


async def test_recording_unknown_to_the_pbx_raises_with_its_code(mango: MangoClient, pbx: StandInPbx) -> None:
    pbx.respond("queries/recording/post", body={"result": 3320})
    with pytest.raises(PbxApiError) as err:
        await mango.recording_link("nope")
    assert err.value.code == 3320 and err.value.outcome is not None


async def test_employees_still_come_from_config_users_request(mango: MangoClient, pbx: StandInPbx) -> None:
    employees = await mango.employees()
    assert [e.extension for e in employees] == ["105", "106", "101"]
    assert json.loads(json.dumps(pbx.commands("config/users/request"))) == [{"ext_fields": ["general.user_id"]}]
