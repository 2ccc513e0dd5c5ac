"""Stand-ins for the Telegram Bot API and the VK API: one real aiohttp server on 127.0.0.1.

``POST /bot<token>/sendMessage`` and ``POST /method/messages.send`` record what
they get and answer as the test scripted for the recipient (``script(to, ...)``:
answers taken in order, then success): success, 429 with ``retry_after``, 5xx,
403 "bot was blocked by the user", VK's error codes, or a hang past the
client's timeout. As VK does, a repeated ``random_id`` is not delivered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.net import free_port
from tests.support.paths import CHANNEL_FIXTURES

TOKEN = "123456:test-bot-token"
VK_TOKEN = "vk1.a.test-community-token"


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: dict[str, Any] | None = None  # None: the provider's success
    hang_s: float = 0.0  # answer only after this long (a timeout for the client)


def example(name: str) -> dict[str, Any]:
    """A documented reply exchange (tests/fixtures/channels/replies/)."""
    return json.loads((CHANNEL_FIXTURES / "replies" / f"{name}.json").read_text(encoding="utf-8"))


def telegram_429(retry_after: int) -> Answer:
    """The documented flood-control answer, with another ``retry_after``."""
    body = copy.deepcopy(example("telegram-send-message-429")["response"]["body"])
    body["parameters"]["retry_after"] = retry_after
    body["description"] = f"Too Many Requests: retry after {retry_after}"
    return Answer(429, body)


_BLOCKED = example("telegram-send-message-blocked")["response"]
TELEGRAM_BLOCKED = Answer(_BLOCKED["status"], _BLOCKED["body"])
# messages.send to a user who never allowed the community's messages (error 901).
VK_NOT_ALLOWED = Answer(200, example("vk-messages-send")["response"]["body_if_not_allowed"])
SERVER_ERROR = Answer(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})


def vk_error(code: int, message: str) -> Answer:
    return Answer(200, {"error": {"error_code": code, "error_msg": message}})


@dataclass(frozen=True)
class Delivery:
    """A message the provider took (what a customer would see)."""

    provider: str
    to: str
    text: str
    fields: dict[str, str]


@dataclass
class FakeMessengers:
    port: int = field(default_factory=free_port)
    delay_s: float = 0.0  # every answer waits this long (replies in flight when a test strikes)
    on_delivered: Callable[[Delivery], None] | None = None  # told of each message as it is taken
    delivered: list[Delivery] = field(default_factory=list)
    # Every request, answered or not: (provider, fields, time.monotonic() at arrival).
    requests: list[tuple[str, dict[str, str], float]] = field(default_factory=list)
    _scripts: dict[str, deque[Answer]] = field(default_factory=lambda: defaultdict(deque))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _random_ids: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def telegram_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def vk_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/method"

    def script(self, to: str, *answers: Answer) -> None:
        """The next answers for messages to ``to`` (a chat or peer id), in order; then success."""
        self._scripts[str(to)].extend(answers)

    def texts_to(self, to: str) -> list[str]:
        return [d.text for d in self.delivered if d.to == str(to)]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/sendMessage", self._telegram)
        app.router.add_post("/method/messages.send", self._vk)
        return app

    async def _scripted(self, to: str) -> Answer | None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        queue = self._scripts.get(to)
        answer = queue.popleft() if queue else None
        if answer is not None and answer.hang_s:
            await asyncio.sleep(answer.hang_s)
        return answer

    def _deliver(self, delivery: Delivery) -> None:
        self.delivered.append(delivery)
        if self.on_delivered is not None:
            self.on_delivered(delivery)

    async def _telegram(self, request: web.Request) -> web.Response:
        body = await request.json()
        to, text = str(body.get("chat_id")), str(body.get("text"))
        fields = {k: str(v) for k, v in body.items()} | {"token": request.match_info["token"]}
        self.requests.append(("telegram", fields, time.monotonic()))
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        answer = await self._scripted(to)
        if answer is not None and answer.status != 200:
            return web.json_response(answer.body, status=answer.status)
        message_id = next(self._ids)
        self._deliver(Delivery("telegram", to, text, fields))
        return web.json_response({"ok": True, "result": {"message_id": message_id, "chat": {"id": to}, "text": text}})

    async def _vk(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append(("vk", form, time.monotonic()))
        to = form.get("peer_id", "")
        if form.get("access_token") != VK_TOKEN:
            return web.json_response({"error": {"error_code": 5, "error_msg": "User authorization failed"}})
        answer = await self._scripted(to)
        if answer is not None and answer.body is not None:
            return web.json_response(answer.body, status=answer.status)
        key = (to, form.get("random_id", ""))
        if key in self._random_ids:  # VK: a repeat of random_id is not sent again
            return web.json_response({"response": self._random_ids[key]})
        message_id = next(self._ids)
        self._random_ids[key] = message_id
        self._deliver(Delivery("vk", to, form.get("message", ""), form))
        return web.json_response({"response": message_id})


@contextlib.asynccontextmanager
async def fake_messengers() -> AsyncIterator[FakeMessengers]:
    fake = FakeMessengers()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", fake.port)
    await site.start()
    try:
        yield fake
    finally:
        await runner.cleanup()
