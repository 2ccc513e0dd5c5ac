"""The inbox on the managers' screens: lists, overdue alerts, and who is signed in.

The listener hands over what migration 0021 NOTIFYs on ``callbridge_inbox``
(whichever daemon changed the queue): ``{"type": "inbox"}`` makes every screen
of this daemon get its list again (``{"type": "inbox", "total", "items"}``: its
manager's items and the unassigned ones; everything for the administrator), and
``{"type": "overdue"|"escalated", "id", "to"}`` sends ``{"type": "overdue", "item"}``
to the screens of the extensions in ``to``. A screen is sent a list only when it
differs from the last one it got.

The same task keeps this daemon's rows of ``screen_presence`` fresh: a manager
signed in to a screen is on shift (daemon/inbox, fair assignment).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from daemon.domain.errors import StorageError, StorageUnavailable
from daemon.inbox import store
from daemon.runtime.tasks import nap
from daemon.screen.hub import Screen, ScreenHub
from daemon.store.repository import Repository

log = structlog.get_logger(__name__)

# Well under store.PRESENCE_S: a live screen never looks signed out.
PRESENCE_REFRESH_S = 10.0
LIST_LIMIT = 200


class InboxFeed:
    def __init__(self, repo: Repository, hub: ScreenHub, *, administrator: Callable[[], str | None]) -> None:
        self._repo = repo
        self._hub = hub
        self._administrator = administrator
        self.daemon_id = uuid.uuid4().hex
        self._wake = asyncio.Event()
        self._dirty = False
        self._signed_in: list[str] = []
        self._presence_due = 0.0  # the loop's time of the next presence refresh
        self._alerts: list[dict[str, Any]] = []
        self._sent: dict[int, str] = {}  # id(screen) -> digest of the last list

    # -- what arrives -------------------------------------------------------------
    def changed(self, payload: str) -> None:
        """Called for every notification on callbridge_inbox; cheap, so the listener never waits."""
        try:
            notice = json.loads(payload)
        except ValueError:
            return
        if not isinstance(notice, dict):
            return
        if notice.get("type") in ("overdue", "escalated"):
            self._alerts.append(notice)
        self._dirty = True
        self._wake.set()

    def screen_added(self, screen: Screen) -> None:
        """A manager signed in here: on shift now, and his list is due."""
        self._signed_in.append(screen.extension)
        self._dirty = True
        self._wake.set()

    def listening_changed(self, listening: bool) -> None:
        if listening:  # notifications were lost meanwhile: every list again
            self._dirty = True
            self._wake.set()

    # -- the task -------------------------------------------------------------------
    async def run(self) -> None:
        """Supervised task: lists and alerts on every change, presence every PRESENCE_REFRESH_S."""
        loop = asyncio.get_running_loop()
        self._presence_due = loop.time()
        while True:
            await nap(self._wake, PRESENCE_REFRESH_S)
            # Presence on its own clock: the queue changes with every inquiry (hundreds a second
            # at a busy hour), and a write of this daemon's presence rows for each was most of
            # the task's cost. A manager who just signed in is written at once.
            if self._signed_in or loop.time() >= self._presence_due:
                self._presence_due = loop.time() + PRESENCE_REFRESH_S
                await self._guarded(self._presence())
            if self._alerts:
                alerts, self._alerts = self._alerts, []
                await self._guarded(self._send_alerts(alerts))
            if self._dirty:
                self._dirty = False
                await self._guarded(self.push_lists())

    async def _guarded(self, work: Any) -> None:
        try:
            await work
        except (StorageUnavailable, StorageError) as exc:
            log.warning("screen_inbox_failed", error=str(exc))

    async def _presence(self) -> None:
        pool = self._repo.pool
        while self._signed_in:
            await store.signed_in(pool, self._signed_in.pop())
        extensions = [screen.extension for screen in self._hub.all_screens()]
        await store.refresh_presence(pool, self.daemon_id, extensions, datetime.now(UTC))

    async def forget(self) -> None:
        """On shutdown: this daemon's screens are gone (the others' rows stay)."""
        try:
            await store.forget_presence(self._repo.pool, self.daemon_id)
        except (StorageUnavailable, StorageError) as exc:
            log.info("screen_presence_not_forgotten", error=str(exc))

    async def push_lists(self) -> None:
        now = datetime.now(UTC)
        admin = self._administrator()
        lists: dict[str, dict[str, Any]] = {}
        for screen in self._hub.all_screens():
            if screen.extension not in lists:
                everything = screen.extension == admin
                lists[screen.extension] = await store.list_items(
                    self._repo.pool, now=now, extension=None if everything else screen.extension,
                    screen=not everything, limit=LIST_LIMIT)
            message = {"type": "inbox", **lists[screen.extension]}
            # waiting_s changes every second: compare what a person would see change.
            seen = {**message, "items": [{**i, "waiting_s": 0} for i in message["items"]]}
            digest = hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()
            if self._sent.get(id(screen)) == digest:
                continue
            self._sent[id(screen)] = digest
            if not await screen.send(message):
                self._hub.remove(screen)
        live = {id(screen) for screen in self._hub.all_screens()}
        self._sent = {key: value for key, value in self._sent.items() if key in live}

    async def _send_alerts(self, alerts: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        for alert in alerts:
            to = {str(e) for e in alert.get("to") or []}
            targets = [s for s in self._hub.all_screens() if s.extension in to]
            if not targets or not isinstance(alert.get("id"), int):
                continue
            found = await store.item(self._repo.pool, alert["id"], now)
            if found is None or found["state"] != "open":
                continue
            message = {"type": "overdue", "escalated": alert.get("type") == "escalated", "item": found}
            for screen in targets:
                if not await screen.send(message):
                    self._hub.remove(screen)
