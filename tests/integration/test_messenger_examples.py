"""MAX, Wazzup, Green-API, Avito and Telegram Business deliveries, from their documented examples
(tests/fixtures/channels/*-*.json), over HTTP into a real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.channels import communication_of, example, identifiers_of, inbox_count, stored_inquiry
from tests.conftest import API_TOKEN
from tests.messengers import MESSENGER_EXAMPLES, messenger_settings, replay_messenger, source_of

AUTH = "Bearer " + API_TOKEN
IDENTIFIER_EXPECTS = (("max", "max_user_id"), ("avito", "avito_user_id"), ("telegram", "telegram_user_id"),
                      ("instagram", "instagram_id"))


@pytest.fixture
async def messengers(db_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    app = build_app(messenger_settings(db_url, tmp_path / "state"), database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def _contact_of(pool: asyncpg.Pool, inquiry: dict[str, Any]) -> tuple[asyncpg.Record, int]:
    comm = await communication_of(pool, inquiry)
    assert comm is not None, inquiry["external_id"]
    contact_id = await pool.fetchval("SELECT COALESCE(merged_into, id) FROM contacts WHERE id = $1",
                                     comm["contact_id"])
    assert contact_id is not None, inquiry["external_id"]
    return comm, contact_id


async def _check_inquiry(pool: asyncpg.Pool, name: str) -> None:
    """The stored inquiry, its communication and its contact say what the example expects."""
    ex = example(name)
    expect = ex["expect"]
    inquiry = await stored_inquiry(pool, source_of(ex), expect["dedup_id"] or expect["dedup_fallback"])
    assert inquiry is not None, name
    assert inquiry["phones"][:1] == ([expect["phone"]] if expect["phone"] else []) or \
        [p.replace(" ", "") for p in inquiry["phones"]] == [expect["phone"]], (name, inquiry["phones"])
    assert inquiry["name"] == expect["name"], name
    if "conversation_key" in expect:
        assert inquiry["conversation_id"] == expect["conversation_key"], name
    if "reply_to" in expect:
        wanted = expect["reply_to"]
        to = str(wanted.get("chatId") or wanted.get("chat_id"))
        assert inquiry["reply_to"]["to"] == to, name
        thread = inquiry["reply_to"]["thread"]
        for ours, theirs in (("channel_id", "channelId"), ("chat_type", "chatType"),
                             ("business_connection_id", "business_connection_id")):
            if theirs in wanted:
                assert thread[ours] == wanted[theirs], (name, ours)
    comm, contact_id = await _contact_of(pool, inquiry)
    if expect["text_contains"]:
        assert expect["text_contains"] in comm["text"], name
    if "shared_contact_phone" in expect:
        assert expect["shared_contact_phone"] in comm["text"] and expect["shared_contact_name"] in comm["text"]
    held = await identifiers_of(pool, contact_id)
    if expect["phone"]:
        assert ("phone", expect["phone"]) in held, name
    for kind, key in IDENTIFIER_EXPECTS:
        if expect.get(key):
            assert (kind, str(expect[key])) in held, (name, kind)
    if "shared_contact_phone" in expect:
        assert ("phone", expect["shared_contact_phone"]) not in held, name
    assert await pool.fetchval("SELECT count(*) FROM leads WHERE contact_id = $1 AND status = 'open'",
                               contact_id) == 1, name


async def test_each_example_says_what_it_expects(messengers: TestClient, repo: Repository) -> None:
    """In the story's order: every inquiry as its example expects, handshakes and foreign
    updates answered 200 with nothing filed, a wrong secret 403 with nothing stored."""
    pool = repo.pool
    for name in MESSENGER_EXAMPLES:
        expect = example(name)["expect"]
        before = await inbox_count(pool)
        contacts_before = await pool.fetchval("SELECT count(*) FROM contacts")
        status, body = await replay_messenger(messengers, name)
        assert status == expect.get("respond_status", 200), (name, status, body[:300])
        if expect.get("reject"):
            assert await inbox_count(pool) == before, name
        elif expect.get("skip"):
            assert await pool.fetchval("SELECT count(*) FROM contacts") == contacts_before, name
        else:
            assert await inbox_count(pool) == before + 1, name
            await _check_inquiry(pool, name)


async def test_ad_sources_come_from_the_deep_link_and_the_ad(messengers: TestClient, repo: Repository) -> None:
    """MAX's bot_started payload maps through [utm_sources]; an Avito ad through the source's items."""
    for name in ("max-bot-started", "max-message-created", "avito-message"):
        assert (await replay_messenger(messengers, name))[0] == 200
    rows = dict(await repo.pool.fetch("SELECT source, ad_source FROM communications"))
    assert rows == {"max-bot": "VK Реклама", "avito": "Авито: Сочи"}
    utm = await repo.pool.fetchval("SELECT utm::text FROM communications WHERE source = 'avito'")
    assert json.loads(utm) == {"medium": "avito", "content": "4123456789"}


@pytest.mark.parametrize(("name", "header", "value", "path"), [
    ("max-message-created", "X-Max-Bot-Api-Secret", "cbMaxS3cret-2026", None),
    ("wazzup-whatsapp-text", None, None, "/inquiries/wazzup-wa?token=wrong"),
    ("wazzup-whatsapp-text", None, None, "/inquiries/wazzup-wa"),
    ("greenapi-incoming-text", "Authorization", "Bearer wrong", None),
    ("greenapi-incoming-text", "Authorization", "", None),
    ("avito-message", None, None, "/inquiries/avito?token=wrong"),
    ("telegram-business-message", "X-Telegram-Bot-Api-Secret-Token", "wrong", None),
])
async def test_a_wrong_secret_stores_nothing(messengers: TestClient, repo: Repository, name: str,
                                             header: str | None, value: str | None, path: str | None) -> None:
    request = example(name)["request"]
    headers = dict(request["headers"])
    if header is not None:
        headers[header] = value or ""
    resp = await messengers.post(path or request["path_hint"].split("?")[0], headers=headers,
                                 data=json.dumps(request["body"], ensure_ascii=False).encode())
    assert resp.status == 403
    assert await inbox_count(repo.pool) == 0


async def test_green_api_takes_the_bare_token_too(messengers: TestClient, repo: Repository) -> None:
    request = example("greenapi-incoming-text")["request"]
    resp = await messengers.post("/inquiries/greenapi-wa", headers={"Authorization": "ga-webhook-token-8"},
                                 data=json.dumps(request["body"], ensure_ascii=False).encode())
    assert resp.status == 200
    assert await inbox_count(repo.pool) == 1


@pytest.mark.parametrize(("first", "echo"), [
    ("wazzup-whatsapp-text", "wazzup-echo-and-status"),
    ("greenapi-incoming-text", "greenapi-outgoing-api-message"),
    ("avito-message", "avito-own-message"),
    ("telegram-business-message", "telegram-business-message-own"),
])
async def test_the_agency_s_own_message_answers_the_inquiry(messengers: TestClient, repo: Repository,
                                                            first: str, echo: str) -> None:
    """An echo / outgoing / own-account message joins the conversation and sets replied_at;
    it makes no contact and no second communication."""
    await replay_messenger(messengers, first)
    contacts = await repo.pool.fetchval("SELECT count(*) FROM contacts")
    row = await repo.pool.fetchrow("SELECT id, replied_at, message_count FROM communications")
    assert row["replied_at"] is None
    assert (await replay_messenger(messengers, echo))[0] == 200
    after = await repo.pool.fetch("SELECT id, replied_at, message_count FROM communications")
    assert len(after) == 1 and after[0]["id"] == row["id"]
    assert after[0]["replied_at"] is not None
    assert after[0]["message_count"] == row["message_count"] + 1
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts") == contacts


async def test_wazzup_statuses_move_forward_only(messengers: TestClient, repo: Repository) -> None:
    """A status is kept by Wazzup's message id; a late `sent` does not undo `read`; a repeat is nothing."""
    assert (await replay_messenger(messengers, "wazzup-echo-and-status"))[0] == 200
    status_of = "SELECT status FROM reply_statuses WHERE source = 'wazzup-wa' AND provider_id = $1"
    message_id = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c44"
    assert await repo.pool.fetchval(status_of, message_id) == "read"
    late = {"statuses": [{"messageId": message_id, "timestamp": "2025-05-12T11:09:11.000Z", "status": "sent"}]}
    resp = await messengers.post("/inquiries/wazzup-wa?token=wz-url-secret-7", json=late)
    assert resp.status == 200
    assert await repo.pool.fetchval(status_of, message_id) == "read"
    before = await inbox_count(repo.pool)
    assert (await replay_messenger(messengers, "wazzup-echo-and-status"))[0] == 200
    assert await inbox_count(repo.pool) == before


async def test_one_wazzup_post_with_two_messages_files_both(messengers: TestClient, repo: Repository) -> None:
    body = example("wazzup-whatsapp-text")["request"]["body"]
    second = {**body["messages"][0], "messageId": "5f3c2a9e-0000-4c8e-9a7f-2d4e6b8c0a12", "text": "И ещё вопрос"}
    resp = await messengers.post("/inquiries/wazzup-wa?token=wz-url-secret-7",
                                 json={"messages": [body["messages"][0], second]})
    assert resp.status == 200
    row = await repo.pool.fetchrow("SELECT count(*) AS n, max(message_count) AS m FROM communications")
    assert (row["n"], row["m"]) == (1, 2)


async def test_max_contact_is_merged_into_the_phone_s_contact(messengers: TestClient, repo: Repository) -> None:
    """The MAX-only contact of a dialog is absorbed (journaled) into the contact whose phone the
    dialog's shared contact reveals; a WhatsApp chat's phone had found that contact directly."""
    whatsapp = example("greenapi-incoming-text")["request"]["body"]
    whatsapp = {**whatsapp, "senderData": {**whatsapp["senderData"], "chatId": "79175550101@c.us"}}
    resp = await messengers.post("/inquiries/greenapi-wa", headers={"Authorization": "Bearer ga-webhook-token-8"},
                                 json=whatsapp)
    assert resp.status == 200
    phone_owner = await repo.pool.fetchval(
        "SELECT contact_id FROM contact_identifiers WHERE kind = 'phone' AND value = '+79175550101'")
    for name in ("max-message-created", "max-contact-shared"):
        assert (await replay_messenger(messengers, name))[0] == 200
    assert await identifiers_of(repo.pool, phone_owner) >= {("phone", "+79175550101"), ("max", "91234567")}
    assert await repo.pool.fetchval("SELECT count(*) FROM contact_merges WHERE survivor_id = $1", phone_owner) == 1
    card = await messengers.get("/api/contacts/lookup?max=91234567",
                                headers={"Authorization": AUTH})
    assert card.status == 200
    doc = await card.json()
    assert doc["id"] == phone_owner and doc["max_ids"] == ["91234567"] and doc["avito_ids"] == []


async def test_lookup_by_avito_id(messengers: TestClient) -> None:
    await replay_messenger(messengers, "avito-message")
    resp = await messengers.get("/api/contacts/lookup?avito=364512987",
                                headers={"Authorization": AUTH})
    assert resp.status == 200
    doc = await resp.json()
    assert doc["avito_ids"] == ["364512987"] and doc["phones"] == ["+79775550606"]
    missing = await messengers.get("/api/contacts/lookup?max=1", headers={"Authorization": AUTH})
    assert missing.status == 404
