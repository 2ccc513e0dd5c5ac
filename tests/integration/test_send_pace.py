"""MAX's limit (30 requests a second per bot) is kept by every daemon together: the send's slot is
reserved in PostgreSQL (daemon/inquiries/pace.py, migration 0031), not in each process.

Counted at a stand-in of MAX's API (a real aiohttp server) as the requests arrive: slowness can
only stretch the sends out, so the lower bounds below cannot be met by luck.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from config.settings import load_settings
from daemon.inquiries import pace
from daemon.runtime.reply_channels import channel_for
from tests.channels import SOURCES, channel_env, example
from tests.replykit import FAST, conversation_id, eventually, reply, reply_client
from tests.support.providers import Scripted, StandInProviders, stand_in_providers

MAX_SECRET = "cbMaxS3cret-2025"
REPLIES = 60
RATE = 10  # MAX's 30 a second, lowered for the test: the senders themselves outrun 20 a second


@pytest.fixture
async def providers() -> AsyncIterator[StandInProviders]:
    async with stand_in_providers() as stand_in:
        stand_in.answer("/messages", Scripted(200, {"message": {"body": {"mid": "mid.sent"}}}))
        yield stand_in


def max_settings(db_url: str, state_dir: Path, providers: StandInProviders):
    sources = {**SOURCES, "max-bot": {"kind": "max", "secret": MAX_SECRET, "bot_token": "max-token",
                                      "api_url": providers.url, "ad_source": "MAX"}}
    return load_settings(channel_env(db_url, state_dir, **(FAST | {
        "CALLBRIDGE_SOURCES": json.dumps(sources), "CALLBRIDGE_REPLY_CONCURRENCY": "40"})))


async def test_two_daemons_send_to_max_at_most_at_its_rate_together(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, providers: StandInProviders,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """60 replies through two daemons: each once, and no faster than the limit in all: 5.4 s
    from the first to the last at 10 a second (a limiter in each process let them through at
    twice that, in under 3 s). A second of slack for a first request that arrived late."""
    monkeypatch.setattr(channel_for("max"), "requests_per_s", RATE)
    async with (reply_client(max_settings(db_url, tmp_path / "one", providers)) as one,
                reply_client(max_settings(db_url, tmp_path / "two", providers)) as two):
        request = example("max-message-created")["request"]
        resp = await one.post("/inquiries/max-bot", json=request["body"],
                              headers={"X-Max-Bot-Api-Secret": MAX_SECRET})
        assert resp.status == 200, await resp.text()
        cid = await conversation_id(pool, "max:-71234567890")
        texts = [f"Ответ {i}" for i in range(REPLIES)]
        results = await asyncio.gather(*(reply(one if i % 2 else two, cid, {"text": t, "extension": "101"})
                                         for i, t in enumerate(texts)))
        assert {status for status, _ in results} == {202}

        async def all_sent() -> bool:
            return await pool.fetchval("SELECT count(*) FROM communication_messages"
                                       " WHERE kind = 'reply' AND status = 'sent'") == REPLIES

        await eventually(all_sent, timeout_s=60)
    sent = providers.at("/messages")
    assert sorted(s.body["text"] for s in sent) == sorted(texts)  # each once
    arrivals = sorted(s.at for s in sent)
    burst = int(pace.BURST_S * RATE)
    # The first `burst` may go at once; every later one takes its 1/RATE s.
    assert arrivals[-1] - arrivals[0] >= (REPLIES - burst - 1) / RATE - 1.0


async def test_a_slot_further_off_than_a_claim_may_wait_is_not_taken(pool: asyncpg.Pool) -> None:
    started = time.monotonic()
    waits = [await pace.reserve(pool, kind="max", source="max-bot", requests_per_s=30) for _ in range(120)]
    elapsed = time.monotonic() - started
    taken = [w for w in waits if w is not None]
    # The burst and MAX_WAIT_S worth of slots, plus the slots the clock freed while asking.
    least = int(pace.BURST_S * 30) + int(pace.MAX_WAIT_S * 30)
    assert least <= len(taken) <= least + 30 * elapsed + 2
    assert waits[-1] is None
    assert max(taken) <= pace.MAX_WAIT_S + 1e-3
    # Another source of the same kind has its own pace.
    assert await pace.reserve(pool, kind="max", source="other-bot", requests_per_s=30) == 0
