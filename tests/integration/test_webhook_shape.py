"""One webhook shape: the PBX and the inquiry senders are served by one handler (daemon/intake/webhooks.py).

Whoever sent it, an unexpected database error gets one answer: the spool keeps
the request if it can (200, as for an outage), else 503 with the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.mango import webhooks as mango
from daemon.domain.delivery import Delivery, Reply
from daemon.runtime.app import build_app
from daemon.runtime.keys import SPOOL
from daemon.store.repository import Repository
from tests.channels import SOURCES, channel_settings
from tests.conftest import API_KEY, API_SALT, fixture_json, post_event, signed_form

APPEARED = fixture_json("answered_incoming.json")["steps"][0]["json"]
FORM_URL = f"/inquiries/site-form?token={SOURCES['site-form']['secret']}"
Post = Callable[[TestClient], Awaitable[Any]]


async def _pbx(client: TestClient) -> Any:
    return await post_event(client, "/events/call", APPEARED)


async def _form(client: TestClient) -> Any:
    return await client.post(FORM_URL, json={"phone": "+7 916 123-45-67", "name": "Анна", "tranid": "shape-1"})


ROUTES = [pytest.param(_pbx, {"result": "spooled"}, id="pbx"), pytest.param(_form, None, id="inquiry")]


async def _client(db_url: str, tmp_path: Path, **extra: str) -> AsyncIterator[TestClient]:
    app = build_app(channel_settings(db_url, tmp_path / "state", **extra), database_url=db_url,
                    apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def spooling(db_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    async for client in _client(db_url, tmp_path):
        yield client


@pytest.fixture
async def unspooled(db_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    async for client in _client(db_url, tmp_path, CALLBRIDGE_SPOOL_ENABLED="false"):
        yield client


@pytest.fixture
async def broken_inbox(repo: Repository) -> AsyncIterator[None]:
    """A database that answers, with an error nobody expects (the inbox is gone)."""
    await repo.pool.execute("ALTER TABLE inbox RENAME TO inbox_away")
    try:
        yield
    finally:
        await repo.pool.execute("ALTER TABLE inbox_away RENAME TO inbox")


@pytest.mark.parametrize(("post", "pbx_answer"), ROUTES)
async def test_a_database_error_is_spooled_on_every_route(
        spooling: TestClient, broken_inbox: None, post: Post, pbx_answer: dict[str, str] | None) -> None:
    """It used to be a 500 for the PBX and a 503 for an inquiry; now both are kept and acknowledged."""
    resp = await post(spooling)
    assert resp.status == 200, await resp.text()
    if pbx_answer is not None:
        assert await resp.json() == pbx_answer
    assert spooling.app[SPOOL].backlog() == 1


@pytest.mark.parametrize("post", [route.values[0] for route in ROUTES])
async def test_a_database_error_without_a_spool_is_503_on_every_route(
        unspooled: TestClient, broken_inbox: None, post: Post) -> None:
    resp = await post(unspooled)
    assert resp.status == 503
    assert await resp.json() == {"error": "storage unavailable, retry later"}
    assert resp.headers["Retry-After"] == "1"


def _delivery(path: str, form: dict[str, str]) -> Delivery:
    content_type = "application/x-www-form-urlencoded"
    return Delivery(source="mango", settings=None, query={}, headers={"Content-Type": content_type},
                    content_type=content_type, body=urlencode(form).encode(), received_at=datetime.now(UTC),
                    path=path)


def test_the_pbx_adapter_is_a_translate_function_like_the_others() -> None:
    """The PBX's words become an envelope with its dedup key, answered ``{"result": <outcome>}``."""
    translate = mango.translator(api_key=API_KEY, api_salt=API_SALT)
    translated = translate(_delivery("events/call", signed_form(APPEARED)))
    assert translated.inquiry is None
    assert translated.reply == Reply(200, outcome_as="result")
    env = translated.envelope
    assert env is not None
    assert (env.source, env.path, env.event.kind) == ("mango", "events/call", "call_leg")
    assert env.dedup_key == f"mango:call:{APPEARED['call_id']}:{APPEARED['seq']}:appeared"
    assert translate(_delivery("ping", {})).reply.body == {"result": "ignored"}
