"""Every tab of the screen on a phone (390×844) and on a laptop (1366×768), with real data in it.

On each: the page never scrolls sideways (``scrollWidth ≤ innerWidth``), every visible control is
at least 40 px high (a radio or a checkbox by its label) and lies within the page or inside a
panel that scrolls, and no visible text is under 12 px, the charts' SVG text included (its
size times the drawing's scale on the screen). With UPDATE_SCREENSHOTS=1 the phone's views
replace docs/screen-phone-*.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from daemon.runtime.keys import REPOSITORY
from daemon.store.repository import Repository
from tests.browserkit import earlier_calls, open_page, replay_over_http, shoot, sign_in, todays_missed_calls
from tests.contactkit import contact_of, load_dupes
from tests.integration.test_leads_analytics import close_week_leads
from tests.leadkit import post_week
from tests.screenkit import moved

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
MIN_CONTROL_PX = 40
MIN_TEXT_PX = 12

# What breaks a finger's or an eye's use of the page, as a list of sentences (empty: none).
LAYOUT_PROBLEMS = """({minControl, minText}) => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) {
    problems.push(`the page scrolls sideways: ${root.scrollWidth} > ${window.innerWidth}`);
  }
  const visible = (e) => {
    const r = e.getBoundingClientRect(), s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
  };
  const name = (e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className && typeof e.className === "string"
    ? "." + e.className.trim().split(/\\s+/).join(".") : ""} «${(e.textContent || e.value || "").trim().slice(0, 24)}»`;
  const inScroller = (e) => {
    for (let p = e.parentElement; p; p = p.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(p).overflowX)) return true;
    }
    return false;
  };
  for (const e of document.querySelectorAll("button, select, input, textarea, a[href]")) {
    const target = ["radio", "checkbox"].includes(e.type) ? (e.closest("label") || e) : e;
    if (!visible(target)) continue;
    const r = target.getBoundingClientRect();
    if (r.height < minControl) problems.push(`${name(e)} is ${r.height.toFixed(0)} px high`);
    if ((r.right > root.clientWidth + 1 || r.left < -1) && !inScroller(e)) {
      problems.push(`${name(e)} lies outside the page (${r.left.toFixed(0)}..${r.right.toFixed(0)})`);
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode, e = text.parentElement;
    if (!text.textContent.trim() || !e || !visible(e)) continue;
    let size = parseFloat(getComputedStyle(e).fontSize);
    if (e instanceof SVGElement) {
      const ctm = e.getScreenCTM();
      size *= ctm ? ctm.a : 1;
    }
    if (size < minText) problems.push(`«${text.textContent.trim().slice(0, 30)}» is ${size.toFixed(1)} px`);
  }
  return problems;
}"""


async def _problems(page: Any) -> list[str]:
    return await page.evaluate(LAYOUT_PROBLEMS, {"minControl": MIN_CONTROL_PX, "minText": MIN_TEXT_PX})


async def _office_with_everything(daemon: TestClient) -> None:
    """A card with history and trips, missed callers, duplicate candidates, a week of analytics."""
    repo = Repository(daemon.app[REPOSITORY].pool)
    await earlier_calls(daemon)
    await todays_missed_calls(daemon)
    await load_dupes(repo)
    anna, work = await contact_of(repo, "phone", "+79161234567"), await contact_of(repo, "phone", "+79165550011")
    await repo.pool.execute("INSERT INTO contact_duplicate_hints (contact_low, contact_high, evidence)"
                            " VALUES ($1, $2, '{}')", min(anna, work), max(anna, work))
    await repo.pool.execute("INSERT INTO trips (order_number, contact_id, status, amount, starts_on, ends_on, booked_at)"
                            " VALUES ('L-1', $1, 'paid', 1234567.5, '2026-05-10', '2026-05-20', now())", anna)
    entries = await post_week(daemon)
    await close_week_leads(daemon, repo, entries)


@pytest.mark.timeout(240)
async def test_every_tab_fits_a_phone_and_a_laptop(daemon: TestClient, browser: Any, tmp_path: Path) -> None:
    await _office_with_everything(daemon)
    for size, viewport in (("phone", PHONE), ("laptop", LAPTOP)):
        errors: list[str] = []
        page = await open_page(browser, daemon, viewport=viewport, errors=errors)
        assert await _problems(page) == [], (size, "sign-in")
        await sign_in(page)
        await page.wait_for_selector("#conn.up")

        await replay_over_http(daemon, moved("answered_incoming.json", suffix=f"-{size}", ago_s=95)[:4])
        await page.wait_for_selector("#phase.answered")
        await page.wait_for_selector("#trips:not([hidden])")
        assert "1 234 567,50 ₽" in await page.inner_text("#trips")
        assert await page.is_visible("#call-contact")
        assert await _problems(page) == [], (size, "call")
        if size == "phone":
            await shoot(page, tmp_path, "screen-phone-card.png")

        await page.click(".tab[data-view=missed]")
        await page.wait_for_selector("#missed-table tbody tr")
        assert await _problems(page) == [], (size, "missed")
        if size == "phone":
            await shoot(page, tmp_path, "screen-phone-missed.png")

        await page.click(".tab[data-view=base]")
        await page.wait_for_selector("#view-base:not([hidden]) .candidate")
        assert await _problems(page) == [], (size, "base")
        if size == "phone":
            await shoot(page, tmp_path, "screen-phone-base.png")

        await page.click(".tab[data-view=analytics]")
        await page.wait_for_selector("#analytics-status:has-text('Обращений')")
        await page.fill("#analytics-since", "2025-03-03")
        await page.fill("#analytics-until", "2025-03-07")
        await page.click("#analytics-form button[type=submit]")
        await page.wait_for_selector("#analytics-status:has-text('Обращений: 8')")
        assert await _problems(page) == [], (size, "analytics")
        if size == "laptop":  # at 1366 px the whole table fits its panel, no scrolling needed
            widths = await page.evaluate("() => [document.querySelector('#analytics-table').scrollWidth,"
                                         " document.querySelector('#analytics-table').clientWidth]")
            assert widths[0] <= widths[1], widths
            await shoot(page, tmp_path, "screen-laptop-analytics.png")
        if size == "phone":
            await shoot(page, tmp_path, "screen-phone-analytics.png")
        assert errors == [], size
        await page.close()
