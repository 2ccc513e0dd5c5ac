"""Group commit (daemon.intake.groupcommit) on the real PostgreSQL: many events, few transactions, same rows.

Events submitted together are written in shared transactions; each waiter hears
``stored`` or ``duplicate`` only once its event is committed; a repeat inside a
batch is a duplicate; an event PostgreSQL refuses fails alone, and its
neighbours (of the same call, too) are stored; the rows equal what deriving
each call once more gives (nothing depends on how the events were batched).
"""

from __future__ import annotations

import asyncio

from daemon.domain.errors import StorageError
from daemon.domain.events import CallLegChanged, Envelope, Party
from daemon.intake.groupcommit import GroupCommitter
from daemon.intake.pipeline import Pipeline
from daemon.store.repository import Repository

T0 = 1_764_000_000


def leg(entry: str, seq: int, state: str, *, caller: str, ext: str | None = None, raw: str = "{}") -> Envelope:
    event = CallLegChanged(entry_id=entry, call_id=f"{entry}-c{1 if ext is None else 2}", seq=seq,
                           state=state, location="ivr" if ext is None else "abonent", at=T0 + seq,  # type: ignore[arg-type]
                           caller=Party(number=caller), callee=Party(extension=ext, number="74951234567"),
                           line_number="74951234567")
    return Envelope(source="mango", path="events/call", raw=raw, dedup_key=f"{entry}:{seq}:{state}", event=event)


def call(n: int) -> list[Envelope]:
    entry, caller = f"gc-{n}", f"7916555{n:04d}"
    return [leg(entry, 1, "appeared", caller=caller), leg(entry, 2, "connected", caller=caller),
            leg(entry, 3, "disconnected", caller=caller),
            leg(entry, 4, "appeared", caller=caller, ext="105"), leg(entry, 5, "connected", caller=caller, ext="105"),
            leg(entry, 6, "disconnected", caller=caller, ext="105")]


async def _rows(repo: Repository) -> dict[str, dict]:
    rows = await repo.pool.fetch("SELECT * FROM communications ORDER BY entry_id")
    return {r["entry_id"]: {k: v for k, v in dict(r).items() if k not in ("updated_at",)} for r in rows}


async def test_events_submitted_together_share_transactions_and_give_the_same_rows(repo: Repository) -> None:
    """40-odd events of 6 calls at once: fewer transactions than events, every one stored once,
    one contact and one lead per new caller, and deriving each call again changes nothing."""
    pipeline = Pipeline(repo, region="RU")
    announced: list[str] = []
    committer = GroupCommitter(pipeline, on_stored=lambda env: announced.append(env.dedup_key), max_batch=16)
    events = [e for n in range(6) for e in call(n)]
    outcomes = await asyncio.gather(*(committer.submit(e) for e in reversed(events)))
    assert outcomes == ["stored"] * len(events)
    assert sorted(announced) == sorted(e.dedup_key for e in events)
    assert committer.batches < len(events)
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == len(events)
    before = await _rows(repo)
    assert len(before) == 6 and all(r["contact_id"] and r["lead_id"] for r in before.values())
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts") == 6
    for entry_id in before:
        async with repo.transaction() as tx:
            await pipeline.refresh_call(tx, entry_id)
    assert await _rows(repo) == before


async def test_a_repeat_in_the_same_batch_is_a_duplicate_and_announced_once(repo: Repository) -> None:
    announced: list[str] = []
    committer = GroupCommitter(Pipeline(repo, region="RU"), on_stored=lambda env: announced.append(env.dedup_key))
    first = call(7)[0]
    outcomes = await asyncio.gather(committer.submit(first), committer.submit(first))
    assert sorted(outcomes) == ["duplicate", "stored"]
    assert announced == [first.dedup_key]


async def test_an_event_postgresql_refuses_fails_alone(repo: Repository) -> None:
    """A NUL in the raw text (the intake's admission check would have stopped it): PostgreSQL
    refuses that row; the batch is redone event by event and the neighbours, of the same
    call and of others, are stored."""
    committer = GroupCommitter(Pipeline(repo, region="RU"), on_stored=lambda env: None)
    good = call(8)
    bad = leg("gc-8", 9, "on_hold", caller="79165550008", ext="105", raw="nul \x00 here")
    others = call(9)
    futures = [committer.submit(e) for e in [*good[:3], bad, *good[3:], *others]]
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert isinstance(results[3], StorageError)
    assert [r for i, r in enumerate(results) if i != 3] == ["stored"] * (len(futures) - 1)
    stored = await repo.pool.fetchval("SELECT count(*) FROM inbox WHERE entry_id = ANY($1::text[])", ["gc-8", "gc-9"])
    assert stored == len(futures) - 1
    rows = await _rows(repo)
    assert rows["gc-8"]["status"] == rows["gc-9"]["status"]


async def test_a_withdrawn_event_is_not_written(repo: Repository) -> None:
    """A waiter that gives up before the writer took its event (the intake's budget) withdraws it."""
    committer = GroupCommitter(Pipeline(repo, region="RU"), on_stored=lambda env: None, writers=1)
    released: list[int] = []
    events = call(10)
    futures = [committer.submit(e, release=lambda: released.append(1)) for e in events]
    futures[-1].cancel()  # before the writer ran: still queued
    await asyncio.gather(*futures[:-1])
    await asyncio.sleep(0)
    assert len(released) == len(events)
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == len(events) - 1


async def test_writers_in_flight_together_never_share_a_call(repo: Repository) -> None:
    """Each call belongs to one writer (its lane): batches in flight at the same moment hold
    different calls, so one daemon's batches never wait for each other's call locks. (With one
    queue for all writers, every batch took events of most calls in progress, and the writers
    ran one after another.) Every event is still stored once, and batches did overlap."""
    pipeline = Pipeline(repo, region="RU")
    in_flight: list[set[str]] = []
    overlaps: list[int] = []
    write = pipeline.write

    async def watched(tx, envs, *, lock_keys):  # type: ignore[no-untyped-def]
        calls = {e.entry_id for e in envs if e.entry_id is not None}
        assert all(not calls & other for other in in_flight), "two batches in flight hold one call"
        in_flight.append(calls)
        overlaps.append(len(in_flight))
        try:
            await asyncio.sleep(0.01)  # stay in flight while the next events arrive
            return await write(tx, envs, lock_keys=lock_keys)
        finally:
            in_flight.remove(calls)

    pipeline.write = watched  # type: ignore[method-assign]
    committer = GroupCommitter(pipeline, on_stored=lambda env: None, max_batch=4, writers=3)
    events = [e for n in range(20, 32) for e in call(n)]
    # Interleaved, as calls in progress deliver: every call's events spread over the stream.
    stream = [events[i] for step in range(6) for i in range(step, len(events), 6)]
    futures = []
    for env in stream:
        futures.append(committer.submit(env))
        await asyncio.sleep(0.001)
    assert await asyncio.gather(*futures) == ["stored"] * len(stream)
    assert max(overlaps) > 1, "the writers never ran side by side"
    assert await repo.pool.fetchval("SELECT count(*) FROM communications") == 12
