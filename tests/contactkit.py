"""Helpers of the contact-base tests: a base made by the importer, calls through the real
pipeline, and whole-database snapshots to compare table by table."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from daemon.contacts.importer import import_contacts
from daemon.store.repository import Repository
from daemon.store.settle import settle
from tests.callgen import _is_customer_number, rewrite, suffixed_id
from tests.conftest import FIXTURES, auth
from tests.scenarios import Step, replay, steps

# The journal records the merge and its undo; every other table must be as before.
# The merge's journal, the migrations, and what the daemon's score task derives (contact_score_dirty:
# marks of contacts to score again, which a merge and its undo add to; contact_profiles: the scores it
# recomputes from them, meanwhile): not data that an undo restores.
JOURNAL_TABLES = ("contact_merges", "contact_merge_rows", "schema_migrations", "contact_score_dirty",
                  "contact_profiles")
# Kept by the inbox's clock in the background (due and overdue times, assignments) and by the
# screens (presence): they change between two snapshots whatever a merge does. Where an inbox
# item's contact points is checked by orphans() (its foreign key) like every other table's.
LIVE_TABLES = ("inbox_items", "inbox_decisions", "manager_shifts", "screen_presence")


async def load_dupes(repo: Repository) -> None:
    """A second spreadsheet a manager brought: the same people under other phones and spellings."""
    await import_contacts(repo, FIXTURES / "contacts_dupes.csv", region="RU")


async def contact_of(repo: Repository, kind: str, value: str) -> int:
    found = await repo.pool.fetchval(
        "SELECT contact_id FROM contact_identifiers WHERE kind = $1 AND value = $2", kind, value)
    assert found is not None, (kind, value)
    return found


def calls_from(number: str, tag: str, templates: tuple[str, ...] = ("answered_incoming.json",
                                                                    "missed_incoming.json")) -> list[Step]:
    """Each template's events with the customer's number replaced by ``number`` (PBX spelling,
    7XXXXXXXXXX) and every call/entry id made unique by ``tag``."""
    out = []
    for n, name in enumerate(templates):
        def replace(key: str, item: Any, suffix: str = f"~{tag}{n}") -> Any:
            return number if key == "number" and _is_customer_number(item) else suffixed_id(key, item, suffix)

        out += [Step(s.path, rewrite(s.json, replace)) for s in steps(name)]
    return out


async def call_in(client: TestClient, number: str, tag: str, **kwargs: Any) -> None:
    await replay(client, calls_from(number, tag), **kwargs)


async def snapshot(repo: Repository) -> dict[str, list[str]]:
    """Every row of every table but the journal's and the live ones, as JSON text, sorted; what the
    webhooks left to settle settled first (migration 0036: the summaries as a reader sees them)."""
    await settle(repo.pool)
    tables = [r["table_name"] for r in await repo.pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        " AND table_type = 'BASE TABLE' ORDER BY 1")]
    snap = {}
    for table in tables:
        if table in JOURNAL_TABLES or table in LIVE_TABLES:
            continue
        # Table names come from the catalog, not from input.
        rows = await repo.pool.fetch(f'SELECT to_jsonb(t)::text AS r FROM "{table}" t ORDER BY 1')
        snap[table] = [r["r"] for r in rows]
    return snap


async def counts(repo: Repository) -> dict[str, int]:
    return {t: await repo.pool.fetchval(f"SELECT count(*) FROM {t}")
            for t in ("communications", "leads", "contact_identifiers", "contact_invalid_identifiers", "contacts")}


async def orphans(repo: Repository) -> list[str]:
    """Rows that still point at a merged contact, in any table whose foreign key names contacts
    (but the merge's own pointers: contacts.merged_into and the journal)."""
    fks = await repo.pool.fetch(
        "SELECT c.conrelid::regclass::text AS tbl, a.attname AS col FROM pg_constraint c"
        " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
        " WHERE c.contype = 'f' AND c.confrelid = 'contacts'::regclass")
    found = []
    for fk in fks:
        if (fk["tbl"], fk["col"]) == ("contacts", "merged_into") or fk["tbl"] in JOURNAL_TABLES:
            continue
        n = await repo.pool.fetchval(
            f'SELECT count(*) FROM {fk["tbl"]} x JOIN contacts c ON c.id = x."{fk["col"]}"'
            " WHERE c.merged_into IS NOT NULL")
        if n:
            found.append(f"{fk['tbl']}.{fk['col']}: {n}")
    return found


async def post_json(client: TestClient, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
    resp = await client.post(path, json=body, params=params, headers=auth())
    return resp.status, await resp.json()
