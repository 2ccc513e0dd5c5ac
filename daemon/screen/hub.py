"""The managers' screens connected to this daemon, and the cards pushed to them.

The listener hands over entry_ids of calls that changed; a supervised task
reads each call from PostgreSQL once and sends each screen whose extension
the call reached the card for its own phase. A screen is sent a card only
when it differs from the last one it got for that call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiohttp import WSCloseCode, web

from daemon.domain.errors import StorageError, StorageUnavailable
from daemon.screen.cards import CallSnapshot, card_json, load_snapshot
from daemon.screen.phase import LIVE_PHASES, phase_for
from daemon.store.repository import Repository

log = structlog.get_logger(__name__)

SEND_TIMEOUT_S = 2.0
CLOSE_TIMEOUT_S = 2.0  # how long a closing socket waits for the peer's close frame
# A call a screen has not shown yet pops up in a phase that is over (missed,
# ended) only if its last PBX event is this fresh; older ones change only by
# notes, which must not bring back yesterday's calls.
FRESH_EVENT_S = 120.0
# On connect (and after the listener reconnects) calls that started this long
# ago and are not over yet are looked at again.
RESYNC_LOOKBACK = timedelta(hours=2)
REMEMBERED_CALLS_PER_SCREEN = 50


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Screen:
    """One connected WebSocket of one manager's extension."""

    def __init__(self, ws: web.WebSocketResponse, extension: str) -> None:
        self.ws = ws
        self.extension = extension
        self._sent: OrderedDict[str, str] = OrderedDict()  # entry_id -> digest of the last card

    def has_shown(self, entry_id: str) -> bool:
        return entry_id in self._sent

    def is_new(self, entry_id: str, digest: str) -> bool:
        return self._sent.get(entry_id) != digest

    def remember(self, entry_id: str, digest: str) -> None:
        self._sent[entry_id] = digest
        self._sent.move_to_end(entry_id)
        while len(self._sent) > REMEMBERED_CALLS_PER_SCREEN:
            self._sent.popitem(last=False)

    async def send(self, message: dict[str, Any]) -> bool:
        """False when the screen is gone or too slow; the caller drops it."""
        if self.ws.closed:
            return False
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):  # not wait_for: see daemon.runtime.tasks.nap
                await self.ws.send_str(_dumps(message))
        except (ConnectionError, RuntimeError, TimeoutError) as exc:
            log.info("screen_send_failed", extension=self.extension, error=repr(exc))
            return False
        return True


class ScreenHub:
    def __init__(self, repo: Repository, *, region: str) -> None:
        self._repo = repo
        self._region = region
        self._screens: dict[str, set[Screen]] = defaultdict(set)
        self._pending: OrderedDict[str, None] = OrderedDict()
        self._resync_all = False
        self._status = False
        self._status_changed = False
        self._wake = asyncio.Event()

    # -- screens ---------------------------------------------------------------
    def add(self, screen: Screen) -> None:
        self._screens[screen.extension].add(screen)
        log.info("screen_connected", extension=screen.extension, screens=self.count())

    def remove(self, screen: Screen) -> None:
        group = self._screens.get(screen.extension)
        if group is None or screen not in group:
            return
        group.discard(screen)
        if not group:
            del self._screens[screen.extension]
        log.info("screen_disconnected", extension=screen.extension, screens=self.count())

    def count(self) -> int:
        return sum(len(group) for group in self._screens.values())

    def all_screens(self) -> list[Screen]:
        return [screen for group in self._screens.values() for screen in group]

    # -- what the listener says ---------------------------------------------------
    def call_changed(self, entry_id: str) -> None:
        """Called for every notification; cheap, so the listener never waits."""
        if not self._screens:
            return  # nobody is looking: nothing to read
        self._pending[entry_id] = None
        self._wake.set()

    def listening_changed(self, listening: bool) -> None:
        """The listener (re)connected or lost PostgreSQL: tell screens, and catch up after a gap."""
        self._status = listening
        self._status_changed = True
        if listening:
            self._resync_all = True
        self._wake.set()

    # -- the pusher task -------------------------------------------------------
    async def run(self) -> None:
        """Supervised task: turn changed calls into cards, one call at a time."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._status_changed:
                self._status_changed = False
                await self._send_all({"type": "status", "live": self._status})
            if self._resync_all:
                self._resync_all = False
                await self._guarded(self.resync(self.all_screens()), "resync")
            while self._pending:
                entry_id, _ = self._pending.popitem(last=False)
                await self._guarded(self.push_call(entry_id), entry_id)

    async def _send_all(self, message: dict[str, Any]) -> None:
        for screen in self.all_screens():
            if not await screen.send(message):
                self.remove(screen)

    async def _guarded(self, work: Any, what: str) -> None:
        try:
            await work
        except (StorageUnavailable, StorageError) as exc:
            log.warning("screen_push_failed", what=what, error=str(exc))
        except Exception:  # one bad call must not stop every screen's updates
            log.exception("screen_push_crashed", what=what)

    async def resync(self, screens: Iterable[Screen]) -> None:
        """Show each screen the calls in progress that reach it (after a connect or a gap)."""
        screens = list(screens)
        if not screens:
            return
        since = datetime.now(UTC) - RESYNC_LOOKBACK
        for entry_id in await self._repo.screen_live_entries(since):
            await self.push_call(entry_id, screens)

    async def push_call(self, entry_id: str, screens: Iterable[Screen] | None = None) -> None:
        targets = list(screens) if screens is not None else self.all_screens()
        if not targets:
            return
        snapshot = await load_snapshot(self._repo, entry_id)
        if snapshot is None:
            return
        by_extension: dict[str, list[Screen]] = defaultdict(list)
        for screen in targets:
            by_extension[screen.extension].append(screen)
        for extension, group in by_extension.items():
            await self._push_to(extension, group, snapshot)

    async def _push_to(self, extension: str, screens: list[Screen], snapshot: CallSnapshot) -> None:
        phase = phase_for(extension, snapshot.call, snapshot.legs)
        if phase is None:
            return
        card = card_json(snapshot, phase=phase, region=self._region)
        message = {"type": "card", "card": card}
        digest = hashlib.sha256(_dumps(card).encode("utf-8")).hexdigest()
        fresh = phase in LIVE_PHASES or snapshot.quiet_s <= FRESH_EVENT_S
        for screen in screens:
            if not screen.is_new(snapshot.entry_id, digest):
                continue
            if not screen.has_shown(snapshot.entry_id) and not fresh:
                continue
            screen.remember(snapshot.entry_id, digest)
            if not await screen.send(message):
                # Gone or stuck: it gets nothing more; the heartbeat closes a stuck
                # socket, and the page reconnects and is resynced.
                self.remove(screen)
            else:
                log.debug("card_pushed", extension=extension, entry_id=snapshot.entry_id, phase=phase)

    async def close_all(self) -> None:
        """On shutdown: tell every screen we are going away (the page reconnects, maybe to another daemon).

        All at once and bounded: a vanished peer never answers the close frame.
        """
        closing = [screen.ws.close(code=WSCloseCode.GOING_AWAY, message=b"daemon shutting down")
                   for screen in self.all_screens()]
        if not closing:
            return
        try:
            await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), timeout=CLOSE_TIMEOUT_S * 2)
        except TimeoutError:
            log.warning("screens_not_closed_in_time", screens=len(closing))
