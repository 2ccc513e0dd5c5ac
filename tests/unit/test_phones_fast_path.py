"""The shortcut for Russian numbers gives what phonenumbers' parser gives, or steps aside."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from daemon.domain.phones import _parsed, _russian, normalise_phone

PREFIXES = st.sampled_from(["", "+7", "7", "8", "+8", "+", "87", "78", "+77", "0", "9"])
SPACES = st.sampled_from(["", " ", "-", "(", ")", "  ", " - "])


@st.composite
def spellings(draw: st.DrawFn) -> str:
    """Digit strings of every nearby length, with prefixes and separators people type."""
    digits = draw(st.text(alphabet="0123456789", min_size=8, max_size=12))
    out = draw(PREFIXES)
    for digit in digits:
        out += draw(SPACES) if draw(st.integers(0, 4)) == 0 else ""
        out += digit
    return out


@settings(max_examples=3000)
@given(spellings())
def test_shortcut_agrees_with_the_parser(text: str) -> None:
    """Whenever the shortcut answers, phonenumbers' parser gives the same E.164 number."""
    fast = _russian(text)
    if fast is not None:
        assert fast == _parsed(text, "RU")


@given(st.sampled_from(["9", "4", "8", "3"]), st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_shortcut_answers_for_the_usual_spellings(first: str, rest: str) -> None:
    """A valid Russian number in any of the four usual spellings takes the shortcut, to the same result."""
    national = first + rest
    expected = _parsed("+7" + national, "RU")
    assume(expected is not None)
    for spelling in (f"+7{national}", f"7{national}", national,
                     f"8 ({national[:3]}) {national[3:6]}-{national[6:8]}-{national[8:]}"):
        assert _russian(spelling) == expected
        assert normalise_phone(spelling, "RU") == expected
