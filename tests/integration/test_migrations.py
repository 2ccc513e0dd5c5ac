"""sql/schema.sql and the migrations describe the same database; migrate is safe to repeat."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from daemon.store import migrate
from tests.conftest import RUN_ID, with_database

CATALOG = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = 'public'
        ORDER BY 1, 2""",
    "constraints": """
        SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' ORDER BY 1, 2""",
    # Functions and triggers are schema too: a trigger added by a migration but
    # missing from schema.sql (or the reverse) must fail the comparison.
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args,
               pg_get_functiondef(p.oid) AS def
        FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
        ORDER BY 1, 2""",
    "triggers": """
        SELECT tgrelid::regclass::text AS tbl, tgname, pg_get_triggerdef(oid) AS def
        FROM pg_trigger WHERE NOT tgisinternal
          AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
        ORDER BY 1, 2""",
}


async def _snapshot(url: str) -> dict[str, list[tuple]]:
    conn = await asyncpg.connect(url)
    try:
        snap = {}
        for name, sql in CATALOG.items():
            rows = [tuple(r) for r in await conn.fetch(sql)]
            snap[name] = [r for r in rows if "schema_migrations" not in r[0]]
        return snap
    finally:
        await conn.close()


@pytest.fixture
async def empty_db(server_url: str) -> AsyncIterator[str]:
    name = f"{RUN_ID}_empty_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        yield with_database(server_url, name)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_migrations_equal_schema_sql(db_url: str, empty_db: str) -> None:
    """db_url was built by the migrations; empty_db gets schema.sql."""
    conn = await asyncpg.connect(empty_db)
    try:
        await conn.execute(migrate.schema_sql())
    finally:
        await conn.close()
    migrated, from_schema = await _snapshot(db_url), await _snapshot(empty_db)
    assert migrated["columns"], "no tables found: the comparison would prove nothing"
    assert migrated["functions"] and migrated["triggers"], "the NOTIFY trigger is missing from the catalog"
    assert migrated == from_schema


async def test_migrate_twice_applies_nothing_the_second_time(empty_db: str) -> None:
    conn = await asyncpg.connect(empty_db)
    try:
        first = await migrate.migrate(conn)
        second = await migrate.migrate(conn)
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
    finally:
        await conn.close()
    assert [m.version for m in first] == versions == [m.version for m in migrate.available_migrations()]
    assert second == []


async def test_concurrent_migrate_applies_each_migration_once(empty_db: str) -> None:
    """Two daemons starting at once: the advisory lock lets one of them migrate."""
    conns = [await asyncpg.connect(empty_db) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate.migrate(c) for c in conns))
    finally:
        for c in conns:
            await c.close()
    applied = sorted(m.version for result in results for m in result)
    assert applied == [m.version for m in migrate.available_migrations()]


async def test_every_named_query_is_prepared_against_the_migrated_schema(db_url: str) -> None:
    """PostgreSQL parses, plans and types each query: a wrong column, table or cast fails here."""
    from daemon.contacts.import_store import create_staging_tables
    from daemon.store.queries import queries

    found = queries()
    assert {"ingest", "contact_id_by_phone", "missed_callers", "store_calls"} <= set(found)
    conn = await asyncpg.connect(db_url)
    try:
        await create_staging_tables(conn)  # the contact import's queries use its session's own tables
        refused = {}
        for name, sql in found.items():
            try:
                await conn.prepare(sql)
            except asyncpg.PostgresError as exc:
                refused[name] = f"{type(exc).__name__}: {exc}"
    finally:
        await conn.close()
    assert refused == {}


async def test_a_query_naming_a_missing_column_is_refused_by_prepare(db_url: str) -> None:
    """The check above can fail: prepare does not accept a query the schema cannot run."""
    conn = await asyncpg.connect(db_url)
    try:
        with pytest.raises(asyncpg.UndefinedColumnError):
            await conn.prepare("SELECT no_such_column FROM communications WHERE entry_id = $1")
    finally:
        await conn.close()


# 150,000 contacts loaded and migrated: about 30 s on a quiet 2-core machine, over a
# minute when other suites share it; the default 60 s was a limit on the machine, not on us.
@pytest.mark.timeout(240)
async def test_a_long_migration_outlives_the_pools_command_timeout(empty_db: str) -> None:
    """The daemon migrates on a pool connection whose command timeout (5 s) is for the hot
    path. Migration 0015 finds every contact's duplicate candidates: seconds on a large base.
    Here a base of 150,000 named contacts waits for 0015 on a connection whose command
    timeout is one second: every migration still applies, with its candidates."""
    before = [m for m in migrate.available_migrations() if m.version < 15]
    conn = await asyncpg.connect(empty_db)
    try:
        for m in before:
            await conn.execute(m.sql)
        await conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                           " applied_at timestamptz NOT NULL DEFAULT now())")
        await conn.executemany("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                               [(m.version, m.name) for m in before])
        await conn.execute("INSERT INTO contacts (id, name) SELECT n, 'Клиент ' || (n % 50000)"
                           " FROM generate_series(1, 150000) AS n")
        await conn.execute("INSERT INTO contact_identifiers (kind, value, contact_id)"
                           " SELECT 'phone', '+7916' || lpad(n::text, 7, '0'), n FROM generate_series(1, 150000) AS n")
    finally:
        await conn.close()
    conn = await asyncpg.connect(empty_db, command_timeout=1.0)
    try:
        applied = await migrate.migrate(conn)
        kept = await conn.fetchval("SELECT count(*) FROM contact_duplicate_candidates")
    finally:
        await conn.close()
    assert [m.version for m in applied] == [m.version for m in migrate.available_migrations() if m.version >= 15]
    assert kept > 0  # «Клиент 7» holds +7916 000 0007, 005 0007 and 010 0007: the same name, phones 1-2 digits apart
