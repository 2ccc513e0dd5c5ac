"""Where accepted PBX events go: made durable, then announced.

An event is durable once it is in PostgreSQL or, while PostgreSQL is away,
slow, or the daemon is at its in-flight cap, in the local spool. Only when
neither can take it does the PBX get a 503. A supervised task replays the
spool through the same idempotent pipeline as soon as the database answers.

Listeners (routing, screen pop) run after an event is stored in PostgreSQL
and must not block the PBX's 200: they are called synchronously and are
expected to hand work to a background task.

Nothing acknowledged may be lost later. Before anything else, ``accept`` asks
``daemon.intake.admission`` whether PostgreSQL will take the event (400 if not). On
replay, a record that cannot be read, or that PostgreSQL still refuses, goes
to the quarantine table with its reason (``daemon.intake.quarantine``), is counted,
and turns /health to warn; the replay goes on with the next record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import structlog

from daemon.domain.errors import StorageError, StorageRefused, StorageUnavailable
from daemon.domain.events import Envelope
from daemon.intake import admission
from daemon.intake.groupcommit import GroupCommitter
from daemon.intake.pipeline import Pipeline
from daemon.intake.quarantine import quarantine
from daemon.intake.spool import Spool, read_records
from daemon.runtime.metrics import Metrics
from daemon.runtime.tasks import nap
from daemon.store.records import UnreadableRecord, dump_envelope, load_envelope

log = structlog.get_logger(__name__)

Listener = Callable[[Envelope], None]
REPLAY_IDLE_S = 0.5
# Spooled events handed to the group commit at a time, and how long they may take
# (the live events go first, so under load a chunk waits for its turns).
REPLAY_CHUNK = 512
REPLAY_WAIT_S = 30.0
T = TypeVar("T")


class Intake:
    def __init__(self, pipeline: Pipeline, *, spool: Spool | None = None, db_budget_s: float = 2.0,
                 max_in_flight: int = 256, metrics: Metrics | None = None) -> None:
        self._pipeline = pipeline
        self._metrics = metrics
        self.quarantined = 0  # by this process, since it started
        self._spool = spool
        self._budget = db_budget_s
        self._slots = asyncio.Semaphore(max_in_flight)
        self._listeners: list[Listener] = []
        self._applying: set[asyncio.Task[Any]] = set()  # referenced until done, even when abandoned
        # False after PostgreSQL failed us: later events go straight to the spool
        # instead of each waiting out the budget, until the replayer sees it answer.
        self.database_ok = True
        self._wake = asyncio.Event()
        # Stored events are announced by the committer, right after their commit,
        # whoever submitted them: a webhook, the spool replayer, or a webhook that gave up waiting.
        self.committer = GroupCommitter(pipeline, on_stored=self.announce)

    def budget_for(self, budget_s: float | None) -> float:
        """How long an event waits for PostgreSQL: the intake's budget, or the sender's shorter one."""
        return self._budget if budget_s is None else min(self._budget, budget_s)

    def wake(self) -> None:
        """Have the replayer look now (the database is back, or was just connected)."""
        self._wake.set()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def accept(self, env: Envelope, *, budget_s: float | None = None) -> str:
        """``stored``, ``duplicate`` or ``spooled``; raises StorageUnavailable if nothing could keep it,
        EventNotStorable (before anything is kept) if PostgreSQL would refuse it, StorageRefused
        if it did. Any other database error is spooled like an outage (or StorageUnavailable)."""
        admission.check(env, region=self._pipeline.region)
        if self._spool is not None and (not self.database_ok or self._slots.locked()):
            reason = "database_unavailable" if not self.database_ok else "overloaded"
            return await self._to_spool(env, reason)
        try:
            outcome = await self._apply_within_budget(env, budget_s)
        except (StorageUnavailable, TimeoutError) as exc:
            self._mark_database_down(exc, self.budget_for(budget_s))
            if self._spool is None:
                raise StorageUnavailable(str(exc) or "database did not answer in time") from exc
            return await self._to_spool(env, "database_unavailable")
        except StorageError as exc:
            if isinstance(exc, StorageRefused):
                raise  # the event's fault (a 400), not the database's
            # An error PostgreSQL should not have given (a deadlock past its retries, a broken
            # schema): the same answer on every route, whoever sent it. The spool keeps the
            # event if it can (a replay that fails again quarantines it), else a 503 says why.
            log.error("event_not_applied", error=str(exc), dedup_key=env.dedup_key)
            if self._spool is None:
                raise StorageUnavailable(f"database error: {exc}") from exc
            return await self._to_spool(env, "database_error")
        return outcome

    async def _apply_within_budget(self, env: Envelope, budget_s: float | None = None) -> str:
        """Written by the next group commit (``daemon.intake.groupcommit``); TimeoutError past the budget.

        Past the budget the event is withdrawn if the writer has not taken it yet;
        if it has, it may still commit, and the spooled copy the caller then keeps
        is a harmless duplicate on replay. The in-flight slot is held until the
        writer is done with the event, so a hung database fills the cap and later
        events go straight to the spool.
        """
        await self._slots.acquire()
        future = self.committer.submit(env, release=self._slots.release)
        try:
            done, _ = await asyncio.wait({future}, timeout=self.budget_for(budget_s))
        except asyncio.CancelledError:
            future.cancel()
            raise
        if not done:
            future.cancel()
            raise TimeoutError
        return future.result()

    def _detached(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=name)
        self._applying.add(task)
        task.add_done_callback(self._detached_finished)
        return task

    def _detached_finished(self, task: asyncio.Task[Any]) -> None:
        self._applying.discard(task)
        if not task.cancelled():
            task.exception()  # an abandoned task's error was already answered (spooled, retried)

    async def _await_at_most(self, task: asyncio.Task[T]) -> T:
        """The task's result, or TimeoutError after the budget (the task is then cancelled and abandoned)."""
        try:
            done, _ = await asyncio.wait({task}, timeout=self._budget)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            task.cancel()
            raise TimeoutError
        return task.result()

    def announce(self, env: Envelope) -> None:
        for listener in self._listeners:
            try:
                listener(env)
            except Exception:  # a listener's bug must not turn a stored event into a 500
                log.exception("listener_failed", listener=getattr(listener, "__qualname__", repr(listener)))

    def _mark_database_down(self, exc: BaseException, budget_s: float | None = None) -> None:
        if self.database_ok:
            log.error("database_unavailable", error=repr(exc), budget_s=budget_s or self._budget)
        self.database_ok = False
        self._wake.set()

    async def _to_spool(self, env: Envelope, reason: str) -> str:
        assert self._spool is not None
        try:
            await self._spool.append(dump_envelope(env))
        except (OSError, ValueError) as exc:
            log.error("spool_append_failed", error=repr(exc))
            raise StorageUnavailable(f"database and spool both unavailable: {exc}") from exc
        log.info("event_spooled", reason=reason, backlog=self._spool.backlog())
        self._wake.set()
        return "spooled"

    # -- the replayer ------------------------------------------------------------
    async def replay_forever(self, probe: Callable[[], Coroutine[Any, Any, object]]) -> None:
        """Supervised task: drain the spool whenever the database answers."""
        while True:
            await nap(self._wake, REPLAY_IDLE_S)
            if self.database_ok and (self._spool is None or self._spool.backlog() == 0):
                continue
            try:
                await self._await_at_most(self._detached(probe(), "spool-probe"))
            except (StorageUnavailable, StorageError, TimeoutError, OSError):
                continue
            if not self.database_ok:
                log.info("database_available_again")
                self.database_ok = True
            await self.replay_spool()

    async def replay_spool(self) -> int:
        """Apply every sealed segment oldest first; returns how many records were applied.

        Stops (to start the segment again later: apply is idempotent) only when
        PostgreSQL goes away. A segment or record that cannot be read, and an
        event PostgreSQL refuses, is quarantined and the replay goes on.
        """
        if self._spool is None or self._spool.backlog() == 0:
            return 0
        self._spool.seal()
        applied = 0
        for segment in self._spool.sealed_segments():
            skipped: list[tuple[int, bytes, str]] = []
            try:
                records = list(read_records(segment, on_skip=lambda *s: skipped.append(s)))  # noqa: B023 - used at once
            except OSError as exc:
                if not await self._set_aside_segment(segment, exc):
                    return applied
                continue
            for offset, stretch, why in skipped:
                reason = f"damaged spool bytes in {segment.name} at offset {offset}: {why}"
                if await self._quarantine(stretch, reason, None, "unreadable") is None:
                    return applied
            loaded: list[tuple[bytes, Envelope]] = []
            for payload in records:
                try:
                    loaded.append((payload, load_envelope(payload)))
                except UnreadableRecord as exc:
                    if await self._quarantine(payload, f"unreadable spool record: {exc}", None,
                                              "unreadable") is None:
                        return applied
            for start in range(0, len(loaded), REPLAY_CHUNK):
                done = await self._replay_chunk(loaded[start:start + REPLAY_CHUNK])
                if done is None:
                    return applied
                applied += done
            # A damaged stretch was (most likely) one appended record: the backlog counted it.
            self._spool.consumed(segment, len(records) + len(skipped))
            log.info("spool_segment_replayed", segment=segment.name, records=len(records),
                     backlog=self._spool.backlog())
        return applied

    async def _replay_chunk(self, chunk: list[tuple[bytes, Envelope]]) -> int | None:
        """Apply spooled events through the group commit, in batches with the live ones.

        Returns how many were applied (a refused one is quarantined instead); None
        when PostgreSQL went away or did not keep up (the segment is replayed again
        later: applying twice changes nothing).
        """
        futures = [self.committer.submit(env, replay=True) for _, env in chunk]
        _, waiting = await asyncio.wait(futures, timeout=max(REPLAY_WAIT_S, self._budget))
        if waiting:
            for future in futures:
                future.cancel()
            log.warning("spool_replay_slow", waiting=len(waiting), then="trying again later")
            return None
        applied = 0
        for (payload, env), future in zip(chunk, futures, strict=True):
            if future.cancelled():
                return None
            exc = future.exception()
            if exc is None:
                applied += 1
                continue
            if isinstance(exc, StorageUnavailable):
                self._mark_database_down(exc)
                return None
            outcome = await self._replay_again(payload, env)
            if outcome is None:
                return None
            applied += outcome == "applied"
        return applied

    async def _replay_again(self, payload: bytes, env: Envelope) -> str | None:
        """Once more on its own (what failed may have been passing); then the quarantine."""
        future = self.committer.submit(env, replay=True)
        done, _ = await asyncio.wait({future}, timeout=max(REPLAY_WAIT_S, self._budget))
        if not done or future.cancelled():
            future.cancel()
            return None
        exc = future.exception()
        if exc is None:
            return "applied"
        if isinstance(exc, StorageUnavailable):
            self._mark_database_down(exc)
            return None
        if isinstance(exc, StorageError):
            cause = exc.__cause__ or exc
            reason = f"refused by PostgreSQL: {type(cause).__name__}: {cause}"
        else:
            reason = f"could not be applied: {type(exc).__name__}: {exc}"
        return await self._quarantine(payload, reason, env.dedup_key, "refused")

    async def _quarantine(self, payload: bytes, reason: str, dedup_key: str | None,
                          label: str) -> str | None:
        try:
            await self._await_at_most(self._detached(
                quarantine(self._pipeline.repo, payload, reason=reason, dedup_key=dedup_key),
                "spool-quarantine"))
        except (StorageUnavailable, TimeoutError) as exc:
            self._mark_database_down(exc)
            return None
        except StorageError:
            # Not even the quarantine takes it: keep the record as a file rather than lose it.
            assert self._spool is not None
            path = self._spool.set_aside(payload)
            log.exception("quarantine_failed", dedup_key=dedup_key, kept_in=str(path))
        log.error("event_quarantined", why=label, reason=reason, dedup_key=dedup_key)
        self.quarantined += 1
        if self._metrics is not None:
            self._metrics.events_quarantined.labels(label).inc()
        return "quarantined"

    async def _set_aside_segment(self, segment: Any, exc: OSError) -> bool:
        """A segment that cannot be read at all: quarantined, then moved to rejected/ for a person
        (its bytes, if any, stay there). False when PostgreSQL went away: stop replaying."""
        assert self._spool is not None
        reason = (f"spool segment {segment.name} unreadable ({type(exc).__name__}: {exc}); "
                  f"moved to {self._spool.directory / 'rejected' / segment.name}")
        if await self._quarantine(reason.encode(), reason, None, "unreadable") is None:
            return False
        try:
            self._spool.set_aside_segment(segment)
        except OSError:
            log.exception("spool_segment_unmovable", segment=str(segment))
        return True
