"""The «База» tab in a real browser (Debian's Chromium via Playwright): duplicate candidates
side by side with phones as on the card, filters, "not a duplicate", a merge previewed then
confirmed, and one-click undo from the journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from daemon.store.repository import Repository
from tests.browserkit import open_page, shoot, sign_in
from tests.contactkit import contact_of, load_dupes


@pytest.mark.timeout(60)
async def test_base_tab_merges_undoes_and_dismisses_candidates(
        daemon: TestClient, browser: Any, repo: Repository, tmp_path: Path) -> None:
    await load_dupes(repo)
    anna = await contact_of(repo, "phone", "+79161234567")
    work = await contact_of(repo, "phone", "+79165550011")
    old = await contact_of(repo, "phone", "+79165550022")
    await repo.pool.execute("INSERT INTO contact_duplicate_hints (contact_low, contact_high, evidence)"
                            " VALUES ($1, $2, '{}')", min(anna, work), max(anna, work))
    errors: list[str] = []
    page = await open_page(browser, daemon, errors=errors)
    await sign_in(page)
    await page.click('.tab[data-view="base"]')
    await page.wait_for_selector("#view-base:not([hidden]) .candidate")
    assert await page.is_hidden("#view-call")
    pairs = page.locator(".candidate")
    assert await pairs.count() == 2
    assert await page.inner_text("#dup-total") == "Кандидатов: 2"   # the page's {total, items}
    assert await page.is_hidden("#dup-more")                         # nothing beyond this page
    first = pairs.nth(0)
    assert await first.get_attribute("data-pair") == f"{min(anna, work)}-{max(anna, work)}"
    assert "один человек" in await first.locator(".reason").inner_text()
    names = await first.locator(".base-name").all_inner_texts()
    assert sorted(names) == ["Анна Кузнецова", "Кузнецова Анна Сергеевна"]
    assert "+7 916 123-45-67" in await first.inner_text()  # as on the card, not +79161234567
    await shoot(page, tmp_path, "screen-base.png")

    # «мои» for 105: only the pair with Anna, 105's; then every pair again.
    await page.check("#dup-mine")
    await page.wait_for_function("document.querySelectorAll('.candidate').length === 1")
    assert await page.inner_text("#dup-total") == "Кандидатов: 1"
    await page.uncheck("#dup-mine")
    await page.wait_for_function("document.querySelectorAll('.candidate').length === 2")

    await page.click(f'.candidate[data-pair="{work}-{old}"] .not-dup')
    await page.wait_for_selector(f'.candidate[data-pair="{work}-{old}"]', state="detached")
    assert await repo.pool.fetchval("SELECT count(*) FROM contact_not_duplicates"
                                    " WHERE contact_low = $1 AND contact_high = $2", work, old) == 1

    await page.check(f'input[name="survivor-{min(anna, work)}-{max(anna, work)}"][value="{anna}"]')
    await page.click(".candidate .merge")
    await page.wait_for_selector(".merge-preview")  # what will move, before anything is written
    assert "обращений" in await page.inner_text(".merge-preview") or "телефонов" in await page.inner_text(
        ".merge-preview")
    assert await repo.pool.fetchval("SELECT merged_into FROM contacts WHERE id = $1", work) is None
    await page.click(".merge-confirm")
    await page.wait_for_selector(".merge-row .undo")
    assert "Объединено" in await page.inner_text("#base-status")
    assert await repo.pool.fetchval("SELECT merged_into FROM contacts WHERE id = $1", work) == anna
    assert await page.locator(".candidate").count() == 0

    await page.click(".merge-row .undo")
    await page.wait_for_selector(".merge-row :text('отменено')")
    assert await repo.pool.fetchval("SELECT merged_into FROM contacts WHERE id = $1", work) is None
    await page.click('.tab[data-view="call"]')
    assert await page.is_hidden("#view-base")
    assert errors == []
