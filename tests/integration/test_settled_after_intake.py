"""What the webhooks' writes leave to just after their commit (migration 0036).

A delivery's transaction notes the contacts and inquiries it touched; the daemon's "settle"
task brings their duplicate candidates and analytics facts up to date a moment later; a read
of either settles what is still noted before it reads. Writes outside the intake (an API
merge, a hand edit) still bring them up to date in their own transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import load_settings
from daemon.runtime.app import build_app
from daemon.store import settle
from daemon.store.repository import Repository
from tests.channels import channel_env
from tests.conftest import auth, load_office

WAIT_S = 10.0


@pytest.fixture
async def app_client(db_url: str, tmp_path: Path, repo: Repository,
                     monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    await load_office(repo)
    # The task's first round comes later than this test reads: a read must settle by itself.
    monkeypatch.setattr(settle, "SETTLE_EVERY_S", 3600.0)
    settings = load_settings(channel_env(db_url, tmp_path / "state"))
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def _inquiry(client: TestClient, external_id: str, name: str, phone: str) -> tuple[int, int]:
    body = {"source": "partner-site", "external_id": external_id, "name": name, "phone": phone,
            "text": "Подберите тур"}
    resp = await client.post("/api/inquiries", json=body, headers=auth())
    assert resp.status == 201, await resp.text()
    doc = await resp.json()
    return doc["contact_id"], doc["communication_id"]


async def _kept(repo: Repository) -> set[tuple[int, int]]:
    return {(r[0], r[1]) for r in await repo.pool.fetch(
        "SELECT contact_low, contact_high FROM contact_duplicate_candidates")}


async def _noted(repo: Repository) -> set[tuple[str, int]]:
    return {(r[0], r[1]) for r in await repo.pool.fetch("SELECT what, id FROM settle_pending")}


async def _facts(repo: Repository) -> set[int]:
    return {r[0] for r in await repo.pool.fetch("SELECT communication_id FROM inquiry_facts")}


async def test_a_delivery_notes_what_it_touched_and_a_read_settles_it(app_client: TestClient,
                                                                      repo: Repository) -> None:
    # The same person twice, a typo in the phone's last digit: two contacts, one candidate pair.
    a, first = await _inquiry(app_client, "dup-1", "Кузнецова Дарина", "+79990001122")
    b, second = await _inquiry(app_client, "dup-2", "Дарина Кузнецова", "+79990001123")
    assert a != b
    # Answered without the probe and the facts: neither is there yet, both are noted.
    assert await _kept(repo) == set()
    assert not {first, second} & await _facts(repo)
    assert {("candidates", a), ("candidates", b), ("facts", first), ("facts", second)} <= await _noted(repo)
    # The duplicates page settles what is noted before it reads.
    resp = await app_client.get("/api/contacts/duplicates", headers=auth())
    assert resp.status == 200, await resp.text()
    pairs = {tuple(c["contact_ids"]) for c in (await resp.json())["items"]}
    assert (min(a, b), max(a, b)) in pairs
    assert await _noted(repo) == set()
    assert await _kept(repo) == {(min(a, b), max(a, b))}
    assert {first, second} <= await _facts(repo)


async def test_the_analytics_count_an_inquiry_answered_a_moment_ago(app_client: TestClient,
                                                                     repo: Repository) -> None:
    now = datetime.now(UTC)
    params = {"since": (now - timedelta(hours=1)).isoformat(), "until": (now + timedelta(hours=1)).isoformat(),
              "by": "channel"}

    async def inquiries() -> int:
        resp = await app_client.get("/api/analytics", params=params, headers=auth())
        assert resp.status == 200, await resp.text()
        return int((await resp.json())["totals"]["inquiries"])

    before = await inquiries()
    _, communication = await _inquiry(app_client, "count-1", "Лапина Ольга", "+79990003344")
    assert ("facts", communication) in await _noted(repo)
    assert await inquiries() == before + 1
    assert await _noted(repo) == set()


async def test_the_task_settles_what_was_noted_without_a_read(db_url: str, tmp_path: Path,
                                                             repo: Repository,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    await load_office(repo)
    monkeypatch.setattr(settle, "SETTLE_EVERY_S", 0.1)
    settings = load_settings(channel_env(db_url, tmp_path / "state"))
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        a, first = await _inquiry(client, "task-1", "Лапин Остап", "+79990002211")
        b, _ = await _inquiry(client, "task-2", "Остап Лапин", "+79990002212")
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while (min(a, b), max(a, b)) not in await _kept(repo) or first not in await _facts(repo):
            assert asyncio.get_running_loop().time() < deadline, "the settle task never settled"
            await asyncio.sleep(0.1)
    assert await _noted(repo) == set()


async def test_a_write_outside_the_intake_still_settles_at_once(office: Repository) -> None:
    async with office.pool.acquire() as conn, conn.transaction():
        a = await conn.fetchval("INSERT INTO contacts (name) VALUES ('Орлова Вера') RETURNING id")
        b = await conn.fetchval("INSERT INTO contacts (name) VALUES ('Вера Орлова') RETURNING id")
        await conn.execute("INSERT INTO contact_identifiers (kind, value, contact_id)"
                           " VALUES ('phone', '+79265550011', $1), ('phone', '+79265550012', $2)", a, b)
    assert (min(a, b), max(a, b)) in await _kept(office)
    assert await _noted(office) == set()


async def test_a_reader_waits_for_what_another_daemon_is_settling(office: Repository, db_url: str) -> None:
    """The task takes rows with SKIP LOCKED; a reader waits for them, so that it never reads the
    summaries between another daemon's take and its commit."""
    async with office.pool.acquire() as conn:
        await conn.execute("INSERT INTO settle_pending (what, id) VALUES ('facts', 1), ('facts', 2)")
    other = await asyncpg.connect(db_url)  # another daemon's task, in the middle of its round
    try:
        tx = other.transaction()
        await tx.start()
        await other.execute("SELECT 1 FROM settle_pending FOR UPDATE")
        # The task of this daemon skips what the other holds ...
        assert await settle.settle(office.pool, wait=False) == 0
        # ... and a reader waits until the other is done with it.
        reader = asyncio.create_task(settle.settle(office.pool))
        await asyncio.sleep(0.3)
        assert not reader.done()
        await other.execute("DELETE FROM settle_pending")
        await tx.commit()
        assert await asyncio.wait_for(reader, WAIT_S) == 0  # the other settled them
    finally:
        await other.close()
    assert await _noted(office) == set()
