"""Destination (country, resort) and departure city, in any case form.

Words are matched by stem (``stem``: the case ending cut off), one to three
words long, longest first. A departure city is a city after «из», «вылет»,
«от»; a city no tourist flies to (Москва, Казань…) is the departure city
wherever it stands. The destination is the first country or resort named;
its resort, the first resort of that country.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final

from daemon.wishes.gazetteer import CITIES, COUNTRIES, REGION_OF, RESORTS
from daemon.wishes.model import Found
from daemon.wishes.morph import lemmas

_SUFFIXES: Final = tuple(sorted((
    "ами", "ями", "ого", "его", "ому", "ему", "ыми", "ими", "ах", "ях", "ам", "ям", "ой", "ей", "ом", "ем",
    "ую", "юю", "ью", "ию", "ия", "ии", "ий", "ый", "ая", "яя", "ое", "ее", "ые", "ие", "ых", "их", "ыя",
    "у", "ю", "а", "я", "е", "и", "ы", "о", "ь", "й"), key=len, reverse=True))
_WORD = re.compile(r"[a-zа-я]+")
# Words that make the next place the departure city.
_FROM = frozenset({"из", "от", "вылет", "вылета", "вылетом", "вылетаем", "вылетать", "вылетим", "вылетают"})
_TO = frozenset({"в", "во", "на", "по"})
# A few of the forms a short name takes, which the stem cannot reach.
_EXTRA_FORMS: Final = {"Египет": ("египта", "египте", "египту"), "Уфа": ("уфы", "уфе", "уфу", "уфой"),
                       "Таиланд": ("тайском",), "Шарм-эль-Шейх": ("шарме",)}
MAX_PHRASE_WORDS = 3


def stem(word: str) -> str:
    """The word without its case ending: «турцию», «турции» → «турц»; words of ≤ 3 letters stay whole."""
    if len(word) <= 3:
        return word
    for _ in range(2):
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        else:
            break
    return word


@dataclass(frozen=True)
class Place:
    kind: str  # "country", "resort", "city"
    name: str
    country: str | None


def _key(form: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in _WORD.findall(form))


@cache
def index() -> dict[tuple[str, ...], list[Place]]:
    """Stems of every written form → the places it names."""
    found: dict[tuple[str, ...], list[Place]] = {}

    def add(forms: tuple[str, ...], place: Place) -> None:
        for form in forms + _EXTRA_FORMS.get(place.name, ()):
            found.setdefault(_key(form), []).append(place)

    for country, forms in COUNTRIES.items():
        add(forms, Place("country", country, country))
    for resort, (country, forms) in RESORTS.items():
        add(forms, Place("resort", resort, country))
    for city, forms in CITIES.items():
        add(forms, Place("city", city, None))
    return found


@dataclass(frozen=True)
class Mention:
    place: Place
    start: int
    end: int
    before: str  # the word before the mention


def mentions(text: str) -> list[Mention]:
    """Every place named in ``text`` (normalised), in order, the longest phrase first."""
    words = list(_WORD.finditer(text))
    stems = [stem(w.group()) for w in words]
    table = index()
    found: list[Mention] = []
    i = 0
    while i < len(words):
        for size in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
            places = table.get(tuple(stems[i:i + size]))
            if not places and size == 1:
                places = table.get((words[i].group(),)) or _by_lemma(words, i, table)
            if places:
                before = words[i - 1].group() if i else ""
                found.extend(Mention(p, words[i].start(), words[i + size - 1].end(), before) for p in places)
                i += size
                break
        else:
            i += 1
    return found


def _by_lemma(words: list[re.Match[str]], i: int, table: dict[tuple[str, ...], list[Place]]) -> list[Place] | None:
    """After «в», «на», «из»…, a word the stem missed is looked up by its dictionary lemma."""
    word = words[i].group()
    if i == 0 or len(word) < 4 or words[i - 1].group() not in _FROM | _TO:
        return None
    for lemma in lemmas(word):
        if (places := table.get((stem(lemma),))):
            return places
    return None


def _is_departure(m: Mention, departure_only: bool) -> bool:
    return m.before in _FROM or (departure_only and m.before not in _TO)


def departure_city(text: str, found: list[Mention] | None = None) -> Found | None:
    """The first city flown from: «из Казани», «вылет Екб», or a city no tour goes to."""
    for m in mentions(text) if found is None else found:
        if m.place.kind == "city" and _is_departure(m, departure_only=m.place.name not in RESORTS):
            return Found(m.place.name, text[m.start:m.end])
    return None


def destination(text: str, found: list[Mention] | None = None) -> Found | None:
    """The first country or resort named that is not the departure city, with a resort of that country."""
    found = mentions(text) if found is None else found
    places = [m for m in found if m.place.kind != "city" and m.before not in _FROM]
    if not places:
        return None
    country = places[0].place.country
    resorts = [m for m in places if m.place.kind == "resort" and m.place.country == country]
    resort = resorts[0] if resorts else None
    for later in resorts[1:]:  # «Сочи, Красная Поляна»: the place within the region named first
        if resort is not None and REGION_OF.get(later.place.name) == resort.place.name:
            resort = later
    first = places[0]
    words = text[first.start:first.end]
    if resort is not None and resort is not first:
        words = f"{words} … {text[resort.start:resort.end]}" if resort.start > first.start else \
            f"{text[resort.start:resort.end]} … {words}"
    return Found({"country": country, "resort": resort.place.name if resort else None}, words)
