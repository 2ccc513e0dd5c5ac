"""«Примечание» on a communication and a new caller's name, through /api."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from daemon.screen.api import NAME_MAX_CHARS, NOTE_MAX_CHARS
from daemon.store.repository import Repository
from tests.conftest import auth
from tests.screenkit import post_steps, steps


async def _answered_call(client: TestClient) -> dict:
    await post_steps(client, steps("answered_incoming.json"))
    resp = await client.get("/api/communications", params={"phone": "+79161234567"}, headers=auth())
    [row] = await resp.json()
    return row


async def test_note_is_saved_and_read_back(client: TestClient, office: Repository) -> None:
    row = await _answered_call(client)
    resp = await client.put(f"/api/communications/{row['id']}/note",
                            json={"note": "  Просит подборку туров в Сочи\nбюджет 150 тыс. "}, headers=auth())
    assert resp.status == 200
    assert await resp.json() == {"id": row["id"], "entry_id": row["entry_id"],
                                 "note": "Просит подборку туров в Сочи\nбюджет 150 тыс."}
    again = await client.get("/api/communications", params={"phone": "+79161234567"}, headers=auth())
    assert (await again.json())[0]["note"] == "Просит подборку туров в Сочи\nбюджет 150 тыс."


async def test_a_note_survives_later_events_of_the_call(client: TestClient, office: Repository) -> None:
    """The pipeline re-derives every column but note."""
    row = await _answered_call(client)
    await client.put(f"/api/communications/{row['id']}/note", json={"note": "VIP"}, headers=auth())
    await post_steps(client, steps("answered_incoming_shuffled.json"))
    resp = await client.get("/api/communications", params={"phone": "+79161234567"}, headers=auth())
    assert (await resp.json())[0]["note"] == "VIP"


async def test_an_empty_note_clears_it(client: TestClient, office: Repository) -> None:
    row = await _answered_call(client)
    await client.put(f"/api/communications/{row['id']}/note", json={"note": "x"}, headers=auth())
    for empty in ("   ", None):
        resp = await client.put(f"/api/communications/{row['id']}/note", json={"note": empty}, headers=auth())
        assert resp.status == 200 and (await resp.json())["note"] is None


async def test_bad_note_requests_say_what_is_wrong_and_change_nothing(client: TestClient,
                                                                      office: Repository) -> None:
    row = await _answered_call(client)
    url = f"/api/communications/{row['id']}/note"
    await client.put(url, json={"note": "keep me"}, headers=auth())
    cases = [
        (b"not json", 400, "JSON"),
        (b'["note"]', 400, "object"),
        (b'{"text": "x"}', 400, "object"),
        (b'{"note": 5}', 400, "string"),
        ('{"note": "%s"}' % ("я" * (NOTE_MAX_CHARS + 1)), 400, "longer"),
    ]
    for body, status, word in cases:
        resp = await client.put(url, data=body, headers=auth() | {"Content-Type": "application/json"})
        assert resp.status == status, body
        assert word in (await resp.json())["error"]
    resp = await client.get("/api/communications", params={"phone": "+79161234567"}, headers=auth())
    assert (await resp.json())[0]["note"] == "keep me"


async def test_note_on_a_missing_communication_is_404(client: TestClient) -> None:
    for missing in ("999999", "99999999999999999999999"):
        resp = await client.put(f"/api/communications/{missing}/note", json={"note": "x"}, headers=auth())
        assert resp.status == 404


async def test_notes_and_names_need_the_token(client: TestClient) -> None:
    for url, body in (("/api/communications/1/note", {"note": "x"}), ("/api/contacts/1/name", {"name": "x"})):
        assert (await client.put(url, json=body)).status == 401
        assert (await client.put(url, json=body, headers={"Authorization": "Bearer wrong"})).status == 401


async def test_contact_name_rules(client: TestClient, office: Repository) -> None:
    await post_steps(client, steps("unknown_caller.json"))
    lookup = await client.get("/api/contacts/lookup", params={"phone": "+79261234500"}, headers=auth())
    contact_id = (await lookup.json())["id"]
    url = f"/api/contacts/{contact_id}/name"
    for body, word in (({"name": "  "}, "empty"), ({"name": None}, "string"),
                       ({"name": "я" * (NAME_MAX_CHARS + 1)}, "longer"), ({}, "object")):
        resp = await client.put(url, json=body, headers=auth())
        assert resp.status == 400 and word in (await resp.json())["error"], body
    assert (await client.put("/api/contacts/999999/name", json={"name": "X"}, headers=auth())).status == 404
    resp = await client.put(url, json={"name": "Ким Елена"}, headers=auth())
    assert resp.status == 200
    lookup = await client.get("/api/contacts/lookup", params={"phone": "+79261234500"}, headers=auth())
    assert (await lookup.json())["name"] == "Ким Елена"
