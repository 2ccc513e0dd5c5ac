"""The wish in one line for the card: «Турция, Анталья · 1–10 июня · 10–12 ночей · 2 взр. + реб. 5 лет ·
до 250 000 ₽ · из Казани»."""

from __future__ import annotations

from datetime import date
from typing import Any

from daemon.wishes.morph import genitive

MONTHS_GENITIVE = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
                   "октября", "ноября", "декабря")
MEALS_RU = {"RO": "без питания", "BB": "завтраки", "HB": "полупансион", "FB": "полный пансион",
            "AI": "всё включено", "UAI": "ультра всё включено"}
SIGNS = {"RUB": " ₽", "USD": " $", "EUR": " €"}


def plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian noun form after ``n``: 1 ночь, 2 ночи, 5 ночей."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def _day(value: date) -> str:
    return f"{value.day} {MONTHS_GENITIVE[value.month - 1]}"


def dates_text(date_from: str | None, date_to: str | None) -> str | None:
    start = date.fromisoformat(date_from) if date_from else None
    end = date.fromisoformat(date_to) if date_to else None
    if start and end:
        if start == end:
            return _day(start)
        if (start.year, start.month) == (end.year, end.month):
            return f"{start.day}–{_day(end)}"
        return f"{_day(start)} – {_day(end)}"
    if start:
        return f"с {_day(start)}"
    return f"по {_day(end)}" if end else None


def _range(low: int | None, high: int | None) -> str:
    return f"{low}–{high}" if low is not None and high is not None and low != high else str(low or high)


def _money(amount: int) -> str:
    return f"{amount:,}".replace(",", "\u00a0")


def budget_text(budget: dict[str, Any] | None) -> str | None:
    if not budget:
        return None
    low, high, sign = budget.get("amount_from"), budget.get("amount_to"), SIGNS.get(budget.get("currency") or "RUB", "")
    if low and high:
        return f"{_money(low)}–{_money(high)}{sign}"
    if high:
        return f"до {_money(high)}{sign}"
    return f"от {_money(low)}{sign}" if low else None


def _age(age: int) -> str:
    return f"{age} {plural(age, 'год', 'года', 'лет')}" if age else "до года"


def travellers_text(adults: int | None, children: list[int | None] | None) -> str | None:
    parts = [f"{adults} взр."] if adults else []
    if children:
        ages = [a for a in children if a is not None]
        if len(children) == 1:
            parts.append("реб." + (f" {_age(ages[0])}" if ages else ""))
        else:
            known = " и ".join(str(a) for a in ages)
            parts.append(f"{len(children)} реб." + (f" ({known} {plural(ages[-1], 'год', 'года', 'лет')})"
                                                     if ages else ""))
    elif children == [] and adults:
        parts.append("без детей")
    return " + ".join(parts) or None


def summary(wish: dict[str, Any]) -> str:
    """Every known part of the flat wish, in the order a manager reads it."""
    place = wish.get("destination") or {}
    nights_from, nights_to = wish.get("nights_from"), wish.get("nights_to")
    nights = None
    if nights_from or nights_to:
        last: int = nights_to or nights_from or 0
        nights = f"{_range(nights_from, nights_to)} {plural(last, 'ночь', 'ночи', 'ночей')}"
    hotel = ", ".join(p for p in (f"{wish['hotel_stars']}*" if wish.get("hotel_stars") else None,
                                  MEALS_RU.get(wish.get("meal") or "")) if p) or None
    parts = [", ".join(p for p in (place.get("country"), place.get("resort")) if p) or None,
             dates_text(wish.get("date_from"), wish.get("date_to")),
             "даты гибкие" if wish.get("flexible_dates") else None,
             nights, travellers_text(wish.get("adults"), wish.get("children")), hotel,
             budget_text(wish.get("budget")),
             f"из {genitive(wish['departure_city'])}" if wish.get("departure_city") else None]
    return " · ".join(p for p in parts if p)
