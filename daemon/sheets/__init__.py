"""Reading the agency's spreadsheets, whatever program wrote them: one table of text cells.

Exports arrive as ``.xlsx``, ``.xls``, ``.ods`` (read by python-calamine) or ``.csv``
(``;``, ``,`` or tab separated; UTF-8 with or without BOM, or Windows-1251, which
Excel in Russia still writes). Columns are found by their header, in any case and
spacing, from a table of aliases the caller gives; the caller never sees the file's
own layout. Used by ``callbridge import contacts`` and ``import lines``, and meant for
every other import (trips, ...).

API::

    ALIASES = {"name": ("ФИО", "Имя", "Name"), "phones": ("Телефон", "Phone")}
    with read_table(path, ALIASES, sheet=None, mapping={"Доп. тел": "phones"},
                    multi={"phones"}) as table:
        table.columns   # {"name": ["ФИО"], "phones": ["Телефон", "Доп. тел"]}: found fields
        table.ignored   # headers that matched nothing
        table.format, table.sheet, table.encoding, table.header_row
        for row in table.rows:          # a generator: the file is streamed
            row.number                  # 1-based row of the sheet / line of the file
            row.values["phones"]        # the cell's text, stripped; "" when empty
            row.doubts.get("phones")    # {cell text: why it may not be what was typed}

* ``aliases``: field -> header spellings. Headers compare case-, spacing- and
  punctuation-insensitively, with ё = е (``Моб. телефон`` = ``моб телефон``).
* ``mapping``: header -> field, for columns no alias knows (``--map COLUMN=field``);
  a mapped header wins over the aliases. A mapped header missing from the file, or a
  field not in ``aliases``, is a ``SheetError``.
* ``multi``: fields that may come from several columns (phones from ``Телефон`` and
  ``Моб. телефон``): their non-empty cells are joined with a line break. Any other
  field takes the first column that names it.
* ``sheet``: a sheet name (or 1-based number); the first sheet by default.
* The header is the row, among the first ``HEADER_SEARCH_ROWS``, that names the most
  fields (exports often start with a title line). Rows with every cell empty are not
  yielded; every other row is, even if the fields it gives are empty.
* Number cells: Excel keeps 15 significant digits as a float. A whole float becomes
  its digits (``79161234567.0`` -> ``79161234567``); a fraction, or a number past 2**53,
  or a text cell in scientific notation that dropped digits (``9.16123E+9``, as a
  CSV saved from Excel holds it) keeps its text and gets a ``doubts`` entry (that
  text -> the reason, per field; a cell of a ``multi`` field is one line of the joined
  text): the value cannot be trusted, and the caller reports it rather than guess.
* A row whose used cell is over 32,767 characters (Excel's own limit) or holds a NUL
  character is yielded with ``refused`` (why) and empty values: the caller skips it
  with that reason, and the rest of the file is imported.
* Workbooks are read by python-calamine in a child process under a memory ceiling,
  after their declared sizes are checked (daemon/sheets/limits.py, workbook.py): a
  crafted or oversized file is a ``SheetError``, never a crash.
* A file that cannot be read as a table (wrong type, no header the aliases know,
  unknown sheet) raises ``SheetError`` with one line naming the file and the reason.

May import: the standard library and python-calamine only; nothing of the daemon's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.sheets.cells import cell_text, header_key, sniff_format
from daemon.sheets.csvfile import open_csv
from daemon.sheets.errors import SheetError
from daemon.sheets.limits import MAX_CELL_CHARS
from daemon.sheets.workbook import open_workbook

HEADER_SEARCH_ROWS = 10

__all__ = ["HEADER_SEARCH_ROWS", "Row", "SheetError", "Table", "header_key", "read_table"]


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    values: dict[str, str]
    doubts: dict[str, dict[str, str]]  # field -> {the doubted cell's text: why}
    refused: str | None = None  # why the row cannot be used at all (its values are then empty)


@dataclass
class Table:
    path: Path
    format: str                      # "xlsx" | "xls" | "ods" | "csv"
    sheet: str | None                # the sheet read (None for CSV)
    encoding: str | None             # CSV only: "utf-8", "utf-8-sig" or "cp1251"
    header_row: int                  # 1-based
    columns: dict[str, list[str]]    # field -> the headers it was read from
    ignored: list[str]
    rows: Iterator[Row] = field(repr=False)


@contextlib.contextmanager
def read_table(path: Path, aliases: Mapping[str, Collection[str]], *, sheet: str | int | None = None,
               mapping: Mapping[str, str] | None = None, multi: Collection[str] = ()
               ) -> Iterator[Table]:
    """Open ``path`` as a table of ``aliases``' fields (see the module docstring)."""
    path = Path(path)
    fmt = sniff_format(path)
    with contextlib.ExitStack() as stack:
        if fmt == "csv":
            raw_rows, encoding = stack.enter_context(open_csv(path))
            sheet_name = None
        else:
            raw_rows, sheet_name = open_workbook(path, fmt, sheet, stack)
            encoding = None
        head = _first_rows(raw_rows)
        header_index, plan = _find_header(path, head, aliases, mapping or {})
        header = [cell_text(c)[0] for c in head[header_index][1]]
        columns: dict[str, list[str]] = {}
        for index, name in plan:
            columns.setdefault(name, []).append(header[index])
        used = {index for index, _ in plan}
        ignored = [h for i, h in enumerate(header) if h and i not in used]
        rest = _chain(head[header_index + 1:], raw_rows)
        yield Table(path=path, format=fmt, sheet=sheet_name, encoding=encoding,
                    header_row=head[header_index][0], columns=columns, ignored=ignored,
                    rows=_rows(rest, plan, set(multi)))


def _first_rows(raw_rows: Iterator[tuple[int, list[Any]]]) -> list[tuple[int, list[Any]]]:
    head: list[tuple[int, list[Any]]] = []
    for number, cells in raw_rows:
        if any(cell_text(c)[0] for c in cells):
            head.append((number, cells))
            if len(head) == HEADER_SEARCH_ROWS:
                break
    return head


def _find_header(path: Path, head: list[tuple[int, list[Any]]], aliases: Mapping[str, Collection[str]],
                 mapping: Mapping[str, str]) -> tuple[int, list[tuple[int, str]]]:
    """The header row's index in ``head`` and its plan: (column index, field) pairs."""
    if not head:
        raise SheetError(f"{path}: the file is empty")
    unknown = sorted({f for f in mapping.values() if f not in aliases})
    if unknown:
        raise SheetError(f"{path}: unknown field(s) {', '.join(unknown)} in the mapping; "
                         f"known: {', '.join(aliases)}")
    by_key = {header_key(h): name for name, spellings in aliases.items() for h in (name, *spellings)}
    mapped = {header_key(h): name for h, name in mapping.items()}
    best: tuple[int, list[tuple[int, str]]] | None = None
    for index, (_, cells) in enumerate(head):
        keys = [header_key(cell_text(c)[0]) for c in cells]
        # Mapped columns first: for a single-valued field, the first column in the plan wins.
        plan = [(i, mapped[k]) for i, k in enumerate(keys) if k in mapped]
        plan += [(i, by_key[k]) for i, k in enumerate(keys) if k not in mapped and k in by_key]
        if plan and (best is None or len(plan) > len(best[1])):
            best = (index, plan)
    if best is None:
        first = [cell_text(c)[0] for c in head[0][1]] if head else []
        raise SheetError(f"{path}: no recognisable column; expected a header with one of "
                         f"{_describe(aliases)}; the first row is {first!r}")
    found = {header_key(cell_text(c)[0]) for c in head[best[0]][1]}
    missing = [h for h in mapping if header_key(h) not in found]
    if missing:
        raise SheetError(f"{path}: no column {', '.join(map(repr, missing))} to map")
    return best


def _describe(aliases: Mapping[str, Collection[str]]) -> str:
    return "; ".join(f"{name}: {', '.join(spellings)}" for name, spellings in aliases.items())


def _chain(first: list[tuple[int, list[Any]]], rest: Iterator[tuple[int, list[Any]]]
           ) -> Iterator[tuple[int, list[Any]]]:
    yield from first
    yield from rest


def _rows(raw_rows: Iterator[tuple[int, list[Any]]], plan: list[tuple[int, str]],
          multi: set[str]) -> Iterator[Row]:
    fields = dict.fromkeys(name for _, name in plan)
    for number, cells in raw_rows:
        values = dict.fromkeys(fields, "")
        doubts: dict[str, dict[str, str]] = {}
        if not any(c not in ("", None) for c in cells):
            continue
        refused = None
        for index, name in plan:
            if index >= len(cells):
                continue
            text, doubt = cell_text(cells[index])
            if not text:
                continue
            refused = _refusal(name, text)
            if refused:
                break
            if values[name] and name not in multi:
                continue  # the first column naming a single-valued field wins
            values[name] = f"{values[name]}\n{text}" if values[name] else text
            if doubt:
                doubts.setdefault(name, {})[text] = doubt
        if refused:
            yield Row(number, dict.fromkeys(fields, ""), {}, refused)
        else:
            yield Row(number, values, doubts)


def _refusal(name: str, text: str) -> str | None:
    """Why one cell makes its row unusable: PostgreSQL stores no NUL, Excel no cell over 32,767."""
    if len(text) > MAX_CELL_CHARS:
        return f"the {name} cell has {len(text):,} characters, more than a spreadsheet cell holds ({MAX_CELL_CHARS:,})"
    if "\x00" in text:
        return f"the {name} cell holds a NUL character, which no text field can store"
    return None
