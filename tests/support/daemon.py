"""The daemon as a user starts it: ``python -m daemon.cli run`` in a subprocess on 127.0.0.1.

``daemon_env`` is the environment every launcher gives it (tests and benchmarks alike): none of the
caller's own ``CALLBRIDGE_*`` variables, the listen address and state directory, the PBX's keys, the
API token, a PBX address where nothing listens, JSON log lines. ``Daemon`` starts one, waits until it
listens, and stops or kills it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.support.net import free_port
from tests.support.paths import REPO
from tests.support.pbx import API_KEY, API_SALT

API_TOKEN = "test-token-" + "x" * 20
# Nothing listens here: a daemon that tried the PBX's API would fail at once on loopback
# instead of leaving the machine.
DEAD_PBX_URL = "http://127.0.0.1:9/vpbx/"
DAEMON_START_TIMEOUT_S = 30.0
DAEMON_STOP_TIMEOUT_S = 20.0


def daemon_env(*, port: int, state_dir: Path, api_key: str = API_KEY, api_salt: str = API_SALT,
               api_token: str = API_TOKEN, pbx_url: str | None = DEAD_PBX_URL,
               strip: tuple[str, ...] = ("CALLBRIDGE_",), **settings: str) -> dict[str, str]:
    """This process's environment less ``strip``-prefixed names, plus the daemon's settings
    (``settings`` as ``CALLBRIDGE_<NAME>``; ``pbx_url=None`` leaves the PBX address unset)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(strip)}
    env |= {
        "CALLBRIDGE_LISTEN": f"127.0.0.1:{port}",
        "CALLBRIDGE_STATE_DIR": str(state_dir),
        "CALLBRIDGE_MANGO_API_KEY": api_key,
        "CALLBRIDGE_MANGO_API_SALT": api_salt,
        "CALLBRIDGE_API_TOKEN": api_token,
        "CALLBRIDGE_LOG_FORMAT": "json",
    }
    if pbx_url is not None:
        env["CALLBRIDGE_MANGO_API_URL"] = pbx_url
    return env | {f"CALLBRIDGE_{k.upper()}": v for k, v in settings.items()}


class Daemon:
    """``python -m daemon.cli run`` in a subprocess, on a fixed port and state directory."""

    def __init__(self, *, state_dir: Path, log_path: Path, env: dict[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.state_dir = state_dir
        self.log_path = log_path
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        env = daemon_env(port=self.port, state_dir=self.state_dir) | self.env
        with self.log_path.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "daemon.cli", "run", env=env, stdout=out, stderr=out, cwd=REPO)
        await self._wait_listening()

    async def _wait_listening(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DAEMON_START_TIMEOUT_S
        assert self.proc is not None
        while loop.time() < deadline:
            if self.proc.returncode is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            return
        raise AssertionError(f"daemon did not listen within {DAEMON_START_TIMEOUT_S} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, as after an OOM kill or a power cut of the process."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        assert self.proc is not None
        return await self.proc.wait()

    async def stop(self) -> int:
        """SIGTERM and wait; kills it if it does not stop in time."""
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), DAEMON_STOP_TIMEOUT_S)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"daemon did not stop on SIGTERM:\n{self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
