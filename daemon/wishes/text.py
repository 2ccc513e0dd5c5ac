"""The message as the parsers read it: lower case, one kind of dash, numbers written whole."""

from __future__ import annotations

import re

MAX_PARSED_CHARS = 4_000  # the wish is in the first lines; bounds every regex's work on an e-mail thread

_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
# "150 000" and "1 500 000" are one number; "2 300" rarely means two and three hundred.
_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})(?:[ \u00a0\u202f](\d{3}))(?:[ \u00a0\u202f](\d{3}))?(?![\d])")
_SPACES = re.compile(r"[ \t\u00a0\u202f]+")


def _join(match: re.Match[str]) -> str:
    return "".join(g for g in match.groups() if g)


def normalise(text: str) -> str:
    """Lower case, ``ё`` as ``е``, every dash as ``-``, ``150 000`` as ``150000``."""
    text = text[:MAX_PARSED_CHARS].lower().replace("ё", "е")
    text = _DASHES.sub("-", text)
    text = _SPACES.sub(" ", text)
    return _THOUSANDS.sub(_join, text)


NUMBER_WORDS = {"один": 1, "одна": 1, "одного": 1, "одним": 1, "одной": 1, "два": 2, "две": 2, "двое": 2,
                "двух": 2, "двоих": 2, "двумя": 2, "три": 3, "трое": 3, "трех": 3, "троих": 3, "тремя": 3,
                "четыре": 4, "четверо": 4, "четырех": 4, "четырьмя": 4, "пять": 5, "пятеро": 5, "пяти": 5,
                "шесть": 6, "шестеро": 6, "семь": 7, "восемь": 8, "девять": 9, "десять": 10,
                "одиннадцать": 11, "двенадцать": 12, "четырнадцать": 14}
NUMBER = r"(?:\d{1,2}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"


def number(word: str) -> int:
    """``"2"`` or ``"двое"`` → 2."""
    return int(word) if word.isdigit() else NUMBER_WORDS[word]
