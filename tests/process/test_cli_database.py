"""One database for the daemon and the commands run beside it, named on the first line.

A trial daemon (no database_url: an embedded PostgreSQL under its state directory) is
started as ``make run`` starts it, with config/trial.toml, from a directory of its own;
``callbridge import contacts`` run from that directory, with or without
CALLBRIDGE_CONFIG, writes into the daemon's database (the daemon's API then finds the
contacts) and starts no second server.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from daemon.store.choice import describe_url
from daemon.store.database import embedded_data_dir
from tests.conftest import FIXTURES
from tests.process.test_cli_run import _wait_for_port
from tests.support.net import free_port
from tests.support.paths import REPO

ROOT = REPO
SCRIPT = Path(sys.executable).with_name("callbridge")
TRIAL_TOKEN = "trial-token-change-me"  # config/trial.toml's


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBRIDGE_")}
    env |= {"XDG_STATE_HOME": str(tmp_path / "xdg-state"), "CALLBRIDGE_RUNTIME_DIR": str(tmp_path / "run"),
            "CALLBRIDGE_LOG_LEVEL": "warning"}
    return env | extra


async def _callbridge(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(subprocess.run, [str(SCRIPT), *args], cwd=cwd, env=env,
                                   capture_output=True, text=True, timeout=120, check=False)


async def _lookup(port: int, phone: str) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/api/contacts/lookup", params={"phone": phone},
                               headers={"Authorization": f"Bearer {TRIAL_TOKEN}"}) as resp:
            return resp.status


@pytest.mark.timeout(240)
async def test_a_command_beside_a_trial_daemon_writes_into_its_embedded_database(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "trial.toml", checkout / "config" / "trial.toml")
    port = free_port()
    log = tmp_path / "daemon.log"
    daemon_env = _env(tmp_path, CALLBRIDGE_CONFIG="config/trial.toml", CALLBRIDGE_LISTEN=f"127.0.0.1:{port}",
                      CALLBRIDGE_LOG_FORMAT="json")
    with log.open("wb") as out:
        daemon = await asyncio.create_subprocess_exec(str(SCRIPT), "run", cwd=checkout, env=daemon_env,
                                                      stdout=out, stderr=out)
    try:
        await _wait_for_port(port, daemon, log)
        data_dir = embedded_data_dir(checkout / "state")
        shown = f"./{data_dir.relative_to(checkout)}" if data_dir.is_relative_to(checkout) else str(data_dir)
        assert await _lookup(port, "+79161234567") == 404

        done = await _callbridge(checkout, _env(tmp_path), "import", "contacts", str(FIXTURES / "contacts.csv"))

        assert done.returncode == 0, done.stderr
        assert await _lookup(port, "+79161234567") == 200
        # No second server: the commands' own default state directory was never used.
        assert not (embedded_data_dir(tmp_path / "xdg-state" / "callbridge") / "PG_VERSION").exists()
        assert done.stdout.splitlines()[0] == f"database: embedded, {shown}"

        done = await _callbridge(checkout / "config", _env(tmp_path, CALLBRIDGE_CONFIG="trial.toml"),
                                 "import", "lines", str(FIXTURES / "lines.csv"))
        assert done.returncode == 0, done.stderr  # from a folder below, with the trial settings
        assert done.stdout.splitlines() == [f"database: embedded, {data_dir}",
                                            "линии: строк 2, создано 2, обновлено существующих 0, пропущено 0"]
        assert daemon.returncode is None  # the command left the shared server running
        assert await _lookup(port, "+79161234567") == 200
    finally:
        if daemon.returncode is None:
            daemon.send_signal(signal.SIGTERM)
            await asyncio.wait_for(daemon.wait(), 60)
    assert daemon.returncode == 0, log.read_text()
    assert not list((tmp_path / "run").glob("*.json"))  # the daemon's note left with it


async def test_a_configured_database_is_named_host_port_and_name(db_url: str, tmp_path: Path) -> None:
    """Writers name it first; a command that only reads prints nothing more than before."""
    env = _env(tmp_path, CALLBRIDGE_DATABASE_URL=db_url)

    migrate = await _callbridge(ROOT, env, "migrate")
    invalid = await _callbridge(ROOT, env, "contacts", "invalid", "--format", "csv")

    assert migrate.returncode == 0, migrate.stderr
    assert migrate.stdout.splitlines() == [f"database: {describe_url(db_url)}",
                                           "применены миграции: нет (схема актуальна)"]
    assert invalid.returncode == 0, invalid.stderr
    assert invalid.stdout == "contact_id,contact_name,kind,value,reason\n"


@pytest.mark.parametrize(("url", "label"), [
    ("postgresql://user:secret@db.example:6432/callbridge", "db.example:6432/callbridge"),
    ("postgresql://postgres@127.0.0.1/crm", "127.0.0.1:5432/crm"),
    ("postgresql:///callbridge?host=/var/run/postgresql", "/var/run/postgresql:5432/callbridge"),
])
def test_describe_url_never_shows_the_user_or_password(url: str, label: str) -> None:
    assert describe_url(url) == label


async def _log_line(log: Path, event: str, daemon: asyncio.subprocess.Process) -> dict:
    """The daemon's first JSON log line of ``event``, waited for (it follows the port opening)."""
    for _ in range(600):
        for line in log.read_text().splitlines():
            if line.startswith("{") and json.loads(line).get("event") == event:
                return json.loads(line)
        if daemon.returncode is not None:
            pytest.fail(f"daemon exited {daemon.returncode}:\n{log.read_text()}")
        await asyncio.sleep(0.1)
    pytest.fail(f"no {event} line:\n{log.read_text()}")


@pytest.mark.timeout(240)
async def test_a_first_start_says_where_the_screen_is_and_commands_beside_it_say_nothing_more(
        tmp_path: Path) -> None:
    """``make run`` as a new user runs it (no XDG_RUNTIME_DIR, the default log level): the ready line
    names the screen's address and where its token is set; nothing is a warning, pgserver's own
    narration is debug; an ordinary command beside it prints its answer and nothing on stderr."""
    checkout = tmp_path / "checkout"
    (checkout / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "trial.toml", checkout / "config" / "trial.toml")
    port = free_port()
    log = tmp_path / "daemon.log"
    env = {k: v for k, v in _env(tmp_path).items() if k not in ("XDG_RUNTIME_DIR", "CALLBRIDGE_LOG_LEVEL")}
    daemon_env = env | {"CALLBRIDGE_CONFIG": "config/trial.toml", "CALLBRIDGE_LISTEN": f"127.0.0.1:{port}",
                        "CALLBRIDGE_LOG_FORMAT": "json"}
    with log.open("wb") as out:
        daemon = await asyncio.create_subprocess_exec(str(SCRIPT), "run", cwd=checkout, env=daemon_env,
                                                      stdout=out, stderr=out)
    try:
        ready = await _log_line(log, "listening", daemon)
        assert ready["screen"] == f"http://127.0.0.1:{port}/ui/"
        assert ready["token_set_in"] == "config/trial.toml ([http] api_token)"
        lines = log.read_text().splitlines()
        assert all(line.startswith("{") for line in lines), lines  # no platformdirs warning, no raw text
        said = [json.loads(line) for line in lines]
        # As root (this CI's containers), the data directory moves where pgserver's user can reach it,
        # and that is said once: a person's own account never sees it.
        root_only = {"embedded_postgres_relocated"} if os.geteuid() == 0 else set()
        assert [d for d in said if d.get("level") not in ("info", "debug") and d["event"] not in root_only] == []
        assert [d for d in said if d.get("logger") == "pgserver"] == []
        assert [d["event"] for d in said if d["event"].startswith("migration")] == ["migrations_applied"]

        done = await _callbridge(checkout, env | {"CALLBRIDGE_CONFIG": "config/trial.toml"},
                                 "contacts", "duplicates")
        assert (done.returncode, done.stdout, done.stderr) == (0, "кандидатов в дубликаты: 0\n", "")
    finally:
        if daemon.returncode is None:
            daemon.send_signal(signal.SIGTERM)
            await asyncio.wait_for(daemon.wait(), 60)
