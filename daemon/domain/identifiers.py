"""Identifiers: the phones, e-mails and messenger accounts by which a person is found.

Every channel hands us some of these; each kind has one canonical spelling, the
one stored in ``contact_identifiers`` (whose CHECK constraint repeats these
rules, so what passes here is what the database accepts).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from daemon.domain.phones import ascii_digits, normalise_phone

Kind = Literal["phone", "email", "telegram", "vk", "max", "avito", "instagram"]
KINDS: tuple[Kind, ...] = ("phone", "email", "telegram", "vk", "max", "avito", "instagram")
# The messenger accounts: a user id, a positive integer (MAX and Avito ids are int64),
# except Instagram's, which Wazzup gives as text (see _INSTAGRAM_ID).
MESSENGER_KINDS: tuple[Kind, ...] = ("telegram", "vk", "max", "avito", "instagram")
MAX_EMAIL_CHARS = 254  # RFC 5321's limit on a forward path
MAX_PHONE_DIGITS = 15  # ITU-T E.164
MAX_MESSENGER_ID_CHARS = 64  # far above any Telegram, VK, MAX or Avito id (about 20 digits); Instagram's limit
# The same shape as the CHECK in sql/schema.sql; ASCII only, so that a
# full-width "＠" or a Cyrillic look-alike cannot slip in beside the real address.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", re.ASCII)
_MESSENGER_ID = re.compile(r"^[1-9][0-9]{0,19}$", re.ASCII)
# An Instagram account as Wazzup's chatId names it: kept exactly as given (no case
# folding: it is an id, not a typed name), only the characters such ids are made of.
_INSTAGRAM_ID = re.compile(rf"^[A-Za-z0-9._-]{{1,{MAX_MESSENGER_ID_CHARS}}}$", re.ASCII)


@dataclass(frozen=True, slots=True)
class Identifier:
    kind: Kind
    value: str


@dataclass(frozen=True, slots=True)
class InvalidIdentifier:
    """What was written where an identifier belongs, and why it is not one."""

    kind: Kind
    value: str
    reason: str


def normalise_email(raw: str | None) -> str | None:
    """Trimmed, lower-cased, syntax-checked; None when it is not an address."""
    if not raw:
        return None
    text = unicodedata.normalize("NFKC", raw).strip().strip("<>").strip().lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:"):]
    if len(text) > MAX_EMAIL_CHARS or not text.isascii() or _EMAIL.fullmatch(text) is None:
        return None
    return text


def normalise_messenger_id(raw: str | int | None) -> str | None:
    """A Telegram, VK, MAX or Avito user id: a positive integer, kept as its decimal text."""
    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    return text if _MESSENGER_ID.fullmatch(text) else None


def normalise_instagram_id(raw: str | None) -> str | None:
    """An Instagram account id: trimmed, otherwise as given; None when it is not one."""
    if raw is None:
        return None
    text = raw.strip()
    return text if _INSTAGRAM_ID.fullmatch(text) else None


def parse_identifier(kind: Kind, raw: str | int | None, *, region: str = "RU"
                     ) -> Identifier | InvalidIdentifier | None:
    """The canonical identifier of ``raw``; an InvalidIdentifier when there was text but
    it is not one; None when there was nothing at all."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return None
    impossible = _impossible(kind, text)
    if impossible is not None:
        return InvalidIdentifier(kind, text, impossible)
    if kind == "phone":
        value = normalise_phone(text, region)
        reason = "not a valid phone number"
    elif kind == "email":
        value = normalise_email(text)
        reason = "not an e-mail address"
    elif kind == "instagram":
        value = normalise_instagram_id(text)
        reason = "not an instagram id: letters, digits, '.', '_' and '-' only"
    else:
        value = normalise_messenger_id(text)
        reason = f"not a {kind} user id"
    return Identifier(kind, value) if value is not None else InvalidIdentifier(kind, text, reason)


def _impossible(kind: Kind, text: str) -> str | None:
    """Why ``text`` cannot be any real identifier of its kind (its length alone), or None.

    Such text is still kept, as an invalid identifier: it is the sender's words, and
    the rest of the inquiry or row (a valid phone beside it) is filed with it.
    """
    if kind == "email" and len(text) > MAX_EMAIL_CHARS:
        return f"longer than {MAX_EMAIL_CHARS} characters: cannot be an e-mail address"
    if kind == "phone" and sum("0" <= ch <= "9" for ch in ascii_digits(text)) > MAX_PHONE_DIGITS:
        return f"more than {MAX_PHONE_DIGITS} digits: cannot be a phone number"
    if kind in MESSENGER_KINDS and len(text) > MAX_MESSENGER_ID_CHARS:
        return f"longer than {MAX_MESSENGER_ID_CHARS} characters: cannot be {_article(kind)} {kind} user id"
    return None


def _article(kind: Kind) -> str:
    return "an" if kind[0] in "aeiou" else "a"
