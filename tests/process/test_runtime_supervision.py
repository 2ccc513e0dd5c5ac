"""The daemon keeps running, or exits so that systemd restarts it: crashed tasks, a database that is
away at start, two daemons on one spool. Each test runs the real ``callbridge run`` process."""

# ruff: noqa: F811 - the tests take the imported `notify` fixture by name
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from daemon.runtime.tasks import TaskGroup
from tests.conftest import fixture_json, signed_form
from tests.pgproxy import PgProxy
from tests.process.test_lifecycle import (  # noqa: F401 - notify is a fixture
    ROOT,
    NotifySocket,
    notify,
    start_daemon,
)
from tests.support.net import free_port, port_open

CALL = fixture_json("answered_incoming.json")["steps"]


async def _health(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(url + "/health") as resp:
        return resp.status, json.loads(await resp.text())


async def _health_until(url: str, wanted: str, timeout_s: float = 30.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        status, doc = await _health(url)
        if doc["status"] == wanted:
            assert status == (503 if wanted == "fail" else 200)
            return doc
        if loop.time() > deadline:
            pytest.fail(f"/health not {wanted} within {timeout_s} s: {doc}")
        await asyncio.sleep(0.1)


async def _post_call(url: str) -> list[tuple[int, Any]]:
    answers = []
    async with aiohttp.ClientSession() as session:
        for step in CALL:
            async with session.post(url + "/mango" + step["path"], data=signed_form(step["json"])) as resp:
                answers.append((resp.status, await resp.json(content_type=None)))
    return answers


# -- item 1: a crashed background task -----------------------------------------------------

@pytest.mark.parametrize("notify", ["path"], indirect=True)
async def test_a_crashed_task_is_restarted_and_health_says_so(
    tmp_path: Path, notify: NotifySocket, db_url: str
) -> None:
    """The spool replayer crashes once: the supervisor restarts it, /health warns naming it,
    the daemon keeps storing events, and a later SIGTERM still exits 0."""
    async for daemon in start_daemon(tmp_path, notify, db_url, module="tests.crashy",
                                     extra_env={"CRASHY_TIMES": "1"}):
        await notify.next("READY", "1")
        restarted = await daemon.wait_log("task_restarted")
        assert restarted["task"] == "spool-replayer"
        crashed = await daemon.wait_log("task_crashed")
        assert crashed["level"] == "error" and "injected crash" in json.dumps(crashed)
        status, doc = await _health(daemon.url)
        assert (status, doc["status"]) == (200, "warn")
        (check,) = doc["checks"]["tasks:restarts"]
        assert check["status"] == "warn" and "spool-replayer" in check["output"]
        assert all(code == 200 for code, _ in await _post_call(daemon.url))
        assert daemon.proc.returncode is None
        assert await daemon.stop() == 0
    conn = await asyncpg.connect(db_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM inbox") == len(CALL)
    finally:
        await conn.close()


@pytest.mark.parametrize("notify", ["path"], indirect=True)
async def test_a_task_that_keeps_crashing_ends_the_process_with_a_failure_status(
    tmp_path: Path, notify: NotifySocket, db_url: str
) -> None:
    """What systemd sees: a non-zero exit (so Restart=on-failure starts it again), never a clean 0."""
    async for daemon in start_daemon(tmp_path, notify, db_url, module="tests.crashy",
                                     extra_env={"CRASHY_TIMES": "1000", "CRASHY_BACKOFF_S": "0.05"}):
        await notify.next("READY", "1")
        code = await asyncio.wait_for(daemon.proc.wait(), 60)
        assert code != 0, daemon.log.read_text()[-2000:]
        events = [line.get("event") for line in daemon.log_lines()]
        assert events.count("task_crashed") == 5  # daemon.runtime.tasks.MAX_CRASHES
        assert events.count("task_restarted") == 4
        # A graceful stop all the same (requests in flight finish), then the failure status.
        assert events.index("task_failed_for_good") < events.index("stopped")
        assert events[-1] == "exiting_after_task_failure"


async def test_the_supervisor_restarts_with_back_off_and_gives_up() -> None:
    """A restartable task: restarted after each crash, until max_crashes in the window is fatal.
    A task given as a coroutine cannot be made again: its first crash is fatal."""
    fatal: list[str] = []
    runs = 0

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        raise RuntimeError(f"crash {runs}")

    group = TaskGroup(on_fatal=lambda name, exc: fatal.append(f"{name}: {exc}"), backoff_s=0.01,
                      max_crashes=3)
    group.start("flaky", flaky)
    for _ in range(200):
        if fatal:
            break
        await asyncio.sleep(0.01)
    assert (runs, fatal) == (3, ["flaky: crash 3"])
    assert [r.restarts for r in group.records()] == [2]

    group.start("once", flaky())
    for _ in range(100):
        if len(fatal) == 2:
            break
        await asyncio.sleep(0.01)
    assert fatal[1] == "once: crash 4"
    await group.stop()


# -- item 5: no PostgreSQL at start ----------------------------------------------------------

@pytest.mark.parametrize("notify", ["path"], indirect=True)
async def test_started_during_a_database_outage_it_listens_spools_and_catches_up(
    tmp_path: Path, notify: NotifySocket, db_url: str
) -> None:
    """Restarted while PostgreSQL is down: READY=1 (events are kept), the port is open, events
    are answered 200 "spooled", /health says warn; each connection attempt is logged; when
    PostgreSQL comes back the spool is replayed and /health passes."""
    proxy = PgProxy(db_url)  # not opened yet: PostgreSQL is down
    try:
        async for daemon in start_daemon(tmp_path, notify, proxy.url()):
            ready = await notify.next("READY", "1")
            assert "not connected" in ready["STATUS"]
            assert port_open(daemon.port)
            doc = await _health_until(daemon.url, "warn")
            assert doc["checks"]["postgresql:responseTime"][0]["status"] == "fail"
            async with aiohttp.ClientSession() as session, session.get(daemon.url + "/metrics") as resp:
                assert resp.status == 200  # no pool to measure yet, and still an answer
            assert [body for _, body in await _post_call(daemon.url)] == [{"result": "spooled"}] * len(CALL)
            await daemon.wait_log("database_connect_retry")
            await proxy.open()
            await _health_until(daemon.url, "pass")
            for _ in range(300):  # pass comes first; the replayer then drains the spool
                if (await _health(daemon.url))[1]["checks"]["spool:backlog"][0]["observedValue"] == 0:
                    break
                await asyncio.sleep(0.1)
            attempts = [line for line in daemon.log_lines() if line.get("event") == "database_connect_retry"]
            assert attempts and all(line["level"] == "warning" for line in attempts)
            assert [line["attempt"] for line in attempts] == list(range(1, len(attempts) + 1))
            assert await daemon.stop() == 0
    finally:
        await proxy.close()
    conn = await asyncpg.connect(db_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM inbox") == len(CALL)
        assert await conn.fetchval("SELECT status FROM communications") == "answered"
    finally:
        await conn.close()


# -- item 6: one spool, one process ------------------------------------------------------------

@pytest.mark.parametrize("notify", ["path"], indirect=True)
async def test_a_second_daemon_on_the_same_state_dir_refuses_to_start(
    tmp_path: Path, notify: NotifySocket, db_url: str
) -> None:
    """It would replay and delete the first one's open segment; it says why in one line and exits
    non-zero, and the first one is not disturbed."""
    state = tmp_path / "state"
    async for first in start_daemon(tmp_path, notify, db_url):
        await notify.next("READY", "1")
        env = dict(first.env, CALLBRIDGE_LISTEN=f"127.0.0.1:{free_port()}", NOTIFY_SOCKET="")
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "daemon.cli", "run", env=env, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(second.communicate(), 45)
        assert second.returncode != 0
        said = [line for line in err.decode().splitlines() if line.startswith("callbridge:")]
        assert len(said) == 1, err.decode()
        assert f"the spool {state / 'spool'} is in use by another callbridge (pid {first.proc.pid})" in said[0]
        assert all(code == 200 for code, _ in await _post_call(first.url))
        assert await first.stop() == 0
    # The lock goes with the process: a new daemon on that state directory starts.
    (tmp_path / "again").mkdir()
    async for again in start_daemon(tmp_path / "again", notify, db_url, state_dir=str(state)):
        await notify.next("READY", "1")
        assert await again.stop() == 0
