"""Who travels: adults and the children's ages.

«2 взр», «двое взрослых», «2+1», «вдвоем», «с мужем», «нас 4 человека» give the adults
(an explicit count first, then «N+M», then people less children, then words for two);
«ребенок 5 лет», «двое детей 3 и 8», «2+2 (7 и 13)», «без детей» give the children, an
unknown age being None.
"""

from __future__ import annotations

import re

from daemon.wishes.model import Found
from daemon.wishes.text import NUMBER, number

N = rf"({NUMBER})"
_ADULTS = re.compile(rf"(?<![\d.+]){N}\s*(?:-?х\s*)?(?:взр\w*|взросл\w*|пенсионер\w*)|взросл\w*\s*:?\s*{N}(?![\d.])")
_PLUS = re.compile(r"(?<![\d.+±-])(\d)\s*\+\s*(\d)(?![\d.])")
_PEOPLE = re.compile(rf"(?:(?<![а-я])нас\s+{N}(?!\s*(?:дет|реб))|{N}\s*(?:человек\w*|чел\.|персон\w*)|"
                     r"(?<![а-я])(двое|трое|четверо|пятеро)(?![а-я])(?!\s*(?:дет|реб|малыш|внук|взр)))")
_CHILD_COUNT = re.compile(rf"(?<![\d.]){N}\s*(?:реб\w*|дет\w*|малыш\w*|школьник\w*|внук\w*)")
_CHILD_WORD = re.compile(r"(?<![а-я])(?:ребенк\w*|ребенок|реб\.?|сын|сына|сыну|сыном|доч\w*|внук\w*|внучк\w*|"
                         r"школьник\w*|малыш\w*|младен\w*|дет(?:и|ям|ей|ьми)|возраст\w*\s+дет\w*)(?![а-я])")
_NO_CHILDREN = re.compile(r"без\s+детей|дет\w*\s*:?\s*(?:0|нет)(?![\d])")
_TWO = re.compile(r"(?<![а-я])(?:вдвоем|на\s+двоих|на\s+2-?и?х|для\s+двоих|пара|медов\w+\s+месяц\w*|свадебн\w+|"
                  r"(?:мы\s+|я\s+)?с\s+(?:муж\w*|жен\w*|супруг\w*|подруг\w*|подружк\w*|друг\w*|парн\w*|девушк\w*|"
                  r"мам\w*|пап\w*|сестр\w*|брат\w*|коллег\w*)|я\s*,?\s*(?:и\s+)?(?:муж|жена|подруга|подружка|"
                  r"друг)|папа\s*,\s*мама|мама\s*,\s*папа)(?![а-я])")
_GROUP = {"втроем": 3, "вчетвером": 4, "впятером": 5, "вшестером": 6}
_GROUP_WORDS = re.compile(r"(?<![а-я])(втроем|вчетвером|впятером|вшестером)(?![а-я])")
_ONE = re.compile(r"(?<![а-я])(?:одна|один|для\s+себя|(?:я|мама|папа|бабушка|дедушка)\s+с\s+(?:сын|доч|реб|внук|"
                  r"двум\w*\s+дет|дет)\w*)(?![а-я])")
_AGE_TOKEN = re.compile(r"\d{1,2}(?:[.,]\d)?|[а-я]+\.?|[^\sа-я\d]")
_UNITS = re.compile(r"(?:лет|года?|г\.?|л\.?)$")
_MONTHS_UNIT = re.compile(r"мес\w*\.?$")
_FILLERS = frozenset({"и", "тоже", "едут", "едет", "двое", "трое", "оба", "их", "возраст", "возрастом", "по", "ему",
                      "ей", "им", "детям", "дети", "а", "лет", "года", "год", "г", "л"})
MAX_CHILD_AGE = 17
AGE_WINDOW_CHARS = 40


def _ages_after(text: str, at: int) -> list[tuple[int, int]]:
    """(position, age) of the ages listed right after a child is named: «5 лет», «(3 и 8)», «8 мес.»."""
    found: list[tuple[int, int]] = []
    tokens = list(_AGE_TOKEN.finditer(text[at:at + AGE_WINDOW_CHARS]))
    for i, token in enumerate(tokens):
        word = token.group().rstrip(".") or "."
        if word[0].isdigit():
            after = tokens[i + 1].group().rstrip(".") if i + 1 < len(tokens) else ""
            if after[:1].isalpha() and not (_UNITS.match(after) or _MONTHS_UNIT.match(after) or after == "и"):
                break
            if after[:1] in ("*", "+", "%", "$", "-") or after == ":":
                break
            age = 0 if _MONTHS_UNIT.match(after) else int(float(word.replace(",", ".")))
            if age > MAX_CHILD_AGE:
                break
            found.append((at + token.start(), age))
        elif word[:1].isalpha() and word.rstrip(".") not in _FILLERS and not _MONTHS_UNIT.match(word):
            break
        elif word in (".", ";", "!", "?", "|"):
            break
    return found


def children(text: str) -> Found | None:
    """The children's ages (None for an unknown one), or [] for «без детей»."""
    if m := _NO_CHILDREN.search(text):
        return Found([], m.group())
    count, words = 0, ""
    ages: dict[int, int] = {}
    for m in _CHILD_COUNT.finditer(text):
        count = max(count, number(m.group(1)))
        words = words or m.group()
        ages.update(_ages_after(text, m.end()))
    for m in _PLUS.finditer(text):
        count = max(count, int(m.group(2)))
        words = words or m.group()
        ages.update(_ages_after(text, m.end()))
    mentioned = 0
    for m in _CHILD_WORD.finditer(text):
        mentioned += 1
        words = words or m.group()
        ages.update(_ages_after(text, m.end()))
    if not words:
        return None
    if count == 0 and not ages and _PLUS.search(text) and not mentioned:
        return None
    known = [age for _, age in sorted(ages.items())]
    total = max(count, len(known), 1 if mentioned and not count else 0)
    if total == 0:
        return Found([], words)
    return Found(known + [None] * (total - len(known)), words)


def adults(text: str, kids: int = 0) -> Found | None:
    """The number of adults (at least one: «0 взр» says nothing)."""
    found = _adults(text, kids)
    return found if found is not None and found.value >= 1 else None


def _adults(text: str, kids: int) -> Found | None:
    if m := _ADULTS.search(text):
        return Found(number(m.group(1) or m.group(2)), m.group())
    if m := _PLUS.search(text):
        return Found(int(m.group(1)), m.group())
    if m := _PEOPLE.search(text):
        people = number(m.group(1) or m.group(2) or m.group(3))
        if people > kids:
            return Found(people - kids, m.group())
    if m := _GROUP_WORDS.search(text):
        people = _GROUP[m.group(1)]
        return Found(people - kids if people > kids else people, m.group())
    if m := _ONE.search(text):
        return Found(1, m.group())
    if m := _TWO.search(text):
        return Found(2, m.group())
    return None
