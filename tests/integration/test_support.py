"""The test support itself: a helper that leaves state behind makes later assertions meaningless."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from daemon.store.repository import Repository
from tests.scenarios import replay, steps


async def _row_counts(repo: Repository) -> dict[str, int]:
    tables = [r["tablename"] for r in await repo.pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'")]
    assert tables, "no tables: the comparison would prove nothing"
    # Table names come from the catalog, not from input.
    return {t: await repo.pool.fetchval(f'SELECT count(*) FROM "{t}"') for t in sorted(tables)}


async def test_db_reset_gives_back_the_freshly_loaded_office_in_every_table(
    client: TestClient, office: Repository, db_reset
) -> None:
    """Every table, route_decisions and any added later included, is as a fresh office leaves it."""
    fresh = await _row_counts(office)
    await replay(client, steps("unknown_caller.json"))
    await office.pool.execute(
        "INSERT INTO route_decisions (call_id, entry_id, reason) VALUES ('leg-1', 'entry-1', 'responsible')")
    dirty = await _row_counts(office)
    assert dirty != fresh
    await db_reset()
    assert await _row_counts(office) == fresh
