"""Every channel example (tests/fixtures/channels, but e-mail) replayed over HTTP: its expect holds.

The examples are sent in their story's order, in shuffled orders, and each
twice; every run must end in the same state, and a redelivery changes nothing.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from daemon.domain.identifiers import Identifier, parse_identifier
from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.channels import (
    ORDER,
    channel_settings,
    communication_of,
    example,
    final_state,
    identifiers_of,
    inbox_count,
    replay,
    source_of,
    stored_inquiry,
)


@pytest.fixture
async def channels(db_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = channel_settings(db_url, tmp_path / "state")
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


def _canonical(kind: str, raw: str | None) -> str | None:
    found = parse_identifier(kind, raw)  # type: ignore[arg-type]
    return found.value if isinstance(found, Identifier) else None


async def _send_all(client: TestClient, pool: asyncpg.Pool, names: list[str]) -> dict[str, list[tuple[int, bytes, int]]]:
    """Replay the examples; per example, every (status, body, inbox rows added)."""
    answers: dict[str, list[tuple[int, bytes, int]]] = {}
    for name in names:
        before = await inbox_count(pool)
        status, body = await replay(client, example(name))
        answers.setdefault(name, []).append((status, body, await inbox_count(pool) - before))
    return answers


def _check_answer(name: str, ex: dict[str, Any], status: int, body: bytes, *, repeat: bool) -> None:
    expect = ex["expect"]
    wanted = expect.get("respond_status_repeat" if repeat else "respond_status") or expect.get("respond_status", 200)
    assert status == wanted, (name, status, body[:300])
    if "respond_body" in expect:
        if isinstance(expect["respond_body"], dict):
            assert json.loads(body) == expect["respond_body"], name
        else:
            assert body.decode() == expect["respond_body"], name


async def _check_stored(pool: asyncpg.Pool, name: str, ex: dict[str, Any]) -> None:
    """The adapter's inquiry, its communication and its contact say what the example expects."""
    expect = ex["expect"]
    source = source_of(ex)
    inquiries = [json.loads(r["event"])["inquiry"] for r in await pool.fetch(
        "SELECT event::text AS event FROM inbox WHERE source = $1 AND kind = 'inquiry' ORDER BY id", source)]
    if expect.get("dedup_id"):
        inquiry = await stored_inquiry(pool, source, expect["dedup_id"])
    elif expect.get("dedup_fallback") and expect["dedup_fallback"] != "content_hash":
        inquiry = await stored_inquiry(pool, source, expect["dedup_fallback"])
    else:
        assert len(inquiries) == 1, name
        inquiry = inquiries[0]
    assert inquiry is not None, name
    phones = [_canonical("phone", p) for p in inquiry["phones"]]
    emails = [_canonical("email", e) for e in inquiry["emails"]]
    assert phones == ([expect["phone"]] if expect["phone"] else []), name
    assert emails == ([expect["email"]] if expect["email"] else []), name
    assert inquiry["name"] == expect["name"], name
    for key in ("source", "medium", "campaign"):
        if f"utm_{key}" in expect:
            assert inquiry["utm"][key] == expect[f"utm_{key}"], (name, key)
    if "page_url" in expect:
        assert inquiry["page_url"] == expect["page_url"], name
    if "conversation_key" in expect:
        assert inquiry["conversation_id"] == expect["conversation_key"], name
    comm = await communication_of(pool, inquiry)
    assert comm is not None, name
    if expect["text_contains"]:
        assert expect["text_contains"] in comm["text"], name
    if "start_param" in expect:
        assert f"/start {expect['start_param']}" in comm["text"], name
    if expect["utm_source"] and comm["utm"] is not None:
        assert json.loads(comm["utm"])["source"] == expect["utm_source"], name
    contact_id = await pool.fetchval("SELECT COALESCE(merged_into, id) FROM contacts WHERE id = $1",
                                     comm["contact_id"])
    assert contact_id is not None, name
    held = await identifiers_of(pool, contact_id)
    for kind, key in (("phone", "phone"), ("email", "email"), ("telegram", "telegram_user_id"),
                      ("vk", "vk_user_id")):
        if expect.get(key):
            assert (kind, str(expect[key])) in held, (name, kind)
    assert await pool.fetchval("SELECT count(*) FROM leads WHERE contact_id = $1 AND status = 'open'",
                               contact_id) == 1, name
    if "ad_source" in expect:
        assert comm["ad_source"] == expect["ad_source"], name
    if "referrer_phone" in expect:
        referrer = await pool.fetchval(
            "SELECT contact_id FROM contact_identifiers WHERE kind = 'phone' AND value = $1", expect["referrer_phone"])
        assert await pool.fetchval("SELECT count(*) FROM contact_referrals WHERE contact_id = $1 AND referrer_id = $2",
                                   contact_id, referrer) == 1
        assert comm["ad_source"] == "Рекомендация"


async def _run(client: TestClient, pool: asyncpg.Pool, names: list[str]) -> dict[str, Any]:
    answers = await _send_all(client, pool, names)
    for name, got in answers.items():
        ex = example(name)
        for i, (status, body, added) in enumerate(got):
            _check_answer(name, ex, status, body, repeat=i > 0)
            if ex["expect"].get("skip") or ex["expect"].get("reject") or i > 0:
                assert added == 0, (name, "stored something it must not")
            else:
                assert added == 1, name
        if not (ex["expect"].get("skip") or ex["expect"].get("reject")):
            await _check_stored(pool, name, ex)
    return await final_state(pool)


async def test_examples_in_order_shuffled_and_twice_end_the_same(
        channels: TestClient, repo: Repository, db_reset: Any) -> None:
    """In the story's order, three shuffled orders and every delivery twice: each expect holds,
    redeliveries store nothing, and every run ends with the same contacts, leads and communications."""
    await db_reset()
    reference = await _run(channels, repo.pool, ORDER)
    orders = [random.Random(seed).sample(ORDER, len(ORDER)) for seed in (1, 2, 3)]
    orders.append([name for name in ORDER for _ in range(2)])
    for names in orders:
        await db_reset()
        final = await _run(channels, repo.pool, names)
        assert final == reference, names


async def test_the_story_makes_the_expected_people(channels: TestClient, repo: Repository, db_reset: Any) -> None:
    """Анна (imported) is one contact after her form and Telegram chat; the others are one contact each."""
    await db_reset()
    await _run(channels, repo.pool, ORDER)
    anna = await repo.pool.fetchval(
        "SELECT contact_id FROM contact_identifiers WHERE kind = 'phone' AND value = '+79161234567'")
    telegram = {("telegram", "412345678")}
    assert await identifiers_of(repo.pool, anna) >= {
        ("phone", "+79161234567"), ("email", "anna.k@example.ru"), ("email", "anna.kuznetsova@yandex.ru"),
        *telegram}
    assert await repo.pool.fetchval(
        "SELECT count(*) FROM communications WHERE source = 'tg-bot'") == 1
    assert await repo.pool.fetchval(
        "SELECT count(*) FROM communications WHERE source = 'jivo-chat' AND conversation_key = 'jivo:3948:7636'") == 1
