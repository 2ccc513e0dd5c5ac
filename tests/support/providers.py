"""A stand-in for the messengers' send APIs (MAX, Wazzup, Green-API, Avito, Telegram): a real
aiohttp server on 127.0.0.1, for tests and benchmarks of the reply channels.

Every request is recorded. Each path prefix answers from its script, in order (the
last answer repeats): a status, a JSON body, headers (``Retry-After``) and a delay (an
answer that comes too late). Wazzup's one piece of behaviour is kept for real: a
``crmMessageId`` it has taken before is refused with ``repeatedCrmMessageId``, also
when the first answer was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.net import free_port


@dataclass(frozen=True)
class Scripted:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # JSON, or the form as a dict
    at: float = field(default_factory=time.monotonic)  # when it arrived (this process's clock)


@dataclass
class StandInProviders:
    scripts: dict[str, list[Scripted]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    wazzup_taken: set[str] = field(default_factory=set)
    url: str = ""

    def answer(self, prefix: str, *answers: Scripted) -> None:
        self.scripts[prefix] = list(answers)

    def at(self, prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(prefix)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if request.content_type == "application/x-www-form-urlencoded":
            body: Any = dict(await request.post())
        else:
            body = json.loads(raw) if raw else None
        self.seen.append(Seen(request.path, dict(request.query), dict(request.headers), body))
        prefix = max((p for p in self.scripts if request.path.startswith(p)), key=len, default=None)
        if prefix is None:
            return web.json_response({"error": "no such route"}, status=404)
        script = self.scripts[prefix]
        scripted = script.pop(0) if len(script) > 1 else script[0]
        if prefix == "/v3/message" and isinstance(body, dict):
            scripted = self._wazzup(body, scripted)
        if scripted.delay_s:
            await asyncio.sleep(scripted.delay_s)
        return web.json_response(scripted.body, status=scripted.status, headers=scripted.headers)

    def _wazzup(self, body: dict[str, Any], scripted: Scripted) -> Scripted:
        crm_id = body.get("crmMessageId")
        if crm_id is not None and crm_id in self.wazzup_taken:
            return Scripted(400, {"error": "repeatedCrmMessageId",
                                  "description": "You have already sent message with the same crmMessageId"})
        if crm_id is not None and scripted.status in (200, 201):
            self.wazzup_taken.add(crm_id)
        return scripted


@contextlib.asynccontextmanager
async def stand_in_providers() -> AsyncIterator[StandInProviders]:
    providers = StandInProviders()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", providers._handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    providers.url = f"http://127.0.0.1:{port}"
    try:
        yield providers
    finally:
        await runner.cleanup()
