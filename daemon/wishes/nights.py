"""How long: «10–12 ночей», «7н», «на неделю», «2 недели», «дней на 10» → (nights_from, nights_to).

Days are counted as nights less one («на 10 дней» is 9 nights), as a tour of N days has
N − 1 nights; weeks are 7 nights, «полторы недели» 10, a month 30.
"""

from __future__ import annotations

import re

from daemon.wishes.model import Found
from daemon.wishes.text import NUMBER, number

N = rf"({NUMBER})"
NIGHT = r"(?:ноч\w*|н\.|н(?![а-я]))"
DAYS = r"(?:дн\w*|день|дня)"
WEEKS = r"(?:недел\w*)"
_RANGE = rf"(?<![\d.,]){N}\s*(?:-|до)\s*{N}"

PATTERNS: tuple[tuple[re.Pattern[str], int, int], ...] = tuple((re.compile(p), per, less) for p, per, less in (
    # (pattern, nights per unit, nights less): a range first, then one number.
    (rf"{_RANGE}\s*{NIGHT}", 1, 0),
    (rf"(?:ноч\w*|ночей)\s*:?\s*{N}\s*(?:-|до)\s*{N}(?!\d|[.,]\d)", 1, 0),
    (rf"(?<![\d.,]){N}\s*{NIGHT}", 1, 0),
    (rf"(?:ноч\w*)\s*(?:на\s+)?:?\s*{N}(?!\d|[.,]\d)", 1, 0),
    (rf"{_RANGE}\s*{DAYS}", 1, 1),
    (rf"(?<![\d.,]){N}\s*{DAYS}", 1, 1),
    (rf"(?:дн\w*)\s+на\s+{N}(?![\d.])", 1, 1),
    (rf"(?<![\d.,]){N}\s*{WEEKS}", 7, 0),
    (rf"(?:недел\w*)\s+на\s+{N}(?![\d.])", 7, 0),
))
_WEEK_AND_HALF = re.compile(r"недел\w*\s*-\s*полтор\w*|полтор\w*\s+недел\w*")
_WEEK = re.compile(r"(?<![а-я])недел(?:ю|я|ька|ьку)(?![а-я])")
_MONTH = re.compile(r"на\s+месяц(?:ок)?(?![а-я])")
MAX_NIGHTS = 60
# After these words a number of days is not the trip's length.
_NOT_LENGTH = re.compile(r"(?:за|через|плюс|минус|\+-|±)\s*$")


def nights(text: str) -> Found | None:
    """The first length of stay in ``text`` (normalised)."""
    best: tuple[int, int, int, str] | None = None  # (start, from, to, words)
    for pattern, per, less in PATTERNS:
        for m in pattern.finditer(text):
            if _NOT_LENGTH.search(text[max(0, m.start() - 8):m.start()]):
                continue
            values = [number(g) for g in m.groups() if g is not None]
            low, high = values[0] * per - less, values[-1] * per - less
            if 0 < low <= high <= MAX_NIGHTS and (best is None or m.start() < best[0]):
                best = (m.start(), low, high, m.group())
            break
    for pattern, low, high in ((_WEEK_AND_HALF, 7, 10), (_WEEK, 7, 7), (_MONTH, 30, 30)):
        said = pattern.search(text)
        if said and (best is None or said.start() < best[0]):
            if pattern is _WEEK and _WEEK_AND_HALF.search(text):
                continue
            best = (said.start(), low, high, said.group().strip())
    if best is None:
        return None
    return Found({"nights_from": best[1], "nights_to": best[2]}, best[3])
