"""The morning report remembers the day's misses: every caller not reached back within the lookback.

Calls are stored through the real pipeline (signed webhooks into PostgreSQL),
moved to fixed office times around a Tuesday morning report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.report import RENDERERS, missed_report
from daemon.report.window import WindowError, report_window, resolve
from daemon.store.repository import Repository
from tests.conftest import auth, run_cli
from tests.screenkit import moved, post_steps

MOSCOW = ZoneInfo("Europe/Moscow")
MONDAY = datetime(2025, 10, 13, tzinfo=MOSCOW)
TUESDAY_0830 = datetime(2025, 10, 14, 8, 30, tzinfo=MOSCOW)
NIGHT_CALLER = "+79035550203"  # missed Monday 23:00, after the 19:00 close
AFTERNOON_CALLER = "+79035550201"  # missed Monday 15:00, nobody rang back
MORNING_CALLER = "+79035550202"  # missed Monday 13:00, nobody rang back
ORLOV = "+79031112233"  # missed Monday 14:00, called back at 16:00
LONG_AGO_CALLER = "+79035550204"  # missed nine days before: past the lookback


def _at(day: datetime, hour: int) -> int:
    return int((day + timedelta(hours=hour)).timestamp())


async def _the_days_calls(client: TestClient) -> None:
    misses = [(AFTERNOON_CALLER, _at(MONDAY, 15)), (MORNING_CALLER, _at(MONDAY, 13)),
              (NIGHT_CALLER, _at(MONDAY, 23)), (LONG_AGO_CALLER, _at(MONDAY - timedelta(days=8), 12))]
    for n, (phone, at) in enumerate(misses):
        await post_steps(client, moved("missed_incoming.json", suffix=f"-lb{n}", at=at, number=phone[1:]))
    await post_steps(client, moved("missed_incoming.json", suffix="-lbo", at=_at(MONDAY, 14)))
    await post_steps(client, moved("outgoing_callback.json", suffix="-lbc", at=_at(MONDAY, 16)))


async def test_a_caller_missed_yesterday_afternoon_is_in_the_morning_report(
    client: TestClient, office: Repository, settings: Settings
) -> None:
    """Not only the night's: every caller missed in the last week and not reached back, the night's first."""
    await _the_days_calls(client)
    window = report_window(settings, TUESDAY_0830)
    report = await missed_report(office, window, tz=MOSCOW)
    rows = [(r.phone, report.since_close(r), report.age_hours(r)) for r in report.rows]
    assert rows == [
        (NIGHT_CALLER, True, 9),
        (AFTERNOON_CALLER, False, 17),
        (MORNING_CALLER, False, 19),
    ]
    assert window.night_since == datetime(2025, 10, 13, 19, 0, tzinfo=MOSCOW)
    text = RENDERERS["text"](report).splitlines()
    night, afternoon = (next(line for line in text if phone in line)
                        for phone in ("+7 903 555-02-03", "+7 903 555-02-01"))
    assert night.endswith("ждёт 9 ч 30 мин") and afternoon.endswith("ждёт 17 ч 30 мин  [раньше]")


async def test_exact_windows_stay_exact(client: TestClient, office: Repository, settings: Settings) -> None:
    await _the_days_calls(client)
    window = resolve(lambda end: report_window(settings, end), since="2025-10-13T19:00",
                     until="2025-10-14T08:30", tz=MOSCOW)
    report = await missed_report(office, window, tz=MOSCOW)
    assert [(r.phone, report.since_close(r)) for r in report.rows] == [(NIGHT_CALLER, None)]


async def test_the_api_default_lists_the_lookback_with_ages(client: TestClient, office: Repository) -> None:
    await _the_days_calls(client)
    resp = await client.get("/api/reports/missed", params={"until": "2025-10-14T08:30"}, headers=auth())
    doc = await resp.json()
    assert resp.status == 200, doc
    assert [(r["phone"], r["since_close"], r["age_hours"]) for r in doc["rows"]] == [
        (NIGHT_CALLER, True, 9), (AFTERNOON_CALLER, False, 17), (MORNING_CALLER, False, 19)]
    assert doc["night_since"] == "2025-10-13T19:00:00+03:00"
    assert doc["rows"][1]["waiting_since"] == "2025-10-13T15:00:00+03:00"


async def test_a_window_past_the_cap_is_refused_with_its_reason(client: TestClient, settings: Settings) -> None:
    resp = await client.get("/api/reports/missed", params={"since": "2025-01-01", "until": "2025-10-14"},
                            headers=auth())
    assert resp.status == 400
    assert "longer than 93 days" in (await resp.json())["error"]
    with pytest.raises(WindowError, match="report_max_window_days"):
        resolve(lambda end: report_window(settings, end), since="2025-07-01", until="2025-10-14", tz=MOSCOW,
                max_days=settings.report.max_window_days)
    window = resolve(lambda end: report_window(settings, end), since="2025-07-14", until="2025-10-14",
                     tz=MOSCOW, max_days=settings.report.max_window_days)
    assert window.until - window.since == timedelta(days=92)
    assert window.since.tzinfo is not None and window.until > datetime(2025, 1, 1, tzinfo=UTC)


async def test_cli_refuses_a_window_past_the_cap_in_one_line(office: Repository, settings: Settings) -> None:
    code, out, err = await run_cli(settings, "report", "missed", "--since", "2025-01-01", "--until", "2025-10-14")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "longer than 93 days" in err
