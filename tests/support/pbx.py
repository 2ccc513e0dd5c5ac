"""A stand-in for the PBX's HTTP API: a real aiohttp server on 127.0.0.1, for tests and benchmarks.

It checks every request's signature with our own ``verify`` (the PBX would refuse a bad one with
3102), records what it received, and answers as the caller tells it to: a result code, an HTTP
status, a delay, or a gate that holds the answer until the test opens it. A benchmark ``expect``s a
call's route command and gets the ``time.perf_counter()`` at which it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from adapters.mango.signature import sign, verify
from tests.support.paths import FIXTURES

SIGN_MISMATCH = 3102
_VECTORS = json.loads((FIXTURES / "signature_vectors.json").read_text(encoding="utf-8"))
# The key and salt of the PBX's published signature examples: what every test signs with.
API_KEY: str = _VECTORS["vpbx_api_key"]
API_SALT: str = _VECTORS["vpbx_api_salt"]


def signed_form(payload: Any, *, key: str = API_KEY, salt: str = API_SALT) -> dict[str, str]:
    """The form the PBX posts: ``payload`` as compact JSON, signed with ``key`` and ``salt``."""
    raw = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return {"vpbx_api_key": key, "sign": sign(key, raw, salt), "json": raw}


STOP_WAIT_S = 0.1


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
    unexpected: int = 0                 # route commands for a call nobody expect()ed
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    base_url: str = ""
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _waiting: dict[str, asyncio.Future[float]] = field(default_factory=dict)

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

    def expect(self, call_id: str) -> asyncio.Future[float]:
        """A future set to the ``perf_counter()`` at which the route command for ``call_id`` arrives."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        return future

    def forget(self, call_id: str) -> None:
        self._waiting.pop(call_id, None)

    def _timestamp(self, path: str, payload: dict[str, Any], arrived: float) -> None:
        if path != "commands/route":
            return
        future = self._waiting.pop(str(payload.get("call_id")), None)
        if future is None:
            self.unexpected += 1
        elif not future.done():
            future.set_result(arrived)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()  # before anything else: "command received"
        path = request.match_info["path"]
        form = await request.post()
        raw, key, sent = str(form.get("json", "")), str(form.get("vpbx_api_key", "")), str(form.get("sign", ""))
        request_id = f"standin-{next(self._ids)}"
        headers = {"X-Uuid": request_id}
        if not verify(api_key=self.api_key, api_salt=self.api_salt, sent_key=key, json_text=raw, sent_sign=sent):
            self.bad_signatures += 1
            return web.json_response({"result": SIGN_MISMATCH}, headers=headers)
        payload = json.loads(raw)
        self.received.append(Received(path, payload, request_id))
        self._timestamp(path, payload, arrived)
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
            location = how.location or f"{self.base_url}files/{payload['recording_id']}?expires=60&token=one-shot"
            return web.Response(status=302, headers={**headers, "Location": location})
        if path == "config/users/request" and how.body is None:
            users = json.loads((FIXTURES / "config_users_response.json").read_text(encoding="utf-8"))
            return web.json_response(users["response"], headers=headers)
        return web.json_response(how.body if how.body is not None else {"result": 1000},
                                 status=how.status, headers=headers)

    async def serve(self) -> web.AppRunner:
        """Listen on a free loopback port; the API base is then ``.base_url``. Clean up the runner."""
        app = web.Application()
        app.router.add_post("/vpbx/{path:.*}", self.handle)
        # A delayed answer still under way when the test ends is cut short, not waited for
        # (aiohttp's graceful close would wait out the whole delay_s).
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=STOP_WAIT_S)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/vpbx/"
        return runner


@contextlib.asynccontextmanager
async def serving_pbx(*, api_key: str = API_KEY, api_salt: str = API_SALT) -> AsyncIterator[StandInPbx]:
    """A stand-in PBX listening on a free loopback port; its API base is ``.base_url``."""
    standin = StandInPbx(api_key=api_key, api_salt=api_salt)
    runner = await standin.serve()
    try:
        yield standin
    finally:
        for how in standin.behaviours.values():
            if how.gate is not None:
                how.gate.set()
        await runner.cleanup()
