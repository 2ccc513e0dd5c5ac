"""The wish: a mapping of field name → what was found (value and the words it came from).

Fields are the units a later message or a manager replaces as a whole: a new date range
replaces both ends, a new destination both country and resort.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

FIELDS: Final = ("destination", "departure_city", "dates", "nights", "adults", "children", "budget",
                 "hotel_stars", "meal", "flexible_dates")
MEALS: Final = ("RO", "BB", "HB", "FB", "AI", "UAI")
CURRENCIES: Final = ("RUB", "USD", "EUR")


@dataclass(frozen=True)
class Found:
    """One field's value (JSON-ready) and the words of the message it was read from."""

    value: Any
    words: str

    def as_json(self) -> dict[str, Any]:
        return {"value": self.value, "words": self.words}


Wish = dict[str, Found]


def wish_json(wish: Wish) -> dict[str, dict[str, Any]]:
    return {name: wish[name].as_json() for name in FIELDS if name in wish}
