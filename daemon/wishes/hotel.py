"""The hotel: stars («5*», «4-5 звезд», «пятерка»), meal («всё включено», «AI», «завтраки») and flexible dates."""

from __future__ import annotations

import re

from daemon.wishes.model import Found

_STARS = re.compile(r"(?<![\d.,])([2-5])\s*(?:-\s*([3-5])\s*)?(?:\*|зв(?:езд\w*|\.)?(?![а-я]))"
                    r"|(?<![а-я])(пятерк\w*|четверк\w*)")
_MEALS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((code, re.compile(p)) for code, p in (
    ("UAI", r"ультра|(?<![a-z])uai(?![a-z])|ultra"),
    ("AI", r"вс[её]\s+включ\w*|все\s+вкл\w*|(?<![a-z])all\s*inclusive|(?<![a-zа-я])(?:ai|al|ал|аи)(?![a-zа-я])"),
    ("HB", r"полупансион\w*|завтрак\w*\s*(?:\+|и)\s*ужин\w*|(?<![a-zа-я])(?:hb)(?![a-zа-я])"),
    ("FB", r"полн\w*\s+пансион\w*|(?<![a-zа-я])fb(?![a-zа-я])"),
    ("BB", r"завтрак\w*|(?<![a-zа-я])(?:bb|вв)(?![a-zа-я])"),
    ("RO", r"без\s+питани\w*|(?<![a-zа-я])ro(?![a-zа-я])"),
))
_NOT_WANTED = re.compile(r"\s*(?:не\s+нужн\w*|не\s+надо|не\s+обязательн\w*)")
_FLEXIBLE = re.compile(r"гибк\w+\s+дат\w*|дат\w*\s+гибк\w*|±|\+-|\+/-|плюс-минус|плюс\s+минус|не\s+критичн\w*|"
                       r"даты\s+не\s+принципиальн\w*")


def hotel_stars(text: str) -> Found | None:
    m = _STARS.search(text)
    if m is None:
        return None
    if m.group(3):
        return Found(5 if m.group(3).startswith("пят") else 4, m.group())
    return Found(int(m.group(1)), m.group())


def meal(text: str) -> Found | None:
    """The richest board named that is not refused («всё включено не нужно» is no wish for it)."""
    for code, pattern in _MEALS:
        for m in pattern.finditer(text):
            if not _NOT_WANTED.match(text, m.end()):
                return Found(code, m.group())
    return None


def flexible_dates(text: str) -> Found | None:
    m = _FLEXIBLE.search(text)
    return Found(True, m.group()) if m else None
