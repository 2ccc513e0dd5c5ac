"""The screens' inbox task writes this daemon's presence on its own clock, not on every change of the
queue (one write per inquiry at a busy hour was most of its cost), and at once when a manager signs in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from daemon.inbox import store
from daemon.screen import inboxfeed
from daemon.screen.inboxfeed import InboxFeed


class Hub:
    def all_screens(self) -> list[Any]:
        return []


class Repo:
    pool = object()


async def test_a_busy_queue_does_not_rewrite_presence_and_a_sign_in_does(monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[list[str]] = []

    async def refresh_presence(pool: object, daemon_id: str, extensions: list[str], at: object) -> None:
        writes.append(list(extensions))

    async def signed_in(pool: object, extension: str) -> None:
        writes.append([f"signed-in {extension}"])

    async def nothing(*args: object, **kwargs: object) -> None:
        return None

    monkeypatch.setattr(store, "refresh_presence", refresh_presence)
    monkeypatch.setattr(store, "signed_in", signed_in)
    feed = InboxFeed(Repo(), Hub(), administrator=lambda: None)  # type: ignore[arg-type]
    monkeypatch.setattr(feed, "push_lists", nothing)
    task = asyncio.create_task(feed.run())
    try:
        await asyncio.sleep(0.05)
        assert writes == []  # the first round is at the first change (or after PRESENCE_REFRESH_S)
        feed.changed('{"type": "inbox"}')
        await asyncio.sleep(0.05)
        assert writes == [[]]
        for _ in range(200):  # a busy minute of the queue, compressed
            feed.changed('{"type": "inbox"}')
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        assert writes == [[]]
        feed.screen_added(type("S", (), {"extension": "101"})())  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        assert writes == [[], ["signed-in 101"], []]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert inboxfeed.PRESENCE_REFRESH_S >= 5
