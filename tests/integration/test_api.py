"""The read API: bearer token, contact lookup in any phone format, communications."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from daemon.store.repository import Repository
from tests.conftest import auth
from tests.scenarios import replay, steps


@pytest.mark.parametrize("path", ["/api/contacts/lookup?phone=79161234567", "/api/communications?phone=79161234567"])
@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic dGVzdA==", "Bearer"])
async def test_api_needs_the_bearer_token(path: str, header: str | None, client: TestClient) -> None:
    headers = {"Authorization": header} if header else {}
    resp = await client.get(path, headers=headers)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("spelling", ["8 (916) 123-45-67", "+7 916 1234567", "79161234567", "9161234567"])
async def test_lookup_finds_the_contact_in_any_format(spelling: str, client: TestClient, office: Repository) -> None:
    resp = await client.get("/api/contacts/lookup", params={"phone": spelling}, headers=auth())
    assert resp.status == 200
    card = await resp.json()
    assert card["name"] == "Кузнецова Анна Сергеевна"
    assert card["phones"] == ["+79161234567"]
    assert card["emails"] == ["anna.k@example.ru"]
    assert card["responsible"] == {"extension": "105", "name": "Иванова Мария"}
    assert card["tags"] == ["постоянный турист"]
    assert card["open_lead_id"] is None and card["ad_source"] is None


async def test_lookup_shows_the_open_lead_after_a_call(client: TestClient, office: Repository) -> None:
    await replay(client, steps("answered_incoming.json"))
    card = await (await client.get("/api/contacts/lookup?phone=89161234567", headers=auth())).json()
    lead = await office.pool.fetchval("SELECT id FROM leads WHERE status = 'open'")
    assert card["open_lead_id"] == lead is not None


async def test_lookup_of_unknown_or_invalid_numbers(client: TestClient, office: Repository) -> None:
    unknown = await client.get("/api/contacts/lookup?phone=79990001122", headers=auth())
    assert unknown.status == 404
    assert (await unknown.json())["phone"] == "+79990001122"
    for bad in ["12345", "sip:x@y", ""]:
        resp = await client.get("/api/contacts/lookup", params={"phone": bad}, headers=auth())
        assert resp.status == 400


async def test_communications_by_phone_and_by_contact(client: TestClient, office: Repository) -> None:
    await replay(client, steps("missed_incoming.json"))
    await replay(client, steps("outgoing_callback.json"))
    by_phone = await (await client.get("/api/communications?phone=8 903 111 22 33", headers=auth())).json()
    assert [(c["direction"], c["status"]) for c in by_phone] == [("outbound", "answered"), ("inbound", "missed")]
    callback, missed = by_phone
    assert callback == {
        "id": callback["id"],
        "entry_id": "MzQ1Mzc1MzUxMzoxNjE=",
        "channel": "call",
        "direction": "outbound",
        "status": "answered",
        "phone": "+79031112233",
        "contact_id": missed["contact_id"],
        "lead_id": missed["lead_id"],
        "manager_extension": "105",
        "participants": ["105"],
        "line_number": "74951234567",
        "ad_source": "Яндекс.Директ",
        "started_at": "2025-10-09T10:53:20+00:00",
        "answered_at": "2025-10-09T10:53:29+00:00",
        "ended_at": "2025-10-09T10:56:30+00:00",
        "talk_seconds": 181,
        "recording_ids": [],
        "note": None,
        "routed_to": None,  # an outbound call is never routed
        "route_reason": None,
        # What inquiries (forms, chats) fill in; nothing for a call.
        "source": None,
        "text": None,
        "utm": None,
        "page_url": None,
        "email": None,
        "message_count": 0,
        "replied_at": None,
    }
    assert missed["manager_extension"] is None and missed["talk_seconds"] == 0
    by_contact = await (await client.get(f"/api/communications?contact_id={missed['contact_id']}",
                                         headers=auth())).json()
    assert by_contact == by_phone


async def test_communications_time_window(client: TestClient, office: Repository) -> None:
    await replay(client, steps("missed_incoming.json"))
    await replay(client, steps("outgoing_callback.json"))
    resp = await client.get("/api/communications", headers=auth(), params={
        "phone": "+79031112233", "since": "2025-10-09T10:00:00+00:00", "until": "2025-10-09T12:00:00Z"})
    assert [c["direction"] for c in await resp.json()] == ["outbound"]


@pytest.mark.parametrize("query", ["", "?contact_id=abc", "?phone=123", "?phone=79031112233&since=yesterday",
                                   "?phone=79031112233&limit=0", "?phone=79031112233&limit=100000"])
async def test_communications_bad_queries_are_400(query: str, client: TestClient) -> None:
    resp = await client.get("/api/communications" + query, headers=auth())
    assert resp.status == 400
    assert "error" in await resp.json()


async def test_a_time_without_an_offset_is_office_time_as_in_the_reports(client: TestClient,
                                                                           office: Repository) -> None:
    """Europe/Moscow is UTC+3: 13:00 without an offset is 10:00 UTC, not 13:00 UTC (which it used to be)."""
    await replay(client, steps("missed_incoming.json"))
    await replay(client, steps("outgoing_callback.json"))
    with_offset = await client.get("/api/communications", headers=auth(), params={
        "phone": "+79031112233", "since": "2025-10-09T10:00:00+00:00", "until": "2025-10-09T12:00:00Z"})
    office_time = await client.get("/api/communications", headers=auth(), params={
        "phone": "+79031112233", "since": "2025-10-09T13:00:00", "until": "2025-10-09T15:00:00"})
    assert await office_time.json() == await with_offset.json() != []


@pytest.mark.parametrize("path", ["/api/contacts/lookup?phone=79161234567", "/api/communications?phone=79161234567",
                                  "/api/leads/reasons", "/api/contacts/lookup?phone=12345"])
async def test_answers_are_utf8_text_not_escapes(path: str, client: TestClient, office: Repository) -> None:
    """A person reading an answer (or its error) reads Cyrillic, not \\uXXXX: English keys, UTF-8 values."""
    await replay(client, steps("answered_incoming.json"))
    resp = await client.get(path, headers=auth())
    body = await resp.read()
    assert resp.content_type == "application/json" and resp.charset == "utf-8"
    assert b"\\u" not in body
    text = body.decode("utf-8")
    assert any("\u0400" <= ch <= "\u04ff" for ch in text) or resp.status == 400, text
