"""The one lock order (docs/ARCHITECTURE.md, "Locks"): two batches with crossed identifiers never deadlock.

Two lanes write at once, each a batch in its own transaction on real PostgreSQL
(as ``GroupCommitter._commit_fast``). Batch A: a call from a new caller P1 and a
form with e-mails G (a gate) and E2; batch B: a form with P2 and E2, then a form
with P1. When the identifier locks were taken inquiry by inquiry after the
callers' phone locks, A held phone:P1 and waited for E2 while B held E2 and
waited for P1: PostgreSQL broke the cycle (deadlock_detected) and a batch was
redone. Now each batch takes all its identifier keys in one sorted call before
its first write, so B, which needs none of what A holds, goes first. A third
session holds G until B waits or is done, so the two interleave the bad way
every time (no timing in the assertions).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from config.settings import load_settings
from daemon.domain.events import CallLegChanged, Envelope, InquiryReceived, Party
from daemon.domain.inquiry import Inquiry
from daemon.inquiries.projector import InquiryPipeline
from daemon.intake.pipeline import Pipeline
from daemon.store.repository import Repository, Tx

T0 = 1_764_000_000
P1, P2 = "79165550101", "79165550202"
GATE, E2 = "a-gate@example.ru", "e2@example.ru"


def call_from(number: str) -> list[Envelope]:
    def leg(seq: int, state: str) -> Envelope:
        event = CallLegChanged(entry_id="lock-call", call_id="lock-call-c1", seq=seq, state=state,  # type: ignore[arg-type]
                               location="ivr", at=T0 + seq, caller=Party(number=number),
                               callee=Party(number="74951234567"), line_number="74951234567")
        return Envelope(source="mango", path="events/call", raw="{}", dedup_key=f"lock-call:{seq}", event=event)
    return [leg(1, "appeared"), leg(2, "connected")]


def form(external_id: str, *, phones: tuple[str, ...] = (), emails: tuple[str, ...] = ()) -> Envelope:
    inquiry = Inquiry(channel="web_form", source="site", external_id=external_id, phones=phones, emails=emails,
                      received_at=datetime.fromtimestamp(T0, UTC), name="Гость")
    return Envelope(source="site", path="inquiries/form", raw="{}", dedup_key=f"inquiry:site:{external_id}",
                    event=InquiryReceived(inquiry=inquiry))


async def _waiting(pool: asyncpg.Pool, conn: asyncpg.Connection) -> bool:
    """Whether the session waits for an advisory lock."""
    return bool(await pool.fetchval("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted"
                                    " AND locktype = 'advisory')", conn.get_server_pid()))


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    while not await check():
        await asyncio.sleep(0.01)


async def test_two_batches_with_crossed_identifiers_do_not_deadlock(repo: Repository, pool: asyncpg.Pool) -> None:
    settings = load_settings({})
    pipeline = Pipeline(repo, region="RU", projectors=[InquiryPipeline(region="RU", settings=lambda: settings,
                                                                     merge=False)])
    batch_a = [*call_from(P1), form("a", emails=(GATE, E2))]
    batch_b = [form("b1", phones=(P2,), emails=(E2,)), form("b2", phones=(P1,))]
    deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    deadlocks_before = await pool.fetchval(deadlocks)
    gate = await pool.acquire()
    conns = [await pool.acquire() for _ in range(2)]
    try:
        gate_tx = gate.transaction()
        await gate_tx.start()
        await gate.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"email:{GATE}")

        async def write(conn: asyncpg.Connection, batch: list[Envelope], locks: list[str]) -> list[str]:
            # What repo.transaction() does, on a connection of our choosing, with a short
            # deadlock_timeout so that a cycle is found (and fails the batch) at once.
            async with conn.transaction():
                await conn.execute("SET LOCAL deadlock_timeout = '10ms'")
                return list(await pipeline.write(Tx(conn), batch, lock_keys=locks))

        lane_a = asyncio.create_task(write(conns[0], batch_a, ["entry:lock-call"]))
        await _until(lambda: _waiting(pool, conns[0]))  # A waits for the gate
        lane_b = asyncio.create_task(write(conns[1], batch_b, []))
        await _until(lambda: _lane_b_settled(pool, conns[1], lane_b))
        await gate_tx.rollback()
        results = await asyncio.gather(lane_a, lane_b, return_exceptions=True)
    finally:
        for conn in (gate, *conns):
            await pool.release(conn)
    assert results == [["stored"] * 3, ["stored"] * 2]
    assert await pool.fetchval(deadlocks) == deadlocks_before
    # One person behind P1 (the call made the contact, or the form did), one behind P2 and E2.
    owners = dict(await pool.fetch("SELECT value, contact_id FROM contact_identifiers"))
    assert owners[f"+{P1}"] != owners[f"+{P2}"]
    assert owners[f"+{P2}"] == owners[E2]


async def _lane_b_settled(pool: asyncpg.Pool, conn: asyncpg.Connection, lane: asyncio.Task[list[str]]) -> bool:
    return lane.done() or await _waiting(pool, conn)
