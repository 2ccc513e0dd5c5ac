"""An Instagram chat through Wazzup gives the person's own account (identifier kind
``instagram``): his next conversation, days later, finds the same contact, and so do the
lookup API and the contacts CLI. Over HTTP into a real PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings
from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.channels import example, identifiers_of
from tests.conftest import API_TOKEN, run_cli
from tests.messengers import messenger_settings, replay_messenger

AUTH = {"Authorization": "Bearer " + API_TOKEN}
WAZZUP = "/inquiries/wazzup-wa?token=wz-url-secret-7"
ACCOUNT = "olga.travels_2025"  # the example's chatId


@pytest.fixture
def instagram_settings(db_url: str, tmp_path: Path) -> Settings:
    return messenger_settings(db_url, tmp_path / "state")


@pytest.fixture
async def messengers(instagram_settings: Settings, db_url: str) -> AsyncIterator[TestClient]:
    app = build_app(instagram_settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


def _message(**change: Any) -> dict[str, Any]:
    """The example's Instagram message with ``change`` applied."""
    body = copy.deepcopy(example("wazzup-instagram-text")["request"]["body"])
    return {"messages": [body["messages"][0] | change]}


async def _contacts_of_communications(pool: asyncpg.Pool) -> list[int]:
    rows = await pool.fetch("SELECT contact_id FROM communications WHERE source = 'wazzup-wa' ORDER BY id")
    return [r["contact_id"] for r in rows]


async def test_the_next_conversation_days_later_finds_the_same_contact(messengers: TestClient,
                                                                      repo: Repository) -> None:
    assert (await replay_messenger(messengers, "wazzup-instagram-text"))[0] == 200
    (first,) = await _contacts_of_communications(repo.pool)
    assert await identifiers_of(repo.pool, first) == {("instagram", ACCOUNT)}
    # Five days later: the conversation has long gone idle, so this is a new communication.
    later = _message(messageId="9d8c7b6a-0000-4d3c-8b2a-1f0e9d8c7b72", dateTime="2025-05-19T10:02:00.000Z",
                     text="Добрый день, это снова я. Египет ещё актуален?")
    resp = await messengers.post(WAZZUP, json=later)
    assert resp.status == 200
    assert await _contacts_of_communications(repo.pool) == [first, first]
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts") == 1


async def test_lookup_by_instagram_finds_the_contact(messengers: TestClient, repo: Repository) -> None:
    assert (await replay_messenger(messengers, "wazzup-instagram-text"))[0] == 200
    resp = await messengers.get(f"/api/contacts/lookup?instagram={ACCOUNT}", headers=AUTH)
    assert resp.status == 200
    doc = await resp.json()
    assert doc["instagram_ids"] == [ACCOUNT] and doc["phones"] == [] and doc["name"] == "Ольга Смирнова"
    assert doc["avito_ids"] == [] and doc["open_lead_id"] is not None
    card = await messengers.get(f"/api/contacts/{doc['id']}", headers=AUTH)
    assert (await card.json())["instagram_ids"] == [ACCOUNT]
    missing = await messengers.get("/api/contacts/lookup?instagram=someone.else", headers=AUTH)
    assert missing.status == 404
    bad = await messengers.get("/api/contacts/lookup?instagram=olga%20travels", headers=AUTH)
    assert bad.status == 400


async def test_the_cli_lookup_shows_the_instagram_account(messengers: TestClient, repo: Repository,
                                                          instagram_settings: Settings) -> None:
    assert (await replay_messenger(messengers, "wazzup-instagram-text"))[0] == 200
    code, out, err = await run_cli(instagram_settings, "contacts", "lookup", ACCOUNT, "--kind", "instagram")
    assert code == 0, err
    assert f"  instagram: {ACCOUNT}" in out.splitlines() and "Ольга Смирнова" in out


async def test_an_impossible_instagram_id_is_kept_as_invalid(messengers: TestClient, repo: Repository) -> None:
    """A chatId that is no account id identifies nobody; the phone typed beside it makes the
    contact, and the chatId is kept on it as an invalid identifier."""
    resp = await messengers.post(WAZZUP, json=_message(chatId="olga travels!",
                                                       text="Перезвоните мне: +7 916 555-07-07"))
    assert resp.status == 200
    (contact_id,) = await _contacts_of_communications(repo.pool)
    assert await identifiers_of(repo.pool, contact_id) == {("phone", "+79165550707")}
    invalid = await repo.pool.fetch("SELECT kind, value FROM contact_invalid_identifiers WHERE contact_id = $1",
                                    contact_id)
    assert [tuple(r) for r in invalid] == [("instagram", "olga travels!")]


async def test_the_database_holds_the_same_shape(repo: Repository) -> None:
    """Migration 0032's CHECKs repeat parse_identifier: a valid id goes in, anything else is refused."""
    contact_id = await repo.pool.fetchval("INSERT INTO contacts (name) VALUES ('x') RETURNING id")
    await repo.pool.execute("INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ('instagram', $1, $2)",
                            "A.b_c-9", contact_id)
    for value in ("olga travels", "a" * 65, ""):
        with pytest.raises(asyncpg.CheckViolationError):
            await repo.pool.execute(
                "INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ('instagram', $1, $2)",
                value, contact_id)
    await repo.pool.execute("INSERT INTO contact_invalid_identifiers (contact_id, kind, value, reason) "
                            "VALUES ($1, 'instagram', 'olga travels', 'test')", contact_id)
