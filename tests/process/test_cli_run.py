"""`callbridge run` as a user starts it: a real process, a real port, SIGTERM to stop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.mango.replay import load_steps, replay
from daemon.store.database import embedded_data_dir
from tests.conftest import API_KEY, API_SALT, API_TOKEN, FIXTURES
from tests.support.daemon import daemon_env
from tests.support.net import free_port
from tests.support.paths import REPO

START_TIMEOUT_S = 90


async def _wait_for_port(port: int, proc: asyncio.subprocess.Process, log: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while loop.time() < deadline:
        if proc.returncode is not None:
            pytest.fail(f"daemon exited {proc.returncode}:\n{log.read_text()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        await writer.wait_closed()
        return
    pytest.fail(f"daemon did not listen within {START_TIMEOUT_S} s:\n{log.read_text()}")


async def _start(env_extra: dict[str, str], tmp_path: Path) -> AsyncIterator[tuple[int, Path]]:
    port = free_port()
    env = daemon_env(port=port, state_dir=tmp_path / "state", pbx_url=None) | env_extra
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "daemon.cli", "run", env=env, stdout=out, stderr=out,
            cwd=REPO,
        )
    try:
        await _wait_for_port(port, proc, log)
        yield port, log
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0, log.read_text()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _call_reaches_the_api(port: int) -> None:
    failures = await replay(f"http://127.0.0.1:{port}/mango", load_steps(FIXTURES / "answered_incoming.json"),
                            api_key=API_KEY, api_salt=API_SALT, echo=lambda line: None)
    assert failures == 0
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/api/communications",
                               params={"phone": "+79161234567"},
                               headers={"Authorization": f"Bearer {API_TOKEN}"}) as resp:
            assert resp.status == 200
            rows = await resp.json()
    assert [(r["status"], r["manager_extension"], r["talk_seconds"]) for r in rows] == [("answered", "105", 185)]


@pytest.mark.timeout(180)
async def test_run_with_embedded_postgres(tmp_path: Path) -> None:
    """No database configured: the daemon starts its own PostgreSQL in the state directory."""
    async for port, _log in _start({}, tmp_path):
        await _call_reaches_the_api(port)
    assert (embedded_data_dir(tmp_path / "state") / "PG_VERSION").exists()


@pytest.mark.timeout(60)
async def test_run_with_configured_database(db_url: str, tmp_path: Path) -> None:
    async for port, _log in _start({"CALLBRIDGE_DATABASE_URL": db_url}, tmp_path):
        await _call_reaches_the_api(port)
    assert not (tmp_path / "state" / "postgres").exists()


def test_missing_secret_stops_start_up_with_one_line(tmp_path: Path) -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBRIDGE_")}
    env["CALLBRIDGE_STATE_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "run"], env=env, capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "CALLBRIDGE_MANGO_API_KEY" in done.stderr
