"""The seeds' tags: «Продажа через встречу» and «Платный подбор», kept by tags refresh, removable by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.leads.tags import refresh_tags
from daemon.store.repository import Repository
from tests.conftest import auth
from tests.funnelkit import contact, lead

T0 = datetime(2026, 1, 10, tzinfo=UTC)
MEETING, PAID_SELECTION = "Продажа через встречу", "Платный подбор"


async def test_the_seed_tags_follow_the_leads_and_a_manual_removal_sticks(
        client: TestClient, settings: Settings, office: Repository) -> None:
    pool = office.pool
    indecisive = await contact(pool, "Нерешительный", phone="+79260007001")
    await lead(pool, indecisive, opened_at=T0, status="lost", reason="Нерешительный турист")
    await lead(pool, indecisive, opened_at=T0 + timedelta(days=60))
    once = await contact(pool, "Один лид", phone="+79260007002")
    await lead(pool, once, opened_at=T0, status="lost", reason="Нерешительный турист")
    bought = await contact(pool, "Купил у нас", phone="+79260007003")
    await lead(pool, bought, opened_at=T0, status="lost", reason="Нерешительный турист")
    await lead(pool, bought, opened_at=T0 + timedelta(days=60), status="won")
    elsewhere = await contact(pool, "Купил в другом", phone="+79260007004")
    await lead(pool, elsewhere, opened_at=T0, status="lost", reason="Купил в другом агентстве")

    await refresh_tags(pool, settings)
    tags = {r["id"]: list(r["tags"]) for r in await pool.fetch("SELECT id, tags FROM contacts")}
    assert MEETING in tags[indecisive] and PAID_SELECTION not in tags[indecisive]
    assert MEETING not in tags[once] and MEETING not in tags[bought]
    assert tags[elsewhere] == [PAID_SELECTION]

    resp = await client.delete(f"/api/contacts/{elsewhere}/tags/{PAID_SELECTION}", headers=auth())
    assert resp.status == 200
    report = await refresh_tags(pool, settings)
    assert report.added == 0
    assert await pool.fetchval("SELECT tags FROM contacts WHERE id = $1", elsewhere) == []

    # The indecisive tourist buys: the tag leaves with its condition.
    await pool.execute("UPDATE leads SET status = 'won' WHERE contact_id = $1 AND status = 'open'", indecisive)
    await refresh_tags(pool, settings)
    assert MEETING not in await pool.fetchval("SELECT tags FROM contacts WHERE id = $1", indecisive)
