"""Real daemon processes under faults: SIGKILL mid-stream, and two daemons sharing one database.

The daemon runs as ``python -m daemon.cli run``; the test plays the PBX,
which retries every event that got no 200. Each test ends with the database
compared to the state a clean delivery of the same calls gives.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from daemon.store.repository import Repository
from tests.callgen import clean_state, distinct_events, durable_state, generate_calls, stream
from tests.scenarios import Step
from tests.support.daemon import Daemon
from tests.support.faults import Sender, TcpProxy, eventually, proxied_url, spool_records
from tests.support.net import free_port

CALLS = 40


@pytest.fixture
async def expected(server_url: str, template_db: str, tmp_path: Path) -> dict:
    return await clean_state(server_url, template_db, str(tmp_path / "clean"), count=CALLS)


async def _inbox_count(repo: Repository) -> int:
    return await repo.pool.fetchval("SELECT count(*) FROM inbox")


async def _wait_acknowledged(sender: Sender, count: int) -> None:
    await eventually(lambda: _at_least(sender, count), timeout_s=30, pause_s=0.01,
                     what=f"{count} events acknowledged")


async def _at_least(sender: Sender, count: int) -> bool:
    return sender.acknowledged >= count


@pytest.mark.timeout(90)
async def test_sigkill_mid_stream_then_restart_loses_nothing(
    db_url: str, office: Repository, expected: dict, tmp_path: Path
) -> None:
    """Killed twice while calls stream in: once with PostgreSQL up (transactions cut off), once with it
    down (events waiting in the spool). Each restart on the same state directory picks up the spool."""
    calls = generate_calls(CALLS)
    items = stream(calls)
    parts = urlsplit(db_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    state_dir, port = tmp_path / "state", free_port()

    def daemon(n: int) -> Daemon:
        return Daemon(state_dir=state_dir, log_path=tmp_path / f"daemon-{n}.log", port=port,
                      env={"CALLBRIDGE_DATABASE_URL": proxied_url(db_url, proxy), "CALLBRIDGE_DB_BUDGET_S": "1"})

    first, second, third = daemon(1), daemon(2), daemon(3)
    sender = Sender([first.url], workers=8)
    try:
        await first.start()
        sending = asyncio.create_task(sender.send(items))
        # 1. Killed while events are being written to PostgreSQL.
        await _wait_acknowledged(sender, len(items) // 4)
        first.kill()
        assert await first.wait() != 0
        await second.start()
        # 2. PostgreSQL goes away: events are spooled; then the daemon is killed again.
        await _wait_acknowledged(sender, len(items) // 2)
        await proxy.set_mode("reset")
        await _wait_acknowledged(sender, 3 * len(items) // 4)
        second.kill()
        assert await second.wait() != 0
        waiting = spool_records(state_dir)
        assert waiting > 0, "the kill should have left events in the spool"
        await proxy.set_mode("pass")
        await third.start()
        await sending
        assert sender.failed_attempts > 0  # the kills were felt, and the sender retried
        await eventually(lambda: _drained(office, state_dir, distinct_events(calls)), timeout_s=30,
                         what="every event stored and the spool empty")
        assert await third.stop() == 0, third.log()
    finally:
        for d in (first, second, third):
            if d.proc is not None and d.proc.returncode is None:
                d.kill()
                await d.wait()
        await proxy.close()
    assert "spool_backlog_found" in third.log()
    assert await durable_state(office) == expected


async def _drained(repo: Repository, state_dir: Path, events: int) -> bool:
    return spool_records(state_dir) == 0 and await _inbox_count(repo) == events


def _alternating(calls: list[list[Step]], *, seed: int = 7) -> tuple[list[Step], list[int]]:
    """Each call's events in order, its k-th event to daemon k % 2, some repeated to the other daemon.

    Calls follow one another, so with several requests in flight the events of one
    call reach both daemons at the same moment.
    """
    rng = random.Random(seed)
    items: list[Step] = []
    targets: list[int] = []
    for call in calls:
        for k, step in enumerate(call):
            items.append(step)
            targets.append(k % 2)
            if rng.random() < 0.15:
                items.append(step)
                targets.append(1 - k % 2)
    return items, targets


@pytest.mark.timeout(60)
async def test_two_daemons_on_one_database_share_calls(
    db_url: str, office: Repository, expected: dict, tmp_path: Path
) -> None:
    """Two processes get alternate events of the same calls, concurrently: one communication per call."""
    calls = generate_calls(CALLS)
    items, targets = _alternating(calls)
    daemons = [Daemon(state_dir=tmp_path / f"state-{n}", log_path=tmp_path / f"daemon-{n}.log",
                      env={"CALLBRIDGE_DATABASE_URL": db_url}) for n in (1, 2)]
    try:
        await asyncio.gather(*(d.start() for d in daemons))
        sender = Sender([d.url for d in daemons], workers=8)
        await sender.send(items, target_of=targets)
        assert sender.failed_attempts == 0
        await eventually(lambda: _both_drained(office, daemons, distinct_events(calls)), what="both drained")
        for d in daemons:
            assert await d.stop() == 0, d.log()
    finally:
        for d in daemons:
            if d.proc is not None and d.proc.returncode is None:
                d.kill()
                await d.wait()
    assert await durable_state(office) == expected


async def _both_drained(repo: Repository, daemons: list[Daemon], events: int) -> bool:
    return all(spool_records(d.state_dir) == 0 for d in daemons) and await _inbox_count(repo) == events
