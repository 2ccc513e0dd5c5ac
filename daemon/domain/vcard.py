"""The phones and name of a vCard (RFC 6350) a messenger user shared: MAX ``vcf_info``,
a WhatsApp contact card.

Only what a messenger writes is read: ``TEL`` lines (any parameters; WhatsApp's
``waid=<digits>`` parameter is the number's international form, preferred) and ``FN``.
Folded lines are unfolded. The phones are given as written, digits-only ones with a
"+" (messengers write international numbers without it); the pipeline validates them.
"""

from __future__ import annotations

import re

_UNFOLD = re.compile(r"\r?\n[ \t]")
_WAID = re.compile(r"(?i)(?:^|;)waid=(\d{6,15})(?:;|$)")
MAX_VCARD_CHARS = 20_000  # a card with a photo is cut: the phones come first


def _lines(card: str) -> list[tuple[str, str, str]]:
    """(name, parameters, value) of each property line."""
    found = []
    for line in _UNFOLD.sub("", card[:MAX_VCARD_CHARS]).splitlines():
        head, sep, value = line.partition(":")
        if not sep:
            continue
        name, _, params = head.partition(";")
        found.append((name.strip().upper().rpartition(".")[2], params, value.strip()))
    return found


def vcard_phones(card: str | None) -> list[str]:
    """The card's phone numbers, in order, each once."""
    phones: list[str] = []
    for name, params, value in _lines(card or ""):
        if name != "TEL":
            continue
        waid = _WAID.search(params)
        phone = "+" + waid.group(1) if waid else value.removeprefix("tel:")
        if phone.isdigit() and len(phone) >= 11 and not phone.startswith("8"):
            phone = "+" + phone
        if phone and phone not in phones:
            phones.append(phone)
    return phones


def vcard_name(card: str | None) -> str | None:
    return next((value for name, _, value in _lines(card or "") if name == "FN" and value), None)
