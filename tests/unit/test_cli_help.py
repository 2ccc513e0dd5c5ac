"""``callbridge --help`` for a person at an 80-column terminal: every command on one line, plain text."""

from __future__ import annotations

import contextlib
import io

import pytest

from daemon import cli


def _help(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps to the terminal; a common one
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    return out.getvalue()


def test_every_command_has_one_line_of_help(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _help(monkeypatch)
    commands = cli._parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    lines = text.splitlines()
    for name in commands:
        (line,) = [line for line in lines if line.split()[:1] == [name]]
        assert len(line.split(maxsplit=1)) == 2, f"{name} has no help on its line: {line!r}"
    assert max(len(line) for line in lines) <= 80


def test_the_help_is_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _help(monkeypatch)
    assert "``" not in text and "{run," not in text
    assert "CALLBRIDGE_CONFIG" in text  # where the settings come from
