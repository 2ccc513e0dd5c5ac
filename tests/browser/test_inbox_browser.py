"""«Обращения» in a real browser: a form that arrives while the phone rings waits in the list, never dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import load_settings
from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.browserkit import replay_over_http, shoot, signed_in
from tests.channels import channel_env
from tests.conftest import auth, load_office
from tests.screenkit import moved


@pytest.fixture
async def daemon(db_url: str, tmp_path: Path, repo: Repository) -> AsyncIterator[TestClient]:
    await load_office(repo)
    settings = load_settings(channel_env(db_url, tmp_path / "state"))
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.mark.timeout(60)
async def test_a_form_during_a_ringing_call_shows_in_the_inbox(daemon: TestClient, browser: Any,
                                                               tmp_path: Path) -> None:
    errors: list[str] = []
    page = await signed_in(browser, daemon, errors=errors)
    assert await page.is_hidden("#inbox-count")  # nothing waits

    call = moved("answered_incoming.json", suffix="-ring", ago_s=5)
    await replay_over_http(daemon, call[:3])  # rings at 105
    await page.wait_for_selector("#phase.ringing")

    form = {"source": "partner-site", "external_id": "ring-1", "name": "Олег Смирнов", "phone": "8 999 777-66-55",
            "text": "Перезвоните насчёт Турции в июле"}
    resp = await daemon.post("/api/inquiries", json=form, headers=auth())
    assert resp.status == 201
    # The counter rises on the tab; the ringing call keeps the screen.
    await page.wait_for_selector("#inbox-count:not([hidden])")
    assert await page.inner_text("#inbox-count") == "1"
    assert await page.inner_text("#caller-name") == "Кузнецова Анна Сергеевна"
    assert await page.is_visible("#phase.ringing")

    await page.click(".tab[data-view=inbox]")
    item = page.locator("#inbox-list li")
    await item.first.wait_for()
    assert await item.count() == 1
    text = await item.first.inner_text()
    assert "Олег Смирнов" in text and "Перезвоните насчёт Турции в июле" in text and "Заявка" in text
    await shoot(page, tmp_path, "screen-inbox.png")

    async with page.expect_response("**/api/inbox/*/done") as answer:
        await page.click("#inbox-list li .inbox-done")
    assert (await answer.value).status == 200
    await page.wait_for_selector("#inbox-count", state="hidden")
    assert await item.count() == 0
    assert errors == []
