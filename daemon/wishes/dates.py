"""When: absolute and relative dates, month parts, holidays and seasons → (date_from, date_to).

A date without a year is the next one ahead of the inquiry's time; a date with a year
that has passed is not a wish (an invoice's date, a contract's). «с 15 июня» and
«после 15 июня» give the start only; one day («вылет 14 июня») gives both ends.
Parts of a month: days 1–10, 11–20, 21–end; halves 1–15, 16–end. Two expressions
joined by a dash or «или» («конец сентября — начало октября») make one range.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from daemon.wishes.model import Found

_MONTH_STEMS = (("январ", 1), ("янв", 1), ("феврал", 2), ("фев", 2), ("март", 3), ("мар", 3), ("апрел", 4),
                ("апр", 4), ("ма", 5), ("июн", 6), ("июл", 7), ("август", 8), ("авг", 8), ("сентябр", 9),
                ("сен", 9), ("октябр", 10), ("окт", 10), ("ноябр", 11), ("ноя", 11), ("декабр", 12), ("дек", 12))
MON = (r"(?<![а-я])(январ[ьяею]|янв\.?|феврал[ьяею]|фев\.?|март[аеу]?|мар\.?|апрел[ьяею]|апр\.?|ма[йяюе]|июн[ьяею]|"
       r"июл[ьяею]|август[аеу]?|авг\.?|сентябр[ьяею]|сент?\.?|октябр[ьяею]|окт\.?|ноябр[ьяею]|нояб?\.?|"
       r"декабр[ьяею]|дек\.?)(?![а-я])")
YEAR = r"(?:\s*(20\d\d)\s*(?:г\.?|года?)?|\s+(следующего\s+года))?"
DAY = r"(\d{1,2})(?:-?го)?"
OPEN = r"(?:с|со|после|от|начиная\s+с|не\s+раньше)"
PART = r"(начал[оае]|нач\.|середин[аеуы]|конц[еа]|конец|перв\w+\s+половин\w+|втор\w+\s+половин\w+)"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    date_from: date | None
    date_to: date | None
    vague: bool = False  # a holiday or a season: a date the same message names is preferred
    within: bool = False  # «после 15-го»: a day within the month named beside it, preferred to the month


def month_of(word: str) -> int:
    word = word.rstrip(".")
    for prefix, month in _MONTH_STEMS:
        if word.startswith(prefix):
            return month
    raise ValueError(word)


def _year(m: re.Match[str], group: int, at: date) -> int | None:
    """An explicit year (``2027``, «следующего года») or None."""
    if m.group(group):
        return int(m.group(group))
    if m.group(group + 1):
        return at.year + 1
    return None


def _ahead(month: int, day: int, at: date, year: int | None = None) -> date | None:
    """The next ``day.month`` on or after ``at`` (or in ``year``); None for an impossible date."""
    try:
        if year is not None:
            return date(year, month, day)
        found = date(at.year, month, day)
        return found if found >= at else date(at.year + 1, month, day)
    except ValueError:
        return None


def _month_year(month: int, at: date, year: int | None) -> int:
    return year if year is not None else (at.year if month >= at.month else at.year + 1)


def _last(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _after(start: date | None, month: int, day: int, year: int | None) -> date | None:
    """The end of a range: the first ``day.month`` on or after its start."""
    if start is None:
        return None
    return _ahead(month, day, start, year)


def _year_of(text: str | None, at: date) -> int | None:
    if not text:
        return None
    value = int(text)
    return value + 2000 if value < 100 else value


# -- the patterns, in the order they claim the text ---------------------------------------
def _iso(m: re.Match[str], at: date) -> tuple[date | None, date | None]:
    one = _ahead(int(m.group(2)), int(m.group(3)), at, int(m.group(1)))
    two = _ahead(int(m.group(5)), int(m.group(6)), at, int(m.group(4))) if m.group(4) else one
    return one, two


def _numeric_range(m: re.Match[str], at: date) -> tuple[date | None, date | None]:
    one = _ahead(int(m.group(2)), int(m.group(1)), at, _year_of(m.group(3), at))
    return one, _after(one, int(m.group(5)), int(m.group(4)), _year_of(m.group(6), at))


def _numeric_one(m: re.Match[str], at: date) -> tuple[date | None, date | None]:
    one = _ahead(int(m.group(3)), int(m.group(2)), at, _year_of(m.group(4), at))
    return one, (None if m.group(1) else one)


def _word_range(m: re.Match[str], at: date) -> tuple[date | None, date | None]:
    month_to = month_of(m.group(4))
    year = _year(m, 5, at)
    month_from = month_of(m.group(2)) if m.group(2) else month_to
    if year is not None and month_from > month_to:
        one = _ahead(month_from, int(m.group(1)), at, year - 1)
    else:
        one = _ahead(month_from, int(m.group(1)), at, year)
        if one is not None and month_from <= month_to and year is None:
            end = _ahead(month_to, int(m.group(3)), at)
            if end is not None and end.year != one.year:
                one = _ahead(month_from, int(m.group(1)), at, end.year)
    return one, _after(one, month_to, int(m.group(3)), None)


def _word_one(m: re.Match[str], at: date) -> tuple[date | None, date | None]:
    one = _ahead(month_of(m.group(3)), int(m.group(2)), at, _year(m, 4, at))
    return one, (None if m.group(1) else one)


def _after_day(m: re.Match[str], at: date) -> tuple[date | None, date | None]:
    """«в июне, после 15-го»: the day of the month the message names elsewhere; the start only."""
    month = re.search(MON, m.string)
    if month is None:
        return None, None
    return _ahead(month_of(month.group(1)), int(m.group(1)), at), None


def _part_days(part: str, year: int, month: int) -> tuple[date, date]:
    last = _last(year, month)
    if part.startswith("перв"):
        return date(year, month, 1), date(year, month, 15)
    if part.startswith("втор"):
        return date(year, month, 16), date(year, month, last)
    first, end = (1, 10) if part.startswith("нач") else (11, 20) if part.startswith("серед") else (21, last)
    return date(year, month, first), date(year, month, end)


def _part(m: re.Match[str], at: date) -> tuple[date | None, date | None]:
    month = month_of(m.group(2))
    year = _month_year(month, at, _year(m, 3, at))
    return _part_days(m.group(1), year, month)


def _month_part(m: re.Match[str], at: date) -> tuple[date | None, date | None]:
    month = month_of(m.group(1))
    year = _month_year(month, at, _year(m, 2, at))
    return _part_days(m.group(4), year, month)


def _month(m: re.Match[str], at: date) -> tuple[date | None, date | None]:
    month = month_of(m.group(1))
    year = _month_year(month, at, _year(m, 2, at))
    return date(year, month, 1), date(year, month, _last(year, month))


def _holiday(first: tuple[int, int], last: tuple[int, int]) -> Callable[[re.Match[str], date], tuple[date, date]]:
    """A yearly stretch (``last`` may fall in the next year): the next one not over yet."""
    def days(m: re.Match[str], at: date) -> tuple[date, date]:
        for year in (at.year - 1, at.year, at.year + 1):
            start = date(year, *first)
            end = date(year + (last < first), *last)
            if end >= at:
                return start, end
        raise AssertionError("unreachable: next year's is ahead")
    return days


def _next_week(m: re.Match[str], at: date) -> tuple[date, date]:
    monday = at + timedelta(days=7 - at.weekday())
    return monday, monday + timedelta(days=6)


def _next_month(m: re.Match[str], at: date) -> tuple[date, date]:
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return date(year, month, 1), date(year, month, _last(year, month))


Reader = Callable[[re.Match[str], date], tuple[date | None, date | None]]
PATTERNS: tuple[tuple[re.Pattern[str], Reader], ...] = tuple((re.compile(p), f) for p, f in (
    (r"(20\d\d)-(\d\d)-(\d\d)(?:\s*(?:-|по|до)\s*(20\d\d)-(\d\d)-(\d\d))?", _iso),
    (r"(?<![\d.,])(\d{1,2})\.(\d{1,2})(?:\.(\d{2,4}))?\s*(?:-|по|до)\s*(\d{1,2})\.(\d{1,2})(?:\.(\d{2,4}))?(?!\d|[.,]\d)",
     _numeric_range),
    (rf"{DAY}\s*(?:{MON})?\s*(?:-|по|до)\s*{DAY}\s+{MON}{YEAR}", _word_range),
    (rf"(?:({OPEN})\s+)?{DAY}\s+{MON}{YEAR}", _word_one),
    (rf"(?:({OPEN})\s+)?(?<![\d.,])(\d{{1,2}})\.(\d{{2}})(?:\.(\d{{2,4}}))?(?!\d|[.,]\d)", _numeric_one),
    (rf"(?:после|с|от)\s+(\d{{1,2}})-?го(?!\s*{MON})", _after_day),
    (rf"{MON}{YEAR}\s*,?\s*(?:в\s+)?{PART}(?!\s*{MON})", _month_part),
    (rf"{PART}\s+{MON}{YEAR}", _part),
    (r"майск\w*", _holiday((5, 1), (5, 10))),
    (r"нов\w*\s+год\w*|новогодн\w*|(?<![а-я])нг(?![а-я])|зимн\w+\s+каникул\w*", _holiday((12, 28), (1, 8))),
    (r"следующей\s+неделе", _next_week),
    (r"следующем\s+месяце", _next_month),
    (rf"{MON}{YEAR}", _month),
    (r"(?<![а-я])(?:летом|лето|летн\w+)(?![а-я])", _holiday((6, 1), (8, 31))),
    (r"(?<![а-я])(?:зимой|зима|зимн\w+)(?![а-я])(?!\s+каникул)", _holiday((12, 1), (2, 28))),
    (r"(?<![а-я])(?:весной|весна|весенн\w+)(?![а-я])", _holiday((3, 1), (5, 31))),
    (r"(?<![а-я])(?:осенью|осень)(?![а-я])", _holiday((9, 1), (11, 30))),
))
# Holidays and seasons: «новогодние каникулы, с 27 декабря по 8 января» means the dates.
VAGUE = frozenset(p for p, read in PATTERNS if read.__name__ == "days")
_JOIN = re.compile(r"\s*(?:-|или|/)\s*(?:в\s+|на\s+)?")


def spans(text: str, at: date) -> list[Span]:
    """Every date expression in ``text`` (normalised), in order of position; a passed date is dropped."""
    taken: list[tuple[int, int]] = []
    found: list[Span] = []
    for pattern, read in PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            one, two = read(m, at)
            if one is None or (two is not None and two < one) or (two or one) < at:
                continue
            found.append(Span(m.start(), m.end(), one, two, pattern in VAGUE, read is _after_day))
    return sorted(found, key=lambda s: s.start)


def dates(text: str, at: datetime) -> Found | None:
    """The first date range of ``text``, joined with the next one when a dash or «или» joins them."""
    found = spans(text, at.date())
    if not found:
        return None
    if any(not s.vague for s in found):
        found = [s for s in found if not s.vague]
    first = next((s for s in found if s.within), found[0])
    end, to = first.end, first.date_to
    if len(found) > 1 and _JOIN.fullmatch(text[first.end:found[1].start]) and found[1].date_to is not None:
        second = found[1]
        if first.date_from is not None and second.date_to >= first.date_from:  # type: ignore[operator]
            end, to = second.end, second.date_to
    value = {"date_from": _iso_date(first.date_from), "date_to": _iso_date(to)}
    return Found(value, text[first.start:end])


def _iso_date(value: date | None) -> str | None:
    return value.isoformat() if value else None
