"""Phone number normalisation: whatever the PBX or a spreadsheet says becomes E.164."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers

# Shorter than any real subscriber number anywhere; keeps "12345" or "101" out.
MIN_NATIONAL_DIGITS = 7
MAX_INPUT_CHARS = 64


# A Russian number in one of the four usual spellings, separators removed:
# +7 / 7 / 8 / nothing, then the ten-digit national number (which never starts with 0).
_RU_NUMBER = re.compile(r"(?:\+7|7|8)?([1-9][0-9]{9})")
_RU_SEPARATORS = str.maketrans("", "", " -()")
RU_COUNTRY_CODE = 7


# The cache serves the numbers of calls in progress (each call's events repeat
# them within seconds). 65,536 entries grew the daemon by about 19 MiB under
# load; 8,192 is about 2.5 MiB (docs/BENCHMARKS.md).
@lru_cache(maxsize=8192)
def normalise_phone(raw: str | None, region: str = "RU") -> str | None:
    """Return the E.164 form of ``raw`` or None when it is not a valid phone number.

    ``8 (916) 123-45-67``, ``+7 916 1234567``, ``79161234567`` and ``9161234567``
    are one number. Hidden numbers, SIP URIs and short extensions give None; the
    caller keeps the raw text instead.
    """
    if not raw:
        return None
    text = _strip_sip(ascii_digits(raw.strip()))
    if text is None or len(text) > MAX_INPUT_CHARS:
        return None
    if region == "RU":
        fast = _russian(text)
        if fast is not None:
            return fast
    return _parsed(text, region)


def _parsed(text: str, region: str) -> str | None:
    """The general path: phonenumbers' parser, as written, then with "+" before the digits."""
    digits = "".join(ch for ch in text if "0" <= ch <= "9")
    if len(digits) < MIN_NATIONAL_DIGITS:
        return None
    candidates = [text]
    if not text.startswith("+"):
        # The PBX sends international numbers without "+": 79161234567.
        candidates.append("+" + digits)
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


def _russian(text: str) -> str | None:
    """The usual spellings of a valid Russian number without phonenumbers.parse (half the cost).

    None means "not known to be valid here", and the general path decides;
    tests/unit/test_phones_fast_path.py proves it agrees with ``_parsed``.
    """
    match = _RU_NUMBER.fullmatch(text.translate(_RU_SEPARATORS))
    if match is None:
        return None
    number = phonenumbers.PhoneNumber(country_code=RU_COUNTRY_CODE, national_number=int(match[1]))
    return f"+{RU_COUNTRY_CODE}{match[1]}" if phonenumbers.is_valid_number(number) else None


def ascii_digits(text: str) -> str:
    """Decimal digits of any script as ASCII: ``7916１２３４５６７`` (full-width) and ``٧٩١٦...``
    (Arabic-Indic) are the digits a person typed. Without this, ``\\d`` and ``isdigit``
    let them through to the database's ``[0-9]`` CHECK, which refused the whole call."""
    if text.isascii():
        return text
    return "".join(str(d) if (d := unicodedata.decimal(ch, None)) is not None else ch for ch in text)


def _strip_sip(text: str) -> str | None:
    """A SIP URI whose user part is a phone number (``sip:79161234567@trunk``) is that number;
    any other URI (an employee's device, ``sip:ivanova@vpbx...``) is not a phone."""
    if text.lower().startswith(("sip:", "sips:", "tel:")):
        user = text.split(":", 1)[1].split("@", 1)[0].split(";", 1)[0]
        number = user.lstrip("+")
        return user if number.isascii() and number.isdigit() else None
    return None if "@" in text or ":" in text else text


def format_for_people(e164: str) -> str:
    """``+79161234567`` -> ``+7 916 123-45-67``."""
    parsed = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def line_key(line_number: str | None, region: str = "RU") -> str | None:
    """How a dialled line is keyed in the ``lines`` table: E.164, else the PBX's text."""
    if not line_number or not line_number.strip():
        return None
    return normalise_phone(line_number, region) or line_number.strip()
