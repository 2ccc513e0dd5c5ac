"""The stand-in PBX of the benchmark: timestamps each route command as it arrives."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from adapters.mango.signature import verify


class TimestampingPbx:
    def __init__(self, *, api_key: str, api_salt: str) -> None:
        self._key = api_key
        self._salt = api_salt
        self._waiting: dict[str, asyncio.Future[float]] = {}
        self.routes = 0
        self.bad_signatures = 0
        self.unexpected = 0

    def expect(self, call_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        return future

    def forget(self, call_id: str) -> None:
        self._waiting.pop(call_id, None)

    async def handle(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()  # before anything else: "route command received"
        form = await request.post()
        raw = str(form.get("json", ""))
        if not verify(api_key=self._key, api_salt=self._salt, sent_key=str(form.get("vpbx_api_key", "")),
                      json_text=raw, sent_sign=str(form.get("sign", ""))):
            self.bad_signatures += 1
            return web.json_response({"result": 3102})
        if request.match_info["path"] == "commands/route":
            self.routes += 1
            future = self._waiting.pop(json.loads(raw)["call_id"], None)
            if future is None:
                self.unexpected += 1
            elif not future.done():
                future.set_result(arrived)
        return web.json_response({"result": 1000}, headers={"X-Uuid": f"bench-{self.routes}"})

    async def serve(self) -> tuple[web.AppRunner, str]:
        app = web.Application()
        app.router.add_post("/vpbx/{path:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return runner, f"http://127.0.0.1:{port}/vpbx/"
