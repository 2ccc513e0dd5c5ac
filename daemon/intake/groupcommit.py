"""Group commit: the events that arrive while a transaction is in flight go together in the next one.

One transaction per event spends most of an event's cost on BEGIN, COMMIT (a
WAL flush each), taking a pooled connection and the event loop's switches
between them. Here one writer takes every waiting event (up to ``max_batch``)
and writes them in one transaction; each waiter is answered only after the
COMMIT that holds its event, so "200 means durable" is unchanged.

Inside the transaction (``Pipeline.write``), two round trips between BEGIN and
COMMIT whatever the batch holds (migration 0018):

- ``callbridge_ingest_v2``: every call's lock (``entry:<entry_id>``, the same
  advisory lock a single ``Pipeline.apply`` takes) and every conversation's,
  in one statement (``callbridge_lock_v1``'s order: by the key's bytes); then all
  inbox rows; then every changed call's events and links.
- ``callbridge_store_calls_v2``, once Python has derived the calls: every
  identifier lock of the batch (the new callers' phones and the stored
  inquiries' phones, e-mails and messenger ids), again in one sorted call;
  then each call's contact, lead, managers and row. The inquiries are filed
  after it, under those locks. Every batch takes its call and conversation
  keys before its identifier keys, each level in one sorted call, so batches
  (in one daemon or two) never wait for each other in a cycle
  (tests/integration/test_lock_order.py); and within a daemon each writer has its own
  calls (its lane), so its batches never wait for each other's call locks.
  (A merge inside a batch and the careful path below may take a phone key
  out of that order: PostgreSQL detects such a deadlock, and it is retried.)
- That fast path has no savepoints: they cost two round trips per call, and a
  batch is bound by its round trips (bench/spool: ~100 events/s with them,
  ~650 without on a loaded machine). Any error rolls the batch back, and it is
  redone carefully: the events of one call under one savepoint, derived once;
  if that fails, the savepoint is rolled back and the call's events are written
  one by one, each under its own savepoint: one bad event never spoils its
  neighbours. A deadlock or serialization failure rolls back only the
  savepoint and is tried again; another error is that event's alone (its
  waiter gets it, and the intake spools it, or answers 503 without a spool).
- Losing PostgreSQL fails the whole batch: nothing in it was acknowledged.

A waiter that gives up (the intake's budget) cancels its future: if the writer
has not taken the event yet it is dropped, else it may still commit. The
intake then spools it; replaying that copy later is a harmless duplicate,
since applying an event twice changes nothing.

Spool replay uses the same writer (``submit(..., replay=True)``): live events
go first, the backlog fills each batch's remaining room, and at least a
quarter of each batch, so a backlog drains while new events keep coming.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import structlog

from daemon.domain.errors import StorageUnavailable
from daemon.domain.events import Envelope
from daemon.intake.pipeline import Outcome, Pipeline
from daemon.store.database import retryable
from daemon.store.repository import Tx

log = structlog.get_logger(__name__)

# More savepoints than this in one transaction overflow PostgreSQL's per-backend
# subtransaction cache, which slows every other session's snapshots.
MAX_BATCH = 64
# Batches in flight at once, each on its own connection and each for its own share
# of the calls (its lane). Most of a batch's time is round trips (waiting), so a
# second and third batch fill that wait.
WRITERS = 3
ATTEMPTS = 3

Listener = Callable[[Envelope], None]


@dataclass(eq=False)
class _Item:
    env: Envelope
    future: asyncio.Future[Outcome]
    release: Callable[[], None] | None


class _Lane:
    """One writer's queues: the live events and the spooled backlog of its share of the calls."""

    def __init__(self) -> None:
        self.live: deque[_Item] = deque()
        self.backlog: deque[_Item] = deque()
        self.writer: asyncio.Task[None] | None = None

    def pending(self) -> int:
        return len(self.live) + len(self.backlog)


class GroupCommitter:
    def __init__(self, pipeline: Pipeline, *, on_stored: Listener, max_batch: int = MAX_BATCH,
                 writers: int = WRITERS) -> None:
        self._pipeline = pipeline
        self._on_stored = on_stored
        self._max_batch = max_batch
        # One lane per writer, and each call (conversation) always in the same lane: two of
        # this daemon's batches never want one call's lock, so they never queue behind each
        # other (when they shared one queue, every batch held most of the calls in progress
        # and the writers ran one after another, each waiting out the other's locks).
        self._lanes = [_Lane() for _ in range(writers)]
        self._open = True
        self.batches = 0  # committed, since start (metrics, benchmarks)
        self.events = 0

    def submit(self, env: Envelope, *, replay: bool = False,
               release: Callable[[], None] | None = None) -> asyncio.Future[Outcome]:
        """Queue the event; the future is ``stored``/``duplicate`` once committed, or the error.

        ``release`` is called once the writer is done with the event (or drops it).
        Cancel the future to withdraw an event the writer has not taken yet.
        """
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        lane = self._lanes[zlib.crc32(self._lane_key(env).encode()) % len(self._lanes)]
        (lane.backlog if replay else lane.live).append(_Item(env, future, release))
        if lane.writer is None and self._open:
            # Writers start on demand and end when nothing waits: no idle task to supervise.
            # A crash fails the batch it held (below), and another starts if work waits.
            self._start_writer(lane)
        return future

    def _start_writer(self, lane: _Lane) -> None:
        writer = asyncio.create_task(self._write(lane), name="group-commit")
        lane.writer = writer
        writer.add_done_callback(lambda task: self._writer_done(lane, task))

    def pending(self) -> int:
        return sum(lane.pending() for lane in self._lanes)

    async def close(self) -> None:
        """Stop writing (shutdown): waiters not yet written get CancelledError."""
        self._open = False
        writers = [lane.writer for lane in self._lanes if lane.writer is not None]
        for writer in writers:
            writer.cancel()
        await asyncio.gather(*writers, return_exceptions=True)
        for lane in self._lanes:
            for item in (*lane.live, *lane.backlog):
                _finish(item, asyncio.CancelledError())
            lane.live.clear()
            lane.backlog.clear()

    def _writer_done(self, lane: _Lane, task: asyncio.Task[None]) -> None:
        if lane.writer is task:
            lane.writer = None
        if not task.cancelled() and task.exception() is not None:
            log.error("group_commit_writer_crashed", error=repr(task.exception()))
        if lane.pending() and lane.writer is None and self._open:
            self._start_writer(lane)

    def _take(self, lane: _Lane) -> list[_Item]:
        batch: list[_Item] = []
        backlog_share = max(1, self._max_batch // 4) if lane.backlog else 0
        for queue, room in ((lane.live, self._max_batch - min(backlog_share, len(lane.backlog))),
                            (lane.backlog, self._max_batch)):
            while queue and len(batch) < room:
                item = queue.popleft()
                if item.future.done():  # withdrawn by its waiter
                    _finish(item, None)
                    continue
                batch.append(item)
        while lane.live and len(batch) < self._max_batch:  # the backlog left room
            item = lane.live.popleft()
            if item.future.done():
                _finish(item, None)
                continue
            batch.append(item)
        return batch

    async def _write(self, lane: _Lane) -> None:
        while lane.live or lane.backlog:
            batch = self._take(lane)
            if not batch:
                continue
            try:
                outcomes = await self._commit(batch)
            except BaseException as exc:
                for item in batch:
                    _finish(item, exc if isinstance(exc, Exception) else asyncio.CancelledError())
                if not isinstance(exc, Exception):
                    raise
                log.warning("group_commit_failed", events=len(batch), error=repr(exc))
                continue
            self.batches += 1
            self.events += len(batch)
            for item in batch:
                outcome = outcomes[id(item)]
                if outcome == "stored":
                    self._on_stored(item.env)
                _finish(item, outcome)

    async def _commit(self, batch: list[_Item]) -> dict[int, Outcome | BaseException]:
        # Stable sort: a call's events stay in arrival order, and they are neighbours.
        batch.sort(key=lambda it: (it.env.entry_id is None, it.env.entry_id or ""))
        try:
            return await self._commit_fast(batch)
        except Exception as exc:  # noqa: BLE001 - whatever one event provoked: find it, spare the rest
            if isinstance(exc, StorageUnavailable) and not retryable(exc):
                raise  # the connection is gone: the whole batch with it
            log.info("group_commit_careful", events=len(batch), error=repr(exc))
            return await self._commit_carefully(batch)

    async def _commit_fast(self, batch: list[_Item]) -> dict[int, Outcome | BaseException]:
        """The common case, in the fewest round trips (``Pipeline.write``: the locks and the
        inbox rows with the changed calls' states, then every call stored). Any error rolls
        it all back (the caller then goes call by call)."""
        async with self._pipeline.repo.transaction() as tx:
            outcomes = await self._pipeline.write(tx, [it.env for it in batch], lock_keys=self._call_locks(batch))
        return {id(item): outcome for item, outcome in zip(batch, outcomes, strict=True)}

    async def _commit_carefully(self, batch: list[_Item]) -> dict[int, Outcome | BaseException]:
        """One savepoint per call (then per event): one bad event never spoils its neighbours."""
        results: dict[int, Outcome | BaseException] = {}
        async with self._pipeline.repo.transaction() as tx:
            keys = self._call_locks(batch)
            if keys:
                await tx.lock_keys(keys)
            for group in _calls(batch):
                await self._apply_call(tx, group, results)
        return results

    def _lane_key(self, env: Envelope) -> str:
        """What decides an event's lane: its lock (its call, else its projector's: a
        conversation), else itself."""
        return self._pipeline.lock_key(env) or env.dedup_key

    def _call_locks(self, batch: list[_Item]) -> list[str]:
        """The batch's call (and conversation) locks, as ``Pipeline.apply`` takes them one by one
        (the database sorts them: see the queries)."""
        return list({key for it in batch if (key := self._pipeline.lock_key(it.env)) is not None})

    async def _apply_call(self, tx: Tx, group: list[_Item], results: dict[int, Any]) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with tx.savepoint():
                    outcomes = await self._pipeline.write(tx, [it.env for it in group], lock_keys=[])
            except Exception as exc:  # noqa: BLE001 - StorageError, or whatever this call's events provoke
                if isinstance(exc, StorageUnavailable) and not retryable(exc):
                    raise  # the connection is gone: the whole batch with it
                if retryable(exc) and attempt < ATTEMPTS:
                    log.info("group_commit_retry", entry_id=group[0].env.entry_id, error=str(exc))
                    continue
                if len(group) > 1:
                    # Find the one that fails: each of the call's events on its own.
                    for item in group:
                        await self._apply_call(tx, [item], results)
                    return
                results[id(group[0])] = exc
                return
            for item, outcome in zip(group, outcomes, strict=True):
                results[id(item)] = outcome
            return


def _calls(batch: list[_Item]) -> Iterator[list[_Item]]:
    """Neighbouring events of one call together; an event without a call alone."""
    group: list[_Item] = []
    for item in batch:
        if group and (item.env.entry_id is None or item.env.entry_id != group[0].env.entry_id):
            yield group
            group = []
        group.append(item)
    if group:
        yield group


def _finish(item: _Item, result: Outcome | BaseException | None) -> None:
    """Answer the waiter (unless it left) and give back its in-flight slot, once."""
    if result is not None and not item.future.done():
        if isinstance(result, asyncio.CancelledError):
            item.future.cancel()
        elif isinstance(result, BaseException):
            item.future.set_exception(result)
        else:
            item.future.set_result(result)
    release, item.release = item.release, None
    if release is not None:
        release()
