"""One error boundary: every route's refusal is written by daemon/http/boundary.py, in its shape.

The routes are read from ``app.router`` (tests/fuzz/test_fuzz_routes.py's walk), so a
route added tomorrow is walked too. With PostgreSQL stopped (the proxy in front
of it closed) each gets bad ids, bad JSON and an unknown charset: the answer is
a 4xx or a 503 (a 502 only where the unreachable PBX is asked), never a 500,
and every refusal is ``{"error": "<reason>", ...}``; a 503 says when to retry.
The log lines of a request all carry its ``request_id`` and ``route``: the
request middleware binds them and no handler clears them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import structlog.testing
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.channels import SOURCES, channel_settings
from tests.conftest import auth
from tests.fuzz.test_fuzz_routes import PBX_ROUTES, Route, routes_of
from tests.pgproxy import PgProxy

BAD_IDS = ["9" * 30, "0", "\u0661\u0662", "%00"]
BAD_BODIES = [
    (b'{"outcome": "won", "tag": "x"', "application/json"),  # not JSON: cut short
    (b'{"outcome": "won", "tag": "x"}', "application/json; charset=klingon"),
    (b"\xff\xfe\x00", "application/json; charset=utf-8"),
    (b'"a string, not an object"', "application/json"),
]
FORM_URL = f"/inquiries/site-form?token={SOURCES['site-form']['secret']}"


@pytest.fixture
async def stopped(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[web.Application, TestClient]]:
    """The daemon started on a PostgreSQL that is then stopped (the proxy in front of it closed)."""
    proxy = PgProxy(db_url)
    await proxy.open()
    settings = channel_settings(proxy.url(), tmp_path / "state", CALLBRIDGE_DB_POOL_MIN="1")
    app = build_app(settings, database_url=proxy.url(), apply_migrations=False)
    try:
        async with TestClient(TestServer(app)) as client:
            await proxy.close()
            yield app, client
    finally:
        await proxy.close()


async def _refusal_in_shape(client: TestClient, route: Route, url: str, *, data: bytes | None = None,
                            content_type: str | None = None) -> int:
    headers = auth() | ({"Content-Type": content_type} if content_type else {})
    resp = await client.request(route.method, url, data=data, headers=headers, allow_redirects=False)
    text = await resp.text(errors="replace")
    seen = (route, url[:120], data, resp.status, text[:300])
    allowed_5xx = {503} | ({502} if route.pattern in PBX_ROUTES else set())
    assert resp.status < 500 or resp.status in allowed_5xx, seen
    if resp.status >= 400 and route.pattern != "/ws":
        body = json.loads(text)
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], seen
        if resp.status == 503:
            assert resp.headers.get("Retry-After", "").isdigit(), seen
    return resp.status


@pytest.mark.timeout(300)
async def test_every_route_answers_bad_input_and_a_stopped_database_in_the_middlewares_shape(
        stopped: tuple[web.Application, TestClient]) -> None:
    app, client = stopped
    routes = routes_of(app)
    assert len(routes) >= 30, routes  # the walk reads the router: an empty list would prove nothing
    statuses: set[int] = set()
    for route in routes:
        statuses.add(await _refusal_in_shape(client, route, route.url()))
        for at in range(route.params):
            for bad_id in BAD_IDS:
                statuses.add(await _refusal_in_shape(client, route, route.url(bad_id, at=at)))
        if route.takes_body:
            for data, content_type in BAD_BODIES:
                statuses.add(await _refusal_in_shape(client, route, route.url(), data=data,
                                                     content_type=content_type))
    assert {400, 404, 503} <= statuses, statuses  # the database really was away, and input refused


@pytest.fixture
def every_line(channels: TestClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every line our modules log during the test, with the log context merged, at debug level.

    Module loggers are cached on first use with the session's configuration, which no capture
    sees: each module's ``log`` is replaced by a fresh one for the test.
    """
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("daemon", "adapters") and hasattr(getattr(module, "log", None), "bind"):
            monkeypatch.setattr(module, "log", structlog.get_logger(name))
    saved = structlog.get_config()
    capture = structlog.testing.LogCapture()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, capture],
                        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
                        cache_logger_on_first_use=False)
    try:
        yield capture.entries
    finally:
        structlog.configure(**saved)


@pytest.fixture
async def channels(db_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = channel_settings(db_url, tmp_path / "state")
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_every_line_of_an_inquiry_and_an_api_request_names_the_request_and_route(
        channels: TestClient, every_line: list[dict[str, Any]], repo: Repository) -> None:
    while "screen_listening" not in [line["event"] for line in every_line]:  # start-up's last line, no request's
        await asyncio.sleep(0.01)
    every_line.clear()
    form = {"Name": "Анна", "phone": "+7 916 123-45-67", "tranid": "ctx-1"}
    resp = await channels.post(FORM_URL, data=form, headers={"X-Request-Id": "probe-inquiry"})
    assert resp.status == 200, await resp.text()
    inquiry_lines = list(every_line)
    second = {"Name": "Анна С.", "phone": "+7 916 765-43-21", "tranid": "ctx-2"}
    assert (await channels.post(FORM_URL, data=second)).status == 200
    survivor, merged = [r["id"] for r in await repo.pool.fetch("SELECT id FROM contacts ORDER BY id")]
    every_line.clear()
    resp = await channels.get("/api/reports/missed?until=9999-12-31T23:59:59",
                              headers=auth() | {"X-Request-Id": "probe-api"})
    assert resp.status == 400, await resp.text()
    resp = await channels.get("/api/contacts/99", headers=auth() | {"X-Request-Id": "probe-api"})
    assert resp.status == 404, await resp.text()
    resp = await channels.post("/api/contacts/merge", json={"survivor_id": survivor, "merged_ids": [merged]},
                               headers=auth() | {"X-Request-Id": "probe-api"})
    assert resp.status == 200, await resp.text()
    api_lines = list(every_line)

    assert "webhook" in [line["event"] for line in inquiry_lines], inquiry_lines
    assert [(line["event"], line.get("request_id"), line.get("route")) for line in inquiry_lines
            if (line.get("request_id"), line.get("route")) != ("probe-inquiry", "/inquiries/{source}")] == []
    assert "contacts_merged" in [line["event"] for line in api_lines], api_lines
    assert [(line["event"], line.get("request_id"), line.get("route")) for line in api_lines
            if line.get("request_id") != "probe-api" or not str(line.get("route")).startswith("/api/")] == []
