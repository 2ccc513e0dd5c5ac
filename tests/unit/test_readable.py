"""Dates, money, durations and counts as a person in the office reads them (daemon/domain/readable.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from daemon.domain import readable

MOSCOW = ZoneInfo("Europe/Moscow")


def test_a_day_is_day_month_year_in_office_time() -> None:
    # 22:30 UTC on the 6th is already the 7th in Moscow.
    late = datetime(2026, 12, 6, 22, 30, 15, 123456, tzinfo=UTC)
    assert readable.day(late, MOSCOW) == "07.12.2026"
    assert readable.day(date(2026, 12, 6)) == "06.12.2026"
    assert readable.day_month(date(2026, 11, 7)) == "07.11"
    assert readable.moment(late, MOSCOW) == "07.12.2026 01:30"
    assert readable.moment(late, MOSCOW, year=False) == "07.12 01:30"
    assert readable.clock(late, MOSCOW) == "01:30"


def test_a_named_day_carries_its_weekday() -> None:
    assert readable.weekday(date(2026, 12, 7)) == "пн"
    assert readable.weekday(date(2026, 12, 6)) == "вс"
    assert readable.named_day(date(2026, 12, 11)) == "пт 11.12.2026"
    assert readable.named_moment(datetime(2026, 12, 7, 5, 30, tzinfo=UTC), MOSCOW) == "пн 07.12.2026 08:30"


@pytest.mark.parametrize(("amount", "text"), [
    (Decimal("1234567.5"), "1 234 567,50 ₽"),
    (0, "0,00 ₽"),
    (999.999, "1 000,00 ₽"),
    ("85000", "85 000,00 ₽"),
    (Decimal("-1500.25"), "−1 500,25 ₽"),
    (100, "100,00 ₽"),
])
def test_money_is_grouped_by_spaces_with_kopecks_after_a_comma(amount: object, text: str) -> None:
    assert readable.money(amount) == text  # type: ignore[arg-type]


@pytest.mark.parametrize(("amount", "text"), [
    (0, "0 ₽"), (850, "850 ₽"), (250_000, "250 тыс ₽"), (1_200_000, "1,2 млн ₽"), (2_000_000, "2 млн ₽"),
])
def test_a_sum_on_an_axis_is_short(amount: float, text: str) -> None:
    assert readable.money_short(amount) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 с"), (45, "45 с"), (59.6, "1 мин"), (180, "3 мин"), (3599, "59 мин"), (3600, "1 ч"),
    (2 * 3600 + 31 * 60 + 10, "2 ч 31 мин"), (86400, "1 д"), (2 * 86400 + 5 * 3600 + 59, "2 д 5 ч"),
    (-5, "0 с"), (None, "—"),
])
def test_a_duration_names_its_two_largest_units_and_never_zero_hours(seconds: float | None, text: str) -> None:
    assert readable.duration(seconds) == text


def test_a_wait_says_who_waits_and_is_empty_when_nobody_does() -> None:
    assert readable.waiting(180) == "ждёт 3 мин"
    assert readable.waiting(17 * 3600) == "ждёт 17 ч"
    assert readable.waiting(None) == ""


@pytest.mark.parametrize(("count", "text"), [
    (0, "0 звонков"), (1, "1 звонок"), (2, "2 звонка"), (4, "4 звонка"), (5, "5 звонков"), (11, "11 звонков"),
    (12, "12 звонков"), (14, "14 звонков"), (21, "21 звонок"), (22, "22 звонка"), (111, "111 звонков"),
    (101, "101 звонок"),
])
def test_counts_agree_with_their_noun(count: int, text: str) -> None:
    assert readable.plural(count, "звонок", "звонка", "звонков") == text


def test_yes_no_and_shares() -> None:
    assert (readable.yes_no(True), readable.yes_no(False), readable.yes_no(None)) == ("да", "нет", "")
    assert readable.share(0.125) == "12,5 %"
    assert readable.share(None) == "—"
