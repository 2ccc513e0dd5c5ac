"""CSV files as Excel and CRMs write them: the encoding and the separator are guessed."""

from __future__ import annotations

import codecs
import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from daemon.sheets.errors import SheetError

CHUNK_BYTES = 1 << 20
# Tried in this order: UTF-8 is strict (Windows-1251 text is never valid UTF-8),
# Windows-1251 accepts nearly any byte, so it comes last.
_ENCODINGS = ("utf-8", "cp1251")
_SEPARATORS = (";", ",", "\t")
MAX_FIELD_CHARS = 1 << 24
csv.field_size_limit(MAX_FIELD_CHARS)  # a notes cell may be long; the default 128 KiB refuses it
# A line is read whole before it is split: past this, a file (one huge line) is refused,
# so that memory stays bounded whatever the file's size.
MAX_LINE_CHARS = 1 << 24


@contextlib.contextmanager
def open_csv(path: Path) -> Iterator[tuple[Iterator[tuple[int, list[str]]], str]]:
    """(rows as (first line number, cells), encoding): the file is streamed."""
    encoding = detect_encoding(path)
    with path.open(encoding=encoding, newline="") as handle:
        first = handle.readline(MAX_LINE_CHARS)
        handle.seek(0)
        counts = [first.count(sep) for sep in _SEPARATORS]
        delimiter = _SEPARATORS[counts.index(max(counts))]
        yield _numbered(path, csv.reader(_bounded_lines(path, handle), delimiter=delimiter)), encoding


def detect_encoding(path: Path) -> str:
    """``utf-8-sig``, ``utf-16``, ``utf-8`` or ``cp1251``: the first that decodes the whole file."""
    with path.open("rb") as handle:
        start = handle.read(4)
    if start.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in _ENCODINGS:
        if _decodes(path, encoding):
            return encoding
    raise SheetError(f"{path}: neither UTF-8 nor Windows-1251 text")


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(CHUNK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _bounded_lines(path: Path, handle: TextIO) -> Iterator[str]:
    number = 0
    while line := handle.readline(MAX_LINE_CHARS):
        number += 1
        if len(line) == MAX_LINE_CHARS and line[-1] not in "\r\n":
            raise SheetError(f"{path}: line {number} is longer than {MAX_LINE_CHARS:,} characters: "
                             f"not an export we can import")
        yield line


def _numbered(path: Path, reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    # A quoted cell may hold line breaks: a row is numbered by the line it starts on.
    line = 1
    try:
        for cells in reader:
            yield line, cells
            line = reader.line_num + 1  # type: ignore[attr-defined]
    except csv.Error as exc:  # a quoted cell past MAX_FIELD_CHARS, a NUL byte the reader refuses
        raise SheetError(f"{path}: the row from line {line} cannot be read: {exc}") from exc
