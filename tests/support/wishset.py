"""The labelled tour requests (tests/fixtures/wishes/requests.txt) and the per-field score of the parser.

Shared by the quality benchmark (bench/wish_quality.py) and its regression test
(tests/unit/test_wish_quality.py); the file's format is in tests/fixtures/wishes/README.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from daemon.wishes.model import Wish
from daemon.wishes.parse import parse_inquiry, refine
from tests.support.paths import REPO

SET = REPO / "tests" / "fixtures" / "wishes" / "requests.txt"
DEFAULT_AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
HELD_OUT_EVERY = 3  # record n is held out when n % 3 == 2
SCORED = ("destination", "resort", "departure_city", "dates", "nights", "adults", "children", "budget",
          "hotel_stars", "meal", "flexible_dates")
TEXT_FIELDS = ("комментарий", "сообщение", "message", "comment", "ваш вопрос", "вопрос", "text")


@dataclass
class Record:
    number: int
    style: str
    at: datetime
    lines: list[str]
    labels: dict[str, Any]

    @property
    def held_out(self) -> bool:
        return self.number % HELD_OUT_EVERY == HELD_OUT_EVERY - 1

    def messages(self) -> list[tuple[str | None, list[tuple[str, str]]]]:
        """(free text, form fields) of each message of the record."""
        if self.style != "form":
            return [(part.strip(), []) for part in "\n".join(self.lines).split(" || ")]
        fields: list[tuple[str, str]] = []
        texts: list[str] = []
        for line in self.lines:
            name, _, value = line.partition(":")
            if name.strip().lower() in TEXT_FIELDS:
                texts.append(value.strip())
            else:
                fields.append((name.strip(), value.strip()))
        return [("\n".join(texts) or None, fields)]


def _range(text: str, convert: Callable[[str], Any]) -> tuple[Any, Any]:
    low, sep, high = text.partition("..")
    if not sep:
        return convert(low), convert(low)
    return (convert(low) if low else None), (convert(high) if high else None)


def _label(key: str, text: str) -> tuple[str, Any]:
    if key in ("country", "resort", "from"):
        return {"from": "departure_city"}.get(key, key), text
    if key == "dates":
        low, high = _range(text, str)
        return "dates", {"date_from": low, "date_to": high}
    if key == "nights":
        low, high = _range(text, int)
        return "nights", {"nights_from": low, "nights_to": high}
    if key == "adults" or key == "stars":
        return ("hotel_stars" if key == "stars" else key), int(text)
    if key == "children":
        return "children", [] if text == "-" else [None if a == "?" else int(a) for a in text.split(",")]
    if key == "budget":
        amounts, currency = text.split()
        low, high = _range(amounts, int) if ".." in amounts else (None, int(amounts))
        return "budget", {"amount_from": low, "amount_to": high, "currency": currency}
    if key == "meal":
        return "meal", text
    if key == "flex":
        return "flexible_dates", True
    raise ValueError(f"unknown label {key!r}")


def records() -> Iterator[Record]:
    blocks = re.split(r"\n(?=@ )", SET.read_text(encoding="utf-8").strip())
    for number, block in enumerate(blocks):
        head, *lines = block.strip().split("\n")
        *body, labels = lines
        if not labels.startswith("="):
            raise ValueError(f"record {number} ({head}) does not end with its labels")
        _, style, *day = head.split()
        at = datetime.fromisoformat(day[0]).replace(hour=12, tzinfo=UTC) if day else DEFAULT_AT
        found = dict(_label(*part.strip().split("=", 1)) for part in labels[1:].split(";") if part.strip())
        resort = found.pop("resort", None)
        if "country" in found:
            found["destination"] = found.pop("country")
            found["resort"] = resort
        yield Record(number, style, at, body, found)


def predict(record: Record) -> Wish:
    wish: Wish = {}
    for text, fields in record.messages():
        wish = refine(wish, parse_inquiry(text, fields, record.at))
    return wish


def comparable(wish: Wish) -> dict[str, Any]:
    """The wish in the labels' shape: destination is its country, the resort a field of its own."""
    found = {name: item.value for name, item in wish.items()}
    if "destination" in found:
        place = found.pop("destination")
        found["destination"], found["resort"] = place["country"], place["resort"]
    return {k: v for k, v in found.items() if v is not None}


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    misses: list[tuple[int, Any, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(chosen: list[Record]) -> dict[str, Score]:
    """Per field: a value found equal to the label is right; found and not the label is wrong;
    a label not found (or found wrong) is missed."""
    scores = {name: Score() for name in SCORED}
    for record in chosen:
        found = comparable(predict(record))
        for name in SCORED:
            gold, got = record.labels.get(name), found.get(name)
            s = scores[name]
            if got is not None:
                if got == gold:
                    s.tp += 1
                else:
                    s.fp += 1
            if gold is not None and got != gold:
                s.fn += 1
            if got != gold:
                s.misses.append((record.number, gold, got))
    return scores
