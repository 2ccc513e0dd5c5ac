"""The messenger examples replayed shuffled, concurrently, with 20 % of them repeated: no
duplicate, no lost inquiry, and the same people, leads and conversations as in order."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.channels import example, final_state
from tests.messengers import MESSENGER_EXAMPLES, messenger_settings, replay_messenger, source_of

REPEAT_SHARE = 0.2


@pytest.fixture
async def messengers(db_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    app = build_app(messenger_settings(db_url, tmp_path / "state"), database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


def deliveries(seed: int) -> list[str]:
    """Every example once, a fifth of them once more, in a shuffled order."""
    rng = random.Random(seed)
    names = MESSENGER_EXAMPLES + rng.sample(MESSENGER_EXAMPLES, round(len(MESSENGER_EXAMPLES) * REPEAT_SHARE))
    rng.shuffle(names)
    return names


def _filed(name: str) -> bool:
    expect = example(name)["expect"]
    return not (expect.get("skip") or expect.get("reject"))


async def _state(pool: asyncpg.Pool) -> dict[str, Any]:
    state = await final_state(pool)
    state["conversations"] = sorted(tuple(r) for r in await pool.fetch(
        "SELECT source, conversation_key, message_count FROM communications WHERE conversation_key IS NOT NULL"))
    return state


async def _check(client: TestClient, pool: asyncpg.Pool, names: list[str]) -> dict[str, Any]:
    answers = await asyncio.gather(*(replay_messenger(client, name) for name in names))
    for name, (status, body) in zip(names, answers, strict=True):
        assert status == example(name)["expect"].get("respond_status", 200), (name, status, body[:200])
    for name in {n for n in names if _filed(n)}:  # no lost inquiry
        expect = example(name)["expect"]
        key = f"inquiry:{source_of(example(name))}:{expect['dedup_id'] or expect['dedup_fallback']}"
        assert await pool.fetchval("SELECT count(*) FROM inbox WHERE dedup_key = $1", key) == 1, name
    duplicates = await pool.fetch(
        """SELECT source, conversation_key FROM communications WHERE conversation_key IS NOT NULL
           GROUP BY 1, 2 HAVING count(*) > 1""")
    assert duplicates == []
    assert await pool.fetchval(
        "SELECT count(*) FROM (SELECT contact_id FROM leads WHERE status = 'open' GROUP BY 1 HAVING count(*) > 1) d") == 0
    return await _state(pool)


async def test_shuffled_with_repeats_ends_as_in_order(messengers: TestClient, repo: Repository, db_reset: Any) -> None:
    await db_reset()
    for name in MESSENGER_EXAMPLES:  # the story's order, one at a time: the reference
        await replay_messenger(messengers, name)
    reference = await _state(repo.pool)
    # Ольга (MAX), Виктор, Людмила and Ольга from Instagram (Wazzup), Наталья (Green-API), the Avito
    # buyer, Михаил (Telegram Business): each one contact with one open lead, beside the example
    # agency's people.
    assert sum(open_leads for _, open_leads in reference["contacts"]) == 7
    for seed in (1, 2, 3, 4, 5):
        await db_reset()
        assert await _check(messengers, repo.pool, deliveries(seed)) == reference, seed
