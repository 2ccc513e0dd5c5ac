"""What a workbook says about its size, checked before python-calamine is given it.

A crafted file is small on disk and huge once read: a zip part that inflates to
gigabytes, an ``.xlsx`` whose ``<dimension>`` declares a million rows by 16,384
columns, an ``.ods`` row repeated a million times (``table:number-rows-repeated``).
These checks read only the zip's directory, the start of each worksheet and, for
``.ods``, the table structure streamed from ``content.xml``: each refuses with one
line saying what the file declares and what we read at most. Whatever slips past
them (cells far apart with no ``<dimension>``, an ``.xls``) still meets the
reader's memory ceiling (daemon/sheets/workbook.py).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.parsers import expat

from daemon.sheets.errors import SheetError

MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell; a longer cell refuses its row
# A sheet is read as one dense block of 32-byte cells from its first to its last cell:
# 5 million cells (a million rows of five columns) is 160 MB of the reader's ceiling.
MAX_SHEET_CELLS = 5_000_000
MAX_PART_BYTES = 512 * 1024 * 1024    # any one part of the zip, uncompressed
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # all parts together, uncompressed
DIMENSION_SCAN_BYTES = 64 * 1024      # <dimension> comes before <sheetData>, near the start
SCAN_CHUNK_BYTES = 1024 * 1024
_DIMENSION = re.compile(rb'<(?:[\w.-]+:)?dimension\s[^>]*?ref="([A-Za-z]{0,3})(\d*)(?::([A-Za-z]{1,3})(\d+))?"')
_WORKSHEET = re.compile(r"xl/worksheets/[^/]+\.xml")
_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


def check_zip_workbook(path: Path, fmt: str) -> None:
    """SheetError if the zip's parts or the sheets they declare are beyond what we read."""
    try:
        with zipfile.ZipFile(path) as archive:
            _check_sizes(path, archive)
            if fmt == "xlsx":
                for name in archive.namelist():
                    if _WORKSHEET.fullmatch(name):
                        _check_dimension(path, archive, name)
            elif fmt == "ods":
                _check_ods_tables(path, archive)
    except (zipfile.BadZipFile, NotImplementedError, EOFError) as exc:
        raise SheetError(f"{path}: a damaged zip archive, not a readable spreadsheet ({exc})") from exc


def _check_sizes(path: Path, archive: zipfile.ZipFile) -> None:
    total = 0
    for info in archive.infolist():
        if info.file_size > MAX_PART_BYTES:
            raise SheetError(f"{path}: its part {info.filename} unpacks to {_mb(info.file_size)} "
                             f"(at most {_mb(MAX_PART_BYTES)} is read): not an export we can import")
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise SheetError(f"{path}: unpacks to {_mb(total)} (at most {_mb(MAX_TOTAL_BYTES)} is read): "
                         f"not an export we can import")


def _check_dimension(path: Path, archive: zipfile.ZipFile, name: str) -> None:
    with archive.open(name) as part:
        head = part.read(DIMENSION_SCAN_BYTES)
    found = _DIMENSION.search(head)
    if found is None or not found[3]:
        return
    rows = int(found[4]) - int(found[2] or 1) + 1
    columns = _column_number(found[3]) - _column_number(found[1] or b"A") + 1
    _check_cells(path, f"{name} declares", rows, columns)


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - ord("A") + 1
    return number


def _check_cells(path: Path, what: str, rows: int, columns: int) -> None:
    if rows * columns > MAX_SHEET_CELLS:
        raise SheetError(f"{path}: {what} {rows:,} rows × {columns:,} columns ({rows * columns:,} cells); "
                         f"at most {MAX_SHEET_CELLS:,} cells are read: save the used part as CSV")


def _check_ods_tables(path: Path, archive: zipfile.ZipFile) -> None:
    """Each table's extent as calamine lays it out: repeated rows and cells count as many."""
    extent = _OdsExtent()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = extent.start
    parser.EndElementHandler = extent.end
    try:
        with archive.open("content.xml") as part:
            while chunk := part.read(SCAN_CHUNK_BYTES):
                parser.Parse(chunk, False)
                _check_cells(path, "a table of content.xml spans", extent.rows, extent.columns)
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise SheetError(f"{path}: content.xml is not well-formed XML ({exc})") from exc
    _check_cells(path, "a table of content.xml spans", extent.rows, extent.columns)


class _OdsExtent:
    """The largest table's rows and columns up to its last cell with something in it."""

    def __init__(self) -> None:
        self.rows = self.columns = 0
        self._row = self._column = self._row_repeat = self._cell_repeat = 0
        self._row_last = 0  # the column after the row's last cell with content (0: none)
        self._table_rows = self._table_columns = 0
        self._depth_in_cell = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self._depth_in_cell:
            self._depth_in_cell += 1
            self._row_last = self._column + self._cell_repeat  # a cell with a child has content
            return
        if name == f"{_TABLE_NS} table":
            self._row = self._table_rows = self._table_columns = 0
        elif name == f"{_TABLE_NS} table-row":
            self._row_repeat = _repeat(attrs, "number-rows-repeated")
            self._column = self._row_last = 0
        elif name in (f"{_TABLE_NS} table-cell", f"{_TABLE_NS} covered-table-cell"):
            self._cell_repeat = _repeat(attrs, "number-columns-repeated")
            self._depth_in_cell = 1
            if f"{_OFFICE_NS} value-type" in attrs:
                self._row_last = self._column + self._cell_repeat

    def end(self, name: str) -> None:
        if self._depth_in_cell:
            self._depth_in_cell -= 1
            if self._depth_in_cell == 0:
                self._column += self._cell_repeat
            return
        if name == f"{_TABLE_NS} table-row":
            self._row += self._row_repeat
            if self._row_last:
                self._table_rows = self._row
                self._table_columns = max(self._table_columns, self._row_last)
                if self._table_rows * self._table_columns > self.rows * self.columns:
                    self.rows, self.columns = self._table_rows, self._table_columns


def _repeat(attrs: dict[str, str], name: str) -> int:
    text = attrs.get(f"{_TABLE_NS} {name}", "1")
    if not text.isdigit():
        return 1
    return int(text) if len(text) <= 12 else 10**12  # int() of a million digits is slow, and huge anyway


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB"
