"""The response clock runs in office hours: a frozen calendar (Friday 17:55, Saturday, a holiday)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config.settings import Settings, SettingsError, load_settings
from daemon.inbox.clock import due_at

MSK = ZoneInfo("Europe/Moscow")
WEEK = '[office_hours]\nmon = "09:00-18:00"\ntue = "09:00-18:00"\nwed = "09:00-18:00"\n' \
       'thu = "09:00-18:00"\nfri = "09:00-18:00"\n'


def settings(tmp_path: Path, toml: str) -> Settings:
    config = tmp_path / "sla.toml"
    config.write_text(toml, encoding="utf-8")
    return load_settings({"CALLBRIDGE_CONFIG": str(config)})


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=MSK)  # 2026-12-04 is a Friday


@pytest.mark.parametrize(("received", "due"), [
    (msk(4, 17, 55), msk(7, 9, 10)),   # Friday 17:55: 5 minutes on Friday, 10 on Monday
    (msk(5, 10, 0), msk(7, 9, 15)),    # Saturday: the clock starts on Monday at opening
    (msk(4, 12, 0), msk(4, 12, 15)),   # within the day
    (msk(4, 17, 45), msk(4, 18, 0)),   # exactly at closing
    (msk(4, 8, 0), msk(4, 9, 15)),     # before opening
    (msk(3, 23, 30), msk(4, 9, 15)),   # at night
])
def test_fifteen_minutes_of_office_time(tmp_path: Path, received: datetime, due: datetime) -> None:
    assert due_at(settings(tmp_path, WEEK), channel="web_form", received_at=received) == due


def test_a_holiday_is_skipped(tmp_path: Path) -> None:
    """Monday 7 December a holiday: Friday 17:55 is due on Tuesday at 09:10."""
    s = settings(tmp_path, 'holidays = ["2026-12-07"]\n' + WEEK)
    assert due_at(s, channel="telegram", received_at=msk(4, 17, 55)) == msk(8, 9, 10)


def test_round_the_clock_without_office_hours(tmp_path: Path) -> None:
    assert due_at(settings(tmp_path, ""), channel="call", received_at=msk(5, 23, 55)) == msk(6, 0, 10)


def test_per_channel_minutes(tmp_path: Path) -> None:
    """``[sla.channels] email = 120``: two office hours for an e-mail, the default for the rest."""
    s = settings(tmp_path, "[sla]\nfirst_response_minutes = 20\n[sla.channels]\nemail = 120\n" + WEEK)
    assert due_at(s, channel="email", received_at=msk(4, 17, 0)) == msk(7, 10, 0)
    assert due_at(s, channel="vk", received_at=msk(4, 17, 0)) == msk(4, 17, 20)


def test_bad_minutes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="sla"):
        settings(tmp_path, "[sla.channels]\nemail = 0\n")
