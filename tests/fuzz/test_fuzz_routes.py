"""Every route registered on the app, old and new, fed hostile ids, query values and bodies: never a 500.

The routes are read from ``app.router``, so a route added tomorrow is walked
without touching this file. Each gets, in its path parameters, numbers of
thousands of digits, numbers past a bigint, other scripts' digits, NUL and
over-long names; in its query, the same plus times near year 1 and 9999 (alone
and with an offset that pushes them past the calendar); and, when it takes a
body, an unknown charset, JSON nested past the recursion limit, lone
surrogates, NUL and numbers past a bigint. The rules: never a 5xx (a 502 is
allowed only where the PBX is asked and is, here, unreachable), and every
refusal is JSON naming the problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings
from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.conftest import auth

PBX_ROUTES = {"/api/recordings/{recording_id}", "/api/calls"}  # the PBX of the tests is unreachable: 502
HUGE = "9" * 5000
SEGMENTS = [HUGE, "9" * 30, "9223372036854775808", "0", "-1", "\u0661\u0662", "\uff11", "\u00b2", "1e3",
            "%00", "a" * 300, "%D0%AF" * 100, "..%2F..%2Fetc"]
TIMES = ["0001-01-01T00:00:00", "0001-01-01T00:00:00+05:00", "0001-01-01", "9999-12-31T23:59:59",
         "9999-12-31T23:59:59-05:00", "9999-12-31", "0001-01-02T00:00:00Z", "9999-12-30"]
VALUES = [HUGE, "9" * 30, "-1", "0", "\u0661\u0662", "", "x" * 3000, "\x00", "NaN", "1e999", "\ud800", *TIMES]
NAMES_ALONE = ["contact_id", "limit", "offset", "since", "until"]
NAMES = [*NAMES_ALONE, "format", "by", "all", "force", "status", "phone", "email", "telegram", "vk", "reason",
         "action", "extension", "by"]
BODIES = [
    (b'{"tag": "x", "reason": "x", "outcome": "won"}', "application/json; charset=klingon"),
    (b"[" * 5000, "application/json"),
    (b'{"tag": "\\ud800", "reason": "\\u0000", "outcome": "won", "note": "\\udfff", "name": "a\\u0000",'
     b' "survivor_id": 99999999999999999999999, "merged_ids": [1, 99999999999999999999999],'
     b' "contact_ids": [1, 99999999999999999999999], "actor": "\\ud800", "source": "x", "external_id": "1"}',
     "application/json"),
    (b'{"survivor_id": ' + HUGE.encode() + b', "merged_ids": [' + HUGE.encode() + b"]}", "application/json"),
    (b"\xff\xfe\x00", "application/json; charset=utf-8"),
    (b"not json", "text/plain"),
    (b'"just a string"', "application/json"),
]


PARAM = re.compile(r"\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str

    def url(self, fill: str = "1", *, at: int | None = None) -> str:
        """The pattern with its ``{param}`` number ``at`` (regex included) as ``fill``, the others "1"."""
        seen = iter(range(self.params))
        return PARAM.sub(lambda _: fill if next(seen) == at else "1", self.pattern)

    @property
    def params(self) -> int:
        return len(PARAM.findall(self.pattern))

    @property
    def takes_body(self) -> bool:
        return self.method in ("POST", "PUT", "DELETE", "PATCH")


def routes_of(app: web.Application) -> list[Route]:
    found = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is not None and route.method not in ("HEAD", "*"):
            found.add(Route(route.method, resource.canonical))
    return sorted(found, key=lambda r: (r.pattern, r.method))


@pytest.fixture
async def app_and_client(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[web.Application, TestClient]]:
    app = build_app(settings, database_url=settings.database.url or "", apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield app, client


async def _check(client: TestClient, route: Route, url: str, *, data: bytes | None = None,
                 content_type: str | None = None, params: dict[str, str] | None = None) -> None:
    headers = auth() | ({"Content-Type": content_type} if content_type else {})
    resp = await client.request(route.method, url, data=data, params=params, headers=headers,
                                allow_redirects=False)
    text = await resp.text(errors="replace")
    allowed_5xx = {502} if route.pattern in PBX_ROUTES else set()
    assert resp.status < 500 or resp.status in allowed_5xx, (route, url[:200], params, data, resp.status, text[:300])
    if resp.status >= 400 and route.pattern != "/ws":
        try:
            problem = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            problem = None
        assert problem, (route, url[:200], params, resp.status, text[:300])


@pytest.mark.timeout(300)
async def test_every_route_refuses_hostile_ids_queries_and_bodies_without_a_500(
        app_and_client: tuple[web.Application, TestClient], repo: Repository) -> None:
    app, client = app_and_client
    await repo.pool.execute("INSERT INTO contacts (name) VALUES ('Someone')")
    routes = routes_of(app)
    assert len(routes) >= 30, routes  # the walk reads the router: an empty list would prove nothing
    for route in routes:
        for at in range(route.params):
            for segment in SEGMENTS:
                await _check(client, route, route.url(segment, at=at))
        for value in VALUES:
            # Cut short when sent under every name: past 8 KiB the request line is aiohttp's to refuse.
            await _check(client, route, route.url(), params={name: value[:300] for name in NAMES})
            for name in NAMES_ALONE:
                await _check(client, route, route.url(), params={name: value})
        if route.takes_body:
            for data, content_type in BODIES:
                await _check(client, route, route.url(), data=data, content_type=content_type)
    assert await repo.pool.fetchval("SELECT name FROM contacts") == "Someone"


@pytest.mark.parametrize(("method", "url", "body"), [
    pytest.param("GET", "/api/contacts/" + HUGE, None, id="card-id-of-5000-digits"),
    pytest.param("PUT", "/api/contacts/" + HUGE + "/do-not-call", b'{"reason": "x"}', id="dnc-id-of-5000-digits"),
    pytest.param("GET", "/api/contacts/duplicates?contact_id=" + HUGE, None, id="duplicates-of-5000-digits"),
    pytest.param("POST", "/api/contacts/merge", b'{"survivor_id": 1}', id="merge-unknown-charset"),
    pytest.param("PUT", "/api/contacts/1/do-not-call", b'{"reason": "x"}', id="dnc-unknown-charset"),
    pytest.param("PUT", "/api/leads/1/close", b'{"outcome": "won"}', id="close-unknown-charset"),
    pytest.param("GET", "/api/reports/missed?until=0001-01-02T00:00:00", None, id="missed-until-year-1"),
    pytest.param("GET", "/api/reports/missed?until=9999-12-31T23:59:59", None, id="missed-until-year-9999"),
    pytest.param("GET", "/api/analytics?since=9999-12-30&until=9999-12-31", None, id="analytics-year-9999"),
])
async def test_what_the_new_routes_lost_is_a_4xx_again(
        app_and_client: tuple[web.Application, TestClient], method: str, url: str, body: bytes | None) -> None:
    _, client = app_and_client
    content_type = "application/json; charset=klingon" if body else None
    route = Route(method, "")
    await _check(client, route, url, data=body, content_type=content_type)
