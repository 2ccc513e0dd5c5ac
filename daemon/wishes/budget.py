"""How much: «до 250 тыс», «200–250к», «150 000 руб», «$3000», «бюджет 3 млн на всех».

One amount is a ceiling (``amount_to``), «от …» a floor; a range gives both. A bare number
counts only after «бюджет», «до», «за», «около» (and is thousands of roubles below 10 000:
«бюджет 300» is 300 000 ₽); a number of nights, years, stars or a date never does.
"""

from __future__ import annotations

import re

from daemon.wishes.model import Found

AMOUNT = r"(?<![\d.,+])(\d+(?:[.,]\d+)?)(?![.,]?\d)"
MULT = r"(тыс\w*\.?|тыщ\w*|т\.\s?р\.?|тр\.?|т\.?(?![а-я])|к(?![а-я])|k(?![a-z])|млн\.?|миллион\w*|mln)?"
CUR = r"(руб\w*\.?|р\.|р(?![а-я])|₽|rub|\$|долл\w*|usd|у\.е\.|евро|€|eur)?"
PREFIX = r"(от|до|около|в\s+районе|в\s+пределах|примерно|не\s+более|максимум|за|бюджет\w*\s*:?\s*(?:до|от|около)?)?"
_ONE = rf"(\$|€)?\s*{AMOUNT}\s*{MULT}\s*{CUR}"
_PATTERN = re.compile(rf"{PREFIX}\s*{_ONE}(?:\s*(?:-|до)\s*{_ONE})?")
_NOT_MONEY_AFTER = re.compile(r"\s*(?:ноч|н\.|н(?![а-я])|дн|ден|лет|год|г\.|взр|реб|дет|чел|\*|звезд|ч(?![а-я])|:|%|"
                              r"недел|мес|раз|человек|январ|феврал|март|апрел|ма[йяе]|июн|июл|август|сентябр|"
                              r"октябр|ноябр|декабр|/|\+|шт|минут|\d)")
_PER_PERSON = re.compile(r"\s*(?:на|с)\s+(?:человека|чел\.?|персону)(?![а-я])")
_CONTEXT = re.compile(r"(?:бюджет\w*|стоимост\w*|цен\w*|сумм\w*)\s*:?\s*$")
_INVOICE = re.compile(r"(?:сумму|счет\w*|оплат\w*|доплат\w*)\D{0,15}$")
_MULTIPLIER = {"т": 1_000, "к": 1_000, "k": 1_000, "м": 1_000_000, "mln": 1_000_000}
BARE_THOUSANDS_BELOW = 10_000
LEAST_BARE = 30


def _currency(*marks: str | None) -> str | None:
    for mark in marks:
        if not mark:
            continue
        if mark.startswith(("руб", "р", "₽", "rub")):
            return "RUB"
        if mark.startswith(("$", "долл", "usd", "у.е")):
            return "USD"
        if mark.startswith(("евро", "€", "eur")):
            return "EUR"
    return None


def _times(mult: str | None) -> int:
    if not mult:
        return 1
    if mult.startswith(("млн", "миллион", "mln")):
        return 1_000_000
    return 1_000


def _amount(number: str, mult: str | None) -> float:
    return float(number.replace(",", ".")) * _times(mult)


def budget(text: str) -> Found | None:
    """The first amount of money in ``text`` (normalised) that reads as the tour's budget."""
    for m in _PATTERN.finditer(text):
        prefix, sign1, num1, mult1, cur1, sign2, num2, mult2, cur2 = m.groups()
        if num1 is None or _NOT_MONEY_AFTER.match(text, m.end()) or _PER_PERSON.match(text, m.end()):
            continue
        before = text[max(0, m.start() - 25):m.start()]
        if (not prefix and _INVOICE.search(before)) or before.endswith("№"):
            continue
        if num2 is not None and _NOT_MONEY_AFTER.match(text, m.end(7) if m.group(7) else m.end()):
            continue
        currency = _currency(sign1, cur1, sign2, cur2)
        marked = bool(mult1 or mult2 or currency)
        context = bool(prefix) or bool(_CONTEXT.search(text[max(0, m.start() - 12):m.start()]))
        if not marked and not context:
            continue
        low = _amount(num1, mult1 or mult2)
        high = _amount(num2, mult2 or mult1) if num2 is not None else None
        currency = currency or "RUB"
        if not marked and currency == "RUB":
            if low < LEAST_BARE:
                continue
            low, high = [v * 1000 if v < BARE_THOUSANDS_BELOW else v for v in (low, high or low)]
            high = high if num2 is not None else None
        if high is not None and high < low:
            continue
        floor_only = num2 is None and (prefix or "").strip() == "от"
        value = {"amount_from": int(low) if (num2 is not None or floor_only) else None,
                 "amount_to": int(high if high is not None else low) if not floor_only else None,
                 "currency": currency}
        return Found(value, m.group().strip())
    return None
