"""The systemd units in systemd/: valid for systemd itself, and saying what the daemon relies on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from daemon.runtime.process import STOP_BUDGET_S
from tests.support.paths import REPO

UNITS_DIR = REPO / "systemd"
UNITS = (
    "callbridge.service",
    "callbridge-report.service",
    "callbridge-report.timer",
    "callbridge-reconcile.service",
    "callbridge-reconcile.timer",
    "callbridge-prune.service",
    "callbridge-prune.timer",
    "callbridge-leads-archive.service",
    "callbridge-leads-archive.timer",
    "callbridge-tags-refresh.service",
    "callbridge-tags-refresh.timer",
    "callbridge-nightly.service",
    "callbridge-nightly.timer",
)
INSTALLED_BINARY = "/opt/callbridge/.venv/bin/callbridge"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def directives(name: str) -> dict[str, list[str]]:
    """``Key`` -> every value it is given in the unit (systemd allows repeats)."""
    found: dict[str, list[str]] = {}
    for line in (UNITS_DIR / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)\s*(s|min)?", value)
    assert match, value
    return int(match[1]) * (60 if match[2] == "min" else 1)


@pytest.fixture
def units_with_this_venv(tmp_path: Path) -> Path:
    """The units with ExecStart at this checkout's callbridge (verify wants it to exist)."""
    binary = Path(sys.executable).parent / "callbridge"
    assert binary.exists(), binary
    for name in UNITS:
        text = (UNITS_DIR / name).read_text().replace(INSTALLED_BINARY, str(binary))
        (tmp_path / name).write_text(text)
    return tmp_path


@needs_analyze
def test_units_pass_systemd_analyze_verify(units_with_this_venv: Path) -> None:
    """systemd's own checker accepts every unit: no error, not even a warning (as a typo is)."""
    done = subprocess.run(
        [ANALYZE, "verify", "--man=no", *(str(units_with_this_venv / n) for n in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


@needs_analyze
def test_verify_would_catch_a_broken_unit(units_with_this_venv: Path) -> None:
    """The check above can fail: a misspelt type is reported."""
    broken = units_with_this_venv / "callbridge.service"
    broken.write_text(broken.read_text().replace("Type=notify", "Type=notifyy"))
    done = subprocess.run(
        [ANALYZE, "verify", "--man=no", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "notifyy" in done.stderr


def test_daemon_unit_is_a_hardened_notify_service() -> None:
    unit = directives("callbridge.service")
    assert unit["Type"] == ["notify"]
    assert unit["NotifyAccess"] == ["main"]
    assert seconds(unit["WatchdogSec"][0]) >= 10
    assert unit["Restart"] == ["on-failure"]
    # A thousand idle keep-alive sockets must not use up the descriptors.
    assert int(unit["LimitNOFILE"][0]) >= 65536
    assert unit["ExecStart"] == [f"{INSTALLED_BINARY} run"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert unit["EnvironmentFile"] == ["/etc/callbridge/env"]
    assert unit["StateDirectory"] == ["callbridge"]
    assert unit["User"] == ["callbridge"]
    for key, value in {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert unit[key] == [value], key
    assert set(unit["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}


def test_stop_timeout_leaves_room_for_the_daemons_own_grace() -> None:
    """systemd must not SIGKILL the daemon while it is still finishing requests in flight."""
    stop_s = seconds(directives("callbridge.service")["TimeoutStopSec"][0])
    assert stop_s > STOP_BUDGET_S


def test_timers_name_their_services_schedule_and_are_persistent() -> None:
    report, reconcile = (
        directives("callbridge-report.timer"),
        directives("callbridge-reconcile.timer"),
    )
    assert report["OnCalendar"] == ["Mon..Fri *-*-* 08:30:00 Europe/Moscow"]
    assert reconcile["OnCalendar"] == ["*-*-* 02:30:00 Europe/Moscow"]
    assert report["Persistent"] == reconcile["Persistent"] == ["true"]
    assert directives("callbridge-report.service")["ExecStart"] == [
        f"{INSTALLED_BINARY} report missed --email"
    ]
    assert directives("callbridge-reconcile.service")["ExecStart"] == [
        f"{INSTALLED_BINARY} reconcile"
    ]
    prune = directives("callbridge-prune.timer")
    assert (prune["OnCalendar"], prune["Persistent"]) == (["*-*-* 04:00:00 Europe/Moscow"], ["true"])
    assert directives("callbridge-prune.service")["ExecStart"] == [f"{INSTALLED_BINARY} prune"]


@needs_analyze
def test_report_timer_fires_on_working_mornings_at_half_past_eight_moscow() -> None:
    """systemd reads the calendar as: the next ten runs on Mon-Fri 05:30 UTC (08:30 Moscow)."""
    spec = directives("callbridge-report.timer")["OnCalendar"][0]
    done = subprocess.run(
        [ANALYZE, "calendar", "--iterations=10", spec],
        capture_output=True,
        text=True,
        timeout=30,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    stamps = re.findall(r"(\w{3} \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC", done.stdout)
    assert len(stamps) == 10, done.stdout
    for stamp in stamps:
        when = datetime.strptime(stamp, "%a %Y-%m-%d %H:%M:%S")
        assert when.weekday() < 5 and (when.hour, when.minute) == (5, 30), stamp


def test_nightly_lead_and_tag_timers_run_after_reconciliation() -> None:
    """`leads archive` and `tags refresh` run every night after the 02:30 reconciliation, and catch up."""
    for name, command, at in (("leads-archive", "leads archive", "03:00:00"),
                              ("tags-refresh", "tags refresh", "03:15:00")):
        timer = directives(f"callbridge-{name}.timer")
        assert timer["OnCalendar"] == [f"*-*-* {at} Europe/Moscow"]
        assert timer["Persistent"] == ["true"]
        service = directives(f"callbridge-{name}.service")
        assert service["ExecStart"] == [f"{INSTALLED_BINARY} {command}"]
        assert service["Type"] == ["oneshot"]
        assert "callbridge-reconcile.service" in service["After"][0].split()


def test_nightly_timer_runs_reminders_and_scores_after_the_tags() -> None:
    """The systemd alternative to the daemon's own nightly task: both commands, after the tags."""
    timer = directives("callbridge-nightly.timer")
    assert timer["OnCalendar"] == ["*-*-* 03:30:00 Europe/Moscow"] and timer["Persistent"] == ["true"]
    service = directives("callbridge-nightly.service")
    assert service["ExecStart"] == [f"{INSTALLED_BINARY} tasks refresh", f"{INSTALLED_BINARY} scores refresh"]
    assert service["Type"] == ["oneshot"]
    assert "callbridge-tags-refresh.service" in service["After"][0].split()
