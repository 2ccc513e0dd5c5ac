"""The screen's NOTIFY fires on a change a screen can see, not on every write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from daemon.intake.pipeline import Pipeline
from daemon.store.repository import Repository
from tests.conftest import auth
from tests.scenarios import replay, steps

CHANNEL = "callbridge_calls"
QUIET_S = 0.5


@pytest.fixture
async def heard(db_url: str) -> AsyncIterator[asyncio.Queue[str]]:
    """Every payload NOTIFYed on the screen's channel, as a daemon's listener hears it."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    conn = await asyncpg.connect(db_url)
    await conn.add_listener(CHANNEL, lambda *args: queue.put_nowait(args[3]))
    yield queue
    await conn.close()


async def _drain(queue: asyncio.Queue[str]) -> list[str]:
    """What arrives until the channel has been quiet for QUIET_S."""
    got = []
    while True:
        try:
            got.append(await asyncio.wait_for(queue.get(), QUIET_S))
        except TimeoutError:
            return got


async def test_only_visible_changes_notify(client: TestClient, office: Repository,
                                           heard: asyncio.Queue[str]) -> None:
    await replay(client, steps("answered_incoming.json"))
    entry_id, comm_id = await office.pool.fetchrow("SELECT entry_id, id FROM communications")
    assert entry_id in await _drain(heard)  # the call itself was announced

    # Re-deriving the row from the same events, and touching only updated_at: no one is woken.
    async with office.transaction() as tx:
        await Pipeline(office, region="RU").refresh_call(tx, entry_id)
    await office.pool.execute("UPDATE communications SET updated_at = now(), reconciled = reconciled")
    assert await _drain(heard) == []

    # A note is on the card: announced.
    resp = await client.put(f"/api/communications/{comm_id}/note", json={"note": "перезвонить"}, headers=auth())
    assert resp.status == 200
    assert await _drain(heard) == [entry_id]

    # A leg event is announced by itself, even when the row stays as it was.
    await office.pool.execute(
        "INSERT INTO inbox (dedup_key, source, path, raw, kind, entry_id, call_id, event)"
        " SELECT 'probe-leg', source, path, raw, kind, entry_id, call_id, event FROM inbox"
        " WHERE entry_id = $1 AND kind = 'call_leg' LIMIT 1", entry_id)
    assert await _drain(heard) == [entry_id]
