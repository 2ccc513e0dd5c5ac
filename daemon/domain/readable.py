"""How a person reads what callbridge writes: dates, times, money, durations and counts, in Russian.

One module for every text a person reads (the morning report and its e-mail, the CLI's
reports and summaries, the analytics' table and charts), so that a day is ``06.12.2026``
everywhere, a sum ``1 234 567,50 ₽``, a wait ``ждёт 3 мин`` and a talk ``2 ч 31 мин``.
Times are shown in the office's time zone, to the minute: never UTC, never microseconds.

JSON and the programs' CSV fields keep ISO 8601; this module is for people only.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal

WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
RUBLE = "₽"
SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86400


def day(value: date | datetime, tz: tzinfo | None = None) -> str:
    """``06.12.2026``; an aware datetime is taken in ``tz`` (the office's) first."""
    return _local(value, tz).strftime("%d.%m.%Y")


def day_month(value: date | datetime, tz: tzinfo | None = None) -> str:
    """``07.11``: a day on a chart's axis or in a short span."""
    return _local(value, tz).strftime("%d.%m")


def weekday(value: date | datetime, tz: tzinfo | None = None) -> str:
    """``пн`` … ``вс``."""
    return WEEKDAYS[_local(value, tz).weekday()]


def named_day(value: date | datetime, tz: tzinfo | None = None) -> str:
    """``пн 07.12.2026``: a day named with its weekday."""
    return f"{weekday(value, tz)} {day(value, tz)}"


def clock(value: datetime, tz: tzinfo | None = None) -> str:
    """``08:30`` in office time."""
    return _local(value, tz).strftime("%H:%M")


def moment(value: datetime, tz: tzinfo | None = None, *, year: bool = True) -> str:
    """``06.12.2026 08:30`` (``06.12 08:30`` without the year), office time, to the minute."""
    local = _local(value, tz)
    return local.strftime("%d.%m.%Y %H:%M" if year else "%d.%m %H:%M")


def named_moment(value: datetime, tz: tzinfo | None = None) -> str:
    """``пн 07.12.2026 08:30``."""
    return f"{weekday(value, tz)} {moment(value, tz)}"


def money(amount: Decimal | float | int | str) -> str:
    """``1 234 567,50 ₽``: groups of three by a space, kopecks after a comma."""
    value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "−" if value < 0 else ""
    whole, _, cents = f"{abs(value):.2f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{' '.join(groups)},{cents} {RUBLE}"


def money_short(amount: Decimal | float | int) -> str:
    """``0 ₽``, ``850 ₽``, ``250 тыс ₽``, ``1,2 млн ₽``: a sum on a chart's axis."""
    value = float(amount)
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}".rstrip("0").rstrip(".").replace(".", ",") + f" млн {RUBLE}"
    if abs(value) >= 1000:
        return f"{value / 1000:.0f} тыс {RUBLE}"
    return f"{value:.0f} {RUBLE}"


def duration(seconds: float | int | None) -> str:
    """``45 с``, ``3 мин``, ``2 ч 31 мин``, ``2 д 5 ч``: the two largest units, never a leading zero unit."""
    if seconds is None:
        return "—"
    total = max(0, int(round(seconds)))
    if total < SECONDS_PER_MINUTE:
        return f"{total} с"
    if total < SECONDS_PER_HOUR:
        return f"{total // SECONDS_PER_MINUTE} мин"
    if total < SECONDS_PER_DAY:
        hours, rest = divmod(total, SECONDS_PER_HOUR)
        minutes = rest // SECONDS_PER_MINUTE
        return f"{hours} ч {minutes} мин" if minutes else f"{hours} ч"
    days, rest = divmod(total, SECONDS_PER_DAY)
    hours = rest // SECONDS_PER_HOUR
    return f"{days} д {hours} ч" if hours else f"{days} д"


def waiting(seconds: float | int | None) -> str:
    """``ждёт 3 мин``, ``ждёт 2 д 5 ч``; empty when nobody waits (``None``)."""
    return "" if seconds is None else f"ждёт {duration(seconds)}"


def plural(count: int, one: str, few: str, many: str) -> str:
    """``1 звонок``, ``3 звонка``, ``5 звонков``, ``21 звонок``, ``11 звонков``."""
    tail10, tail100 = abs(count) % 10, abs(count) % 100
    if tail10 == 1 and tail100 != 11:
        word = one
    elif 2 <= tail10 <= 4 and not 12 <= tail100 <= 14:
        word = few
    else:
        word = many
    return f"{count} {word}"


def yes_no(value: bool | None) -> str:
    """``да`` / ``нет`` (empty for an unknown)."""
    return "" if value is None else ("да" if value else "нет")


def share(fraction: float | None) -> str:
    """``12,5 %`` (one decimal, a comma); ``—`` when there is nothing to divide."""
    return "—" if fraction is None else f"{fraction * 100:.1f} %".replace(".", ",")


# A trip's status as stored (trips.status, [leads] trip_statuses maps the booking system's words).
TRIP_STATUSES = {"paid": "оплачена", "cancelled": "отменена", "pending": "ожидает оплаты"}
NO_SCORE = "нет данных"


def trip_status(status: str | None) -> str:
    """``оплачена``, ``отменена``, ``ожидает оплаты``; an unknown one as it is."""
    return TRIP_STATUSES.get(status or "", status or "—")


def score(points: int | None, reasons: list[dict[str, object]]) -> str:
    """``72: Оплаченных поездок за 24 мес.: 2 (+30); …``; ``нет данных`` before the first scoring;
    a score no reason added to says so (the scoring keeps only the reasons that gave points)."""
    if points is None:
        return NO_SCORE
    if not reasons:
        return f"{points}: ни одна причина не дала баллов"
    return f"{points}: " + "; ".join(f"{r['reason']} ({_signed(r['points'])})" for r in reasons)


def _signed(points: object) -> str:
    return f"+{points}" if isinstance(points, int) and points > 0 else str(points)


def _local(value: date | datetime, tz: tzinfo | None) -> date | datetime:
    if isinstance(value, datetime) and value.tzinfo is not None and tz is not None:
        return value.astimezone(tz)
    return value
