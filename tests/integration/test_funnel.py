"""The sales funnel: stages moved by hand and by bookings, journaled, and counted per group."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.leads.funnel import advance
from daemon.leads.trips import import_trips
from tests.conftest import auth
from tests.funnelkit import communication, contact, lead

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STAGES = ("Новое обращение", "Выявление потребностей", "Подбор отправлен", "Согласование",
          "Счёт выставлен", "Оплачено", "Поездка")


async def test_a_lead_moves_any_direction_and_every_move_is_journaled(
        client: TestClient, pool: asyncpg.Pool) -> None:
    lead_id = await lead(pool, await contact(pool, "Анна", phone="+79260001001"), opened_at=T0)
    resp = await client.get(f"/api/leads/{lead_id}", headers=auth())
    doc = await resp.json()
    assert resp.status == 200 and doc["stage"] == "Новое обращение"
    assert doc["stages"] == [{"stage": "Новое обращение", "at": T0.isoformat(), "extension": None}]

    for stage in ("Согласование", "выявление потребностей"):  # forward, then back (any case)
        resp = await client.put(f"/api/leads/{lead_id}/stage", headers=auth(),
                                json={"stage": stage, "extension": "105"})
        assert resp.status == 200, await resp.text()
    doc = await (await client.get(f"/api/leads/{lead_id}", headers=auth())).json()
    assert doc["stage"] == "Выявление потребностей"
    assert [(s["stage"], s["extension"]) for s in doc["stages"]] == [
        ("Новое обращение", None), ("Согласование", "105"), ("Выявление потребностей", "105")]
    assert doc["stages"][1]["at"] <= doc["stages"][2]["at"]


async def test_a_stage_the_funnel_does_not_know_is_refused(client: TestClient, pool: asyncpg.Pool) -> None:
    lead_id = await lead(pool, await contact(pool, "Анна", phone="+79260001001"), opened_at=T0)
    resp = await client.put(f"/api/leads/{lead_id}/stage", headers=auth(), json={"stage": "Думает"})
    assert resp.status == 400 and "Согласование" in (await resp.json())["error"]
    resp = await client.put(f"/api/leads/{lead_id}/stage", headers=auth(), json={"stage": "Согласование",
                                                                                  "extension": "1 05"})
    assert resp.status == 400
    resp = await client.put("/api/leads/999999/stage", headers=auth(), json={"stage": "Согласование"})
    assert resp.status == 404
    assert (await client.get("/api/leads/999999", headers=auth())).status == 404
    assert await pool.fetchval("SELECT count(*) FROM lead_stages") == 0


async def test_a_booking_wins_the_lead_into_paid_and_its_start_into_the_trip(
        settings: Settings, pool: asyncpg.Pool, tmp_path: Path) -> None:
    anna = await contact(pool, "Анна", phone="+79260001001")
    lead_id = await lead(pool, anna, opened_at=datetime(2026, 10, 1, tzinfo=UTC))
    starts = date(2026, 12, 1)
    sheet = tmp_path / "trips.csv"
    sheet.write_text("Номер заявки;Телефон;Дата заявки;Дата начала;Дата окончания;Сумма;Статус\n"
                     f"A-1;+79260001001;05.10.2026;{starts:%d.%m.%Y};10.12.2026;150000;Оплачена\n",
                     encoding="utf-8")
    before_start = datetime(2026, 11, 20, tzinfo=UTC)
    report = await import_trips(pool, sheet, settings, now=before_start)
    assert report.leads_won == 1
    journal = await pool.fetch("SELECT stage, at FROM lead_stages WHERE lead_id = $1 ORDER BY id", lead_id)
    assert [r["stage"] for r in journal] == ["Оплачено"]
    assert await pool.fetchval("SELECT stage FROM leads WHERE id = $1", lead_id) == "Оплачено"

    # The trip starts: the nightly run moves the lead on, once.
    assert await advance(pool, settings.funnel, timezone=settings.timezone,
                         now=datetime(2026, 12, 1, 12, tzinfo=UTC)) == 1
    assert await advance(pool, settings.funnel, timezone=settings.timezone,
                         now=datetime(2026, 12, 2, 12, tzinfo=UTC)) == 0
    journal = await pool.fetch("SELECT stage, at FROM lead_stages WHERE lead_id = $1 ORDER BY id", lead_id)
    assert [r["stage"] for r in journal] == ["Оплачено", "Поездка"]
    assert journal[1]["at"] == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)  # 1 December, Moscow time


async def _moved(pool: asyncpg.Pool, lead_id: int, *moves: tuple[str, float]) -> None:
    """Journal moves of a lead at given hours after T0."""
    for stage, hours in moves:
        await pool.execute("INSERT INTO lead_stages (lead_id, stage, at) VALUES ($1, $2, $3)",
                           lead_id, stage, T0 + timedelta(hours=hours))


async def test_the_funnel_counts_who_reached_each_stage_and_how_long_it_took(
        client: TestClient, pool: asyncpg.Pool) -> None:
    """Hand-counted: A (Яндекс) stays; B (Яндекс) jumps to stage 3 after 2 h and falls back to 2;
    C (Авито) reaches stage 2 after 4 h and stage 3 after 10 h; D was opened before the window."""
    await lead(pool, await contact(pool, "A", phone="+79260001001"), opened_at=T0, ad_source="Яндекс")
    b = await lead(pool, await contact(pool, "B", phone="+79260001002"), opened_at=T0, ad_source="Яндекс")
    c_contact = await contact(pool, "C", phone="+79260001003")
    c = await lead(pool, c_contact, opened_at=T0, ad_source="Авито")
    d = await lead(pool, await contact(pool, "D", phone="+79260001004"), opened_at=T0 - timedelta(days=30),
                   ad_source="Авито")
    await _moved(pool, b, ("Подбор отправлен", 2), ("Выявление потребностей", 3))
    await _moved(pool, c, ("Выявление потребностей", 4), ("Подбор отправлен", 10))
    await _moved(pool, d, ("Счёт выставлен", 1))
    await communication(pool, c_contact, T0, channel="telegram", lead_id=c, manager="106")
    query = {"since": "2026-11-01T00:00:00+00:00", "until": "2026-11-05T00:00:00+00:00"}
    resp = await client.get("/api/analytics/funnel", headers=auth(), params={**query, "by": "ad_source"})
    doc = await resp.json()
    assert resp.status == 200, doc
    rows = {row["key"]: row["stages"] for row in doc["rows"]}
    assert list(rows) == ["Яндекс", "Авито"]  # the bigger first
    assert [s["stage"] for s in rows["Яндекс"]] == list(STAGES)
    assert [(s["reached"], s["share_of_first"], s["median_hours_from_previous"]) for s in rows["Яндекс"][:4]] == [
        (2, 1.0, None), (1, 0.5, 2.0), (1, 0.5, 0.0), (0, 0.0, None)]
    assert [(s["reached"], s["median_hours_from_previous"]) for s in rows["Авито"][:4]] == [
        (1, None), (1, 4.0), (1, 6.0), (0, None)]
    assert [(s["reached"], s["median_hours_from_previous"]) for s in doc["totals"]["stages"][:4]] == [
        (3, None), (2, 3.0), (2, 3.0), (0, None)]

    by_channel = await (await client.get("/api/analytics/funnel", headers=auth(),
                                          params={**query, "by": "channel"})).json()
    assert {row["key"]: row["stages"][0]["reached"] for row in by_channel["rows"]} == {None: 2, "telegram": 1}
    by_manager = await (await client.get("/api/analytics/funnel", headers=auth(),
                                         params={**query, "by": "manager"})).json()
    assert {row["key"]: row["stages"][1]["reached"] for row in by_manager["rows"]} == {None: 1, "106": 1}
    bad = await client.get("/api/analytics/funnel", headers=auth(), params={**query, "by": "line"})
    assert bad.status == 400
