"""Identifiers: one canonical spelling per kind, one table that finds a person by any of them."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from daemon.domain.identifiers import Identifier, InvalidIdentifier, parse_identifier
from daemon.store import migrate
from daemon.store.repository import Repository
from tests.conftest import auth
from tests.integration.test_migrations import empty_db  # noqa: F401  (fixture)


@pytest.mark.parametrize(("kind", "raw", "want"), [
    ("email", "  Anna.K@Example.RU ", "anna.k@example.ru"),
    ("email", "<ivan@mail.ru>", "ivan@mail.ru"),
    ("email", "mailto:ivan@mail.ru", "ivan@mail.ru"),
    ("phone", "8 (916) 123-45-67", "+79161234567"),
    ("telegram", " 123456789 ", "123456789"),
    ("vk", 1234567, "1234567"),
])
def test_each_kind_has_one_spelling(kind, raw, want) -> None:
    assert parse_identifier(kind, raw) == Identifier(kind, want)


@pytest.mark.parametrize(("kind", "raw"), [
    ("email", "ivanov@"), ("email", "ivanov@mail"), ("email", "иван@почта.рф"), ("email", "a b@c.ru"),
    ("phone", "12-34"), ("telegram", "@ivanov"), ("vk", "0"), ("vk", "id123"),
])
def test_text_that_is_not_an_identifier_is_kept_as_invalid(kind, raw) -> None:
    found = parse_identifier(kind, raw)
    assert isinstance(found, InvalidIdentifier) and found.value == raw and found.reason


@pytest.mark.parametrize(("kind", "raw", "reason"), [
    ("email", "a" * 250 + "@x.ru", "longer than 254 characters: cannot be an e-mail address"),
    ("email", "я" * 10_000 + "@почта.рф", "longer than 254 characters: cannot be an e-mail address"),
    ("phone", "+7 916 123 45 67 890 12", "more than 15 digits: cannot be a phone number"),
    ("phone", "9" * 10_000, "more than 15 digits: cannot be a phone number"),
    ("telegram", "ж" * 65, "longer than 64 characters: cannot be a telegram user id"),
    ("vk", "1" * 65, "longer than 64 characters: cannot be a vk user id"),
])
def test_text_that_cannot_be_an_identifier_says_so(kind, raw, reason) -> None:
    """Too long for any real identifier of its kind: kept whole, as invalid, with the limit as reason."""
    assert parse_identifier(kind, raw) == InvalidIdentifier(kind, raw, reason)


def test_nothing_written_is_no_identifier() -> None:
    assert parse_identifier("email", "  ") is None and parse_identifier("phone", None) is None


async def test_lookup_by_any_identifier_finds_the_same_card(client: TestClient, office: Repository) -> None:
    anna = await office.pool.fetchval(
        "SELECT contact_id FROM contact_identifiers WHERE kind = 'phone' AND value = '+79161234567'")
    await office.pool.execute(
        "INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ('telegram', '5550001', $1),"
        " ('vk', '777', $1)", anna)
    cards = []
    for query in ({"phone": "8 916 123 45 67"}, {"email": " ANNA.K@example.ru"},
                  {"telegram": "5550001"}, {"vk": "777"}):
        resp = await client.get("/api/contacts/lookup", params=query, headers=auth())
        assert resp.status == 200, query
        cards.append(await resp.json())
    assert all(card == cards[0] for card in cards)
    assert cards[0]["id"] == anna
    assert (cards[0]["telegram_ids"], cards[0]["vk_ids"], cards[0]["do_not_call"]) == (["5550001"], ["777"], None)


async def test_lookup_needs_exactly_one_valid_identifier(client: TestClient, office: Repository) -> None:
    for query in ({}, {"phone": "79161234567", "email": "anna.k@example.ru"}, {"email": "anna@"},
                  {"telegram": "@anna"}):
        resp = await client.get("/api/contacts/lookup", params=query, headers=auth())
        assert resp.status == 400, query
        assert (await resp.json())["error"]
    resp = await client.get("/api/contacts/lookup", params={"email": "nobody@example.ru"}, headers=auth())
    assert (resp.status, (await resp.json())["email"]) == (404, "nobody@example.ru")


async def test_migration_moves_every_phone_and_email_row(empty_db: str) -> None:  # noqa: F811
    """A database of the old shape keeps every phone and e-mail: valid ones as identifiers,
    a malformed e-mail (the old table only checked lower case) as an invalid identifier."""
    conn = await asyncpg.connect(empty_db)
    try:
        await conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                           " applied_at timestamptz NOT NULL DEFAULT now())")
        for m in migrate.available_migrations():
            if m.version < 5:
                await conn.execute(m.sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", m.version, m.name)
        await conn.execute(
            "INSERT INTO contacts (id, name) VALUES (1, 'Анна'), (2, 'Иван');"
            "INSERT INTO contact_phones VALUES ('+79161234567', 1, '2025-01-02'), ('+79031112233', 1, now()),"
            " ('+74951234567', 2, now());"
            "INSERT INTO contact_emails VALUES ('anna@example.ru', 1), ('ivan@localhost', 2)")
        await migrate.migrate(conn)
        identifiers = [tuple(r) for r in await conn.fetch(
            "SELECT kind, value, contact_id FROM contact_identifiers ORDER BY 1, 2")]
        invalid = [tuple(r) for r in await conn.fetch(
            "SELECT contact_id, kind, value FROM contact_invalid_identifiers")]
        kept_time = await conn.fetchval(
            "SELECT created_at::date::text FROM contact_identifiers WHERE value = '+79161234567'")
    finally:
        await conn.close()
    assert identifiers == [("email", "anna@example.ru", 1), ("phone", "+74951234567", 2),
                           ("phone", "+79031112233", 1), ("phone", "+79161234567", 1)]
    assert invalid == [(2, "email", "ivan@localhost")]
    assert kept_time == "2025-01-02"


async def test_the_database_refuses_what_the_parser_refuses(repo: Repository) -> None:
    contact = await repo.pool.fetchval("INSERT INTO contacts DEFAULT VALUES RETURNING id")
    for kind, value in [("phone", "79161234567"), ("email", "Anna@x.ru"), ("email", "anna@"),
                        ("telegram", "@anna"), ("vk", "-5"), ("skype", "anna")]:
        with pytest.raises(asyncpg.CheckViolationError):
            await repo.pool.execute(
                "INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ($1, $2, $3)",
                kind, value, contact)
