"""Fixtures of the browser tests: one Chromium for the whole run, a fresh context for every page.

Starting Chromium cost each test a second or two; a context (cookies, storage, cache of its
own) costs milliseconds and isolates as well, so each test's pages are as new as before.
Skipped only on a machine without /usr/bin/chromium when CI is not set (CI installs it: .ci/run).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from config.settings import load_settings
from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.browserkit import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import API_KEY, API_SALT, API_TOKEN, load_office

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists() or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="no /usr/bin/chromium (apt-get install chromium); CI installs it")
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    """Chromium, launched on first use and closed at the end of the run."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


class Pages:
    """A test's way to the shared Chromium: each page in a new context, all closed when the test ends."""

    def __init__(self, chromium: Any) -> None:
        self._chromium = chromium
        self._contexts: list[Any] = []

    async def new_page(self, **options: Any) -> Any:
        context = await self._chromium.new_context(**options)
        self._contexts.append(context)
        return await context.new_page()

    async def close(self) -> None:
        for context in self._contexts:
            await context.close()


@pytest.fixture
async def browser(chromium: Any) -> AsyncIterator[Pages]:
    if not chromium.is_connected():
        pytest.fail("Chromium went away during an earlier test")
    pages = Pages(chromium)
    try:
        yield pages
    finally:
        await pages.close()


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
    """The daemon with the example agency loaded, serving on 127.0.0.1, its PBX API the fake one."""
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
