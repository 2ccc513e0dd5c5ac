"""The manager's screen in a real browser: Debian's Chromium, driven by Playwright.

The daemon runs as a real HTTP server on 127.0.0.1; the PBX's part is played
by signed webhooks (adapters.mango.replay) and, for click-to-call, by a small
real aiohttp server standing in for the PBX's API. Skipped only on a machine
without /usr/bin/chromium when CI is not set (CI installs it: .ci/run).

With UPDATE_SCREENSHOTS=1 the screenshots also replace docs/screen-card.png
and docs/screen-missed.png (otherwise they go to the test's tmp_path only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.browserkit import (
    earlier_calls,
    open_page,
    replay_over_http,
    shoot,
    sign_in,
    signed_in,
    todays_missed_calls,
)
from tests.conftest import auth
from tests.screenkit import moved


@pytest.mark.timeout(60)
async def test_manager_signs_in_sees_the_card_saves_a_note_and_calls_back(
        daemon: TestClient, browser: Any, fake_pbx: tuple[str, list], tmp_path: Path) -> None:
    await earlier_calls(daemon)
    errors: list[str] = []
    page = await signed_in(browser, daemon, errors=errors)
    assert await page.inner_text("#me") == "Иванова Мария, доб. 105"

    call = moved("answered_incoming.json", suffix="-ui", ago_s=95)
    await replay_over_http(daemon, call[:4])  # rings at 105, 105 answers
    await page.wait_for_selector("#phase.answered")
    assert await page.inner_text("#caller-name") == "Кузнецова Анна Сергеевна"
    assert await page.inner_text("#caller-phone") == "+7 916 123-45-67"
    assert await page.inner_text("#responsible") == "Иванова Мария (доб. 105)"
    assert "Яндекс.Директ" in await page.inner_text("#source")
    assert await page.locator("#history li").count() == 2
    assert "визу в Турцию" in await page.inner_text("#history")
    assert await page.is_hidden("#name-form")

    note = "Хочет Анталью с 10 по 20 мая, 2 взрослых, бюджет до 200 тыс."
    await page.fill("#note-input", note)
    await shoot(page, tmp_path, "screen-card.png")
    await page.click("#note-form button[type=submit]")
    await page.wait_for_selector("#note-status.ok")
    await replay_over_http(daemon, call[4:])  # the call ends; the note stays in its box
    await page.wait_for_selector("#phase.ended")
    assert await page.input_value("#note-input") == note

    rows = await (await daemon.get("/api/communications", params={"phone": "+79161234567"},
                                   headers=auth())).json()
    assert (rows[0]["entry_id"], rows[0]["note"]) == (call[0][1]["entry_id"], note)

    await todays_missed_calls(daemon)
    await page.click(".tab[data-view=missed]")
    await page.wait_for_selector("#missed-table tbody tr")
    table = page.locator("#missed-table tbody tr")
    assert await table.count() == 4
    assert await page.locator("button.call-back").count() == 2
    assert "Перезвонили" in await page.inner_text("#missed-table")
    older = table.filter(has_text="+7 903 555-02-05")
    assert "ждёт 2 д 3 ч" in await older.inner_text()
    hidden_row = table.filter(has_text="Номер скрыт")
    assert await hidden_row.locator("button").count() == 0

    async with page.expect_response("**/api/calls") as answer:
        await page.click("button.call-back[data-phone='+79855554433']")
    response = await answer.value
    assert response.status == 202
    assert json.loads(response.request.post_data) == {"extension": "105", "phone": "+79855554433"}
    await page.wait_for_selector("#missed-status.ok")
    assert [(c["path"], c["json"]["from"], c["json"]["to_number"]) for c in fake_pbx[1]] == [
        ("commands/callback", {"extension": "105"}, "79855554433")]
    await shoot(page, tmp_path, "screen-missed.png")
    assert errors == []


@pytest.mark.timeout(60)
async def test_wrong_token_then_a_new_caller_is_named_from_the_card(
        daemon: TestClient, browser: Any, tmp_path: Path) -> None:
    errors: list[str] = []
    page = await open_page(browser, daemon, errors=errors)
    await sign_in(page, token="not-the-token", extension="101")
    await page.wait_for_selector("#sign-in-error:not([hidden])")
    assert "Токен не подходит" in await page.inner_text("#sign-in-error")
    await page.screenshot(path=str(tmp_path / "sign-in.png"))

    await sign_in(page, extension="101")
    await page.wait_for_selector("#conn.up")
    first_call = moved("unknown_caller.json", suffix="-new", ago_s=70)
    await replay_over_http(daemon, first_call[:4])
    await page.wait_for_selector("#phase.answered")
    assert await page.inner_text("#caller-name") == "Новый абонент"
    assert "Avito" in await page.inner_text("#source")
    await page.fill("#name-input", "Сидоров Пётр")
    await page.screenshot(path=str(tmp_path / "new-caller.png"), animations="disabled")
    await page.click("#name-form button[type=submit]")
    await page.wait_for_selector("#name-form", state="hidden")
    assert await page.inner_text("#caller-name") == "Сидоров Пётр"
    lookup = await daemon.get("/api/contacts/lookup", params={"phone": "+79261234500"}, headers=auth())
    assert (await lookup.json())["name"] == "Сидоров Пётр"

    # The call ends; a note typed but not saved when the next call rings is saved, not lost.
    await replay_over_http(daemon, first_call[4:])
    await page.wait_for_selector("#phase.ended")
    await page.fill("#note-input", "Перезвонить завтра утром")
    async with page.expect_response("**/note") as saved:
        await replay_over_http(daemon, moved("unknown_caller.json", suffix="-next", ago_s=5, number="79261234511")[:3])
    assert (await saved.value).status == 200
    await page.wait_for_selector("#caller-phone:has-text('+7 926 123-45-11')")
    assert await page.input_value("#note-input") == ""
    rows = await (await daemon.get("/api/communications", params={"phone": "+79261234500"},
                                   headers=auth())).json()
    assert rows[0]["note"] == "Перезвонить завтра утром"
    assert errors == []
