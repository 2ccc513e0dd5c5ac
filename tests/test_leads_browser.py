"""The lead pieces of the manager's screen in a real browser: «Закрыть лид» on the card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import API_TOKEN, auth
from tests.screenkit import moved
from tests.test_ui_browser import LAPTOP, WAIT_MS, _replay, browser, daemon, fake_pbx  # noqa: F401

pytestmark = pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no /usr/bin/chromium")


async def _signed_in(daemon: TestClient, browser: Any, extension: str = "105") -> Any:  # noqa: F811
    page = await browser.new_page(viewport=LAPTOP, locale="ru-RU")
    page.set_default_timeout(WAIT_MS)
    await page.goto(str(daemon.make_url("/ui/")))
    await page.fill("#token", API_TOKEN)
    await page.fill("#extension", extension)
    await page.click("#sign-in-form button[type=submit]")
    await page.wait_for_selector("#conn.up")
    return page


@pytest.mark.timeout(60)
async def test_manager_closes_the_callers_lead_as_lost_with_a_reason(
        daemon: TestClient, browser: Any) -> None:  # noqa: F811
    page = await _signed_in(daemon, browser)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    call = moved("answered_incoming.json", suffix="-lc", ago_s=95)
    await _replay(daemon, call[:4])
    await page.wait_for_selector("#phase.answered")
    await page.wait_for_selector("#lead-close-form:not([hidden])")
    await page.wait_for_selector("#lead-reason option[value='Переезд']", state="attached")
    await page.click("#lead-lost")  # no reason chosen yet
    assert "Выберите причину" in await page.inner_text("#lead-close-status")
    await page.select_option("#lead-reason", "Переезд")
    await page.click("#lead-lost")
    await page.wait_for_selector("#lead-close-status.ok")
    contact = await (await daemon.get("/api/contacts/lookup", params={"phone": "+79161234567"},
                                      headers=auth())).json()
    leads = await (await daemon.get("/api/leads", params={"contact_id": contact["id"]}, headers=auth())).json()
    assert [(lead["status"], lead["reason"]) for lead in leads] == [("lost", "Переезд")]
    assert errors == []
