"""Click-to-call (POST /api/calls) and recording links (GET /api/recordings/{id}) via a stand-in PBX."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from daemon.store.repository import Repository
from tests.conftest import auth
from tests.pbx_standin import FixedClock, replay_live, routing_client, routing_settings
from tests.scenarios import Step, steps
from tests.support.pbx import StandInPbx, serving_pbx

RECORDING_ID = "MToxMDAwNjA4NTo1MDA5OjE="


@pytest.fixture
async def pbx() -> AsyncIterator[StandInPbx]:
    async with serving_pbx() as standin:
        yield standin


@pytest.fixture
async def client(db_url: str, tmp_path: Path, pbx: StandInPbx, office: Repository) -> AsyncIterator[TestClient]:
    async with routing_client(routing_settings(db_url, tmp_path, pbx)) as test_client:
        yield test_client


async def test_click_to_call_sends_a_callback_and_answers_202_with_its_command_id(
    client: TestClient, pbx: StandInPbx, office: Repository
) -> None:
    """Any spelling of the phone; the PBX gets digits; the call's events later join Орлов's
    contact as an outbound call."""
    resp = await client.post("/api/calls", json={"extension": "105", "phone": "8 (903) 111-22-33"}, headers=auth())
    assert resp.status == 202
    body = await resp.json()
    assert body["phone"] == "+79031112233"
    assert pbx.commands("commands/callback") == [
        {"command_id": body["command_id"], "from": {"extension": "105"}, "to_number": "79031112233"}]
    assert pbx.bad_signatures == 0
    # The PBX now places the call: its events carry our command_id.
    call = [Step(s.path, {**s.json, "command_id": body["command_id"]} if "command_id" in s.json else s.json)
            for s in steps("outgoing_callback.json")]
    await replay_live(client, call, FixedClock())
    orlov = await office.pool.fetchval("SELECT contact_id FROM contact_identifiers WHERE value = '+79031112233'")
    comm = await office.pool.fetchrow("SELECT direction, status, contact_id, manager_extension FROM communications")
    assert dict(comm) == {"direction": "outbound", "status": "answered", "contact_id": orlov,
                          "manager_extension": "105"}
    raw = await office.pool.fetchval("SELECT raw FROM inbox WHERE raw LIKE '%' || $1 || '%' LIMIT 1",
                                     body["command_id"])
    assert raw is not None


@pytest.mark.parametrize(("body", "status"), [
    ({"extension": "105", "phone": "12345"}, 400),
    ({"extension": "105"}, 400),
    ({"phone": "79031112233"}, 400),
    ({"extension": "999", "phone": "79031112233"}, 422),
    (["105", "79031112233"], 400),
])
async def test_click_to_call_refuses_bad_requests_without_calling_the_pbx(
    client: TestClient, pbx: StandInPbx, body: object, status: int
) -> None:
    resp = await client.post("/api/calls", json=body, headers=auth())
    assert resp.status == status
    assert "error" in await resp.json()
    assert pbx.received == []


async def test_click_to_call_to_an_inactive_manager_is_refused(
    client: TestClient, pbx: StandInPbx, office: Repository
) -> None:
    await office.pool.execute("UPDATE managers SET active = false WHERE extension = '106'")
    resp = await client.post("/api/calls", json={"extension": "106", "phone": "79031112233"}, headers=auth())
    assert resp.status == 422 and pbx.received == []


async def test_click_to_call_needs_the_bearer_token(client: TestClient, pbx: StandInPbx) -> None:
    resp = await client.post("/api/calls", json={"extension": "105", "phone": "79031112233"})
    assert resp.status == 401 and pbx.received == []


@pytest.mark.parametrize(("status", "body", "ours"), [(429, {"code": 0}, 429), (200, {"result": 2240}, 502),
                                                      (500, {}, 502)])
async def test_click_to_call_the_pbx_refuses(
    client: TestClient, pbx: StandInPbx, status: int, body: dict, ours: int
) -> None:
    pbx.respond("commands/callback", status=status, body=body)
    resp = await client.post("/api/calls", json={"extension": "105", "phone": "79031112233"}, headers=auth())
    assert resp.status == ours
    assert (await resp.json())["command_id"].startswith("callback-")


async def test_recording_redirects_to_a_fresh_link_that_is_never_stored(
    client: TestClient, pbx: StandInPbx, office: Repository
) -> None:
    first = await client.get(f"/api/recordings/{RECORDING_ID}", headers=auth(), allow_redirects=False)
    again = await client.get(f"/api/recordings/{RECORDING_ID}?action=play", headers=auth(), allow_redirects=False)
    assert first.status == again.status == 302
    assert first.headers["Location"] == f"{pbx.base_url}files/{RECORDING_ID}?expires=60&token=one-shot"
    assert first.headers["Cache-Control"] == "no-store"
    assert [c["action"] for c in pbx.commands("queries/recording/post")] == ["download", "play"]
    for table in ("inbox", "communications", "route_decisions"):
        dump = await office.pool.fetchval(f"SELECT coalesce(string_agg(t::text, ''), '') FROM {table} t")
        assert "one-shot" not in dump


async def test_recording_unknown_to_the_pbx_is_404_and_a_pbx_failure_502(
    client: TestClient, pbx: StandInPbx
) -> None:
    pbx.respond("queries/recording/post", body={"result": 3320})
    assert (await client.get("/api/recordings/nope", headers=auth(), allow_redirects=False)).status == 404
    pbx.respond("queries/recording/post", status=503, body={})
    assert (await client.get("/api/recordings/nope", headers=auth(), allow_redirects=False)).status == 502
    bad = await client.get(f"/api/recordings/{RECORDING_ID}?action=delete", headers=auth())
    assert bad.status == 400
