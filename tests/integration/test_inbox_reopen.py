"""A customer who writes again in an answered conversation is back in the inbox, with the clock restarted.

Through the HTTP API, the outbox's sender and a stand-in Telegram and VK (tests/replykit.py),
against real PostgreSQL: the inbox trigger (migration 0029) reads who wrote last.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import auth
from tests.integration.test_replies import fake
from tests.replykit import (
    VK_GROUP,
    conversation_id,
    eventually,
    reply,
    reply_client,
    reply_settings,
    settled,
    telegram_message,
    vk_event,
)
from tests.support.messengers import FakeMessengers

__all__ = ["fake"]  # the stand-in Telegram and VK, the reply tests' fixture

CHAT = 412300029
PEER = 601200029


@pytest.fixture
async def client(db_url: str, tmp_path: Path, fake: FakeMessengers) -> AsyncIterator[TestClient]:
    """The daemon's app with its reply sender, on the stand-in messengers."""
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as found:
        yield found


async def item_of(client: TestClient, communication_id: int) -> dict[str, Any]:
    """The conversation's inbox item, open or closed (the list shows only the open ones)."""
    listed = await (await client.get("/api/inbox", headers=auth())).json()
    open_ids = {i["communication_id"]: i["id"] for i in listed["items"]}
    item_id = open_ids.get(communication_id)
    if item_id is None:
        return {"state": "not listed"}
    resp = await client.get(f"/api/inbox/{item_id}", headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def closed_item(pool: asyncpg.Pool, communication_id: int) -> asyncpg.Record:
    return await pool.fetchrow("SELECT * FROM inbox_items WHERE communication_id = $1", communication_id)


async def sent_reply(client: TestClient, pool: asyncpg.Pool, cid: int, text: str) -> None:
    status, body = await reply(client, cid, {"text": text, "extension": "101"})
    assert status == 202, body
    await eventually(lambda: settled(pool, body["message_id"]))


def later_s() -> int:
    """A message date after every reply sent so far (Telegram's dates are whole seconds)."""
    return int(time.time()) + 1


async def test_a_message_after_the_reply_reopens_the_item_and_the_next_reply_closes_it(
        client: TestClient, pool: asyncpg.Pool) -> None:
    await telegram_message(client, CHAT, "Турция на майские, 2 взрослых", message_id=1)
    cid = await conversation_id(pool, f"tg:{CHAT}")
    first = await item_of(client, cid)
    assert first["state"] == "open"
    await sent_reply(client, pool, cid, "Подберём, Анна!")
    answered = await closed_item(pool, cid)
    assert (answered["state"], answered["closed_reason"]) == ("closed", "replied")
    assert (await item_of(client, cid))["state"] == "not listed"

    again_at = later_s()
    await telegram_message(client, CHAT, "А с ребёнком 5 лет сколько?", message_id=2, date=again_at)
    reopened = await item_of(client, cid)
    assert reopened["id"] == first["id"]  # the same item, back in the queue
    assert (reopened["state"], reopened["closed_reason"], reopened["closed_at"]) == ("open", None, None)
    # The clock runs from the new message, not from the first one.
    assert datetime.fromisoformat(reopened["received_at"]) == datetime.fromtimestamp(again_at, UTC)
    # The first reply is still the first response (what the analytics read).
    row = await pool.fetchrow("SELECT replied_at, last_replied_at, last_inbound_at FROM communications"
                              " WHERE id = $1", cid)
    assert row["replied_at"] == answered["closed_at"]
    assert row["last_inbound_at"] > row["last_replied_at"]

    await asyncio.sleep(again_at - time.time() + 0.1)  # a reply after the message, as replies are
    await sent_reply(client, pool, cid, "С ребёнком на 20 000 ₽ дороже.")
    closed_again = await closed_item(pool, cid)
    assert (closed_again["state"], closed_again["closed_reason"]) == ("closed", "replied")
    assert closed_again["closed_at"] > answered["closed_at"]


async def test_a_message_after_the_item_was_closed_by_hand_reopens_it(
        client: TestClient, pool: asyncpg.Pool) -> None:
    await telegram_message(client, CHAT, "Здравствуйте", message_id=11)
    cid = await conversation_id(pool, f"tg:{CHAT}")
    item = await item_of(client, cid)
    resp = await client.post(f"/api/inbox/{item['id']}/done", json={"extension": "105", "reason": "приветствие"},
                             headers=auth())
    assert resp.status == 200, await resp.text()
    assert (await item_of(client, cid))["state"] == "not listed"
    await telegram_message(client, CHAT, "Хочу в Египет в феврале", message_id=12, date=later_s())
    reopened = await item_of(client, cid)
    assert (reopened["id"], reopened["state"], reopened["closed_by"]) == (item["id"], "open", None)


async def test_a_reply_made_in_vk_itself_answers_it_and_the_customers_next_message_reopens_it(
        client: TestClient, pool: asyncpg.Pool) -> None:
    await vk_event(client, "message_new", PEER, "Есть туры в Грузию?", event_id="vk-r1")
    cid = await conversation_id(pool, f"vk:{VK_GROUP}:{PEER}")
    assert (await item_of(client, cid))["state"] == "open"
    await vk_event(client, "message_reply", PEER, "Есть, от 60 000 ₽", event_id="vk-r2",
                   from_id=-VK_GROUP, id=901, random_id=0)
    assert (await item_of(client, cid))["state"] == "not listed"
    # The agency writing once more is no reason to reopen anything.
    await vk_event(client, "message_reply", PEER, "Пишите, если что", event_id="vk-r3",
                   from_id=-VK_GROUP, id=902, random_id=0, date=later_s())
    assert (await item_of(client, cid))["state"] == "not listed"
    await vk_event(client, "message_new", PEER, "А на октябрь?", event_id="vk-r4", date=later_s() + 1)
    assert (await item_of(client, cid))["state"] == "open"
