"""«Хотят» on the caller card in a real browser: a call note fills the wish, the manager corrects it."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.browserkit import WAIT_MS, replay_over_http, signed_in
from tests.conftest import auth
from tests.screenkit import moved


@pytest.mark.timeout(60)
async def test_a_note_fills_the_wish_and_the_manager_corrects_it(daemon: TestClient, browser: Any) -> None:
    errors: list[str] = []
    page = await signed_in(browser, daemon, errors=errors)
    await replay_over_http(daemon, moved("answered_incoming.json", suffix="-wish", ago_s=95)[:4])
    await page.wait_for_selector("#phase.answered")
    await page.wait_for_selector("#wish:not([hidden])")
    # The line says «загружается…» until the wish's request answers, then what is known.
    await page.wait_for_function("document.querySelector('#wish').textContent.includes('неизвестно')",
                                 timeout=WAIT_MS)
    await page.fill("#note-input", "Хотят в Турцию в июле, 2 взрослых, бюджет до 200 тыс")
    await page.click("#note-form button[type=submit]")
    await page.wait_for_function("document.querySelector('#wish').textContent.includes('Турция')", timeout=WAIT_MS)
    line = await page.inner_text("#wish")
    assert "Турция" in line and "июля" in line and "2 взр." in line and "до 200" in line
    await page.click("#wish button")
    await page.fill("#wish-resort", "Кемер")
    await page.fill("#wish-adults", "3")
    await page.click("#wish-form button[type=submit]")
    await page.wait_for_function("document.querySelector('#wish').textContent.includes('Кемер')", timeout=WAIT_MS)
    assert await page.is_hidden("#wish-form")
    contact = await (await daemon.get("/api/contacts/lookup", params={"phone": "+79161234567"},
                                      headers=auth())).json()
    wish = contact["open_lead_wish"]
    assert wish["destination"] == {"country": "Турция", "resort": "Кемер"} and wish["adults"] == 3
    assert wish["sources"]["destination"]["by"] == "screen:105"
    assert wish["budget"]["amount_to"] == 200000  # the fields not touched stay the note's
    assert errors == []
