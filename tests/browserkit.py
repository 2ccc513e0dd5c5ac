"""Helpers of the browser tests (tests/browser/): Chromium's settings, signing in, screenshots, replay.

The fixtures themselves (one Chromium per run, a fresh context per page, the daemon,
the PBX's API) are in tests/browser/conftest.py.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from adapters.mango.client import compact_json
from adapters.mango.replay import replay
from daemon.runtime.keys import SETTINGS
from tests.conftest import API_KEY, API_SALT, API_TOKEN, auth
from tests.screenkit import Step, moved, post_steps
from tests.support.paths import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS = REPO / "docs"
LAPTOP = {"width": 1280, "height": 800}
WAIT_MS = 10_000


async def open_page(browser: Any, daemon: TestClient, *, viewport: dict[str, int] = LAPTOP,
                    errors: list[str] | None = None) -> Any:
    """The screen's page (not signed in yet) in a context of its own; its script errors go to ``errors``."""
    page = await browser.new_page(viewport=viewport, locale="ru-RU")
    page.set_default_timeout(WAIT_MS)
    if errors is not None:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(daemon.make_url("/ui/")))
    return page


async def sign_in(page: Any, *, token: str = API_TOKEN, extension: str = "105") -> None:
    """Fill in the sign-in form and send it (the caller waits for what it expects next)."""
    await page.fill("#token", token)
    await page.fill("#extension", extension)
    await page.click("#sign-in-form button[type=submit]")


async def signed_in(browser: Any, daemon: TestClient, *, extension: str = "105",
                    viewport: dict[str, int] = LAPTOP, errors: list[str] | None = None) -> Any:
    """A page signed in as ``extension``, its screen connected (``#conn.up``)."""
    page = await open_page(browser, daemon, viewport=viewport, errors=errors)
    await sign_in(page, extension=extension)
    await page.wait_for_selector("#conn.up")
    return page


def screenshot_paths(tmp_path: Path, name: str) -> list[Path]:
    """The test's own copy; with UPDATE_SCREENSHOTS=1 also docs/<name>."""
    paths = [tmp_path / name]
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        paths.append(DOCS / name)
    return paths


async def shoot(page: Any, tmp_path: Path, name: str) -> None:
    shot = await page.screenshot(full_page=True, animations="disabled")
    for path in screenshot_paths(tmp_path, name):
        path.write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"


async def replay_over_http(client: TestClient, some_steps: list[Step]) -> None:
    """Signed, over HTTP, as `callbridge replay` sends them."""
    failures = await replay(str(client.make_url("/mango")),
                            [(path, compact_json(payload)) for path, payload in some_steps],
                            api_key=API_KEY, api_salt=API_SALT, echo=lambda line: None)
    assert failures == 0


async def earlier_calls(client: TestClient) -> None:
    """Anna's history: a missed call three weeks ago, a talk with a note twelve days ago."""
    day = 86400
    await post_steps(client, moved("missed_incoming.json", suffix="-b1", ago_s=21 * day, number="79161234567"))
    await post_steps(client, moved("transfer_blind.json", suffix="-b2", ago_s=12 * day))
    rows = await (await client.get("/api/communications", params={"phone": "+79161234567"}, headers=auth())).json()
    resp = await client.put(f"/api/communications/{rows[0]['id']}/note", headers=auth(),
                            json={"note": "Спрашивала про визу в Турцию; предложить Анталью на май, 2 взрослых."})
    assert resp.status == 200


async def todays_missed_calls(client: TestClient) -> None:
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
