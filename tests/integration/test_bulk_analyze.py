"""Every bulk command leaves fresh planner statistics: ``ANALYZE`` of the tables it wrote.

Counted by PostgreSQL itself (``pg_stat_user_tables.analyze_count`` counts manual
ANALYZEs only, never autovacuum's), so the test cannot pass by autovacuum's luck.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.contacts import hygiene
from daemon.contacts.store import ContactStore
from daemon.leads.closing import archive_stale
from daemon.leads.tags import refresh_tags
from daemon.leads.trips import import_trips
from daemon.store.repository import Repository
from tests.leadkit import ANSWERED, post_call

TABLES = ("contacts", "contact_identifiers", "trips", "leads", "contact_computed_tags")


async def analyzed(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch("SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname = ANY($1)",
                            list(TABLES))
    return {r["relname"]: r["analyze_count"] for r in rows}


async def analyzed_since(pool: asyncpg.Pool, before: dict[str, int]) -> set[str]:
    return {name for name, count in (await analyzed(pool)).items() if count > before.get(name, 0)}


async def test_a_trips_import_analyzes_and_names_its_unused_columns(
        settings: Settings, repo: Repository, tmp_path: Path) -> None:
    path = tmp_path / "trips.csv"
    path.write_text("Номер заявки;Телефон;Сумма;Дата начала;Отель\nT-1;+79161234567;1000;01.08.2024;Hilton\n",
                    encoding="utf-8")
    before = await analyzed(repo.pool)

    report = await import_trips(repo.pool, path, settings)

    assert await analyzed_since(repo.pool, before) == {"trips", "contacts", "contact_identifiers", "leads"}
    lines = report.lines()
    assert lines[1] == "пропущенные столбцы: Отель"
    assert re.fullmatch(r"статистика обновлена \(ANALYZE\) за \d+\.\d с", lines[-1])


async def test_tags_refresh_analyzes_contacts_and_its_tags(settings: Settings, repo: Repository) -> None:
    before = await analyzed(repo.pool)

    await refresh_tags(repo.pool, settings)

    assert await analyzed_since(repo.pool, before) == {"contacts", "contact_computed_tags"}


async def test_archiving_stale_leads_analyzes_leads_only_when_it_archived_some(
        client: TestClient, office: Repository) -> None:
    await post_call(client, ANSWERED, name="a1", number="79261112233", at=datetime.now(UTC) - timedelta(days=40))
    before = await analyzed(office.pool)

    assert len(await archive_stale(office.pool, stale_days=30)) == 1
    assert await analyzed_since(office.pool, before) == {"leads"}

    again = await analyzed(office.pool)
    assert await archive_stale(office.pool, stale_days=30) == []
    assert await analyzed_since(office.pool, again) == set()


async def test_purge_analyzes_contacts(repo: Repository) -> None:
    await repo.pool.execute("INSERT INTO contacts (name) VALUES ('пустой')")
    before = await analyzed(repo.pool)

    result = await hygiene.purge(ContactStore(repo), dry_run=False)

    assert [r["name"] for r in result.empty] == ["пустой"]
    assert await analyzed_since(repo.pool, before) == {"contacts", "contact_identifiers"}
