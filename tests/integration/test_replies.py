"""Replies from the screen through the outbox, end to end: the API, PostgreSQL, the sender task
and stand-in Telegram and VK APIs (real aiohttp servers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.replykit import (
    conversation_id,
    eventually,
    messages,
    reply,
    reply_client,
    reply_settings,
    settled,
    status_of,
    telegram_message,
    vk_event,
)
from tests.support.messengers import (
    SERVER_ERROR,
    TELEGRAM_BLOCKED,
    VK_NOT_ALLOWED,
    Answer,
    FakeMessengers,
    fake_messengers,
    telegram_429,
    vk_error,
)

CHAT = 412345678
PEER = 601234567


@pytest.fixture
async def fake() -> AsyncIterator[FakeMessengers]:
    async with fake_messengers() as found:
        yield found


async def test_a_telegram_reply_is_durable_at_202_then_sent_and_answers_the_inquiry(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as client:
        await telegram_message(client, CHAT, "Турция на майские, 2 взрослых", message_id=2)
        cid = await conversation_id(pool, f"tg:{CHAT}")
        assert await pool.fetchval("SELECT reply_to FROM communications WHERE id = $1", cid) == f'{{"to": "{CHAT}", "thread": {{}}}}'
        assert await pool.fetchval("SELECT replied_at FROM communications WHERE id = $1", cid) is None
        status, body = await reply(client, cid, {"text": "Анна, добрый день! Подберём.", "extension": "101"})
        assert status == 202 and body["status"] == "queued"
        # Durable when answered: the row is there whatever the sender does next.
        assert await pool.fetchval("SELECT count(*) FROM communication_messages WHERE id = $1", body["message_id"]) == 1
        await eventually(lambda: settled(pool, body["message_id"]))
        assert await status_of(pool, body["message_id"]) == "sent"
        assert fake.texts_to(str(CHAT)) == ["Анна, добрый день! Подберём."]
        row = await pool.fetchrow("SELECT replied_at, text FROM communications WHERE id = $1", cid)
        sent_at = await pool.fetchval("SELECT sent_at FROM communication_messages WHERE id = $1", body["message_id"])
        assert row["replied_at"] == sent_at
        assert row["text"].endswith("Анна, добрый день! Подберём.")  # joins the transcript
        conv = await messages(client, cid)
        assert [(m["direction"], m["status"], m["extension"]) for m in conv] == [
            ("in", "received", None), ("out", "sent", "101")]
        assert conv[0]["text"] == "Турция на майские, 2 взрослых"
        metrics = await (await client.get("/metrics")).text()
        assert 'callbridge_replies_total{channel="telegram",outcome="sent"} 1.0' in metrics
        assert 'callbridge_replies_total{channel="telegram",outcome="queued"} 1.0' in metrics


async def test_429_waits_retry_after_then_the_same_message_is_sent_once(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    fake.script(str(CHAT), telegram_429(1))
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as client:
        await telegram_message(client, CHAT, "Здравствуйте", message_id=3)
        cid = await conversation_id(pool, f"tg:{CHAT}")
        _, body = await reply(client, cid, {"text": "Ответ", "extension": "101"})
        await eventually(lambda: settled(pool, body["message_id"]))
    assert await status_of(pool, body["message_id"]) == "sent"
    (first, second) = [at for provider, _, at in fake.requests if provider == "telegram"]
    assert second - first >= 0.95  # retry_after: 1 s
    assert fake.texts_to(str(CHAT)) == ["Ответ"]


async def test_5xx_and_timeouts_are_retried_with_back_off_and_counted_as_maybe_delivered(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    fake.script(str(CHAT), SERVER_ERROR, Answer(hang_s=3.0))  # the send timeout is 2 s
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as client:
        await telegram_message(client, CHAT, "Здравствуйте", message_id=4)
        cid = await conversation_id(pool, f"tg:{CHAT}")
        _, body = await reply(client, cid, {"text": "Ответ после сбоя", "extension": "101"})
        await eventually(lambda: settled(pool, body["message_id"]))
        metrics = await (await client.get("/metrics")).text()
    row = await pool.fetchrow("SELECT status, attempts FROM communication_messages WHERE id = $1", body["message_id"])
    assert (row["status"], row["attempts"]) == ("sent", 3)
    # The hung request was answered after the client gave up: Telegram may have delivered it.
    assert 'callbridge_reply_maybe_duplicates_total{channel="telegram"} 1.0' in metrics
    assert 'callbridge_replies_total{channel="telegram",outcome="retry"} 2.0' in metrics


async def test_retries_stop_after_give_up_after_h_as_failed_with_the_reason(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    fake.script(str(CHAT), *[SERVER_ERROR] * 50)
    settings = reply_settings(db_url, tmp_path, fake, CALLBRIDGE_REPLY_GIVE_UP_AFTER_H=str(1.5 / 3600))
    async with reply_client(settings) as client:
        await telegram_message(client, CHAT, "Здравствуйте", message_id=5)
        cid = await conversation_id(pool, f"tg:{CHAT}")
        _, body = await reply(client, cid, {"text": "Не дойдёт", "extension": "101"})
        await eventually(lambda: settled(pool, body["message_id"]))
        (out,) = [m for m in await messages(client, cid) if m["direction"] == "out"]
    assert out["status"] == "failed" and out["error"] == "не доставлено за 2 с: Bad Gateway"
    assert await pool.fetchval("SELECT replied_at FROM communications WHERE id = $1", cid) is None
    assert fake.texts_to(str(CHAT)) == []


async def test_a_blocked_bot_is_a_failed_reply_with_the_reason_never_retried(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    fake.script(str(CHAT), TELEGRAM_BLOCKED)
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as client:
        await telegram_message(client, CHAT, "Здравствуйте", message_id=6)
        cid = await conversation_id(pool, f"tg:{CHAT}")
        _, body = await reply(client, cid, {"text": "Ответ", "extension": "101"})
        await eventually(lambda: settled(pool, body["message_id"]))
        (out,) = [m for m in await messages(client, cid) if m["direction"] == "out"]
        await asyncio.sleep(0.5)  # a few more passes of the sender: nothing is sent again
    assert out["status"] == "failed" and out["error"] == "Forbidden: bot was blocked by the user"
    assert len(fake.requests) == 1
    assert await pool.fetchval("SELECT replied_at FROM communications WHERE id = $1", cid) is None


async def test_an_idempotency_key_returns_the_same_message_and_sends_it_once(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as client:
        await telegram_message(client, CHAT, "Здравствуйте", message_id=7)
        cid = await conversation_id(pool, f"tg:{CHAT}")
        answers = [await reply(client, cid, {"text": "Один раз", "extension": "101"}, key="k-1") for _ in range(3)]
        await eventually(lambda: settled(pool, answers[0][1]["message_id"]))
        again = await reply(client, cid, {"text": "Один раз", "extension": "101"}, key="k-1")
        other = await reply(client, cid, {"text": "Другой", "extension": "101"}, key="k-2")
        await eventually(lambda: settled(pool, other[1]["message_id"]))
    assert {a[1]["message_id"] for a in answers} == {again[1]["message_id"]}
    assert [a[0] for a in answers] == [202, 202, 202] and again == (202, {"message_id": answers[0][1]["message_id"],
                                                                         "status": "sent"})
    assert other[1]["message_id"] != again[1]["message_id"]
    assert fake.texts_to(str(CHAT)) == ["Один раз", "Другой"]


async def test_text_limits_per_channel_are_a_clear_400_before_anything_is_queued(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as client:
        await telegram_message(client, CHAT, "Здравствуйте", message_id=8)
        await vk_event(client, "message_new", PEER, "Сколько стоит?", event_id="vk-limit-1")
        tg, vk = await conversation_id(pool, f"tg:{CHAT}"), await conversation_id(pool, f"vk:229876543:{PEER}")
        too_long_tg = await reply(client, tg, {"text": "я" * 4097, "extension": "101"})
        longest_tg = await reply(client, tg, {"text": "я" * 4096, "extension": "101"})
        too_long_vk = await reply(client, vk, {"text": "я" * 9001, "extension": "101"})
        longest_vk = await reply(client, vk, {"text": "я" * 9000, "extension": "101"})
        empty = await reply(client, tg, {"text": "   ", "extension": "101"})
        both = await reply(client, tg, {"text": "x", "template": "y", "extension": "101"})
    assert too_long_tg == (400, {"error": "the text is too long for telegram: at most 4096 characters",
                                 "chars": 4097, "max_chars": 4096, "channel": "telegram"})
    assert too_long_vk[0] == 400 and too_long_vk[1]["max_chars"] == 9000
    assert longest_tg[0] == 202 and longest_vk[0] == 202
    assert empty[0] == 400 and both[0] == 400
    assert await pool.fetchval("SELECT count(*) FROM communication_messages WHERE direction = 'out'") == 2


async def test_without_a_way_back_the_reply_is_409_with_the_phone_to_call(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as client:
        resp = await client.post("/inquiries/site-form?token=form-secret-2",
                                 json={"id": "f-1", "name": "Олег", "phone": "+7 916 555-44-33", "message": "Перезвоните"})
        assert resp.status == 200
        cid = await pool.fetchval("SELECT id FROM communications WHERE source = 'site-form'")
        answer = await reply(client, cid, {"text": "Здравствуйте", "extension": "101"})
        missing = await reply(client, 999999, {"text": "Здравствуйте", "extension": "101"})
    assert answer == (409, {"error": "no reply channel", "phone": "+79165554433"})
    assert missing[0] == 404


async def test_vk_reply_carries_random_id_and_its_echo_is_not_a_second_message(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as client:
        await vk_event(client, "message_new", PEER, "Сколько стоит Турция?", event_id="vk-1")
        cid = await conversation_id(pool, f"vk:229876543:{PEER}")
        _, body = await reply(client, cid, {"text": "Екатерина, добрый день!", "extension": "102"})
        await eventually(lambda: settled(pool, body["message_id"]))
        (delivery,) = fake.delivered
        assert delivery.fields["random_id"] == str(body["message_id"]) and delivery.fields["v"] == "5.199"
        assert delivery.fields["peer_id"] == str(PEER)
        # VK reports the community's message back (message_reply), ours among them.
        await vk_event(client, "message_reply", PEER, "Екатерина, добрый день!", event_id="vk-2",
                       from_id=-VK_GROUP_ID, id=int(delivery.fields.get("id", 0) or 0) or 5001,
                       random_id=body["message_id"])
        conv = await messages(client, cid)
    assert [(m["direction"], m["kind"], m["status"]) for m in conv] == [("in", "message", "received"),
                                                                        ("out", "reply", "sent")]
    text = await pool.fetchval("SELECT text FROM communications WHERE id = $1", cid)
    assert text.count("Екатерина, добрый день!") == 1


VK_GROUP_ID = 229876543


async def test_a_reply_made_in_vk_itself_is_stored_as_sent_and_answers_the_inquiry(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as client:
        await vk_event(client, "message_new", PEER, "Есть туры в Грузию?", event_id="vk-3")
        cid = await conversation_id(pool, f"vk:229876543:{PEER}")
        await vk_event(client, "message_reply", PEER, "Есть, от 60 000 ₽", event_id="vk-4",
                       from_id=-VK_GROUP_ID, id=777, random_id=0)
        conv = await messages(client, cid)
    assert [(m["direction"], m["kind"], m["status"], m["text"]) for m in conv][-1] == (
        "out", "elsewhere", "sent", "Есть, от 60 000 ₽")
    assert await pool.fetchval("SELECT replied_at FROM communications WHERE id = $1", cid) is not None
    assert fake.requests == []  # nothing was sent by us


async def test_vk_refusal_901_fails_and_a_flood_error_is_retried(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    fake.script(str(PEER), vk_error(9, "Flood control"))
    fake.script(str(PEER + 1), VK_NOT_ALLOWED)
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as client:
        await vk_event(client, "message_new", PEER, "Вопрос", event_id="vk-5")
        await vk_event(client, "message_new", PEER + 1, "Вопрос", event_id="vk-6")
        ok = await reply(client, await conversation_id(pool, f"vk:229876543:{PEER}"), {"text": "Ответ"})
        no = await reply(client, await conversation_id(pool, f"vk:229876543:{PEER + 1}"), {"text": "Ответ"})
        await eventually(lambda: settled(pool, ok[1]["message_id"]))
        await eventually(lambda: settled(pool, no[1]["message_id"]))
    assert await status_of(pool, ok[1]["message_id"]) == "sent"
    assert await pool.fetchval("SELECT error FROM communication_messages WHERE id = $1", no[1]["message_id"]) == (
        "901: Can't send messages for users without permission")


async def test_two_daemons_on_one_database_never_send_one_message_twice(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    async with (reply_client(reply_settings(db_url, tmp_path / "one", fake)) as one,
                reply_client(reply_settings(db_url, tmp_path / "two", fake)) as two):
        await telegram_message(one, CHAT, "Здравствуйте", message_id=9)
        cid = await conversation_id(pool, f"tg:{CHAT}")
        texts = [f"Ответ {i}" for i in range(60)]
        results = await asyncio.gather(*(reply(one if i % 2 else two, cid, {"text": t, "extension": "101"})
                                         for i, t in enumerate(texts)))
        ids = [body["message_id"] for _, body in results]

        async def all_sent() -> bool:
            return await pool.fetchval("SELECT count(*) FROM communication_messages WHERE id = ANY($1::bigint[])"
                                       " AND status = 'sent'", ids) == len(ids)

        await eventually(all_sent, timeout_s=60)
    assert sorted(fake.texts_to(str(CHAT))) == sorted(texts)  # each once
