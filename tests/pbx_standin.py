"""A stand-in for the PBX's HTTP API: a real aiohttp server on 127.0.0.1.

It checks every request's signature with our own ``verify`` (the PBX would
refuse a bad one with 3102), records what it received, and answers as a test
tells it to: a result code, an HTTP status, a delay, or a gate that holds the
answer until the test opens it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.mango.signature import verify
from config.settings import Settings, load_settings
from daemon.runtime.app import build_app
from daemon.runtime.keys import ROUTER, ROUTING_CLOCK
from tests.conftest import API_KEY, API_SALT, API_TOKEN, fixture_json, post_event
from tests.scenarios import Step

SIGN_MISMATCH = 3102


@dataclass(frozen=True)
class Received:
    path: str
    payload: dict[str, Any]
    request_id: str
    at: float = field(default_factory=time.monotonic)  # when it arrived (this process's clock)


@dataclass
class Behaviour:
    status: int = 200
    body: dict[str, Any] | None = None   # None: {"result": 1000}
    delay_s: float = 0.0
    gate: asyncio.Event | None = None
    location: str | None = None         # for queries/recording/post


@dataclass
class StandInPbx:
    api_key: str = API_KEY
    api_salt: str = API_SALT
    received: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    in_progress: int = 0
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    base_url: str = ""
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def respond(self, path: str, **behaviour: Any) -> Behaviour:
        self.behaviours[path] = Behaviour(**behaviour)
        return self.behaviours[path]

    def commands(self, path: str) -> list[dict[str, Any]]:
        return [r.payload for r in self.received if r.path == path]

    def routes(self) -> list[dict[str, str]]:
        return [{"call_id": p["call_id"], "to_number": p["to_number"]} for p in self.commands("commands/route")]

    async def wait_for(self, path: str, count: int = 1) -> None:
        while len(self.commands(path)) < count:
            self._arrived.clear()
            await self._arrived.wait()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        form = await request.post()
        raw, key, sent = str(form.get("json", "")), str(form.get("vpbx_api_key", "")), str(form.get("sign", ""))
        request_id = f"standin-{next(self._ids)}"
        headers = {"X-Uuid": request_id}
        if not verify(api_key=self.api_key, api_salt=self.api_salt, sent_key=key, json_text=raw, sent_sign=sent):
            self.bad_signatures += 1
            return web.json_response({"result": SIGN_MISMATCH}, headers=headers)
        self.received.append(Received(path, json.loads(raw), request_id))
        self._arrived.set()
        how = self.behaviours.get(path, Behaviour())
        self.in_progress += 1
        try:
            if how.gate is not None:
                await how.gate.wait()
            if how.delay_s:
                await asyncio.sleep(how.delay_s)
        finally:
            self.in_progress -= 1
        if path == "queries/recording/post" and how.status == 200 and how.body is None:
            recording_id = json.loads(raw)["recording_id"]
            location = how.location or f"{self.base_url}files/{recording_id}?expires=60&token=one-shot"
            return web.Response(status=302, headers={**headers, "Location": location})
        if path == "config/users/request" and how.body is None:
            return web.json_response(fixture_json("config_users_response.json")["response"], headers=headers)
        return web.json_response(how.body if how.body is not None else {"result": 1000},
                                 status=how.status, headers=headers)


@contextlib.asynccontextmanager
async def serving_pbx() -> AsyncIterator[StandInPbx]:
    """A stand-in PBX listening on a free loopback port; its API base is ``.base_url``."""
    standin = StandInPbx()
    app = web.Application()
    app.router.add_post("/vpbx/{path:.*}", standin.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    standin.base_url = f"http://127.0.0.1:{port}/vpbx/"
    try:
        yield standin
    finally:
        for how in standin.behaviours.values():
            if how.gate is not None:
                how.gate.set()
        await runner.cleanup()


# Office hours under which every example call (Thursday 2025-10-09, 11:53 to
# 23:00 Moscow time) is in hours and hidden_number_after_hours.json (Friday
# 04:33) is not. The examples name no administrator and no line rule.
EXAMPLE_HOURS_TOML = """
timezone = "Europe/Moscow"
holidays = ["2026-01-01", "2026-01-02"]
route_rate_per_s = 1000

[office_hours]
mon = "08:00-24:00"
tue = "08:00-24:00"
wed = "08:00-24:00"
thu = "08:00-24:00"
fri = "08:00-24:00"
sat = "10:00-16:00"
sun = "closed"
"""


def routing_settings(db_url: str, tmp_path: Path, pbx: StandInPbx, *, toml: str = EXAMPLE_HOURS_TOML,
                     **env: str) -> Settings:
    config = tmp_path / f"routing-{len(list(tmp_path.glob('routing-*.toml')))}.toml"
    config.write_text(toml, encoding="utf-8")
    return load_settings({
        "CALLBRIDGE_CONFIG": str(config),
        "CALLBRIDGE_DATABASE_URL": db_url,
        "CALLBRIDGE_MANGO_API_KEY": API_KEY,
        "CALLBRIDGE_MANGO_API_SALT": API_SALT,
        "CALLBRIDGE_API_TOKEN": API_TOKEN,
        "CALLBRIDGE_STATE_DIR": str(tmp_path / "state"),
        "CALLBRIDGE_MANGO_API_URL": pbx.base_url,
        **{f"CALLBRIDGE_{k.upper()}": v for k, v in env.items()},
    })


class FixedClock:
    """The routing clock of a test: office hours are judged at the time it is set to."""

    def __init__(self, epoch: int = 1760000000) -> None:
        self.at = datetime.fromtimestamp(epoch, UTC)

    def now(self) -> datetime:
        return self.at

    def set_epoch(self, epoch: int) -> None:
        self.at = datetime.fromtimestamp(epoch, UTC)


@contextlib.asynccontextmanager
async def routing_client(settings: Settings, clock: FixedClock | None = None) -> AsyncIterator[TestClient]:
    """build_app with routing on, its clock fixed, served on a loopback port."""
    app = build_app(settings, database_url=settings.database.url or "", apply_migrations=False)
    app[ROUTING_CLOCK] = clock or FixedClock()
    async with TestClient(TestServer(app)) as client:
        yield client


async def replay_live(client: TestClient, steps: list[Step], clock: FixedClock) -> None:
    """Deliver steps as the PBX would in real time: the clock at each event's time, and the
    router done with an event before the next one comes (the caller waits in the IVR while
    we decide; only our route, or the hold running out, moves him on)."""
    for step in steps:
        epoch = step.json.get("timestamp") or step.json.get("create_time")
        if isinstance(epoch, int):
            clock.set_epoch(epoch)
        resp = await post_event(client, step.path, step.json)
        assert resp.status == 200, (step.path, resp.status, await resp.text())
        await client.app[ROUTER].drain()
