"""The webhook intake: signatures, malformed input, and the PBX's quirks."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient

from adapters.mango.signature import sign, verify
from daemon.runtime.keys import REPOSITORY, SPOOL
from daemon.store.repository import Repository
from tests.conftest import API_KEY, API_SALT, fixture_json, post_event, signed_form

VECTORS = fixture_json("signature_vectors.json")
APPEARED = fixture_json("answered_incoming.json")["steps"][0]["json"]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["sign"][:8])
def test_signature_vectors(vector: dict) -> None:
    """sign = sha256(key + json + salt) over the json text exactly as sent."""
    assert sign(VECTORS["vpbx_api_key"], vector["json"], VECTORS["vpbx_api_salt"]) == vector["sign"]
    assert verify(api_key=VECTORS["vpbx_api_key"], api_salt=VECTORS["vpbx_api_salt"],
                  sent_key=VECTORS["vpbx_api_key"], json_text=vector["json"], sent_sign=vector["sign"])


def test_signature_is_over_the_raw_text_not_a_reserialisation() -> None:
    raw = VECTORS["vectors"][0]["json"]
    respaced = json.dumps(json.loads(raw))  # same data, different bytes
    assert not verify(api_key=API_KEY, api_salt=API_SALT, sent_key=API_KEY,
                      json_text=respaced, sent_sign=VECTORS["vectors"][0]["sign"])


async def _inbox_count(repo: Repository) -> int:
    return await repo.pool.fetchval("SELECT count(*) FROM inbox")


async def test_signed_event_is_stored_and_a_repeat_is_acknowledged(client: TestClient, repo: Repository) -> None:
    first = await post_event(client, "/events/call", APPEARED)
    again = await post_event(client, "/events/call", APPEARED)
    assert (first.status, await first.json()) == (200, {"result": "stored"})
    assert (again.status, await again.json()) == (200, {"result": "duplicate"})
    assert await _inbox_count(repo) == 1
    row = await repo.pool.fetchrow("SELECT raw, path, source FROM inbox")
    assert row["raw"] == json.dumps(APPEARED, ensure_ascii=False, separators=(",", ":"))
    assert (row["path"], row["source"]) == ("events/call", "mango")


@pytest.mark.parametrize("tamper", ["sign", "key", "json"])
async def test_wrong_key_or_sign_is_refused_and_nothing_stored(
    tamper: str, client: TestClient, repo: Repository
) -> None:
    form = signed_form(APPEARED)
    if tamper == "sign":
        form["sign"] = sign(API_KEY, form["json"], "wrong-salt")
    elif tamper == "key":
        form["vpbx_api_key"] = "someone-elses-product"
        form["sign"] = sign("someone-elses-product", form["json"], API_SALT)
    else:
        form["json"] = form["json"].replace("79161234567", "79161234568")
    resp = await client.post("/mango/events/call", data=form)
    assert resp.status == 403
    assert (await resp.json())["error"] == "wrong vpbx_api_key or sign"
    assert await _inbox_count(repo) == 0


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("{not json", "json field is not valid JSON"),
        ("[1, 2]", "json field must be a JSON object"),
        ('{"call_id": "x"}', "invalid event"),
        ('{"entry_id": "e", "call_id": "c", "timestamp": 1, "seq": "two", "call_state": "Appeared"}',
         "invalid event"),
        ('{"entry_id": "e", "call_id": "c", "timestamp": 1, "seq": 1, "call_state": "Exploded"}',
         "invalid event"),
        ('{"entry_id": "' + "e" * 200 + '", "call_id": "c", "timestamp": 1, "seq": 1, "call_state": "Appeared"}',
         "invalid event"),
    ],
)
async def test_malformed_event_is_400_with_a_reason(raw: str, problem: str, client: TestClient,
                                                   repo: Repository) -> None:
    resp = await client.post("/mango/events/call", data=signed_form(raw))
    body = await resp.json()
    assert resp.status == 400
    assert body["error"] == problem
    if problem == "invalid event":
        assert body["fields"] and all(f["field"] and f["problem"] for f in body["fields"])
    assert await _inbox_count(repo) == 0


async def test_missing_seq_is_named_in_the_error(client: TestClient) -> None:
    event = {k: v for k, v in APPEARED.items() if k != "seq"}
    resp = await post_event(client, "/events/call", event)
    assert resp.status == 400
    assert {"field": "seq", "problem": "Field required"} in (await resp.json())["fields"]


@pytest.mark.parametrize("missing", ["vpbx_api_key", "sign", "json"])
async def test_missing_form_field_is_400(missing: str, client: TestClient) -> None:
    form = signed_form(APPEARED)
    del form[missing]
    resp = await client.post("/mango/events/call", data=form)
    assert resp.status == 400
    assert await resp.json() == {"error": "missing form field", "field": missing}


async def test_body_over_64_kib_is_413(client: TestClient, repo: Repository) -> None:
    big = dict(APPEARED, padding="x" * 70_000)
    resp = await client.post("/mango/events/call", data=signed_form(big))
    assert resp.status == 413
    assert await _inbox_count(repo) == 0


async def test_json_body_instead_of_a_form_is_415(client: TestClient) -> None:
    resp = await client.post("/mango/events/call", json=APPEARED)
    assert resp.status == 415


async def test_numbers_as_strings_and_extra_fields_are_accepted(client: TestClient, repo: Repository) -> None:
    """The manual's own examples quote numbers ("seq":"2"); new fields appear over time."""
    event = dict(APPEARED, seq="1", timestamp="1760000000", brand_new_field={"x": [1, 2]})
    event["from"] = {"number": 79161234567}
    resp = await post_event(client, "/events/call", event)
    assert resp.status == 200
    comm = await repo.pool.fetchrow("SELECT phone, status FROM communications")
    assert (comm["phone"], comm["status"]) == ("+79161234567", "ringing")


async def test_sip_uri_caller_and_line_are_kept_verbatim(client: TestClient, repo: Repository) -> None:
    event = dict(APPEARED, entry_id="sip-entry", call_id="sip-leg")
    event["from"] = {"number": "sip:client@example.org"}
    event["to"] = {"number": "sip:line@vpbx400000001.mangosip.ru", "line_number": "sip:line@vpbx400000001.mangosip.ru"}
    resp = await post_event(client, "/events/call", event)
    assert resp.status == 200
    comm = await repo.pool.fetchrow("SELECT * FROM communications")
    assert comm["phone"] is None and comm["phone_raw"] == "sip:client@example.org"
    assert comm["line_number"] == "sip:line@vpbx400000001.mangosip.ru"
    assert comm["contact_id"] is None
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts") == 0


async def test_sip_uri_whose_user_is_a_phone_finds_the_contact(client: TestClient, office: Repository) -> None:
    event = dict(APPEARED)
    event["from"] = {"number": "sip:79161234567@trunk.example.org"}
    await post_event(client, "/events/call", event)
    name = await office.pool.fetchval(
        "SELECT ct.name FROM communications c JOIN contacts ct ON ct.id = c.contact_id")
    assert name == "Кузнецова Анна Сергеевна"


async def test_hidden_number_without_from_is_recorded(client: TestClient, repo: Repository) -> None:
    event = {k: v for k, v in APPEARED.items() if k != "from"}
    resp = await post_event(client, "/events/call", event)
    assert resp.status == 200
    comm = await repo.pool.fetchrow("SELECT * FROM communications")
    assert comm["direction"] == "inbound" and comm["phone"] is None and comm["contact_id"] is None


@pytest.mark.parametrize("path", ["/mango/ping", "/mango/", "/mango/events/ab/test", "/mango/result/stats"])
async def test_other_posts_under_the_prefix_answer_200(path: str, client: TestClient, repo: Repository) -> None:
    """The PBX's "check connection" button posts somewhere undocumented."""
    resp = await client.post(path, data={"anything": "1"})
    assert resp.status == 200
    assert await _inbox_count(repo) == 0


async def test_command_results_and_side_events_are_stored(client: TestClient, repo: Repository) -> None:
    posts = [
        ("/result/route", {"command_id": "route-7f3a", "result": 1000}),
        ("/result/call/hangup", {"command_id": "h-1", "result": "4101"}),
        ("/events/sms", {"command_id": "sms-1", "timestamp": 1760000000, "reason": 1000}),
        ("/events/dtmf", {"seq": 1, "dtmf": "1", "timestamp": 1760000002, "call_id": "c1", "entry_id": "e1",
                          "location": "ivr.1", "initiator": "79161234567"}),
    ]
    for path, payload in posts:
        resp = await post_event(client, path, payload)
        assert resp.status == 200, await resp.text()
    kinds = [r["kind"] for r in await repo.pool.fetch("SELECT kind FROM inbox ORDER BY id")]
    assert kinds == ["command_result", "command_result", "command_result", "dtmf"]
    assert await repo.pool.fetchval("SELECT count(*) FROM communications") == 0


async def test_database_unreachable_spools_and_answers_200(client: TestClient) -> None:
    """The spool keeps the event while PostgreSQL is away: the PBX gets its 200."""
    client.app[REPOSITORY].pool.terminate()
    resp = await post_event(client, "/events/call", APPEARED)
    assert (resp.status, await resp.json()) == (200, {"result": "spooled"})
    assert client.app[SPOOL].backlog() == 1


async def test_database_and_spool_unavailable_is_503(client: TestClient) -> None:
    """An event is acknowledged only once it is durable somewhere."""
    spool = client.app[SPOOL]
    spool.seal()
    spool.directory.rename(spool.directory.with_name("spool-away"))
    spool.directory.write_text("not a directory")
    client.app[REPOSITORY].pool.terminate()
    resp = await post_event(client, "/events/call", APPEARED)
    assert resp.status == 503
    assert await resp.json() == {"error": "storage unavailable, retry later"}
    assert not spool.writable()


async def test_database_error_is_spooled_like_an_outage(client: TestClient, repo: Repository) -> None:
    """An unexpected database error was a 500 here (a 503 for inquiries); one answer for every route
    now: the spool keeps the event (tests/integration/test_webhook_shape.py has the 503 without one)."""
    await repo.pool.execute("ALTER TABLE inbox RENAME TO inbox_away")
    try:
        resp = await post_event(client, "/events/call", APPEARED)
        assert (resp.status, await resp.json()) == (200, {"result": "spooled"})
        assert client.app[SPOOL].backlog() == 1
    finally:
        await repo.pool.execute("ALTER TABLE inbox_away RENAME TO inbox")
