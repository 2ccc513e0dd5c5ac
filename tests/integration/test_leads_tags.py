"""Computed tags: set when their condition holds, removed when it ends, never put back once removed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.leads.tags import refresh_tags
from daemon.store.repository import Repository
from tests.conftest import auth, run_cli

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
REGULAR, COLD, DNC = "постоянный турист", "холодный", "не звонить"


async def contact(pool: asyncpg.Pool, name: str, phone: str, *, do_not_call: bool = False) -> int:
    contact_id = await pool.fetchval("INSERT INTO contacts (name) VALUES ($1) RETURNING id", name)
    await pool.execute(
        "INSERT INTO contact_identifiers (kind, value, contact_id, do_not_call_since) VALUES ('phone', $1, $2, $3)",
        phone, contact_id, NOW if do_not_call else None)
    return contact_id


async def trip(pool: asyncpg.Pool, order: str, contact_id: int, starts: date, *, status: str = "paid",
               ends: date | None = None) -> None:
    await pool.execute(
        "INSERT INTO trips (order_number, contact_id, status, amount, starts_on, ends_on, booked_at)"
        " VALUES ($1, $2, $3, 100000, $4, $5, $6)", order, contact_id, status, starts, ends or starts,
        datetime(starts.year, starts.month, 1, tzinfo=UTC))


async def call(pool: asyncpg.Pool, entry: str, contact_id: int, at: datetime) -> None:
    await pool.execute(
        "INSERT INTO communications (entry_id, direction, status, contact_id, started_at)"
        " VALUES ($1, 'inbound', 'answered', $2, $3)", entry, contact_id, at)


async def tags(pool: asyncpg.Pool) -> dict[str, list[str]]:
    return {r["name"]: list(r["tags"]) for r in await pool.fetch("SELECT name, tags FROM contacts ORDER BY id")}


async def test_tags_follow_trips_silence_and_do_not_call(settings: Settings, office: Repository) -> None:
    pool = office.pool
    a = await contact(pool, "A три поездки", "+79260000001")
    for n, starts in enumerate((date(2025, 1, 10), date(2025, 8, 1), date(2026, 3, 1))):
        await trip(pool, f"A{n}", a, starts)
    b = await contact(pool, "B старая поездка", "+79260000002")
    for n, starts in enumerate((date(2024, 5, 1), date(2025, 8, 1), date(2026, 3, 1))):
        await trip(pool, f"B{n}", b, starts)
    await trip(pool, "B-cancelled", b, date(2026, 1, 1), status="cancelled")
    await trip(pool, "B-future", b, date(2026, 7, 1))  # paid, not started yet
    c = await contact(pool, "C молчит", "+79260000003")
    await call(pool, "c1", c, datetime(2024, 10, 1, tzinfo=UTC))
    await trip(pool, "C0", c, date(2024, 8, 20), ends=date(2024, 9, 1))
    d = await contact(pool, "D звонил", "+79260000004")
    await call(pool, "d1", d, datetime(2025, 1, 1, tzinfo=UTC))
    await contact(pool, "E без истории", "+79260000005")
    await contact(pool, "F не звонить", "+79260000006", do_not_call=True)

    report = await refresh_tags(pool, settings, now=NOW)
    got = await tags(pool)
    assert got["A три поездки"] == [REGULAR]
    assert got["B старая поездка"] == []
    assert got["C молчит"] == [COLD]
    assert got["D звонил"] == []
    assert got["E без истории"] == []
    assert got["F не звонить"] == [DNC]
    # Tags from the contact import are the managers' own: left alone.
    assert got["Кузнецова Анна Сергеевна"] == [REGULAR]
    assert got["Семья Васильевых"] == [COLD]
    assert (report.added, report.removed_contacts) == (3, 0)

    again = await refresh_tags(pool, settings, now=NOW)
    assert (again.added, again.removed_contacts, again.removals_detected) == (0, 0, 0)
    assert await tags(pool) == got

    await call(pool, "c2", c, datetime(2026, 5, 1, tzinfo=UTC))  # C called again
    later = await refresh_tags(pool, settings, now=NOW)
    assert later.removed_contacts == 1
    assert (await tags(pool))["C молчит"] == []
    assert d  # D stays untagged whatever happens


async def test_a_computed_tag_removed_by_hand_stays_removed(
        settings: Settings, client: TestClient, office: Repository) -> None:
    pool = office.pool
    a = await contact(pool, "A", "+79260000011")
    for n, starts in enumerate((date(2025, 1, 10), date(2025, 8, 1), date(2026, 3, 1))):
        await trip(pool, f"A{n}", a, starts)
    c = await contact(pool, "C", "+79260000013")
    await call(pool, "c1", c, datetime(2024, 1, 1, tzinfo=UTC))
    await refresh_tags(pool, settings, now=NOW)

    resp = await client.delete(f"/api/contacts/{a}/tags/{REGULAR}", headers=auth())
    assert resp.status == 200 and (await resp.json())["tags"] == []
    # Any other path that drops it (an import rewriting tags) counts as by hand too.
    await pool.execute("UPDATE contacts SET tags = array_remove(tags, $2) WHERE id = $1", c, COLD)
    report = await refresh_tags(pool, settings, now=NOW)
    assert report.removals_detected == 1 and report.added == 0
    assert (await tags(pool))["A"] == [] and (await tags(pool))["C"] == []

    resp = await client.post(f"/api/contacts/{a}/tags", json={"tag": REGULAR}, headers=auth())
    assert resp.status == 200 and (await resp.json())["tags"] == [REGULAR]
    await pool.execute("DELETE FROM trips WHERE contact_id = $1", a)
    await refresh_tags(pool, settings, now=NOW)
    assert (await tags(pool))["A"] == [REGULAR]  # added by hand: a refresh never removes it

    assert (await client.post(f"/api/contacts/{a}/tags", json={"tag": " "}, headers=auth())).status == 400
    assert (await client.delete(f"/api/contacts/99999/tags/{COLD}", headers=auth())).status == 404


async def test_tags_show_in_the_lookup_and_the_cli_refresh_is_idempotent(
        settings: Settings, client: TestClient, office: Repository) -> None:
    pool = office.pool
    f = await contact(pool, "F", "+79260000016", do_not_call=True)
    await pool.execute(
        "INSERT INTO communications (entry_id, direction, status, phone, contact_id, started_at)"
        " VALUES ('f1', 'inbound', 'missed', '+79260000016', $1, '2026-01-10T10:00:00Z')", f)
    code, out, err = await run_cli(settings, "tags", "refresh")
    assert code == 0, err
    assert "добавлено 1" in out
    code, out, err = await run_cli(settings, "tags", "refresh")
    assert code == 0 and "добавлено 0, снято у контактов: 0, снято вручную с прошлого запуска: 0" in out
    found = await (await client.get("/api/contacts/lookup", params={"phone": "+79260000016"}, headers=auth())).json()
    assert found["tags"] == [DNC]
    report = await (await client.get("/api/reports/missed", headers=auth(), params={
        "since": "2026-01-10T00:00:00+00:00", "until": "2026-01-11T00:00:00+00:00", "all": "true"})).json()
    assert [row["tags"] for row in report["rows"]] == [[DNC]]
