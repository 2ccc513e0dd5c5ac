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
import os
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.mango.client import compact_json
from adapters.mango.replay import replay
from config.settings import load_settings
from daemon.runtime.app import build_app
from daemon.runtime.keys import SETTINGS
from daemon.store.repository import Repository
from tests.conftest import API_KEY, API_SALT, API_TOKEN, auth, load_office
from tests.screenkit import Step, moved, post_steps
from tests.support.paths import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS = REPO / "docs"
LAPTOP = {"width": 1280, "height": 800}
WAIT_MS = 10_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                                reason="no /usr/bin/chromium (apt-get install chromium); CI installs it")


@pytest.fixture
async def fake_pbx() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """The PBX's API: accepts every command (result 1000) and keeps what it was sent."""
    commands: list[dict[str, Any]] = []

    async def command(request: web.Request) -> web.Response:
        form = await request.post()
        commands.append({"path": request.match_info["path"], "json": json.loads(str(form["json"]))})
        return web.json_response({"result": 1000})

    app = web.Application()
    app.router.add_post("/vpbx/{path:.*}", command)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("/vpbx/")), commands


@pytest.fixture
async def daemon(db_url: str, tmp_path: Path, fake_pbx: tuple[str, list], repo: Repository) -> AsyncIterator[TestClient]:
    settings = load_settings({
        "CALLBRIDGE_DATABASE_URL": db_url,
        "CALLBRIDGE_MANGO_API_KEY": API_KEY,
        "CALLBRIDGE_MANGO_API_SALT": API_SALT,
        "CALLBRIDGE_API_TOKEN": API_TOKEN,
        "CALLBRIDGE_STATE_DIR": str(tmp_path / "state"),
        "CALLBRIDGE_MANGO_API_URL": fake_pbx[0],
    })
    await load_office(repo)
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


def _screenshot_paths(tmp_path: Path, name: str) -> list[Path]:
    paths = [tmp_path / name]
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        paths.append(DOCS / name)
    return paths


async def _shoot(page: Any, tmp_path: Path, name: str) -> None:
    shot = await page.screenshot(full_page=True, animations="disabled")
    for path in _screenshot_paths(tmp_path, name):
        path.write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"


async def _replay(client: TestClient, some_steps: list[Step]) -> None:
    """Signed, over HTTP, as `callbridge replay` sends them."""
    failures = await replay(str(client.make_url("/mango")),
                            [(path, compact_json(payload)) for path, payload in some_steps],
                            api_key=API_KEY, api_salt=API_SALT, echo=lambda line: None)
    assert failures == 0


async def _earlier_calls(client: TestClient) -> None:
    """Anna's history: a missed call three weeks ago, a talk with a note twelve days ago."""
    day = 86400
    await post_steps(client, moved("missed_incoming.json", suffix="-b1", ago_s=21 * day, number="79161234567"))
    await post_steps(client, moved("transfer_blind.json", suffix="-b2", ago_s=12 * day))
    rows = await (await client.get("/api/communications", params={"phone": "+79161234567"}, headers=auth())).json()
    resp = await client.put(f"/api/communications/{rows[0]['id']}/note", headers=auth(),
                            json={"note": "Спрашивала про визу в Турцию; предложить Анталью на май, 2 взрослых."})
    assert resp.status == 200


async def _todays_missed_calls(client: TestClient) -> None:
    """Three callers today (office time): one to call back, one already called back, one hidden;
    and one missed two days ago whom nobody rang back."""
    now = int(time.time())
    office = client.app[SETTINGS].tz
    midnight = int(datetime.now(office).replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
    span = max(min(now - midnight - 5, 6 * 3600), 20)
    start = now - span
    await post_steps(client, moved("missed_incoming.json", suffix="-m1", at=start + span // 10,
                                   number="79855554433"))
    await post_steps(client, moved("hidden_number_after_hours.json", suffix="-m2", at=start + span // 5))
    await post_steps(client, moved("missed_incoming.json", suffix="-m3", at=start + 2 * span // 5))
    await post_steps(client, moved("outgoing_callback.json", suffix="-m4", at=start + 7 * span // 10))
    # Two days ago, and nobody rang back: still on the list (report_lookback_days), with its age.
    await post_steps(client, moved("missed_incoming.json", suffix="-m5", ago_s=2 * 86400 + 3 * 3600,
                                   number="79035550205"))


@pytest.mark.timeout(60)
async def test_manager_signs_in_sees_the_card_saves_a_note_and_calls_back(
        daemon: TestClient, browser: Any, fake_pbx: tuple[str, list], tmp_path: Path) -> None:
    await _earlier_calls(daemon)
    page = await browser.new_page(viewport=LAPTOP, locale="ru-RU")
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    await page.goto(str(daemon.make_url("/ui/")))
    await page.fill("#token", API_TOKEN)
    await page.fill("#extension", "105")
    await page.click("#sign-in-form button[type=submit]")
    await page.wait_for_selector("#conn.up")
    assert await page.inner_text("#me") == "Иванова Мария, доб. 105"

    call = moved("answered_incoming.json", suffix="-ui", ago_s=95)
    await _replay(daemon, call[:4])  # rings at 105, 105 answers
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
    await _shoot(page, tmp_path, "screen-card.png")
    await page.click("#note-form button[type=submit]")
    await page.wait_for_selector("#note-status.ok")
    await _replay(daemon, call[4:])  # the call ends; the note stays in its box
    await page.wait_for_selector("#phase.ended")
    assert await page.input_value("#note-input") == note

    rows = await (await daemon.get("/api/communications", params={"phone": "+79161234567"},
                                   headers=auth())).json()
    assert (rows[0]["entry_id"], rows[0]["note"]) == (call[0][1]["entry_id"], note)

    await _todays_missed_calls(daemon)
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
    await _shoot(page, tmp_path, "screen-missed.png")
    assert errors == []


@pytest.mark.timeout(60)
async def test_wrong_token_then_a_new_caller_is_named_from_the_card(
        daemon: TestClient, browser: Any, tmp_path: Path) -> None:
    page = await browser.new_page(viewport=LAPTOP, locale="ru-RU")
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(daemon.make_url("/ui/")))
    await page.fill("#token", "not-the-token")
    await page.fill("#extension", "101")
    await page.click("#sign-in-form button[type=submit]")
    await page.wait_for_selector("#sign-in-error:not([hidden])")
    assert "Токен не подходит" in await page.inner_text("#sign-in-error")
    await page.screenshot(path=str(tmp_path / "sign-in.png"))

    await page.fill("#token", API_TOKEN)
    await page.click("#sign-in-form button[type=submit]")
    await page.wait_for_selector("#conn.up")
    first_call = moved("unknown_caller.json", suffix="-new", ago_s=70)
    await _replay(daemon, first_call[:4])
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
    await _replay(daemon, first_call[4:])
    await page.wait_for_selector("#phase.ended")
    await page.fill("#note-input", "Перезвонить завтра утром")
    async with page.expect_response("**/note") as saved:
        await _replay(daemon, moved("unknown_caller.json", suffix="-next", ago_s=5, number="79261234511")[:3])
    assert (await saved.value).status == 200
    await page.wait_for_selector("#caller-phone:has-text('+7 926 123-45-11')")
    assert await page.input_value("#note-input") == ""
    rows = await (await daemon.get("/api/communications", params={"phone": "+79261234500"},
                                   headers=auth())).json()
    assert rows[0]["note"] == "Перезвонить завтра утром"
    assert errors == []
