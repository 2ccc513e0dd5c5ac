"""Phone normalisation: one number however it is written; anything else is not a phone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.domain.phones import format_for_people, line_key, normalise_phone


@pytest.mark.parametrize("spelling", [
    "8 (916) 123-45-67", "+7 916 1234567", "79161234567", "9161234567", "+7(916)123-45-67",
    " 8-916-123-45-67 ", "sip:79161234567@trunk.example.org", "tel:+79161234567",
])
def test_spellings_of_one_number(spelling: str) -> None:
    assert normalise_phone(spelling, "RU") == "+79161234567"


@pytest.mark.parametrize("text", [
    None, "", "   ", "12345", "105", "sip:ivanova@vpbx400000001.mangosip.ru", "anonymous",
    "+7 000 000-00-00", "9" * 40, "79161234567" * 10, "\x00\x01",
])
def test_not_phones(text: str | None) -> None:
    assert normalise_phone(text, "RU") is None


def test_foreign_numbers_and_region() -> None:
    assert normalise_phone("+44 20 7946 0958", "RU") == "+442079460958"
    assert normalise_phone("020 7946 0958", "GB") == "+442079460958"


def test_line_keys() -> None:
    assert line_key("74951234567") == line_key("+7 495 123-45-67") == "+74951234567"
    assert line_key("sip:line@vpbx.mangosip.ru") == "sip:line@vpbx.mangosip.ru"
    assert line_key("") is None and line_key(None) is None


def test_format_for_people() -> None:
    assert format_for_people("+79161234567") == "+7 916 123-45-67"


@given(st.text(max_size=80))
def test_never_crashes_and_always_e164_or_none(text: str) -> None:
    result = normalise_phone(text, "RU")
    assert result is None or (result.startswith("+") and result[1:].isdigit() and len(result) <= 16)
