# ruff: noqa: F811  (pytest fixtures imported from test_ui_browser are parameters here)
"""The card for a person, not a call: an inquiry card says «обращение» and can be called back
with «Позвонить»; the missed list shows the signed-in manager's callers first, then the
longest-waiting."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.browser.test_ui_browser import (  # noqa: F401
    LAPTOP,
    WAIT_MS,
    browser,
    daemon,
    fake_pbx,
    pytestmark,
)
from tests.conftest import API_TOKEN, auth
from tests.screenkit import moved, post_steps


async def _signed_in(daemon: TestClient, browser: Any, extension: str) -> Any:
    page = await browser.new_page(viewport=LAPTOP, locale="ru-RU")
    page.set_default_timeout(WAIT_MS)
    await page.goto(str(daemon.make_url("/ui/")))
    await page.fill("#token", API_TOKEN)
    await page.fill("#extension", extension)
    await page.click("#sign-in-form button[type=submit]")
    await page.wait_for_selector("#conn.up")
    return page


@pytest.mark.timeout(90)
async def test_an_inquiry_card_is_an_obrashchenie_and_can_be_called(
        daemon: TestClient, browser: Any, fake_pbx: tuple[str, list]) -> None:
    page = await _signed_in(daemon, browser, "105")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    resp = await daemon.post("/api/inquiries", headers=auth(), json={
        "source": "partner-site", "external_id": "card-1", "phone": "+79161234567", "text": "Хотим в Турцию"})
    assert resp.status == 201, await resp.text()
    await page.wait_for_selector("#phase:has-text('Новое обращение')")
    assert await page.inner_text("#note-label") == "Примечание к обращению"
    assert "звонок" not in (await page.inner_text("#phase")).lower()
    async with page.expect_response("**/api/calls") as answer:
        await page.click("#call-contact")
    assert (await answer.value).status == 202
    assert json.loads((await answer.value).request.post_data) == {"extension": "105", "phone": "+79161234567"}
    await page.wait_for_selector("#call-contact-status.ok")
    assert [(c["path"], c["json"]["to_number"]) for c in fake_pbx[1]] == [("commands/callback", "79161234567")]
    assert errors == []


@pytest.mark.timeout(90)
async def test_the_missed_list_puts_my_callers_first_then_the_longest_waiting(
        daemon: TestClient, browser: Any) -> None:
    # Орлов (106's) waits longest, Anna (105's) is the newest, a stranger in between.
    await post_steps(daemon, moved("missed_incoming.json", suffix="-o1", ago_s=3 * 3600))
    await post_steps(daemon, moved("missed_incoming.json", suffix="-s1", ago_s=2 * 3600, number="79855550101"))
    await post_steps(daemon, moved("missed_incoming.json", suffix="-a1", ago_s=600, number="79161234567"))
    page = await _signed_in(daemon, browser, "105")
    await page.click(".tab[data-view=missed]")
    await page.wait_for_selector("#missed-table tbody tr")
    rows = await page.locator("#missed-table tbody tr td.caller").all_inner_texts()
    assert [row.splitlines()[0] for row in rows] == ["Кузнецова Анна Сергеевна", "Орлов Дмитрий", "Новый абонент"]
    assert await page.locator("#missed-table tbody tr.mine").count() == 1
    assert "ждёт 10 мин" in await page.locator("#missed-table tbody tr").first.inner_text()

    page = await _signed_in(daemon, browser, "106")  # Орлов is 106's: first for him
    await page.click(".tab[data-view=missed]")
    await page.wait_for_selector("#missed-table tbody tr")
    rows = await page.locator("#missed-table tbody tr td.caller").all_inner_texts()
    assert [row.splitlines()[0] for row in rows] == ["Орлов Дмитрий", "Новый абонент", "Кузнецова Анна Сергеевна"]
