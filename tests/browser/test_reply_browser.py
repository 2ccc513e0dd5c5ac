"""Replying from the screen in a real browser (Chromium via Playwright): a Telegram message pops a
card, the manager picks a template, sends, and sees it sent; a blocked bot shows the reason."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.browserkit import shoot, signed_in
from tests.conftest import load_office
from tests.replykit import reply_settings, telegram_message
from tests.support.messengers import TELEGRAM_BLOCKED, FakeMessengers, fake_messengers

CHAT, BLOCKED_CHAT = 812345678, 812345679
TEMPLATES = {"Приветствие": "Здравствуйте, {name}! Это {manager}. Подберём тур и напишем."}


@pytest.fixture
async def fake() -> AsyncIterator[FakeMessengers]:
    async with fake_messengers() as found:
        yield found


@pytest.fixture
async def daemon(db_url: str, tmp_path: Path, fake: FakeMessengers, repo: Repository) -> AsyncIterator[TestClient]:
    await load_office(repo)
    settings = reply_settings(db_url, tmp_path, fake, CALLBRIDGE_TEMPLATES=json.dumps(TEMPLATES))
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.mark.timeout(90)
async def test_a_manager_replies_to_a_telegram_message_from_the_card(
        daemon: TestClient, browser: Any, fake: FakeMessengers, tmp_path: Path) -> None:
    errors: list[str] = []
    page = await signed_in(browser, daemon, errors=errors)

    await telegram_message(daemon, CHAT, "Здравствуйте! Турция на майские, 2 взрослых", message_id=1, name="Анна")
    await page.wait_for_selector("#reply-box:not([hidden]) .message.in")
    assert "Турция на майские" in await page.inner_text("#conversation")
    await page.wait_for_selector("#reply-template option[value='Приветствие']", state="attached")
    await page.select_option("#reply-template", "Приветствие")
    text = await page.input_value("#reply-text")
    assert text == TEMPLATES["Приветствие"]
    await page.fill("#reply-text", text.replace("{name}", "Анна").replace("{manager}", "Мария"))
    async with page.expect_response("**/reply") as answer:
        await page.click("#reply-send")
    response = await answer.value
    assert response.status == 202
    assert response.request.headers.get("idempotency-key")
    await page.wait_for_selector("#conversation .message.out.sent")
    assert fake.texts_to(str(CHAT)) == ["Здравствуйте, Анна! Это Мария. Подберём тур и напишем."]
    assert "отправлено" in await page.inner_text("#conversation .message.out")
    await shoot(page, tmp_path, "screen-reply.png")

    fake.script(str(BLOCKED_CHAT), TELEGRAM_BLOCKED)
    await telegram_message(daemon, BLOCKED_CHAT, "Вопрос про визу", message_id=2, name="Олег")
    await page.wait_for_selector("#conversation .message.in >> text=Вопрос про визу")
    await page.fill("#reply-text", "Олег, добрый день!")
    await page.click("#reply-send")
    failed = page.locator("#conversation .message.out.failed")
    await failed.wait_for()
    assert "bot was blocked by the user" in await failed.inner_text()
    assert errors == []
