"""A form's own fields by their names, in Russian and English: «Страна», «Город вылета», «adults»…

Each field's value is read by the parser of its kind, so «до 250 тыс.» in «Бюджет» and
«2» in «Взрослых» mean what they would in a sentence; a bare number in «Бюджет» is
roubles, in «Детей» a count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from daemon.wishes import budget as money
from daemon.wishes import dates as when
from daemon.wishes import hotel, nights, places, travellers
from daemon.wishes.model import Found, Wish
from daemon.wishes.text import normalise

# (kind, words a field's name holds), the first that matches wins: «Город вылета» before «город».
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("date_to", ("выезд", "обратно", "date to", "return")),
    ("dates", ("дат", "когда", "date", "период", "заезд", "when")),
    ("departure", ("вылет", "откуда", "departure", "from", "город отправления")),
    ("child_ages", ("возраст", "ages", "age")),
    ("children", ("дет", "реб", "children", "kids", "child")),
    ("adults", ("взросл", "adults", "adult")),
    ("people", ("человек", "туристов", "persons", "people", "pax")),
    ("nights", ("ноч", "nights", "duration", "продолжительн")),
    ("budget", ("бюджет", "budget", "стоимост", "price", "сумм")),
    ("meal", ("питани", "meal", "board")),
    ("stars", ("звезд", "stars", "категори")),
    ("destination", ("стран", "куда", "направлен", "курорт", "country", "destination", "resort", "city", "город")),
)
_NAME = re.compile(r"[^a-zа-я]+")


def kind_of(name: str) -> str | None:
    """What a field holds, from its name; None for a field that is not part of a wish."""
    name = _NAME.sub(" ", name.lower().replace("ё", "е")).strip()
    for kind, words in KINDS:
        if any(word in name for word in words):
            return kind
    return None


def _count(value: str) -> int | None:
    m = re.search(r"\d+", value)
    return int(m.group()) if m and int(m.group()) <= 20 else None


def _ages(value: str) -> list[int]:
    return [int(v) for v in re.findall(r"\d+", value) if int(v) <= travellers.MAX_CHILD_AGE]


def parse_fields(fields: Iterable[tuple[str, str]], at: datetime) -> Wish:
    """The wish in a form's named fields; fields no kind names are left to the free text."""
    wish: Wish = {}
    kids: int | None = None
    ages: list[int] = []
    date_to: Found | None = None
    for name, raw in fields:
        kind, value = kind_of(name), normalise(str(raw)).strip()
        if kind is None or not value:
            continue
        if kind == "departure":
            city = places.departure_city("из " + value)
            if city:
                wish.setdefault("departure_city", Found(city.value, raw))
        elif kind == "destination":
            place = places.destination(value)
            if place and ("destination" not in wish or not wish["destination"].value["resort"]):
                previous = wish.get("destination")
                if previous and previous.value["country"] == place.value["country"] and place.value["resort"]:
                    place = Found(place.value, f"{previous.words}, {raw}")
                wish["destination"] = place if previous is None or place.value["resort"] else previous
        elif kind == "adults" and (n := _count(value)) is not None and n > 0:
            wish["adults"] = Found(n, raw)
        elif kind == "people" and (n := _count(value)) is not None and n > 0:
            wish.setdefault("adults", Found(n, raw))
        elif kind == "children":
            kids = _count(value) if not re.search(r"нет|no", value) else 0
        elif kind == "child_ages":
            ages = _ages(value)
        elif kind == "nights" and (found := nights.nights(value) or _bare_nights(value)):
            wish["nights"] = Found(found.value, raw)
        elif kind == "dates" and (found := when.dates(value, at)):
            wish.setdefault("dates", Found(found.value, raw))
        elif kind == "date_to" and (found := when.dates(value, at)):
            date_to = Found(found.value, raw)
        elif kind == "budget" and (found := money.budget(_as_budget(value))):
            wish["budget"] = Found(found.value, raw)
        elif kind == "meal" and (found := hotel.meal(value)):
            wish["meal"] = Found(found.value, raw)
        elif kind == "stars" and (found := hotel.hotel_stars(value if "*" in value else value + "*")):
            wish["hotel_stars"] = Found(found.value, raw)
    _join_dates(wish, date_to)
    if kids is not None or ages:
        count = max(kids or 0, len(ages))
        words = f"{kids or ''} {' '.join(map(str, ages))}".strip()
        wish["children"] = Found(ages + [None] * (count - len(ages)), words)
    return wish


def _bare_nights(value: str) -> Found | None:
    m = re.fullmatch(r"(\d{1,2})(?:\s*-\s*(\d{1,2}))?", value)
    if not m:
        return None
    low, high = int(m.group(1)), int(m.group(2) or m.group(1))
    return Found({"nights_from": low, "nights_to": high}, value) if 0 < low <= high else None


def _as_budget(value: str) -> str:
    """A bare amount in a budget field is money: «200000» → «бюджет 200000»."""
    return value if re.match(r"\D", value) else "бюджет " + value


def _join_dates(wish: Wish, date_to: Found | None) -> None:
    """«Дата заезда» and «Дата выезда» in two fields make one range."""
    if date_to is None:
        return
    start = wish.get("dates")
    if start is None:
        return
    value = {"date_from": start.value["date_from"], "date_to": date_to.value["date_to"]}
    if value["date_to"] and value["date_from"] and value["date_to"] >= value["date_from"]:
        wish["dates"] = Found(value, f"{start.words} – {date_to.words}")
