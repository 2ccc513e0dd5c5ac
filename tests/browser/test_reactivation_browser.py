"""«Реактивация», the funnel's stage on the card and the funnel on «Аналитика», in a real browser."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.settings import load_settings
from daemon.contacts.score import refresh_all
from daemon.runtime.keys import REPOSITORY
from tests.browserkit import replay_over_http, screenshot_paths, signed_in
from tests.conftest import auth
from tests.funnelkit import contact, trip
from tests.screenkit import moved


@pytest.mark.timeout(90)
async def test_a_manager_calls_the_next_contact_and_records_the_outcome(
        daemon: TestClient, browser: Any, fake_pbx: tuple[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    pool = daemon.app[REPOSITORY].pool
    best = await contact(pool, "Лучший Клиент", phone="+79260008001")
    await trip(pool, "R-1", best, date(2024, 5, 1), amount=400000)
    other = await contact(pool, "Второй Клиент", phone="+79260008002")
    await trip(pool, "R-2", other, date(2024, 5, 1), amount=100000)
    await refresh_all(pool, load_settings({}))
    created = await (await daemon.post("/api/campaigns", headers=auth(), json={
        "name": "Зима", "segment": {"kind": "lost_clients"}, "extensions": ["105"]})).json()
    assert created["contacts"] == 2

    errors: list[str] = []
    page = await signed_in(browser, daemon, viewport={"width": 1280, "height": 900}, errors=errors)
    await page.click(".tab[data-view=reactivation]")
    await page.wait_for_selector("#reactivation-campaign option:has-text('Зима')", state="attached")
    await page.wait_for_selector("#reactivation-progress:has-text('Обзвонено 0 из 2')")
    await page.click("#reactivation-next")
    await page.wait_for_selector("#reactivation-name:has-text('Лучший Клиент')")
    assert "R-1" in await page.inner_text("#reactivation-contact")
    await page.click("#reactivation-contact button:has-text('Позвонить')")
    await page.wait_for_selector("#reactivation-status.ok")
    assert fake_pbx[1] and fake_pbx[1][-1]["json"]["to_number"].endswith("79260008001")
    shot = await page.screenshot(full_page=True, animations="disabled")
    for path in screenshot_paths(tmp_path, "reactivation.png"):
        path.write_bytes(shot)

    await page.select_option("#reactivation-outcome", "refused")
    await page.select_option("#reactivation-reason", "Переезд")
    await page.click("#reactivation-outcome-form button[type=submit]")
    await page.wait_for_selector("#reactivation-progress:has-text('отказ 1')")
    assert await page.is_hidden("#reactivation-contact")

    await page.click("#reactivation-next")
    await page.wait_for_selector("#reactivation-name:has-text('Второй Клиент')")
    await page.select_option("#reactivation-outcome", "interested")
    await page.click("#reactivation-outcome-form button[type=submit]")
    await page.wait_for_selector("#reactivation-status:has-text('открыт лид')")
    await page.click("#reactivation-next")
    await page.wait_for_selector("#reactivation-status:has-text('больше некому')")

    figures = await (await daemon.get(f"/api/campaigns/{created['id']}", headers=auth())).json()
    assert (figures["claimed"], figures["refused"], figures["interested"], figures["leads_opened"]) == (
        2, {"Переезд": 1}, 1, 1)
    assert errors == []


@pytest.mark.timeout(60)
async def test_the_card_shows_the_leads_stage_and_moves_it(daemon: TestClient, browser: Any) -> None:
    errors: list[str] = []
    page = await signed_in(browser, daemon, errors=errors)
    await replay_over_http(daemon, moved("answered_incoming.json", suffix="-st", ago_s=95)[:4])
    await page.wait_for_selector("#phase.answered")
    await page.wait_for_selector("#lead-stage-form:not([hidden])")
    await page.wait_for_selector("#lead-stage option[value='Согласование']", state="attached")
    assert await page.input_value("#lead-stage") == "Новое обращение"
    await page.select_option("#lead-stage", "Согласование")
    await page.click("#lead-stage-form button[type=submit]")
    await page.wait_for_selector("#lead-stage-status.ok")
    found = await (await daemon.get("/api/contacts/lookup", params={"phone": "+79161234567"}, headers=auth())).json()
    lead = await (await daemon.get(f"/api/leads/{found['open_lead_id']}", headers=auth())).json()
    assert lead["stage"] == "Согласование" and lead["stages"][-1]["extension"] == "105"

    # «Аналитика» draws the funnel of the window's leads: this one reached «Согласование».
    await page.click(".tab[data-view=analytics]")
    await page.wait_for_selector("#analytics-funnel h2:has-text('Воронка продаж')")
    totals = page.locator("#analytics-funnel table.funnel").first
    row = totals.locator("tbody tr", has=page.locator("th", has_text="Согласование"))
    assert (await row.locator("td").first.inner_text()) == "1"
    after = totals.locator("tbody tr", has=page.locator("th", has_text="Счёт выставлен"))
    assert (await after.locator("td").first.inner_text()) == "0"
    assert errors == []
