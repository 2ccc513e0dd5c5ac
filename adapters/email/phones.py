"""The first phone written in free text (an e-mail body), not a date, sum or order number.

Candidates are runs of digits joined by the separators people type in phones
(spaces, hyphens, brackets); each is then judged by ``daemon.domain.phones.normalise_phone``
with rules stricter than a phone field needs, because free text is full of
other numbers: dates (``10.05.2025``, ``10–20 мая``), sums (``200 000 руб.``),
order and document numbers (``заказ № 9161234567``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from daemon.domain.phones import normalise_phone

# A run starting with "+" or a digit, then digits and phone separators, ending in
# a digit; not glued to a word, another digit or a dot-separated number.
_CANDIDATE = re.compile(r"(?<![\w+.\-/(])((?:\+|\()?\d[\d \t\-()\u00a0]{7,22}\d)(?![\w/]|\.\d)")
# Words before a number that make it something other than a phone.
_NOT_A_PHONE_BEFORE = re.compile(
    r"(№|#|\bno\.?|\bзаказ\w*|\border\b|\bинн\b|\bогрн\w*|\bсч[её]т\w*|\bдоговор\w*|\bпаспорт\w*"
    r"|\bnumber\b|\bid\b|\bартикул\w*|\bкод\w*)\s*[:.]?\s*$",
    re.IGNORECASE,
)
_LOOKBEHIND_CHARS = 24
MAX_SCAN_CHARS = 20_000  # a phone is near the top; a quoted thread below adds only noise


def find_phones(text: str, *, exclude: Iterable[str] = ()) -> list[str]:
    """Every phone (E.164, in order, without repeats) written in ``text``, minus ``exclude``."""
    excluded = set(exclude)
    found: list[str] = []
    for match in _CANDIDATE.finditer(text[:MAX_SCAN_CHARS]):
        before = text[max(0, match.start() - _LOOKBEHIND_CHARS):match.start()]
        if _NOT_A_PHONE_BEFORE.search(before):
            continue
        phone = _first_phone_in(match.group(1).strip())
        if phone is not None and phone not in excluded and phone not in found:
            found.append(phone)
    return found


def find_phone(text: str, *, exclude: Iterable[str] = ()) -> str | None:
    """The first phone written in ``text`` that is not one of ``exclude`` (E.164), or None."""
    phones = find_phones(text, exclude=exclude)
    return phones[0] if phones else None


def _first_phone_in(run: str) -> str | None:
    """The run as one phone, else the leftmost longest group of its space-separated
    pieces that is one: "9161234567 10 20" (a phone, then a date range) gives the phone."""
    phone = _as_phone(run)
    if phone is not None:
        return phone
    pieces = run.split()
    for start in range(len(pieces)):
        for end in range(len(pieces), start, -1):
            if end - start == len(pieces):
                continue
            phone = _as_phone(" ".join(pieces[start:end]))
            if phone is not None:
                return phone
    return None


def _as_phone(candidate: str) -> str | None:
    """E.164 when the candidate is written like a phone, not merely ten digits in a row.

    ``+…`` is taken as written; 11 digits must start with 7 or 8 (the Russian
    trunk prefixes); 10 digits must be a mobile (9…) or carry a bracketed area
    code, because a bare ten-digit number in a letter is as often an order number.
    """
    digits = "".join(ch for ch in candidate if ch.isdigit())
    if candidate.count("(") != candidate.count(")"):
        return None
    if candidate.startswith("+"):
        return normalise_phone(candidate)
    if len(digits) == 11 and digits[0] in "78":
        return normalise_phone(candidate)
    if len(digits) == 10 and (digits[0] == "9" or "(" in candidate):
        return normalise_phone(candidate)
    return None
