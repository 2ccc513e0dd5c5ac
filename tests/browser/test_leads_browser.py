"""The lead pieces of the manager's screen in a real browser: «Закрыть лид» on the card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from daemon.runtime.keys import REPOSITORY
from daemon.store.repository import Repository
from tests.browserkit import replay_over_http, screenshot_paths, signed_in
from tests.conftest import auth
from tests.integration.test_leads_analytics import close_week_leads
from tests.leadkit import post_week
from tests.screenkit import moved


@pytest.mark.timeout(60)
async def test_manager_closes_the_callers_lead_as_lost_with_a_reason(
        daemon: TestClient, browser: Any) -> None:
    errors: list[str] = []
    page = await signed_in(browser, daemon, errors=errors)
    call = moved("answered_incoming.json", suffix="-lc", ago_s=95)
    await replay_over_http(daemon, call[:4])
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


@pytest.mark.timeout(90)
async def test_analytics_tab_shows_the_table_and_both_charts(
        daemon: TestClient, browser: Any, tmp_path: Path) -> None:
    entries = await post_week(daemon)
    await close_week_leads(daemon, Repository(daemon.app[REPOSITORY].pool), entries)
    errors: list[str] = []
    page = await signed_in(browser, daemon, viewport={"width": 1600, "height": 720}, errors=errors)
    await page.click(".tab[data-view=analytics]")
    await page.wait_for_selector("#analytics-status:has-text('Обращений: 0')")  # the last 30 days: quiet
    assert await page.input_value("#analytics-until") != ""
    await page.fill("#analytics-since", "2025-03-03")
    await page.fill("#analytics-until", "2025-03-07")
    await page.click("#analytics-form button[type=submit]")
    await page.wait_for_selector("#analytics-status:has-text('Обращений: 8')")
    rows = page.locator("table.analytics tbody tr")
    assert await rows.count() == 4  # Яндекс.Директ, Avito, без рекламы, Итого
    assert (await rows.nth(0).locator("th").inner_text()) == "Яндекс.Директ"
    assert (await rows.nth(3).locator("td").nth(0).inner_text()) == "8"
    assert await page.locator("#analytics-charts svg").count() == 3  # leads → sales → revenue, inquiries, days
    assert await page.locator("#analytics-charts g.source").count() == 3
    assert "230 000,50 ₽" in await page.inner_text("table.analytics tr.total")
    assert await page.locator("#analytics-charts g.bar").count() == 3
    assert await page.locator("#analytics-charts rect.day").count() == 5
    assert await page.locator("#analytics-charts polyline.missed-share").count() == 1
    assert await page.is_hidden("#view-call") and await page.is_hidden("#view-missed")
    shot = await page.screenshot(full_page=True, animations="disabled")
    for path in screenshot_paths(tmp_path, "analytics.png"):
        path.write_bytes(shot)
    await page.select_option("#analytics-by", "day")
    await page.click("#analytics-form button[type=submit]")
    await page.wait_for_selector("table.analytics tbody th:has-text('ср 05.03')")
    assert errors == []
