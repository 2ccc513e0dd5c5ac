"""Seconds that fall within office hours: time to first answer does not grow overnight,
and the response clock's deadline (``office_deadline``) does not fall at night."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from daemon.routing.policy import OfficeHours


def office_seconds(hours: OfficeHours, start: datetime, end: datetime) -> float:
    """Seconds of [start, end) within office hours (holidays closed); all of them if no hours are set."""
    if end <= start:
        return 0.0
    if not hours.configured:
        return (end - start).total_seconds()
    total = 0.0
    day = start.astimezone(hours.tz).date()
    last = end.astimezone(hours.tz).date()
    while day <= last:
        if day not in hours.holidays:
            for open_at, close_at in hours.week[day.weekday()]:
                lo = datetime.combine(day, open_at, tzinfo=hours.tz)
                hi = (datetime.combine(day, close_at, tzinfo=hours.tz) if close_at is not None
                      else datetime.combine(day + timedelta(days=1), time(0), tzinfo=hours.tz))
                overlap = (min(hi, end) - max(lo, start)).total_seconds()
                total += max(0.0, overlap)
        day += timedelta(days=1)
    return total


# An office closed for longer than this (holidays over every open day) keeps the clock 24/7.
DEADLINE_SEARCH_DAYS = 400


def office_deadline(hours: OfficeHours, start: datetime, seconds: float) -> datetime:
    """The moment ``seconds`` of office time after ``start`` have passed (holidays closed);
    ``start + seconds`` if no hours are set. Friday 17:55 + 15 min (09:00-18:00) -> Monday 09:10."""
    start = start.astimezone(UTC)
    if not hours.configured:
        return start + timedelta(seconds=seconds)
    left = timedelta(seconds=max(0.0, seconds))
    day = start.astimezone(hours.tz).date()
    for _ in range(DEADLINE_SEARCH_DAYS):
        if day not in hours.holidays:
            for open_at, close_at in hours.week[day.weekday()]:
                # In UTC: adding to a zoned datetime is wall-clock arithmetic, wrong across a DST change.
                lo = max(datetime.combine(day, open_at, tzinfo=hours.tz).astimezone(UTC), start)
                hi = (datetime.combine(day, close_at, tzinfo=hours.tz) if close_at is not None
                      else datetime.combine(day + timedelta(days=1), time(0), tzinfo=hours.tz)).astimezone(UTC)
                if hi <= lo:
                    continue
                if left <= hi - lo:
                    return lo + left
                left -= hi - lo
        day += timedelta(days=1)
    return start + timedelta(seconds=seconds)


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
