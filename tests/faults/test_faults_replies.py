"""A daemon process killed (SIGKILL) during a burst of 200 replies loses none of those it accepted.

Replies go to stand-in Telegram and VK APIs (real aiohttp servers in this
process) that answer slowly, so that replies are in flight at the kill. The
manager's screen retries what got no answer with the same Idempotency-Key. Then:
every reply answered 202 is delivered; VK (which drops a repeat of random_id)
got none twice; Telegram (no idempotency key) got a duplicate only of a reply
in flight at the kill, at most the sender's concurrency of them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.replykit import FAST, TG_SECRET, VK_GROUP, VK_SECRET, reply_sources
from tests.support.daemon import API_TOKEN, Daemon
from tests.support.faults import eventually
from tests.support.messengers import fake_messengers
from tests.support.net import free_port

REPLIES = 200
CHAT, PEER = 712345678, 701234567
CONCURRENCY = 4


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str]) -> int:
    async with session.post(url, json=body, headers=headers) as resp:
        await resp.read()
        return resp.status


async def _start_conversations(session: aiohttp.ClientSession, base: str) -> None:
    update = {"update_id": 1, "message": {"message_id": 1, "from": {"id": CHAT, "is_bot": False, "first_name": "Анна"},
                                          "chat": {"id": CHAT, "type": "private"}, "date": int(time.time()),
                                          "text": "Здравствуйте"}}
    assert await _post(session, f"{base}/inquiries/tg-bot", update,
                       {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}) == 200
    event = {"group_id": VK_GROUP, "type": "message_new", "event_id": "kill-1", "secret": VK_SECRET,
             "object": {"message": {"date": int(time.time()), "from_id": PEER, "peer_id": PEER, "text": "Привет"}}}
    assert await _post(session, f"{base}/inquiries/vk-group", event, {}) == 200


async def _reply(session: aiohttp.ClientSession, base: str, cid: int, n: int) -> int | None:
    """One reply as the screen sends it; its message id, or None when the daemon did not answer."""
    try:
        async with session.post(f"{base}/api/communications/{cid}/reply", json={"text": f"Ответ {n}", "extension": "101"},
                                headers={"Authorization": f"Bearer {API_TOKEN}", "Idempotency-Key": f"r-{n}"}) as resp:
            if resp.status != 202:
                return None
            return int((await resp.json())["message_id"])
    except (aiohttp.ClientError, OSError):
        return None


@pytest.mark.timeout(180)
async def test_sigkill_in_a_burst_of_200_replies_loses_none_and_vk_gets_none_twice(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path) -> None:
    async with fake_messengers() as fake, aiohttp.ClientSession() as session:
        fake.delay_s = 0.05
        env = {"CALLBRIDGE_DATABASE_URL": db_url, "CALLBRIDGE_SOURCES": json.dumps(reply_sources(fake)),
               "CALLBRIDGE_REPLY_CONCURRENCY": str(CONCURRENCY)} | FAST
        port = free_port()
        first = Daemon(state_dir=tmp_path / "state", log_path=tmp_path / "daemon-1.log", port=port, env=env)
        second = Daemon(state_dir=tmp_path / "state", log_path=tmp_path / "daemon-2.log", port=port, env=env)
        try:
            await first.start()
            await _start_conversations(session, first.url)
            tg = await pool.fetchval("SELECT id FROM communications WHERE conversation_key = $1", f"tg:{CHAT}")
            vk = await pool.fetchval("SELECT id FROM communications WHERE conversation_key = $1",
                                     f"vk:{VK_GROUP}:{PEER}")
            targets = {n: (tg if n % 2 else vk) for n in range(REPLIES)}
            burst = [asyncio.create_task(_reply(session, first.url, targets[n], n)) for n in range(REPLIES)]
            await eventually(lambda: _some_delivered(fake, 20), timeout_s=60, what="some replies delivered")
            first.kill()
            assert await first.wait() != 0
            delivered_at_kill = len(fake.delivered)
            accepted = dict(zip(range(REPLIES), await asyncio.gather(*burst), strict=True))
            await second.start()
            # The screen retries what got no answer, with the same key.
            for n, got in accepted.items():
                if got is None:
                    accepted[n] = await _reply(session, second.url, targets[n], n)
            assert all(accepted.values()), "every retried reply is accepted by the restarted daemon"
            ids = sorted(v for v in accepted.values() if v is not None)
            await eventually(lambda: _all_sent(pool, ids), timeout_s=90, what="every accepted reply sent")
            assert await second.stop() == 0, second.log()
        finally:
            for d in (first, second):
                if d.proc is not None and d.proc.returncode is None:
                    d.kill()
                    await d.wait()
        assert delivered_at_kill < REPLIES  # the kill struck in the middle of the burst
        assert len(ids) == len(set(ids)) == REPLIES
        tg_texts = Counter(d.text for d in fake.delivered if d.provider == "telegram")
        vk_texts = Counter(d.text for d in fake.delivered if d.provider == "vk")
        expected_tg = {f"Ответ {n}" for n in range(REPLIES) if n % 2}
        expected_vk = {f"Ответ {n}" for n in range(REPLIES) if not n % 2}
        assert set(tg_texts) == expected_tg and set(vk_texts) == expected_vk  # none lost
        assert all(count == 1 for count in vk_texts.values())  # random_id: never twice
        duplicated = [text for text, count in tg_texts.items() if count > 1]
        assert len(duplicated) <= CONCURRENCY, duplicated  # only what was in flight at the kill


async def _some_delivered(fake: Any, count: int) -> bool:
    return len(fake.delivered) >= count


async def _all_sent(pool: asyncpg.Pool, ids: list[int]) -> bool:
    sent = await pool.fetchval("SELECT count(*) FROM communication_messages WHERE id = ANY($1::bigint[])"
                               " AND status = 'sent'", ids)
    return bool(sent == len(ids))
