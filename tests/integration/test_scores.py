"""Score, preferred channel and first contact: the documented formula, recomputed as inputs change."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.contacts.score import flush_dirty, refresh_all, refresh_contacts
from tests.conftest import auth
from tests.funnelkit import communication, contact, lead, trip

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def _score(pool: asyncpg.Pool, contact_id: int) -> tuple[int, list[dict[str, object]]]:
    row = await pool.fetchrow("SELECT score, score_reasons::text AS r FROM contact_profiles WHERE contact_id = $1",
                              contact_id)
    return row["score"], json.loads(row["r"])


async def test_the_score_adds_up_as_documented(settings: Settings, pool: asyncpg.Pool) -> None:
    """Hand-counted (docs/LEADS.md): 2 paid trips 30, 250 000 ₽ 20, an inquiry 10 days ago 15,
    one inquiry 3, one conversation 3, an open lead at stage 3 of 7: 5 + round(10·2/6) = 8,
    «постоянный турист» 10: 89."""
    anna = await contact(pool, "Анна", phone="+79260002001", tags=("постоянный турист",))
    await trip(pool, "A1", anna, date(2025, 6, 1), amount=150000)
    await trip(pool, "A2", anna, date(2026, 6, 1), amount=100000)
    await trip(pool, "A0", anna, date(2024, 6, 1), amount=900000)  # more than 24 months ago
    await trip(pool, "A3", anna, date(2026, 7, 1), amount=500000, status="cancelled")
    await communication(pool, anna, NOW - timedelta(days=10))
    await communication(pool, anna, NOW - timedelta(days=200))  # older than 90 days: recency only
    lead_id = await lead(pool, anna, opened_at=NOW - timedelta(days=10))
    await pool.execute("UPDATE leads SET stage = 'Подбор отправлен' WHERE id = $1", lead_id)
    assert await refresh_contacts(pool, [anna], settings, now=NOW) == 1
    score, reasons = await _score(pool, anna)
    assert [r["points"] for r in reasons] == [30, 20, 15, 3, 3, 8, 10]
    assert reasons[0]["reason"] == "Оплаченных поездок за 24 мес.: 2"
    assert reasons[5]["reason"] == "Открытый лид: Подбор отправлен"
    assert score == 89
    assert await refresh_contacts(pool, [anna], settings, now=NOW) == 0  # nothing changed: nothing written


async def test_do_not_call_is_zero_and_cold_never_goes_below_zero(settings: Settings, pool: asyncpg.Pool) -> None:
    dnc = await contact(pool, "Не звонить", phone="+79260002002", do_not_call=True)
    await trip(pool, "D1", dnc, date(2026, 6, 1), amount=300000)
    cold = await contact(pool, "Холодный", phone="+79260002003", tags=("холодный",))
    await refresh_contacts(pool, [dnc, cold], settings, now=NOW)
    assert await _score(pool, dnc) == (0, [{"reason": "Не звонить", "points": 0}])
    assert await _score(pool, cold) == (0, [{"reason": "Тег «холодный»", "points": -15}])


async def test_a_changed_input_is_scored_by_the_next_flush(settings: Settings, pool: asyncpg.Pool) -> None:
    ivan = await contact(pool, "Иван", phone="+79260002004")
    await refresh_all(pool, settings, now=NOW)
    await pool.execute("DELETE FROM contact_score_dirty")
    assert await _score(pool, ivan) == (0, [])
    await trip(pool, "I1", ivan, date(2026, 9, 1), amount=100000)  # the trigger marks him
    assert await pool.fetchval("SELECT count(*) FROM contact_score_dirty WHERE contact_id = $1", ivan) >= 1
    assert await flush_dirty(pool, settings) == 1
    assert (await _score(pool, ivan))[0] == 25
    assert await pool.fetchval("SELECT count(*) FROM contact_score_dirty") == 0
    assert await flush_dirty(pool, settings) == 0


async def test_every_contact_is_scored_by_the_nightly_refresh(settings: Settings, pool: asyncpg.Pool) -> None:
    ids = [await contact(pool, f"К{n}", phone=f"+7926000300{n}") for n in range(7)]
    await trip(pool, "K1", ids[3], date(2026, 9, 1))
    report = await refresh_all(pool, settings, now=NOW, batch=3)
    assert report.contacts == 7
    assert await pool.fetchval("SELECT count(*) FROM contacts c WHERE NOT EXISTS ("
                               "SELECT 1 FROM contact_profiles p WHERE p.contact_id = c.id AND p.score IS NOT NULL)") == 0
    assert (await _score(pool, ids[3]))[0] == 25


async def test_preferred_channel_is_where_he_writes_most_unless_set_by_hand(
        client: TestClient, settings: Settings, pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    olga = await contact(pool, "Ольга", phone="+79260002005", email="olga@example.ru")
    for days in (1, 2, 3):
        await communication(pool, olga, now - timedelta(days=days), channel="telegram", status="received")
    await communication(pool, olga, now - timedelta(days=4))
    await communication(pool, olga, now - timedelta(days=5), direction="outbound", status="missed")
    await communication(pool, olga, now - timedelta(days=6), direction="outbound", status="missed")
    await refresh_contacts(pool, [olga], settings)
    card = await (await client.get(f"/api/contacts/{olga}", headers=auth())).json()
    assert (card["preferred_channel"], card["preferred_channel_by_hand"]) == ("telegram", False)

    resp = await client.put(f"/api/contacts/{olga}/preferred-channel", headers=auth(), json={"channel": "email"})
    assert resp.status == 200 and (await resp.json())["preferred_channel"] == "email"
    await refresh_contacts(pool, [olga], settings)
    lookup = await (await client.get("/api/contacts/lookup", headers=auth(),
                                     params={"phone": "+79260002005"})).json()
    assert (lookup["preferred_channel"], lookup["preferred_channel_by_hand"]) == ("email", True)

    resp = await client.put(f"/api/contacts/{olga}/preferred-channel", headers=auth(), json={"channel": None})
    assert (await resp.json())["preferred_channel"] == "telegram"
    bad = await client.put(f"/api/contacts/{olga}/preferred-channel", headers=auth(), json={"channel": "fax"})
    assert bad.status == 400
    assert (await client.put("/api/contacts/999999/preferred-channel", headers=auth(),
                             json={"channel": "call"})).status == 404


async def test_first_contact_is_never_overwritten_and_a_merge_keeps_the_earliest(
        client: TestClient, settings: Settings, pool: asyncpg.Pool) -> None:
    first = datetime(2026, 3, 1, 10, tzinfo=UTC)
    petr = await contact(pool, "Пётр", phone="+79260002006")
    await communication(pool, petr, first, channel="web_form", ad_source="Яндекс")
    await refresh_contacts(pool, [petr], settings)
    await communication(pool, petr, first + timedelta(days=30), ad_source="Авито")
    await refresh_contacts(pool, [petr], settings)
    lookup = await (await client.get("/api/contacts/lookup", headers=auth(),
                                     params={"phone": "+79260002006"})).json()
    assert (lookup["first_seen_at"], lookup["first_channel"], lookup["first_ad_source"]) == (
        first.isoformat(), "web_form", "Яндекс")
    assert isinstance(lookup["score"], int) and lookup["score_reasons"]

    # An older duplicate, known from an import before any inquiry: the merge keeps its earliest.
    old = await contact(pool, "Пётр (старый)", phone="+79260002007")
    await pool.execute("UPDATE contacts SET created_at = $2, ad_source = 'Рекомендация' WHERE id = $1",
                       old, first - timedelta(days=365))
    await refresh_contacts(pool, [old], settings)
    resp = await client.post("/api/contacts/merge", headers=auth(), json={"survivor_id": petr, "merged_ids": [old]})
    assert resp.status == 200, await resp.text()
    await refresh_contacts(pool, [petr], settings)
    card = await (await client.get(f"/api/contacts/{petr}", headers=auth())).json()
    assert (card["first_seen_at"], card["first_channel"], card["first_ad_source"]) == (
        (first - timedelta(days=365)).isoformat(), "import", "Рекомендация")
