"""The wish as people and the API see it: the stored fields flattened, a manager's first.

Stored per field (``parsed`` from the inquiries, ``edited`` by a manager; see
sql/migrations/0024_lead_wishes.sql); shown flat, as the issue's shape:
``{destination: {country, resort}, departure_city, date_from, date_to, nights_from,
nights_to, adults, children, budget: {amount_from, amount_to, currency}, hotel_stars,
meal, flexible_dates}`` with ``sources`` saying where each field came from.
"""

from __future__ import annotations

from typing import Any

from daemon.wishes.model import FIELDS
from daemon.wishes.summary import summary

FLAT = ("destination", "departure_city", "date_from", "date_to", "nights_from", "nights_to", "adults", "children",
        "budget", "hotel_stars", "meal", "flexible_dates")
# The flat keys a stored field spreads into (the others are one key each).
SPREAD = {"dates": ("date_from", "date_to"), "nights": ("nights_from", "nights_to")}
FIELD_OF = {key: field for field, keys in SPREAD.items() for key in keys}


def effective(parsed: dict[str, Any] | None, edited: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Field → its stored entry, the manager's where there is one; a field cleared by hand is left out."""
    parsed, edited = parsed or {}, edited or {}
    found: dict[str, dict[str, Any]] = {}
    for name in FIELDS:
        entry = edited[name] if name in edited else parsed.get(name)
        if entry is not None and entry.get("value") is not None:
            found[name] = entry
    return found


def flat(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The flat wish: every key present, None where nothing is known."""
    wish: dict[str, Any] = dict.fromkeys(FLAT)
    for name, entry in fields.items():
        if name in SPREAD:
            wish.update({key: entry["value"].get(key) for key in SPREAD[name]})
        else:
            wish[name] = entry["value"]
    return wish


def sources(fields: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Where each field came from: the communication and its words, or the manager who set it."""
    return {name: {"communication_id": entry.get("communication_id"), "words": entry.get("words"),
                   "by": entry.get("by"), "at": entry.get("at")} for name, entry in fields.items()}


def wish_document(parsed: dict[str, Any] | None, edited: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{..flat fields.., sources, summary}``; None when nothing is known of the wish."""
    fields = effective(parsed, edited)
    if not fields:
        return None
    wish = flat(fields)
    return {**wish, "sources": sources(fields), "summary": summary(wish)}
