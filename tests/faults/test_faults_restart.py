"""A real PostgreSQL restarted fast, then read-only for a while, under a stream from two daemons.

The errors these faults raise are not "connection refused": an administrator
shutdown (57P01) kills the sessions in the middle of transactions, the server
then refuses connections while it starts (57P03), and a server set read-only
(as after a failover to a standby that is not yet promoted) refuses every write
with 25006. Each is a passing condition: the event must be spooled and stored
later, never answered with a 5xx (the PBX would retry, but a 500 also means a
bug to the on-call engineer) and never lost.

The server is a private one (pgserver, as the SIGSTOP test's): the shared one
must never be restarted. CI sends a short stream; --long-faults (or
CALLBRIDGE_TEST_LONG_FAULTS=1) sends 10,000 events.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from daemon.runtime.app import build_app
from daemon.runtime.keys import INTAKE, SPOOL
from daemon.store.repository import Repository
from tests.callgen import (
    app_settings,
    clean_state,
    distinct_events,
    durable_state,
    generate_calls,
    stream,
)
from tests.conftest import load_office
from tests.faults.test_faults_postgres import private_postgres  # noqa: F401  (a fixture)
from tests.support.faults import Sender, eventually

SHORT_CALLS = 40
# 10,000 events: 1,460 generated calls make 10,009 deliveries, repeats included
# (tests/callgen.py's stream), 9,130 of them distinct.
LONG_CALLS = 1460
SHORT_READ_ONLY_S = 3.0
LONG_READ_ONLY_S = 10.0
BUDGET_S = 1.0


def _long(config: pytest.Config) -> bool:
    return bool(config.getoption("--long-faults")) or os.environ.get("CALLBRIDGE_TEST_LONG_FAULTS") == "1"


@pytest.fixture
def calls_and_hold(request: pytest.FixtureRequest) -> tuple[int, float]:
    if _long(request.config):
        return LONG_CALLS, LONG_READ_ONLY_S
    return SHORT_CALLS, SHORT_READ_ONLY_S


def _pg_ctl_restart_fast(data_dir: Path) -> None:
    """``pg_ctl restart -m fast``: sessions are ended with 57P01, the server starts again at once."""
    import pgserver
    from pgserver._commands import pg_ctl

    server = pgserver.get_server(data_dir, cleanup_mode=None)  # the running one, not a new one
    pg_ctl(["-w", "-m", "fast", "-l", str(data_dir / "restart.log"), "restart"], pgdata=data_dir,
           user=server.system_user, timeout=60)


async def _set_read_only(admin_url: str, on: bool) -> None:
    """ALTER SYSTEM + reload: every session's next transaction is read-only (25006 on a write)."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("SET default_transaction_read_only = off")  # this session may still write
        if on:
            await conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        else:
            await conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _two_daemons(url: str, tmp_path: Path) -> AsyncIterator[list[TestClient]]:
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for n in range(2):
            settings = app_settings(url, str(tmp_path / f"state-{n}"), db_budget_s=str(BUDGET_S))
            app = build_app(settings, database_url=url, apply_migrations=True)
            clients.append(await stack.enter_async_context(TestClient(TestServer(app))))
        yield clients


async def _drained(clients: list[TestClient], repo: Repository, events: int) -> bool:
    for client in clients:
        if client.app[SPOOL].backlog() or not client.app[INTAKE].database_ok:
            return False
    return await repo.pool.fetchval("SELECT count(*) FROM inbox") == events


@pytest.mark.timeout(900)
async def test_a_fast_restart_then_a_read_only_server_loses_nothing_and_answers_no_5xx(
    private_postgres: tuple[str, Path],  # noqa: F811
    server_url: str, template_db: str, tmp_path: Path, calls_and_hold: tuple[int, float],
) -> None:
    """pg_ctl restart -m fast in the middle of a stream, then default_transaction_read_only for a
    while, under two daemons: every event is answered 200 (stored or spooled) and, once the server
    takes writes again, every acknowledged event is stored exactly once."""
    count, hold_s = calls_and_hold
    expected = await clean_state(server_url, template_db, str(tmp_path / "clean"), count=count)
    url, data_dir = private_postgres
    calls = generate_calls(count)
    items = stream(calls)
    third = len(items) // 3
    before, during, after = items[:third], items[third:2 * third], items[2 * third:]
    async with _two_daemons(url, tmp_path) as clients:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            repo = Repository(pool)
            await load_office(repo)
            sender = Sender([str(c.make_url("")).rstrip("/") for c in clients], workers=8)
            # The restart lands in the middle of the first third's stream.
            streaming = asyncio.create_task(sender.send(before))
            await eventually(lambda: _some_sent(sender, len(before) // 3), what="stream under way")
            await asyncio.to_thread(_pg_ctl_restart_fast, data_dir)
            await streaming
            await _set_read_only(url, on=True)
            # Read-only for hold_s, whatever the daemons answer meanwhile (a daemon that answered
            # 5xx would have the sender retry until the server takes writes again).
            streaming = asyncio.create_task(sender.send(during, start_index=len(before)))
            try:
                await asyncio.wait({streaming}, timeout=hold_s)
            finally:
                await _set_read_only(url, on=False)
            await streaming
            await sender.send(after, start_index=len(before) + len(during))
            answers = dict(sender.statuses)
            assert not {s for s in answers if s >= 500}, answers
            assert sender.failed_attempts == 0, answers
            assert sender.outcomes["spooled"] > 0, "the faults never reached the daemons"
            await eventually(lambda: _drained(clients, repo, distinct_events(calls)), timeout_s=120,
                             what="both spools drained into PostgreSQL")
            assert await durable_state(repo) == expected
        finally:
            await pool.close()


async def _some_sent(sender: Sender, n: int) -> bool:
    return sender.acknowledged >= n
