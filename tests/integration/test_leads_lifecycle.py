"""Leads end: won or lost with a reason, archived when stale; a later call opens a new lead naming the old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.store.repository import Repository
from tests.conftest import auth, run_cli
from tests.leadkit import ANSWERED, CALLBACK, MISSED, call_at, entry_id_of, post_call
from tests.scenarios import replay

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ANNA = "79161234567"  # Кузнецова Анна, in contacts.csv
NEW = "79260000001"  # nobody knows this number


async def _lead_of(pool: asyncpg.Pool, entry_id: str) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT l.* FROM communications c JOIN leads l ON l.id = c.lead_id WHERE c.entry_id = $1", entry_id)


async def test_a_call_40_days_after_the_lead_went_quiet_opens_a_new_lead_naming_the_old(
        client: TestClient, office: Repository) -> None:
    """No `leads archive` ran in between: the stale lead is archived when the new call arrives."""
    first = await post_call(client, ANSWERED, name="a1", number=ANNA, at=T0)
    later = await post_call(client, MISSED, name="a2", number=ANNA, at=T0 + timedelta(days=40))
    old, new = await _lead_of(office.pool, first), await _lead_of(office.pool, later)
    assert old["id"] != new["id"]
    assert new["previous_lead_id"] == old["id"]
    assert (old["status"], new["status"]) == ("archived", "open")
    assert old["closed_at"] == T0 + timedelta(days=30)  # when it went stale, not when noticed
    assert new["opened_at"] == new["last_activity_at"] == T0 + timedelta(days=40)


async def test_a_call_10_days_later_joins_the_same_lead_and_moves_its_activity(
        client: TestClient, office: Repository) -> None:
    first = await post_call(client, ANSWERED, name="b1", number=ANNA, at=T0)
    later = await post_call(client, MISSED, name="b2", number=ANNA, at=T0 + timedelta(days=10))
    lead = await _lead_of(office.pool, later)
    assert lead["id"] == (await _lead_of(office.pool, first))["id"]
    assert lead["status"] == "open" and lead["previous_lead_id"] is None
    assert lead["opened_at"] == T0
    assert lead["last_activity_at"] == T0 + timedelta(days=10)


async def test_activity_is_the_calls_own_time_whatever_the_delivery_order(
        client: TestClient, office: Repository) -> None:
    """A late delivery of an older call does not move activity back, nor does it count as new."""
    day20 = call_at(MISSED, name="c2", number=ANNA, at=T0 + timedelta(days=20))
    day5 = call_at(ANSWERED, name="c1", number=ANNA, at=T0 + timedelta(days=5))
    await post_call(client, ANSWERED, name="c0", number=ANNA, at=T0)
    await replay(client, day20)
    await replay(client, day5)  # arrives late
    leads = await office.pool.fetch("SELECT * FROM leads")
    assert len(leads) == 1
    assert leads[0]["last_activity_at"] == T0 + timedelta(days=20)


async def test_an_outbound_call_joins_a_live_lead_but_opens_none(client: TestClient, office: Repository) -> None:
    missed = await post_call(client, MISSED, name="d1", number=ANNA, at=T0)
    back = await post_call(client, CALLBACK, name="d2", number=ANNA, at=T0 + timedelta(days=3))
    assert (await _lead_of(office.pool, back))["id"] == (await _lead_of(office.pool, missed))["id"]
    late = await post_call(client, CALLBACK, name="d3", number=ANNA, at=T0 + timedelta(days=60))
    assert await _lead_of(office.pool, late) is None
    assert await office.pool.fetchval("SELECT count(*) FROM leads WHERE status = 'open'") == 0


async def test_after_a_lost_lead_the_next_call_opens_a_new_one(client: TestClient, office: Repository) -> None:
    first = await post_call(client, ANSWERED, name="e1", number=NEW, at=T0)
    lead_id = (await _lead_of(office.pool, first))["id"]
    resp = await client.put(f"/api/leads/{lead_id}/close", json={"outcome": "lost", "reason": "переезд"},
                            headers=auth())
    assert resp.status == 200, await resp.text()
    closed = await resp.json()
    assert (closed["status"], closed["reason"]) == ("lost", "Переезд")
    later = await post_call(client, MISSED, name="e2", number=NEW, at=T0 + timedelta(days=2))
    new = await _lead_of(office.pool, later)
    assert new["previous_lead_id"] == lead_id and new["status"] == "open"


async def test_close_api_refuses_what_it_cannot_do(client: TestClient, office: Repository) -> None:
    entry = await post_call(client, ANSWERED, name="f1", number=NEW, at=T0)
    lead_id = (await _lead_of(office.pool, entry))["id"]
    cases = [
        ({"outcome": "lost"}, 400, "needs a reason"),
        ({"outcome": "lost", "reason": "Погода"}, 400, "unknown reason"),
        ({"outcome": "closed"}, 400, "outcome"),
        ([1], 400, "object"),
    ]
    for body, status, words in cases:
        resp = await client.put(f"/api/leads/{lead_id}/close", json=body, headers=auth())
        assert resp.status == status, body
        assert words in (await resp.json())["error"]
    resp = await client.put(f"/api/leads/{lead_id}/close", data=b"{nope", headers=auth())
    assert resp.status == 400
    resp = await client.put(f"/api/leads/{lead_id}/close", json={"outcome": "won"}, headers=auth())
    assert resp.status == 200 and (await resp.json())["status"] == "won"
    resp = await client.put(f"/api/leads/{lead_id}/close", json={"outcome": "lost", "reason": "Другое"},
                            headers=auth())
    assert resp.status == 409 and "already won" in (await resp.json())["error"]
    resp = await client.put("/api/leads/999999/close", json={"outcome": "won"}, headers=auth())
    assert resp.status == 404
    resp = await client.put(f"/api/leads/{lead_id}/close", json={"outcome": "won"})
    assert resp.status == 401


async def test_leads_list_by_contact_and_status(client: TestClient, office: Repository) -> None:
    e1 = await post_call(client, ANSWERED, name="g1", number=ANNA, at=T0)
    e2 = await post_call(client, MISSED, name="g2", number=ANNA, at=T0 + timedelta(days=2))
    e3 = await post_call(client, MISSED, name="g3", number=ANNA, at=T0 + timedelta(days=45))
    contact_id = await office.pool.fetchval("SELECT contact_id FROM communications WHERE entry_id = $1", e1)
    ids = {e: await office.pool.fetchval("SELECT id FROM communications WHERE entry_id = $1", e)
           for e in (e1, e2, e3)}
    resp = await client.get(f"/api/leads?contact_id={contact_id}", headers=auth())
    assert resp.status == 200
    leads = await resp.json()
    assert [lead["status"] for lead in leads] == ["archived", "open"]
    old, new = leads
    assert old["communication_ids"] == [ids[e1], ids[e2]]
    assert new["communication_ids"] == [ids[e3]]
    assert new["previous_lead_id"] == old["id"]
    assert old["ad_source"] == "Яндекс.Директ"
    assert old["opened_at"] == T0.isoformat()
    assert old["last_activity_at"] == (T0 + timedelta(days=2)).isoformat()
    assert old["closed_at"] == (T0 + timedelta(days=32)).isoformat()
    resp = await client.get("/api/leads?status=open", headers=auth())
    assert [lead["id"] for lead in await resp.json()] == [new["id"]]
    for bad in ("", "?status=closed", "?contact_id=x"):
        assert (await client.get(f"/api/leads{bad}", headers=auth())).status == 400
    resp = await client.get("/api/leads/reasons", headers=auth())
    assert (await resp.json())["reasons"][0] == "Конкуренты"


async def test_leads_archive_closes_only_stale_leads_and_is_idempotent(
        settings: Settings, client: TestClient, office: Repository) -> None:
    now = datetime.now(UTC)
    old = await post_call(client, ANSWERED, name="h1", number=ANNA, at=now - timedelta(days=31))
    fresh = await post_call(client, ANSWERED, name="h2", number=NEW, at=now - timedelta(days=3))
    code, out, err = await run_cli(settings, "leads", "archive")
    assert code == 0, err
    assert "лидов в архив: 1" in out
    assert (await _lead_of(office.pool, old))["status"] == "archived"
    assert (await _lead_of(office.pool, fresh))["status"] == "open"
    before = [tuple(r) for r in await office.pool.fetch("SELECT * FROM leads ORDER BY id")]
    code, out, _ = await run_cli(settings, "leads", "archive")
    assert code == 0 and "лидов в архив: 0" in out
    assert [tuple(r) for r in await office.pool.fetch("SELECT * FROM leads ORDER BY id")] == before
    code, out, _ = await run_cli(settings, "leads", "archive", "--stale-days", "2")
    assert code == 0 and "лидов в архив: 1" in out
    assert (await _lead_of(office.pool, fresh))["status"] == "archived"


async def test_two_calls_at_once_after_a_stale_lead_open_one_new_lead(
        client: TestClient, office: Repository) -> None:
    """The stale lead is archived once and one new lead opened, whichever call's transaction goes first."""
    first = await post_call(client, ANSWERED, name="r0", number=ANNA, at=T0)
    a = call_at(MISSED, name="r1", number=ANNA, at=T0 + timedelta(days=40))
    b = call_at(ANSWERED, name="r2", number=ANNA, at=T0 + timedelta(days=40, hours=1))
    await replay(client, [step for pair in zip(a, b, strict=False) for step in pair] + a[len(b):] + b[len(a):],
                 concurrently=True)
    old = await _lead_of(office.pool, first)
    new_a, new_b = await _lead_of(office.pool, entry_id_of(a)), await _lead_of(office.pool, entry_id_of(b))
    assert new_a["id"] == new_b["id"] != old["id"]
    assert new_a["previous_lead_id"] == old["id"] and old["status"] == "archived"
    assert await office.pool.fetchval("SELECT count(*) FROM leads") == 2
