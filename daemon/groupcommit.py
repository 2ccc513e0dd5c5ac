"""Group commit: the events that arrive while a transaction is in flight go together in the next one.

One transaction per event spends most of an event's cost on BEGIN, COMMIT (a
WAL flush each), taking a pooled connection and the event loop's switches
between them. Here one writer takes every waiting event (up to ``max_batch``)
and writes them in one transaction; each waiter is answered only after the
COMMIT that holds its event, so "200 means durable" is unchanged.

Inside the transaction:

- Every call's lock (``entry:<entry_id>``, the same advisory lock a single
  ``Pipeline.apply`` takes) is taken first, sorted by key (in SQL, as
  retention, merges and imports sort theirs), in the same statement that then
  puts all inbox rows in; every changed call's events come back with one more;
  then the phone locks of the new callers, again all at once and sorted; then
  each call's links and row. Every batch takes calls before phones, each in one
  order, so batches (in one daemon or two, three writers each) never wait for
  each other in a cycle.
- That fast path has no savepoints: they cost two round trips per call, and a
  batch is bound by its round trips (bench/spool: ~100 events/s with them,
  ~650 without on a loaded machine). Any error rolls the batch back, and it is
  redone carefully: the events of one call under one savepoint, derived once;
  if that fails, the savepoint is rolled back and the call's events are written
  one by one, each under its own savepoint: one bad event never spoils its
  neighbours. A deadlock or serialization failure rolls back only the
  savepoint and is tried again; another error is that event's alone (its
  waiter gets it, the webhook answers 500 and the PBX sends it again).
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
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import structlog

from daemon.domain import CALL_EVENTS, Envelope, InquiryReceived
from daemon.errors import StorageUnavailable
from daemon.inquiries.pipeline import lock_key_of
from daemon.pipeline import CALL_EVENT_KINDS, Outcome, Pipeline
from daemon.repository import Tx

log = structlog.get_logger(__name__)

# More savepoints than this in one transaction overflow PostgreSQL's per-backend
# subtransaction cache, which slows every other session's snapshots.
MAX_BATCH = 64
# Batches in flight at once, each on its own connection. Most of a batch's time is
# round trips (waiting), so a second and third batch fill that wait; their call
# locks are taken in one order, so they never deadlock over calls.
WRITERS = 3
RETRY_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
ATTEMPTS = 3

Listener = Callable[[Envelope], None]


@dataclass(eq=False)
class _Item:
    env: Envelope
    future: asyncio.Future[Outcome]
    release: Callable[[], None] | None


def retryable(exc: BaseException) -> bool:
    """A deadlock or a serialization failure: the same statement may well pass next time.

    (daemon.database classes these as StorageUnavailable, "passing"; here they are
    one transaction's bad luck, not the database gone, and are retried at once.)"""
    return getattr(exc.__cause__, "sqlstate", None) in RETRY_SQLSTATES


class GroupCommitter:
    def __init__(self, pipeline: Pipeline, *, on_stored: Listener, max_batch: int = MAX_BATCH,
                 writers: int = WRITERS) -> None:
        self._pipeline = pipeline
        self._on_stored = on_stored
        self._max_batch = max_batch
        self._live: deque[_Item] = deque()
        self._backlog: deque[_Item] = deque()
        self._max_writers = writers
        self._writers: set[asyncio.Task[None]] = set()
        self.batches = 0  # committed, since start (metrics, benchmarks)
        self.events = 0

    def submit(self, env: Envelope, *, replay: bool = False,
               release: Callable[[], None] | None = None) -> asyncio.Future[Outcome]:
        """Queue the event; the future is ``stored``/``duplicate`` once committed, or the error.

        ``release`` is called once the writer is done with the event (or drops it).
        Cancel the future to withdraw an event the writer has not taken yet.
        """
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        (self._backlog if replay else self._live).append(_Item(env, future, release))
        if len(self._writers) < self._max_writers:
            # Writers start on demand and end when nothing waits: no idle task to supervise.
            # A crash fails the batch it held (below), and another starts if work waits.
            self._start_writer()
        return future

    def _start_writer(self) -> None:
        writer = asyncio.create_task(self._write(), name="group-commit")
        self._writers.add(writer)
        writer.add_done_callback(self._writer_done)

    def pending(self) -> int:
        return len(self._live) + len(self._backlog)

    async def close(self) -> None:
        """Stop writing (shutdown): waiters not yet written get CancelledError."""
        writers, self._max_writers = list(self._writers), 0
        for writer in writers:
            writer.cancel()
        await asyncio.gather(*writers, return_exceptions=True)
        for item in (*self._live, *self._backlog):
            _finish(item, asyncio.CancelledError())
        self._live.clear()
        self._backlog.clear()

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        self._writers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("group_commit_writer_crashed", error=repr(task.exception()))
        if self.pending() and len(self._writers) < self._max_writers:
            self._start_writer()

    def _take(self) -> list[_Item]:
        batch: list[_Item] = []
        backlog_share = max(1, self._max_batch // 4) if self._backlog else 0
        for queue, room in ((self._live, self._max_batch - min(backlog_share, len(self._backlog))),
                            (self._backlog, self._max_batch)):
            while queue and len(batch) < room:
                item = queue.popleft()
                if item.future.done():  # withdrawn by its waiter
                    _finish(item, None)
                    continue
                batch.append(item)
        while self._live and len(batch) < self._max_batch:  # the backlog left room
            item = self._live.popleft()
            if item.future.done():
                _finish(item, None)
                continue
            batch.append(item)
        return batch

    async def _write(self) -> None:
        while self._live or self._backlog:
            batch = self._take()
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
        """The common case, in the fewest round trips: the locks, all inbox rows in one
        statement, then each call derived once. Any error rolls it all back (the caller
        then goes event by event)."""
        results: dict[int, Outcome | BaseException] = {}
        async with self._pipeline.repo.transaction() as tx:
            inserted = await tx.insert_inbox_many([it.env for it in batch], lock_keys=_call_locks(batch))
            for item in batch:
                stored = item.env.dedup_key in inserted
                inserted.discard(item.env.dedup_key)  # a repeat later in the batch is a duplicate
                results[id(item)] = "stored" if stored else "duplicate"
            changed = [group[0].env.entry_id for group in _calls(batch)
                       if group[0].env.entry_id is not None and any(
                           results[id(it)] == "stored" and isinstance(it.env.event, CALL_EVENTS) for it in group)]
            if changed:
                await self._derive_and_store(tx, [e for e in changed if e is not None])
            for item in batch:  # inquiries last, in arrival order (the sort keeps it)
                if results[id(item)] == "stored":
                    await self._file_inquiry(tx, item.env)
        return results

    async def _file_inquiry(self, tx: Tx, env: Envelope) -> None:
        """A form, chat or message (daemon/inquiries): filed as ``Pipeline.apply`` files it."""
        if isinstance(env.event, InquiryReceived) and self._pipeline.inquiries is not None:
            await self._pipeline.inquiries.file(tx, env.event)

    async def _derive_and_store(self, tx: Tx, entry_ids: list[str]) -> None:
        """Every changed call re-derived: their states in one query, then the phones of
        new callers locked at once (in order, after the calls': no cycles), then each stored."""
        states = await tx.call_states(entry_ids, CALL_EVENT_KINDS)
        derived = [d for e in entry_ids if (d := self._pipeline.derive(e, states[e])) is not None]
        phones = sorted({d.phone_lock for d in derived if d.phone_lock is not None})
        if phones:
            await tx.lock_keys(phones)
        # Links first (round trips only for calls still without contact or lead), then every
        # row in one pipelined executemany.
        lookups = await self._pipeline.lookups(tx, derived)
        rows = [await self._pipeline.communication(tx, call, phone_locked=True, lookups=lookups) for call in derived]
        await tx.upsert_communications(rows)

    async def _commit_carefully(self, batch: list[_Item]) -> dict[int, Outcome | BaseException]:
        """One savepoint per call (then per event): one bad event never spoils its neighbours."""
        results: dict[int, Outcome | BaseException] = {}
        async with self._pipeline.repo.transaction() as tx:
            await self._lock_calls(tx, batch)
            for group in _calls(batch):
                await self._apply_call(tx, group, results)
        return results

    @staticmethod
    async def _lock_calls(tx: Tx, batch: list[_Item]) -> None:
        keys = _call_locks(batch)
        if keys:
            await tx.lock_keys(keys)

    async def _apply_call(self, tx: Tx, group: list[_Item], results: dict[int, Any]) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                outcomes = await self._apply_under_savepoint(tx, group)
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

    async def _apply_under_savepoint(self, tx: Tx, group: list[_Item]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        async with tx.savepoint():
            for item in group:
                stored = await tx.insert_inbox(item.env)
                outcomes.append("stored" if stored else "duplicate")
            entry_id = group[0].env.entry_id
            if entry_id is not None and any(
                    o == "stored" and isinstance(it.env.event, CALL_EVENTS)
                    for it, o in zip(group, outcomes, strict=True)):
                await self._pipeline.refresh_call(tx, entry_id)
            for it, o in zip(group, outcomes, strict=True):
                if o == "stored":
                    await self._file_inquiry(tx, it.env)
        return outcomes


def _call_locks(batch: list[_Item]) -> list[str]:
    """The batch's call (and conversation) locks, as ``Pipeline.apply`` takes them one by one
    (the database sorts them: see the queries)."""
    keys = {f"entry:{it.env.entry_id}" for it in batch if it.env.entry_id is not None}
    keys |= {k for it in batch if it.env.entry_id is None and (k := lock_key_of(it.env)) is not None}
    return list(keys)


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
