"""The card for a person, not a call: an inquiry card says «обращение» and can be called back
with «Позвонить»; the missed list shows the signed-in manager's callers first, then the
longest-waiting."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.browserkit import signed_in
from tests.conftest import auth
from tests.screenkit import moved, post_steps


@pytest.mark.timeout(90)
async def test_an_inquiry_card_is_an_obrashchenie_and_can_be_called(
        daemon: TestClient, browser: Any, fake_pbx: tuple[str, list]) -> None:
    errors: list[str] = []
    page = await signed_in(browser, daemon, extension="105", errors=errors)
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
    page = await signed_in(browser, daemon, extension="105")
    await page.click(".tab[data-view=missed]")
    await page.wait_for_selector("#missed-table tbody tr")
    rows = await page.locator("#missed-table tbody tr td.caller").all_inner_texts()
    assert [row.splitlines()[0] for row in rows] == ["Кузнецова Анна Сергеевна", "Орлов Дмитрий", "Новый абонент"]
    assert await page.locator("#missed-table tbody tr.mine").count() == 1
    assert "ждёт 10 мин" in await page.locator("#missed-table tbody tr").first.inner_text()

    page = await signed_in(browser, daemon, extension="106")  # Орлов is 106's: first for him
    await page.click(".tab[data-view=missed]")
    await page.wait_for_selector("#missed-table tbody tr")
    rows = await page.locator("#missed-table tbody tr td.caller").all_inner_texts()
    assert [row.splitlines()[0] for row in rows] == ["Орлов Дмитрий", "Новый абонент", "Кузнецова Анна Сергеевна"]
