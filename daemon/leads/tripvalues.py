"""What a booking system's export writes in a cell, as values: amounts, dates, statuses.

Pure functions; each raises ValueError with a reason a person can act on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

_CURRENCY = re.compile(r"(руб\.?|р\.|₽|rub|rur)", re.IGNORECASE)
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
MAX_AMOUNT = Decimal("999999999999.99")  # numeric(14, 2)


def parse_amount(text: str) -> Decimal | None:
    """``125 000,50``, ``125000.5``, ``1,250,000.00``, ``125 000 руб.`` -> Decimal; "" -> None."""
    cleaned = _CURRENCY.sub("", text)
    cleaned = re.sub(r"[\s\u00a0\u202f']", "", cleaned)
    if not cleaned:
        return None
    if "," in cleaned and "." in cleaned:
        # Both: the last one is the decimal separator, the other groups thousands.
        thousands = "," if cleaned.rfind(".") > cleaned.rfind(",") else "."
        cleaned = cleaned.replace(thousands, "")
    cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"amount {text!r} is not a number such as 125 000,50") from None
    if not value.is_finite() or abs(value) > MAX_AMOUNT:
        raise ValueError(f"amount {text!r} is out of range")
    return value.quantize(Decimal("0.01"))


def parse_date(text: str) -> date | None:
    """``15.05.2025``, ``15.05.25``, ``2025-05-15`` or a date cell's ISO text -> date; "" -> None."""
    text = text.strip()
    if not text:
        return None
    match = _DOTTED.match(text)
    if match:
        day, month, year = int(match[1]), int(match[2]), int(match[3])
        year += 2000 if year < 100 else 0
        try:
            return date(year, month, day)
        except ValueError:
            raise ValueError(f"date {text!r} does not exist") from None
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1)).date()
    except ValueError:
        raise ValueError(f"date {text!r} is not a date such as 15.05.2025 or 2025-05-15") from None


def map_status(text: str, table: Mapping[str, str]) -> str | None:
    """The booking status as paid | cancelled | pending through ``table`` (lower-cased keys); None if unknown."""
    key = " ".join(text.strip().lower().replace("ё", "е").split())
    return table.get(key) or table.get(key.replace("е", "ё"))
