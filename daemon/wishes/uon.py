"""A lead's wish as U-ON's ``lead/create`` fields, for agencies that keep U-ON as their booking system.

U-ON's lead keeps the wish in ``countries``, ``date_from``, ``date_to``, ``nights_from``,
``nights_to``, ``tourist_count`` (adults), ``tourist_child_count``, ``budget``; what has no
field of its own (resort, departure city, children's ages, stars, meal) goes into ``note``
as the card's line. Fields nothing is known of are left out, so U-ON keeps its own.
"""

from __future__ import annotations

from typing import Any

from daemon.wishes.summary import summary


def uon_fields(wish: dict[str, Any]) -> dict[str, Any]:
    """The flat wish (daemon/wishes/present.py) → U-ON ``lead/create`` parameters."""
    place = wish.get("destination") or {}
    budget = wish.get("budget") or {}
    children = wish.get("children")
    found: dict[str, Any] = {
        "countries": [place["country"]] if place.get("country") else None,
        "date_from": wish.get("date_from"),
        "date_to": wish.get("date_to"),
        "nights_from": wish.get("nights_from"),
        "nights_to": wish.get("nights_to"),
        "tourist_count": wish.get("adults"),
        "tourist_child_count": len(children) if children is not None else None,
        "budget": budget.get("amount_to") or budget.get("amount_from"),
        "budget_currency": budget.get("currency") if budget else None,
        "note": ("Хотят: " + summary(wish)) if summary(wish) else None,
    }
    return {key: value for key, value in found.items() if value is not None}
