"""`callbridge run` under a stand-in systemd: sd_notify on a real datagram socket, signals, logs.

The daemon runs as a real process. The test binds the AF_UNIX datagram socket
systemd would (a path, or an abstract ``@name``), passes it in NOTIFY_SOCKET
with a short WATCHDOG_USEC, and reads what the daemon says.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from adapters.mango.replay import load_steps, replay
from daemon.runtime.sdnotify import SdNotifier
from tests.conftest import API_KEY, API_SALT, API_TOKEN, FIXTURES, fixture_json, signed_form
from tests.pgproxy import PgProxy
from tests.support.daemon import daemon_env
from tests.support.net import free_port, port_open
from tests.support.paths import REPO

ROOT = REPO
START_TIMEOUT_S = 45.0
WATCHDOG_USEC = 200_000  # the daemon pings every 0.1 s
DB_PASSWORD = "pg-pass-" + "z" * 12


class NotifySocket:
    """The receiving end of sd_notify, as systemd binds it."""

    def __init__(self, address: str) -> None:
        self.address = address  # as NOTIFY_SOCKET names it
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.setblocking(False)
        self.messages: list[dict[str, str]] = []
        self._seen = 0

    async def next(
        self, key: str, value: str | None = None, *, timeout_s: float = START_TIMEOUT_S
    ) -> dict[str, str]:
        """The next message (after those already taken) that sets ``key`` (to ``value``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            while self._seen < len(self.messages):
                message = self.messages[self._seen]
                self._seen += 1
                if key in message and (value is None or message[key] == value):
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                pytest.fail(f"no {key}={value} within {timeout_s} s; got {self.messages[-5:]}")
            try:
                data = await asyncio.wait_for(loop.sock_recv(self.sock, 4096), remaining)
            except TimeoutError:
                continue
            self.messages.append(dict(line.split("=", 1) for line in data.decode().splitlines()))

    def close(self) -> None:
        self.sock.close()


@dataclass
class Daemon:
    proc: asyncio.subprocess.Process
    port: int
    log: Path
    notify: NotifySocket
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"event": "non-json", "text": line})
        return out

    async def wait_log(self, event: str, timeout_s: float = 15.0) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            found = [line for line in self.log_lines() if line.get("event") == event]
            if found:
                return found[-1]
            await asyncio.sleep(0.05)
        pytest.fail(f"no {event} in the log:\n{self.log.read_text()}")

    async def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 30)


@pytest.fixture(params=["path", "abstract"])
def notify(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[NotifySocket]:
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
    else:
        address = f"@callbridge-test-{secrets.token_hex(6)}"
    sock = NotifySocket(address)
    yield sock
    sock.close()


async def start_daemon(
    tmp_path: Path, notify: NotifySocket, database_url: str, *, module: str = "daemon.cli",
    extra_env: dict[str, str] | None = None, **settings: str
) -> AsyncIterator[Daemon]:
    """``python -m MODULE run`` (``tests.crashy`` injects faults) with ``settings`` as CALLBRIDGE_*."""
    port = free_port()
    env = daemon_env(port=port, state_dir=tmp_path / "state", strip=("CALLBRIDGE_", "NOTIFY_", "WATCHDOG_"),
                     database_url=database_url)
    env |= {"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    env |= {f"CALLBRIDGE_{k.upper()}": v for k, v in settings.items()} | (extra_env or {})
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, "run", env=env, stdout=out, stderr=out, cwd=ROOT
        )
    daemon = Daemon(proc, port, log, notify, env)
    try:
        yield daemon
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_ready_watchdog_stopping_on_a_real_notify_socket(
    tmp_path: Path, notify: NotifySocket, db_url: str
) -> None:
    """READY=1 once the port listens and PostgreSQL answers; WATCHDOG=1 on; STOPPING=1; exit 0."""
    async for daemon in start_daemon(tmp_path, notify, db_url):
        ready = await notify.next("READY", "1")
        assert port_open(daemon.port), "READY=1 before the HTTP server listened"
        assert "listening" in ready["STATUS"]
        assert any(m.get("STATUS") == "connecting to PostgreSQL" for m in notify.messages[:-1])
        async with aiohttp.ClientSession() as session, session.get(daemon.url + "/health") as resp:
            assert (resp.status, (await resp.json(content_type=None))["status"]) == (200, "pass")
        for _ in range(3):
            await notify.next("WATCHDOG", "1", timeout_s=5)
        daemon.proc.send_signal(signal.SIGTERM)
        await notify.next("STOPPING", "1", timeout_s=10)
        assert await asyncio.wait_for(daemon.proc.wait(), 30) == 0
        assert daemon.log_lines()[-1]["event"] == "stopped"


def test_without_notify_socket_nothing_is_sent() -> None:
    quiet = SdNotifier.from_environ({})
    assert not quiet.enabled and quiet.watchdog_interval_s is None
    assert quiet.ready("x") is False and quiet.watchdog() is False


def test_watchdog_meant_for_another_process_is_ignored() -> None:
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert SdNotifier.from_environ(env).watchdog_interval_s is None
    env["WATCHDOG_PID"] = str(os.getpid())
    assert SdNotifier.from_environ(env).watchdog_interval_s == 15.0


async def test_a_vanished_notify_socket_does_not_hurt(tmp_path: Path) -> None:
    """systemd gone (socket removed): sending fails quietly and the caller goes on."""
    notifier = SdNotifier(str(tmp_path / "gone.sock"))
    assert notifier.notify("READY=1") is False
    notifier.close()


@pytest.mark.parametrize("notify", ["path"], indirect=True)
async def test_start_fails_clearly_when_postgres_never_answers(
    tmp_path: Path, notify: NotifySocket
) -> None:
    """Without a spool nothing could keep an event: bounded retries, one clear error, a non-zero
    exit, and never READY=1. (With a spool the daemon starts: tests/process/test_runtime_supervision.py.)"""
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    async for daemon in start_daemon(tmp_path, notify, dead, db_connect_attempts="2",
                                     spool_enabled="false"):
        code = await asyncio.wait_for(daemon.proc.wait(), 30)
        assert code == 1
        text = daemon.log.read_text()
        assert "PostgreSQL did not answer after 2 attempts" in text
        assert text.count("database_connect_retry") == 1
        while True:
            try:
                data = notify.sock.recv(4096)
            except BlockingIOError:
                break
            assert b"READY=1" not in data


async def _keep_asking(url: str, stop: asyncio.Event, statuses: list[int]) -> None:
    """Requests back to back until ``stop``, noting each answer's status."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_TOKEN}"}) as session:
        while not stop.is_set():
            async with session.get(url) as resp:
                statuses.append(resp.status)
                await resp.read()


@pytest.mark.parametrize("notify", ["abstract"], indirect=True)
async def test_sighup_reloads_settings_without_dropping_a_request(
    tmp_path: Path, notify: NotifySocket, db_url: str
) -> None:
    config = tmp_path / "callbridge.toml"
    config.write_text('timezone = "Europe/Moscow"\nreport_day_end = "19:00"\n')
    async for daemon in start_daemon(tmp_path, notify, db_url, config=str(config)):
        await notify.next("READY", "1")
        statuses: list[int] = []
        stop = asyncio.Event()
        url = daemon.url + "/api/reports/missed"
        askers = [asyncio.ensure_future(_keep_asking(url, stop, statuses)) for _ in range(4)]
        try:
            await asyncio.sleep(0.3)
            config.write_text('timezone = "Asia/Yekaterinburg"\nreport_day_end = "18:00"\n')
            daemon.proc.send_signal(signal.SIGHUP)
            await notify.next("RELOADING", "1", timeout_s=10)
            await notify.next("READY", "1", timeout_s=10)
            reloaded = await daemon.wait_log("settings_reloaded")
            await asyncio.sleep(0.3)
        finally:
            stop.set()
            await asyncio.gather(*askers)
        assert reloaded["changed"] == ["timezone", "report_day_end"]
        assert reloaded["details"]["timezone"] == {
            "from": "Europe/Moscow",
            "to": "Asia/Yekaterinburg",
        }
        assert len(statuses) > 10 and set(statuses) == {200}
        async with aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {API_TOKEN}"}
        ) as session:
            async with session.get(daemon.url + "/api/reports/missed") as resp:
                doc = await resp.json()
        assert doc["timezone"] == "Asia/Yekaterinburg" and doc["night_since"].endswith("T18:00:00+05:00")

        config.write_text('timezone = "Mars/Olympus"\n')
        daemon.proc.send_signal(signal.SIGHUP)
        failed = await daemon.wait_log("settings_reload_failed")
        assert "timezone" in failed["error"]
        async with aiohttp.ClientSession() as session, session.get(daemon.url + "/health") as resp:
            assert resp.status == 200
        assert await daemon.stop() == 0


@pytest.mark.parametrize("notify", ["path"], indirect=True)
async def test_sigterm_lets_an_event_in_flight_finish(
    tmp_path: Path, notify: NotifySocket, db_url: str
) -> None:
    """An event held up in the database at SIGTERM is still stored and answered 200; exit 0."""
    appeared = fixture_json("answered_incoming.json")["steps"][0]["json"]
    async for daemon in start_daemon(tmp_path, notify, db_url, db_budget_s="15"):
        await notify.next("READY", "1")
        blocker = await asyncpg.connect(db_url)
        try:
            # Hold the call's lock (the pipeline takes it first), so the request waits in flight.
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))",
                f"entry:{appeared['entry_id']}",
            )
            async with aiohttp.ClientSession() as session:
                posting = asyncio.ensure_future(
                    session.post(daemon.url + "/mango/events/call", data=signed_form(appeared))
                )
                while not await blocker.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ):
                    await asyncio.sleep(0.05)
                daemon.proc.send_signal(signal.SIGTERM)
                await notify.next("STOPPING", "1", timeout_s=10)
                await asyncio.sleep(0.5)
                assert daemon.proc.returncode is None, "the daemon left before its request finished"
                assert not port_open(daemon.port), "still accepting connections after SIGTERM"
                await tx.rollback()
                resp = await asyncio.wait_for(posting, 15)
                assert (resp.status, await resp.json()) == (200, {"result": "stored"})
                resp.release()
        finally:
            await blocker.close()
        assert await asyncio.wait_for(daemon.proc.wait(), 30) == 0
    check = await asyncpg.connect(db_url)
    try:
        assert await check.fetchval("SELECT count(*) FROM inbox") == 1
    finally:
        await check.close()


@pytest.mark.parametrize("notify", ["path"], indirect=True)
async def test_watchdog_and_health_while_postgres_comes_and_goes(
    tmp_path: Path, notify: NotifySocket, db_url: str
) -> None:
    """PostgreSQL away: /health says so within seconds, the watchdog is still fed, no restart;
    PostgreSQL back: pass again. No secret reaches the log or /health on the way."""
    proxy = PgProxy(db_url)
    await proxy.open()
    try:
        async for daemon in start_daemon(
            tmp_path,
            notify,
            proxy.url(password=DB_PASSWORD),
            spool_enabled="false",
            db_pool_min="1",
        ):
            await notify.next("READY", "1")
            failures = await replay(
                daemon.url + "/mango",
                load_steps(FIXTURES / "answered_incoming.json"),
                api_key=API_KEY,
                api_salt=API_SALT,
                echo=lambda line: None,
            )
            assert failures == 0
            bodies = [await _health_until(daemon, "pass")]
            await proxy.close()
            bodies.append(await _health_until(daemon, "fail"))
            for _ in range(5):  # liveness does not depend on the database
                await notify.next("WATCHDOG", "1", timeout_s=5)
            await proxy.open()
            bodies.append(await _health_until(daemon, "pass"))
            assert daemon.proc.returncode is None
            assert await daemon.stop() == 0
            log_text = daemon.log.read_text()
    finally:
        await proxy.close()
    assert json.loads(bodies[1])["checks"]["postgresql:responseTime"][0]["status"] == "fail"
    for secret in (API_KEY, API_SALT, API_TOKEN, DB_PASSWORD):
        assert secret not in log_text
        assert all(secret not in body for body in bodies)
    lines = [json.loads(line) for line in log_text.splitlines()]
    webhooks = [line for line in lines if line.get("event") == "webhook"]
    assert len(webhooks) == len(load_steps(FIXTURES / "answered_incoming.json"))
    assert all(line.get("entry_id") == "MTI4OTY2MjMzMTk=" for line in webhooks)


async def _health_until(daemon: Daemon, wanted: str, timeout_s: float = 15.0) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(daemon.url + "/health") as resp:
                body = await resp.text()
            if json.loads(body)["status"] == wanted:
                assert resp.status == (503 if wanted == "fail" else 200)
                return body
            if loop.time() > deadline:
                pytest.fail(f"/health not {wanted} within {timeout_s} s: {body}")
            await asyncio.sleep(0.1)


def test_logged_tracebacks_carry_no_local_variables() -> None:
    """A frame holding a secret (the salt in the signature check, the URL when connecting) may fail;
    its traceback goes to the journal without the frame's variables (structlog and stdlib alike)."""
    script = (
        "import logging, structlog\n"
        "from daemon.runtime.logs import configure_logging\n"
        "configure_logging(fmt='json')\n"
        "def check(api_salt):\n"
        "    raise ValueError('bad sign')\n"
        "try:\n"
        f"    check({API_SALT!r})\n"
        "except ValueError:\n"
        "    structlog.get_logger().exception('webhook_failed')\n"
        "    logging.getLogger('asyncpg.pool').exception('pool_failed')\n"
    )
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["event"] for line in lines] == ["webhook_failed", "pool_failed"]
    assert all(line["exception"][0]["frames"] for line in lines)
    assert API_SALT not in done.stderr


async def test_reload_hooks_get_old_and_new_and_one_failure_spares_the_others() -> None:
    from config.settings import SettingsError, load_settings
    from daemon.runtime.reload import Reloader

    base = {"CALLBRIDGE_API_TOKEN": API_TOKEN, "CALLBRIDGE_TIMEZONE": "Europe/Moscow"}
    reloader = Reloader(load_settings(base))
    seen: list[tuple[str, str]] = []

    def broken(old: Any, new: Any) -> None:
        raise RuntimeError("a bug in one part")

    async def rules(old: Any, new: Any) -> None:
        seen.append((old.timezone, new.timezone))

    reloader.subscribe(broken)
    reloader.subscribe(rules)
    result = await reloader.reload(
        lambda: load_settings(
            base | {"CALLBRIDGE_TIMEZONE": "Asia/Omsk", "CALLBRIDGE_API_TOKEN": "new-" + API_TOKEN}
        )
    )
    assert seen == [("Europe/Moscow", "Asia/Omsk")]
    assert reloader.current.timezone == "Asia/Omsk"
    assert (result.ok, result.changed, result.needs_restart) == (
        False,
        ("api_token", "timezone"),
        ("api_token",),
    )
    assert result.details["api_token"] == "changed (value not shown)"
    assert API_TOKEN not in json.dumps(result.details)

    def bad_file() -> Any:
        raise SettingsError("setting timezone (CALLBRIDGE_TIMEZONE): unknown time zone")

    failed = await reloader.reload(bad_file)
    assert (failed.ok, reloader.current.timezone, len(seen)) == (False, "Asia/Omsk", 1)


@pytest.mark.parametrize("notify", ["path"], indirect=True)
async def test_sigterm_while_still_connecting_stops_at_once(
    tmp_path: Path, notify: NotifySocket
) -> None:
    """systemd stopping a daemon that waits for PostgreSQL (it has no spool, so it must wait):
    no wait for the retries to run out."""
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    async for daemon in start_daemon(tmp_path, notify, dead, db_connect_attempts="50",
                                     spool_enabled="false"):
        await daemon.wait_log("database_connect_retry")
        daemon.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.proc.wait(), 15) == 0
        await notify.next("STOPPING", "1", timeout_s=5)
        assert not any("READY" in m for m in notify.messages)
        assert (await daemon.wait_log("start_abandoned"))["level"] == "info"
