"""The out-of-hours auto-reply, reply templates, and the conversation of an older communication."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from config.settings import Settings
from tests.conftest import auth
from tests.replykit import (
    conversation_id,
    eventually,
    messages,
    reply,
    reply_client,
    reply_settings,
    reply_sources,
    settled,
    telegram_message,
)
from tests.support.messengers import FakeMessengers, fake_messengers

MSK = ZoneInfo("Europe/Moscow")
CHAT = 512345678
HOURS = {"mon": "09:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00", "thu": "09:00-18:00",
         "fri": "09:00-18:00"}
AUTO = "Здравствуйте, {name}! Мы ответим {next_open}."


@pytest.fixture
async def fake() -> AsyncIterator[FakeMessengers]:
    async with fake_messengers() as found:
        yield found


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=MSK).timestamp())


def auto_settings(db_url: str, tmp_path: Path, fake: FakeMessengers, *, holidays: tuple[str, ...] = ()) -> Settings:
    sources = reply_sources(fake, **{"tg-bot": {"auto_reply": AUTO}})
    settings = reply_settings(db_url, tmp_path, fake, sources=sources)
    return settings.model_copy(update={"office_hours": HOURS, "holidays": [date.fromisoformat(d) for d in holidays]})


async def auto_replies(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT id, text, status FROM communication_messages WHERE kind = 'auto_reply' ORDER BY id")


async def test_out_of_hours_the_source_auto_replies_once_per_contact_per_12_hours(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    async with reply_client(auto_settings(db_url, tmp_path, fake)) as client:
        # Friday 2026-12-04 19:00 in Moscow: closed until Monday.
        await telegram_message(client, CHAT, "Есть туры на Новый год?", message_id=1, date=at("2026-12-04T19:00"),
                               name="Анна")
        await telegram_message(client, CHAT, "И ещё вопрос", message_id=2, date=at("2026-12-04T19:30"))
        (auto,) = await auto_replies(pool)
        await eventually(lambda: settled(pool, auto["id"]))
        cid = await conversation_id(pool, f"tg:{CHAT}")
        conv = await messages(client, cid)
    assert auto["text"] == "Здравствуйте, Анна! Мы ответим в понедельник в 09:00."
    # An auto-reply answers nobody: the inquiry is still waiting for a person.
    assert await pool.fetchval("SELECT replied_at FROM communications WHERE id = $1", cid) is None
    assert fake.texts_to(str(CHAT)) == [auto["text"]]
    assert [(m["direction"], m["kind"]) for m in conv] == [("in", "message"), ("out", "auto_reply"), ("in", "message")]


async def test_in_office_hours_or_without_hours_there_is_no_auto_reply(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    async with reply_client(auto_settings(db_url, tmp_path, fake)) as client:
        await telegram_message(client, CHAT, "Вопрос", message_id=3, date=at("2026-12-07T10:00"))  # Monday
    sources = reply_sources(fake, **{"tg-bot": {"auto_reply": AUTO}})
    async with reply_client(reply_settings(db_url, tmp_path / "x", fake, sources=sources)) as client:
        await telegram_message(client, CHAT + 1, "Вопрос", message_id=4, date=at("2026-12-05T03:00"))  # 24/7
    assert await auto_replies(pool) == []


async def test_a_holiday_moves_next_open_to_the_next_working_day(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    settings = auto_settings(db_url, tmp_path, fake, holidays=("2026-12-07",))
    async with reply_client(settings) as client:
        await telegram_message(client, CHAT, "Вопрос", message_id=5, date=at("2026-12-06T12:00"), name="Олег")
    (auto,) = await auto_replies(pool)
    assert auto["text"] == "Здравствуйте, Олег! Мы ответим во вторник в 09:00."


async def test_templates_are_listed_and_fill_in_the_contact_and_the_manager(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    templates = {"greeting": "Здравствуйте, {name}! Это {manager}, турагентство.", "bye": "Спасибо!"}
    await pool.execute("INSERT INTO managers (extension, name) VALUES ('101', 'Ирина')")
    settings = reply_settings(db_url, tmp_path, fake, CALLBRIDGE_TEMPLATES=json.dumps(templates))
    async with reply_client(settings) as client:
        listed = await (await client.get("/api/templates", headers=auth())).json()
        await telegram_message(client, CHAT, "Вопрос", message_id=6, name="Анна")
        cid = await conversation_id(pool, f"tg:{CHAT}")
        status, body = await reply(client, cid, {"template": "greeting", "extension": "101"})
        unknown = await reply(client, cid, {"template": "nope", "extension": "101"})
        await eventually(lambda: settled(pool, body["message_id"]))
    assert listed == [{"name": "bye", "text": "Спасибо!"}, {"name": "greeting", "text": templates["greeting"]}]
    assert status == 202
    assert fake.texts_to(str(CHAT)) == ["Здравствуйте, Анна! Это Ирина, турагентство."]
    assert unknown[0] == 400 and unknown[1]["error"] == "no such template"


async def test_a_communication_filed_before_messages_were_kept_shows_its_text_as_one_message(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as client:
        await telegram_message(client, CHAT, "Старое обращение", message_id=7)
        cid = await conversation_id(pool, f"tg:{CHAT}")
        # As a communication of before migration 0020: no rows of its messages.
        await pool.execute("DELETE FROM communication_messages WHERE communication_id = $1", cid)
        conv = await messages(client, cid)
        missing = await client.get("/api/communications/999999/messages", headers=auth())
    assert [(m["id"], m["direction"], m["status"], m["text"]) for m in conv] == [
        (None, "in", "received", "Старое обращение")]
    assert missing.status == 404


async def test_a_chat_filed_before_reply_to_was_kept_is_answered_through_its_conversation(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    async with reply_client(reply_settings(db_url, tmp_path, fake)) as client:
        await telegram_message(client, CHAT, "Старый чат", message_id=8)
        cid = await conversation_id(pool, f"tg:{CHAT}")
        await pool.execute("UPDATE communications SET reply_to = NULL WHERE id = $1", cid)  # as before 0020
        status, body = await reply(client, cid, {"text": "Всё ещё актуально?", "extension": "101"})
        await eventually(lambda: settled(pool, body["message_id"]))
    assert status == 202
    assert fake.texts_to(str(CHAT)) == ["Всё ещё актуально?"]


async def test_a_new_conversation_of_the_same_contact_within_12_hours_gets_no_second_auto_reply(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers) -> None:
    settings = auto_settings(db_url, tmp_path, fake).model_copy(update={"conversation_idle_s": 3600})
    async with reply_client(settings) as client:
        await telegram_message(client, CHAT, "Вечером", message_id=10, date=at("2026-12-04T19:00"))
        await telegram_message(client, CHAT, "Ночью", message_id=11, date=at("2026-12-04T23:30"))
    assert await pool.fetchval("SELECT count(*) FROM communications WHERE conversation_key = $1", f"tg:{CHAT}") == 2
    assert len(await auto_replies(pool)) == 1
