"""parse_identifier for Instagram accounts: text ids kept exactly, anything else invalid."""

from __future__ import annotations

import pytest

from daemon.domain.identifiers import KINDS, MESSENGER_KINDS, Identifier, InvalidIdentifier, parse_identifier


@pytest.mark.parametrize(("raw", "value"), [
    ("olga.travels", "olga.travels"),
    ("  Olga_Travels-2025 ", "Olga_Travels-2025"),  # trimmed, the case kept: an id, not a typed name
    ("17841400000000000", "17841400000000000"),
    ("a" * 64, "a" * 64),
    ("_", "_"),
])
def test_an_instagram_id_is_kept_as_given(raw: str, value: str) -> None:
    assert parse_identifier("instagram", raw) == Identifier("instagram", value)


@pytest.mark.parametrize(("raw", "reason"), [
    ("olga travels", "not an instagram id"),
    ("@olga", "not an instagram id"),
    ("ольга", "not an instagram id"),
    ("ｏｌｇａ", "not an instagram id"),  # full-width look-alikes are not ASCII letters
    ("a" * 65, "longer than 64 characters: cannot be an instagram user id"),
])
def test_anything_else_is_an_invalid_instagram_id(raw: str, reason: str) -> None:
    found = parse_identifier("instagram", raw)
    assert isinstance(found, InvalidIdentifier) and found.kind == "instagram" and found.value == raw.strip()
    assert found.reason.startswith(reason)


def test_nothing_is_no_identifier() -> None:
    assert parse_identifier("instagram", None) is None
    assert parse_identifier("instagram", "   ") is None


def test_instagram_is_a_messenger_kind() -> None:
    assert "instagram" in KINDS and "instagram" in MESSENGER_KINDS
    # The numeric kinds are untouched: a text id is still not a Telegram id.
    assert isinstance(parse_identifier("telegram", "olga.travels"), InvalidIdentifier)
