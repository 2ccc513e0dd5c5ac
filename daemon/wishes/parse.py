"""One message → its wish; a conversation's messages → one wish, the later refining the earlier.

``parse_text`` reads free text, ``parse_fields`` a form's named fields; ``parse_inquiry``
reads both (a field the form names wins over the same field in its comment, but the
comment may add the resort of the country the form gave). ``refine`` lays a later
message's fields over an earlier wish, field by field: «лучше в июле» moves the dates
and leaves the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from daemon.wishes import budget, dates, hotel, nights, places, travellers
from daemon.wishes.fields import parse_fields
from daemon.wishes.model import Found, Wish
from daemon.wishes.text import normalise


def parse_text(text: str | None, at: datetime) -> Wish:
    """The wish in one message of free Russian text, as of the message's time ``at``."""
    if not text or not text.strip():
        return {}
    clean = normalise(text)
    mentions = places.mentions(clean)
    kids = travellers.children(clean)
    found: dict[str, Found | None] = {
        "destination": places.destination(clean, mentions),
        "departure_city": places.departure_city(clean, mentions),
        "dates": dates.dates(clean, at),
        "nights": nights.nights(clean),
        "adults": travellers.adults(clean, len(kids.value) if kids else 0),
        "children": kids,
        "budget": budget.budget(clean),
        "hotel_stars": hotel.hotel_stars(clean),
        "meal": hotel.meal(clean),
        "flexible_dates": hotel.flexible_dates(clean),
    }
    return {name: value for name, value in found.items() if value is not None}


def parse_inquiry(text: str | None, fields: Iterable[tuple[str, str]], at: datetime) -> Wish:
    """A form's fields and its free text together; the fields win where both say the same thing."""
    from_fields = parse_fields(fields, at)
    from_text = parse_text(text, at)
    wish = {**from_text, **from_fields}
    said, typed = from_fields.get("destination"), from_text.get("destination")
    if said and typed and not said.value["resort"] and typed.value["country"] == said.value["country"]:
        wish["destination"] = Found(typed.value, f"{said.words}; {typed.words}")
    kids, ages = from_fields.get("children"), from_text.get("children")
    if kids and ages and None in kids.value and len(ages.value) == len(kids.value):
        wish["children"] = Found(ages.value, f"{kids.words}; {ages.words}")
    return wish


def refine(earlier: Wish, later: Wish) -> Wish:
    """The wish after a later message: each field it names replaces the earlier one as a whole."""
    return {**earlier, **later}
