"""Reactivation campaigns: a frozen segment, one person to one manager, outcomes counted."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.contacts.score import refresh_all
from daemon.domain import readable
from daemon.leads import campaigns
from daemon.store.repository import Repository
from tests.conftest import auth
from tests.funnelkit import communication, contact, lead, trip

LONG_AGO = date(2024, 5, 1)  # the last trip ended long before the lost-clients' 12 months


async def lost_client(pool: asyncpg.Pool, name: str, phone: str | None, *, amount: int = 100000,
                      email: str | None = None, do_not_call: bool = False) -> int:
    contact_id = await contact(pool, name, phone=phone, email=email, do_not_call=do_not_call)
    await trip(pool, f"T-{name}", contact_id, LONG_AGO, amount=amount)
    return contact_id


async def _segment(pool: asyncpg.Pool, settings: Settings) -> dict[str, int]:
    people = {
        "best": await lost_client(pool, "Лучший", "+79260004001", amount=300000),
        "middle": await lost_client(pool, "Средний", "+79260004002", amount=200000),
        "last": await lost_client(pool, "Последний", "+79260004003", amount=100000),
        "mail_only": await lost_client(pool, "Только почта", None, email="mail@example.ru"),
        "dnc": await lost_client(pool, "Не звонить", "+79260004004", do_not_call=True),
        "busy": await lost_client(pool, "С лидом", "+79260004005"),
    }
    await lead(pool, people["busy"], opened_at=datetime.now(UTC) - timedelta(days=1))
    await pool.execute("UPDATE communications SET started_at = started_at - interval '1 year'")
    await refresh_all(pool, settings)
    return people


async def _create(client: TestClient, **body: object) -> dict[str, object]:
    payload = {"name": "Реактивация 2026", "segment": {"kind": "lost_clients"}, "extensions": ["105", "106"],
               "claim_days": 30} | body
    resp = await client.post("/api/campaigns", headers=auth(), json=payload)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def _next(client: TestClient, campaign_id: object, extension: str) -> dict[str, object] | None:
    resp = await client.post(f"/api/campaigns/{campaign_id}/next", headers=auth(), json={"extension": extension})
    assert resp.status in (200, 204), await resp.text()
    return None if resp.status == 204 else await resp.json()


async def test_next_hands_out_the_best_first_and_each_person_once(
        client: TestClient, settings: Settings, office: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaigns, "SEGMENT_SLICE", 2)  # the segment is frozen slice by slice
    pool = office.pool
    people = await _segment(pool, settings)
    created = await _create(client)
    assert (created["contacts"], created["mailing"]) == (3, 1)  # no do-not-call, no open lead

    first = await _next(client, created["id"], "105")
    assert first is not None and first["contact_id"] == people["best"]
    assert first["phones"] == ["+79260004001"] and first["trips"][0]["order_number"] == "T-Лучший"
    assert first["score"] == first["score"] and isinstance(first["score_reasons"], list)
    # The card's words for a person: the trip's status in Russian, the score with its reasons.
    assert first["trips"][0]["status_text"] == readable.trip_status(first["trips"][0]["status"]) != first["trips"][0]["status"]
    assert first["score_text"] == readable.score(first["score"], first["score_reasons"])
    second = await _next(client, created["id"], "106")
    assert second is not None and second["contact_id"] == people["middle"]
    # Another campaign of the same people cannot hand out those two again.
    other = await _create(client, name="Вторая")
    third = await _next(client, other["id"], "105")
    assert third is not None and third["contact_id"] == people["last"]
    assert await _next(client, other["id"], "105") is None
    assert await _next(client, created["id"], "106") is None

    refused = await client.post(f"/api/campaigns/{created['id']}/next", headers=auth(), json={"extension": "101"})
    assert refused.status == 403


async def test_ten_managers_asking_at_once_never_get_the_same_person(
        client: TestClient, settings: Settings, office: Repository) -> None:
    pool = office.pool
    ids = [await lost_client(pool, f"Клиент {n}", f"+792600050{n:02d}") for n in range(25)]
    await pool.execute("INSERT INTO managers (extension, name) SELECT '2' || n, 'М' || n FROM generate_series(0, 9) n")
    created = await _create(client, extensions=[f"2{n}" for n in range(10)])
    assert created["contacts"] == len(ids)
    handed: list[int] = []
    for _ in range(3):
        cards = await asyncio.gather(*(_next(client, created["id"], f"2{n}") for n in range(10)))
        handed += [card["contact_id"] for card in cards if card is not None]
    assert sorted(handed) == sorted(ids)  # each of the 25 once; the other 5 asks got 204
    claims = await pool.fetchval("SELECT count(*) FROM contact_claims WHERE campaign_id = $1", created["id"])
    assert claims == len(ids)


async def test_a_person_called_within_the_claim_days_is_skipped(
        client: TestClient, settings: Settings, office: Repository) -> None:
    pool = office.pool
    people = await _segment(pool, settings)
    created = await _create(client)  # frozen first: a lost client called since stays in the campaign
    await communication(pool, people["best"], datetime.now(UTC) - timedelta(days=3), direction="outbound")
    first = await _next(client, created["id"], "105")
    assert first is not None and first["contact_id"] == people["middle"]
    # He rests, out of the campaign's index, until 30 days after that call; then he is back.
    rest = await pool.fetchval("SELECT rest_until FROM campaign_contacts WHERE contact_id = $1", people["best"])
    assert rest is not None and rest > datetime.now(UTC) + timedelta(days=26)
    later = await campaigns.next_contact(pool, created["id"], "106", now=rest + timedelta(minutes=1))
    assert later is not None and later["contact_id"] == people["best"]


async def test_outcomes_open_leads_count_refusals_and_mark_do_not_call(
        client: TestClient, settings: Settings, office: Repository) -> None:
    pool = office.pool
    people = await _segment(pool, settings)
    created = await _create(client)
    cid = created["id"]

    async def outcome(contact_id: int, outcome: str, reason: str | None = None) -> int:
        resp = await client.post(f"/api/campaigns/{cid}/outcome", headers=auth(), json={
            "contact_id": contact_id, "extension": "105", "outcome": outcome, "reason": reason})
        return resp.status

    for _ in range(3):
        await _next(client, cid, "105")
    assert await outcome(people["best"], "interested") == 200
    assert await outcome(people["middle"], "refused") == 400  # a refusal needs its reason
    assert await outcome(people["middle"], "refused", "переезд") == 200
    assert await outcome(people["last"], "do_not_call", "Просит не звонить") == 200
    assert await outcome(people["dnc"], "refused", "Переезд") == 404  # not in the campaign

    new_lead = await pool.fetchrow("SELECT id, ad_source, status FROM leads WHERE contact_id = $1", people["best"])
    assert (new_lead["ad_source"], new_lead["status"]) == ("Реактивация", "open")
    assert await pool.fetchval("SELECT do_not_call_reason FROM contact_identifiers WHERE contact_id = $1",
                               people["last"]) == "Просит не звонить"
    # The pre-booking becomes a sale: a paid trip wins the lead.
    await pool.execute("UPDATE leads SET status = 'won', closed_at = now() WHERE id = $1", new_lead["id"])
    await trip(pool, "R-1", people["best"], date(2027, 2, 1), amount=250000, lead_id=new_lead["id"])
    await communication(pool, people["middle"], datetime.now(UTC), direction="outbound")

    doc = await (await client.get(f"/api/campaigns/{cid}", headers=auth())).json()
    assert {k: doc[k] for k in ("total", "claimed", "reached", "interested", "refused", "unreachable",
                                "do_not_call", "leads_opened", "leads_won", "revenue")} == {
        "total": 3, "claimed": 3, "reached": 3, "interested": 1, "refused": {"Переезд": 1}, "unreachable": 0,
        "do_not_call": 1, "leads_opened": 1, "leads_won": 1, "revenue": 250000.0}

    csv_text = await (await client.get(f"/api/campaigns/{cid}/mailing.csv", headers=auth())).text()
    assert csv_text.splitlines() == ["contact_id,name,email", f"{people['mail_only']},Только почта,mail@example.ru"]


async def test_a_campaign_refuses_what_it_cannot_do(client: TestClient, office: Repository) -> None:
    async def create(body: dict[str, object]) -> int:
        resp = await client.post("/api/campaigns", headers=auth(), json=body)
        return resp.status

    base = {"name": "К", "segment": {"kind": "cold"}, "extensions": ["105"]}
    assert await create(base | {"extensions": ["999"]}) == 400  # no such manager
    assert await create(base | {"segment": {"kind": "tag"}}) == 400  # a tag segment names its tag
    assert await create(base | {"segment": {"kind": "everyone"}}) == 400
    assert await create(base | {"claim_days": 0}) == 400
    assert await create(base | {"extensions": []}) == 400
    resp = await client.post("/api/campaigns", headers=auth(), json=base)
    assert resp.status == 201 and (await resp.json())["contacts"] == 1  # Васильевы, «холодный» in contacts.csv
    assert (await client.get("/api/campaigns/999999", headers=auth())).status == 404
    assert (await client.post("/api/campaigns/999999/next", headers=auth(), json={"extension": "105"})).status == 404
    listed = await (await client.get("/api/campaigns", headers=auth(), params={"extension": "105"})).json()
    assert [c["name"] for c in listed] == ["К"]
