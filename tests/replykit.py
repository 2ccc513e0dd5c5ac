"""Support for the reply tests: a daemon app whose channels point at the stand-in providers,
and the messages that start conversations."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings, load_settings
from daemon.runtime.app import build_app
from tests.channels import SOURCES, channel_env
from tests.conftest import auth
from tests.support.messengers import TOKEN, VK_TOKEN, FakeMessengers

TG_SECRET = SOURCES["tg-bot"]["secret"]
VK_SECRET = SOURCES["vk-group"]["secret"]
VK_GROUP = 229876543
FAST = {"CALLBRIDGE_REPLY_POLL_INTERVAL_S": "0.1", "CALLBRIDGE_REPLY_RETRY_BASE_S": "0.2",
        "CALLBRIDGE_REPLY_SEND_TIMEOUT_S": "2"}


def reply_sources(fake: FakeMessengers, **more: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sources = {name: dict(values) for name, values in SOURCES.items()}
    sources["tg-bot"] |= {"bot_token": TOKEN, "api_url": fake.telegram_url}
    sources["vk-group"] |= {"access_token": VK_TOKEN, "api_url": fake.vk_url}
    for name, values in more.items():
        sources[name] = sources.get(name, {}) | values
    return sources


def reply_settings(db_url: str, state_dir: Path, fake: FakeMessengers, *,
                   sources: dict[str, dict[str, Any]] | None = None, **extra: str) -> Settings:
    return load_settings(channel_env(db_url, state_dir, **(FAST | {
        "CALLBRIDGE_SOURCES": json.dumps(sources or reply_sources(fake))} | extra)))


@contextlib.asynccontextmanager
async def reply_client(settings: Settings) -> AsyncIterator[TestClient]:
    app = build_app(settings, database_url=settings.database.url or "", apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def telegram_message(client: TestClient, chat_id: int, text: str, *, message_id: int,
                           date: int | None = None, name: str = "Анна") -> None:
    update = {"update_id": 700000000 + message_id, "message": {
        "message_id": message_id, "from": {"id": chat_id, "is_bot": False, "first_name": name},
        "chat": {"id": chat_id, "type": "private", "first_name": name},
        "date": date or int(time.time()), "text": text}}
    resp = await client.post("/inquiries/tg-bot", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert resp.status == 200, await resp.text()


async def vk_event(client: TestClient, kind: str, peer: int, text: str, *, event_id: str,
                   from_id: int | None = None, **message: Any) -> None:
    event = {"group_id": VK_GROUP, "type": kind, "event_id": event_id, "v": "5.199", "secret": VK_SECRET,
             "object": {"message": {"date": int(time.time()), "from_id": from_id or peer, "peer_id": peer,
                                    "text": text, **message}}}
    resp = await client.post("/inquiries/vk-group", json=event)
    assert resp.status == 200 and await resp.text() == "ok"


async def conversation_id(pool: asyncpg.Pool, key: str) -> int:
    found = await pool.fetchval("SELECT id FROM communications WHERE conversation_key = $1", key)
    assert found is not None, key
    return int(found)


async def reply(client: TestClient, communication_id: int, body: dict[str, Any], *,
                key: str | None = None) -> tuple[int, Any]:
    headers = auth() | ({"Idempotency-Key": key} if key else {})
    resp = await client.post(f"/api/communications/{communication_id}/reply", json=body, headers=headers)
    return resp.status, await resp.json()


async def messages(client: TestClient, communication_id: int) -> list[dict[str, Any]]:
    resp = await client.get(f"/api/communications/{communication_id}/messages", headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout_s: float = 20.0) -> None:
    """Wait until ``check()`` is true (the sender works in the background); fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def status_of(pool: asyncpg.Pool, message_id: int) -> str:
    return str(await pool.fetchval("SELECT status FROM communication_messages WHERE id = $1", message_id))


async def settled(pool: asyncpg.Pool, message_id: int) -> bool:
    return await status_of(pool, message_id) in ("sent", "failed")
