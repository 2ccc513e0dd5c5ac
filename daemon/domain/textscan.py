"""Phones and e-mail addresses written in free text (a chat message, a comment).

Our rule for every channel: take the first valid Russian phone found; a message may carry
the agency's own numbers (a signature, a quoted reply), which the pipeline
drops later because they are lines of the PBX.
"""

from __future__ import annotations

import re

from daemon.domain.identifiers import normalise_email
from daemon.domain.phones import normalise_phone

MAX_SCANNED_CHARS = 20_000  # a phone typed in a chat is near the start; bounds the regex work
# A run of digits with the separators people type: "+7 (916) 123-45-67", "8-926-444-55-66".
_PHONE_RUN = re.compile(r"(?<![\d\w])\+?\d[\d \t\-().]{8,22}\d(?![\d\w])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+", re.ASCII)


def phones_in(text: str | None, region: str = "RU") -> list[str]:
    """Valid phone numbers in ``text`` in E.164, first found first, each once."""
    if not text:
        return []
    found: list[str] = []
    for match in _PHONE_RUN.finditer(text[:MAX_SCANNED_CHARS]):
        phone = normalise_phone(match.group(0), region)
        if phone is not None and phone not in found:
            found.append(phone)
    return found


def first_phone_in(text: str | None, region: str = "RU") -> str | None:
    found = phones_in(text, region)
    return found[0] if found else None


def emails_in(text: str | None) -> list[str]:
    if not text:
        return []
    found: list[str] = []
    for match in _EMAIL.finditer(text[:MAX_SCANNED_CHARS]):
        email = normalise_email(match.group(0).rstrip("."))
        if email is not None and email not in found:
            found.append(email)
    return found
