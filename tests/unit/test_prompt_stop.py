"""Background loops stop at once when cancelled, even as they are woken at the same moment.

Before Python 3.12, ``asyncio.wait_for(event.wait(), timeout)`` returns normally when the
event is set in the same loop pass as the task is cancelled (CPython gh-86296): the
cancellation was lost, the loop went back to sleep, and every shutdown that hit the race
waited TaskGroup's 5 s for a task that would never stop. These set the event, then cancel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from config.settings import load_settings
from daemon.inquiries.outbox_sender import ReplySender
from daemon.intake.durable import Intake
from daemon.intake.pipeline import Pipeline
from daemon.screen.hub import ScreenHub
from daemon.screen.inboxfeed import InboxFeed
from daemon.store.repository import Repository

PROMPT_S = 1.0


async def _stops_when_woken_and_cancelled(loop: Coroutine[Any, Any, Any], wake: Callable[[], None]) -> None:
    task = asyncio.create_task(loop)
    await asyncio.sleep(0.05)  # the loop now waits for its event
    wake()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=PROMPT_S)
    if not done:
        task.cancel()  # do not leave it behind whatever happens
    assert task in done and task.cancelled()


async def test_the_inbox_feed_stops_when_cancelled_as_it_is_woken() -> None:
    repo = Repository()
    feed = InboxFeed(repo, ScreenHub(repo, region="RU"), administrator=lambda: None)
    await _stops_when_woken_and_cancelled(feed.run(), lambda: feed.listening_changed(True))


async def test_the_reply_sender_stops_when_cancelled_as_it_is_woken() -> None:
    settings = load_settings({})
    sender = ReplySender(Repository(), settings=lambda: settings)
    await _stops_when_woken_and_cancelled(sender._idle(), sender.wake.set)


async def test_the_spool_replayer_stops_when_cancelled_as_it_is_woken() -> None:
    repo = Repository()
    intake = Intake(Pipeline(repo, region="RU", projectors=[], lead_stale_days=lambda: 30))

    async def probe() -> None:
        return None

    await _stops_when_woken_and_cancelled(intake.replay_forever(probe), intake.wake)
