"""Forward-only SQL migrations from sql/migrations/NNNN_name.sql, under an advisory lock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# Any constant shared by every callbridge process: two daemons starting at once
# must not both apply a migration.
MIGRATION_LOCK_KEY = 0x63616C6C  # "call"
_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")
# A migration may fill a table from the whole base (0015 finds every contact's
# duplicate candidates: about 25 s at a million contacts); the daemon's pool has
# the hot path's command timeout (5 s), which is not meant for that. Still bounded.
MIGRATION_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("sql.migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return found


def latest_version() -> int:
    return max((m.version for m in available_migrations()), default=0)


def schema_sql() -> str:
    return (resources.files("sql") / "schema.sql").read_text(encoding="utf-8")


async def applied_versions(conn: asyncpg.Connection) -> set[int]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}


async def migrate(conn: asyncpg.Connection) -> list[Migration]:
    """Apply every migration not yet applied, each in its own transaction. Returns them."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer PRIMARY KEY,
                   name       text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = await applied_versions(conn)
        applied = []
        for migration in available_migrations():
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql, timeout=MIGRATION_TIMEOUT_S)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version, migration.name,
                )
            log.debug("migration_applied", version=migration.version, name=migration.name)
            applied.append(migration)
        if applied:  # one line, not one per migration: a first start applies them all
            log.info("migrations_applied", count=len(applied), first=applied[0].version,
                     schema_version=applied[-1].version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
