# ruff: noqa: F811  (app_client, a fixture imported from tests.channels, is a parameter here)
"""One person across a call, a form and a chat is one contact with one open lead."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from daemon.store.repository import Repository
from tests.channels import app_client, channel_env, example, identifiers_of, replay  # noqa: F401  (app_client: a fixture)
from tests.screenkit import moved, post_steps

ANNA_PHONE = "+79161234567"


def typed_phone_instead_of_shared_contact() -> dict[str, Any]:
    """telegram_contact_shared, but Анна types her number instead of pressing the button."""
    ex = copy.deepcopy(example("telegram_contact_shared"))
    message = ex["request"]["body"]["message"]
    del message["contact"]
    message["text"] = "Мой номер 8 (916) 123-45-67, звоните"
    return ex


@pytest.mark.parametrize("phone_message", ["shared", "typed"])
async def test_known_caller_form_and_telegram_are_one_contact_with_one_lead(
        app_client: TestClient, office: Repository, phone_message: str) -> None:
    """Анна (imported, +79161234567) calls, fills in the Tilda form with a new e-mail, writes in
    Telegram and then shares (or types) her phone: one contact, one open lead, three communications."""
    pool = office.pool
    anna = await pool.fetchval("SELECT contact_id FROM contact_identifiers WHERE kind = 'phone' AND value = $1",
                               ANNA_PHONE)
    await post_steps(app_client, moved("answered_incoming.json", suffix="-anna", ago_s=3600))
    third = example("telegram_contact_shared") if phone_message == "shared" else typed_phone_instead_of_shared_contact()
    for ex in (example("tilda_form_with_cookies"), example("telegram_start_deeplink"),
               example("telegram_text_message"), third):
        status, body = await replay(app_client, ex)
        assert status == 200, body
    chat_contact = await pool.fetchval("SELECT contact_id FROM contact_identifiers WHERE kind = 'telegram'"
                                       " AND value = '412345678'")
    assert chat_contact == anna
    assert await identifiers_of(pool, anna) >= {("phone", ANNA_PHONE), ("email", "anna.k@example.ru"),
                                                ("email", "anna.kuznetsova@yandex.ru"), ("telegram", "412345678")}
    leads = await pool.fetch("SELECT id FROM leads WHERE contact_id = $1 AND status = 'open'", anna)
    assert len(leads) == 1
    comms = await pool.fetch("SELECT channel, lead_id FROM communications WHERE contact_id = $1 ORDER BY id", anna)
    assert [c["channel"] for c in comms] == ["call", "web_form", "telegram"]
    assert {c["lead_id"] for c in comms} == {leads[0]["id"]}
    assert await pool.fetchval("SELECT count(*) FROM contacts WHERE merged_into IS NULL AND removed_at IS NULL"
                               " AND id <> $1 AND id = $2", anna, chat_contact) == 0


async def test_phone_shared_first_needs_no_merge(app_client: TestClient, office: Repository) -> None:
    """When the chat starts with her shared phone, the Telegram id goes straight to Анна's contact."""
    pool = office.pool
    anna = await pool.fetchval("SELECT contact_id FROM contact_identifiers WHERE kind = 'phone' AND value = $1",
                               ANNA_PHONE)
    for name in ("telegram_contact_shared", "telegram_start_deeplink", "telegram_text_message"):
        status, _ = await replay(app_client, example(name))
        assert status == 200
    assert ("telegram", "412345678") in await identifiers_of(pool, anna)
    assert await pool.fetchval("SELECT count(*) FROM contacts") == await pool.fetchval(
        "SELECT count(DISTINCT contact_id) FROM contact_identifiers")
    comm = await pool.fetchrow("SELECT * FROM communications WHERE source = 'tg-bot'")
    assert comm["contact_id"] == anna and comm["message_count"] == 3
    assert await pool.fetchval("SELECT count(*) FROM leads WHERE contact_id = $1 AND status = 'open'", anna) == 1


async def test_absorbing_merge_is_journaled_and_can_be_undone(app_client: TestClient, office: Repository) -> None:
    """The chat's own contact, absorbed when Анна shares her phone, comes back by undoing the merge."""
    from daemon.contacts.undo import undo_merge

    pool = office.pool
    anna = await pool.fetchval("SELECT contact_id FROM contact_identifiers WHERE kind = 'phone' AND value = $1",
                               ANNA_PHONE)
    for name in ("telegram_start_deeplink", "telegram_text_message", "telegram_contact_shared"):
        status, _ = await replay(app_client, example(name))
        assert status == 200
    merge = await pool.fetchrow("SELECT * FROM contact_merges")
    assert merge["survivor_id"] == anna and merge["actor"] == "inquiry-pipeline"
    [chat_contact] = merge["merged_ids"]
    assert await pool.fetchval("SELECT merged_into FROM contacts WHERE id = $1", chat_contact) == anna
    async with office.transaction() as tx:
        await undo_merge(tx, merge_id=merge["id"], actor="test")
    assert await pool.fetchval("SELECT merged_into FROM contacts WHERE id = $1", chat_contact) is None
    assert await identifiers_of(pool, chat_contact) == {("telegram", "412345678")}
    assert ("telegram", "412345678") not in await identifiers_of(pool, anna)
