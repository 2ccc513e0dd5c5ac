"""Helpers of the manager's screen tests: example calls moved to now, and reading cards off a socket."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from tests.conftest import fixture_json, post_event

Step = tuple[str, dict[str, Any]]
TIME_FIELDS = ("timestamp", "create_time", "forward_time", "talk_time", "end_time")
ID_FIELDS = ("entry_id", "call_id", "taken_from_call_id", "recording_id")
CARD_WAIT_S = 10.0
# The «Обращения» list and its alerts come on the same socket (daemon/screen/inboxfeed.py);
# the card tests look past them.
INBOX_MESSAGES = ("inbox", "overdue")


def steps(name: str) -> list[Step]:
    return [(s["path"], s["json"]) for s in fixture_json(name)["steps"]]


def _shift(value: Any, delta: int, suffix: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in TIME_FIELDS and isinstance(item, int) and item:
                out[key] = item + delta
            elif key in ID_FIELDS and isinstance(item, str) and item:
                out[key] = item + suffix
            else:
                out[key] = _shift(item, delta, suffix)
        return out
    if isinstance(value, list):
        return [_shift(item, delta, suffix) for item in value]
    return value


def moved(name: str, *, suffix: str, ago_s: int = 0, at: int | None = None,
          number: str | None = None) -> list[Step]:
    """The example call as if it began ``ago_s`` seconds ago (or at Unix time ``at``),
    with ids of its own (``suffix``) and, if given, another caller ``number``."""
    original = steps(name)
    first = min(p["timestamp"] if "timestamp" in p else p["create_time"] for _, p in original)
    start = at if at is not None else int(time.time()) - ago_s
    moved_steps = [(path, _shift(copy.deepcopy(payload), start - first, suffix)) for path, payload in original]
    if number is not None:
        old = _customer_number(original)
        moved_steps = [(path, json.loads(json.dumps(payload).replace(f'"{old}"', f'"{number}"')))
                       for path, payload in moved_steps]
    return moved_steps


def _customer_number(original: list[Step]) -> str:
    for _, payload in original:
        number = (payload.get("from") or {}).get("number")
        if number and number.isdigit():
            return number
    raise ValueError("the example has no caller number")


async def post_steps(client: TestClient, some_steps: list[Step]) -> None:
    for path, payload in some_steps:
        resp = await post_event(client, path, payload)
        assert resp.status == 200, await resp.text()


async def next_message(ws: aiohttp.ClientWebSocketResponse, *, timeout: float = CARD_WAIT_S) -> dict[str, Any]:
    """The next message but the inbox's (INBOX_MESSAGES)."""
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        message = json.loads(msg.data)
        if message.get("type") not in INBOX_MESSAGES:
            return message


async def next_card(ws: aiohttp.ClientWebSocketResponse, *, timeout: float = CARD_WAIT_S) -> dict[str, Any]:
    """The next card sent to the socket (status messages are skipped)."""
    while True:
        message = await next_message(ws, timeout=timeout)
        if message["type"] == "card":
            return message["card"]


async def phases_until(ws: aiohttp.ClientWebSocketResponse, last: str, *,
                       entry_id: str | None = None) -> tuple[list[str], dict[str, Any]]:
    """Phases of the cards received up to the first one in phase ``last``, and that card.

    With ``entry_id``, cards of other calls are skipped: a screen that connects
    just after a call ended may still be shown that call (its events are fresh).
    """
    seen: list[str] = []
    while True:
        card = await next_card(ws)
        if entry_id is not None and card["entry_id"] != entry_id:
            continue
        if not seen or seen[-1] != card["phase"]:
            seen.append(card["phase"])
        if card["phase"] == last:
            return seen, card


def in_order(phases: list[str], order: list[str]) -> bool:
    """``phases`` follow ``order`` (any of them may be skipped) and end with its last.

    Cards are built from the state when the pusher reads it, so events that
    arrive back to back (as in these tests) may skip a phase, never reorder one.
    """
    positions = [order.index(p) if p in order else -1 for p in phases]
    return bool(phases) and -1 not in positions and positions == sorted(set(positions)) \
        and phases[-1] == order[-1]


async def nothing_more(ws: aiohttp.ClientWebSocketResponse, *, wait_s: float = 0.3) -> None:
    """No card arrives (the pusher has already handled every change sent before)."""
    deadline = time.monotonic() + wait_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            return
        if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data).get("type") in INBOX_MESSAGES:
            continue
        raise AssertionError(f"unexpected message {msg.data!r}")


async def open_screen(client: TestClient, extension: str, headers: dict[str, str]) -> Any:
    """A screen authenticated by header, past its hello."""
    ws = await client.ws_connect(f"/ws?extension={extension}", headers=headers)
    hello = await next_message(ws)
    assert hello["type"] == "hello" and hello["live"] is True, hello
    return ws
