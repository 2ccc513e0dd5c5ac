"""Report and reconciliation windows, in the office's time zone.

The morning report lists every caller missed in the last ``report_lookback_days``
and not reached back since, so that a caller missed at 15:00 whom nobody rang
back by the evening is still there the next morning. The night's calls (since
the office closed on the previous working day: on Tuesday morning Monday 19:00,
on Monday morning Friday 19:00) come first. The days and closing times are the
routing's ``office_hours`` when they are set, else ``report_day_end`` on
``report_working_days``; ``holidays`` are skipped like weekends. A window asked
for with --since/--until is taken exactly, up to ``report_max_window_days``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config.settings import WEEKDAYS, Settings, day_ranges
from daemon.domain.errors import BadInput
from daemon.http.inputs import iso_time

# Far more than any run of weekends and holidays; a guard against a calendar
# with no working day at all, which settings validation already refuses.
MAX_DAYS_BACK = 31


class WindowError(ValueError):
    """A --since/--until that cannot be read, or a window that ends before it starts."""


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    # The previous close, when the window is the morning report's default: the
    # calls missed since then are the night's, listed first.
    night_since: datetime | None = None


def previous_close(
    now: datetime,
    *,
    tz: ZoneInfo,
    closing: Mapping[int, time | None],
    holidays: Collection[date] = (),
) -> datetime:
    """The close of the last working day before today (office time), as an aware datetime.

    ``closing`` maps a weekday (Monday = 0) the office works on to its closing
    time; None is midnight (open until 24:00).
    """
    day = now.astimezone(tz).date() - timedelta(days=1)
    for _ in range(MAX_DAYS_BACK):
        if day.weekday() in closing and day not in holidays:
            break
        day -= timedelta(days=1)
    end = closing.get(day.weekday())
    if end is None:
        return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz)
    return datetime.combine(day, end, tzinfo=tz)


def office_closing(settings: Settings) -> dict[int, time | None]:
    """Closing time per working weekday: from ``office_hours`` when they are set (the end of
    each day's last range), else ``report_day_end`` on ``report_working_days``."""
    week = {
        index: day_ranges(settings.routing.office_hours.get(day, "closed"))
        for index, day in enumerate(WEEKDAYS)
    }
    if any(week.values()):
        return {index: _last_end(ranges) for index, ranges in week.items() if ranges}
    hour, minute = (int(part) for part in settings.report.day_end.split(":"))
    return {WEEKDAYS.index(day): time(hour, minute) for day in settings.report.working_days}


def _last_end(ranges: tuple[tuple[time, time | None], ...]) -> time | None:
    ends = [end for _, end in ranges]
    return None if None in ends else max(ends)  # type: ignore[type-var]


def night_since(settings: Settings, now: datetime) -> datetime:
    """The previous working day's close, before ``now``."""
    return previous_close(
        now, tz=settings.tz, closing=office_closing(settings), holidays=frozenset(settings.routing.holidays)
    )


def report_window(settings: Settings, now: datetime | None = None) -> Window:
    """The morning report's default: ``report_lookback_days`` back -> now, the night marked.

    The lookback never starts after the previous close (a long weekend can be
    longer than a short lookback).
    """
    now = now or datetime.now(UTC)
    night = night_since(settings, now)
    since = min(now - timedelta(days=settings.report.lookback_days), night)
    return Window(since=since, until=now, night_since=night)


def reconcile_window(settings: Settings, now: datetime | None = None) -> Window:
    """Reconciliation's default: from the start of yesterday (office time) to now.

    Run nightly, consecutive windows overlap by a day, which costs nothing
    (a call we have is a duplicate) and covers a night the timer missed.
    """
    now = now or datetime.now(UTC)
    yesterday = now.astimezone(settings.tz).date() - timedelta(days=1)
    return Window(since=datetime.combine(yesterday, time(0, 0), tzinfo=settings.tz), until=now)


def parse_time(text: str, tz: ZoneInfo, *, name: str) -> datetime:
    """ISO 8601; a time without an offset (or a bare date) is office time. WindowError for what
    ``daemon.http.inputs.iso_time`` refuses (not a time, or out of the years it keeps)."""
    try:
        return iso_time(text, tz, name=name)
    except BadInput as exc:
        raise WindowError(str(exc)) from None


def resolve(
    default_for: Callable[[datetime], Window],
    *,
    since: str | None,
    until: str | None,
    tz: ZoneInfo,
    now: datetime | None = None,
    max_days: int | None = None,
) -> Window:
    """The window the user asked for; a missing end is the default's, computed for ``until``.

    Without --since it is the default window for that end (the night marked, if
    the default marks it). A window longer than ``max_days`` is refused: every
    report reads the rows of its window, and an unbounded one reads the base.
    """
    end = parse_time(until, tz, name="until") if until else (now or datetime.now(UTC))
    default = default_for(end)
    start = parse_time(since, tz, name="since") if since else default.since
    if end <= start:
        raise WindowError(f"until ({end.isoformat()}) must be after since ({start.isoformat()})")
    if max_days is not None and end - start > timedelta(days=max_days):
        raise WindowError(
            f"the window from since ({start.isoformat()}) to until ({end.isoformat()}) is longer "
            f"than {max_days} days (report_max_window_days); ask for a shorter one"
        )
    return Window(since=start, until=end, night_since=None if since else default.night_since)
