"""The child process that reads a workbook with python-calamine, under a memory ceiling.

python-calamine builds the whole sheet as one dense block of cells (32 bytes each,
from the first to the last cell written) before it gives out a row, and a failed
allocation in its Rust code aborts the process. A 5 KB file with two cells at A1
and XFD1048576 asks for 550 GB. So the reading happens here, in a process of its
own with ``RLIMIT_AS`` set: a file that needs more dies here, alone, and the
importer says so in one line (daemon/sheets/workbook.py).

Protocol, on stdout, pickled tuples: ``("sheet", name)``, ``("error", message)`` or
``("unreadable", calamine's message)`` first, then ``("rows", [(row number, cells), ...])`` batches, then ``("end",)``.
"""

from __future__ import annotations

import pickle
import resource
import sys
from typing import Any, BinaryIO

ROWS_PER_MESSAGE = 2000


def main(argv: list[str]) -> int:
    path, sheet, limit_bytes = argv[0], argv[1], int(argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    out = sys.stdout.buffer
    import python_calamine as calamine  # after the ceiling: its allocations count too

    try:
        with open(path, "rb") as handle:
            book = calamine.CalamineWorkbook.from_filelike(handle)
            name = _sheet_name(book.sheet_names, sheet)
            if name.startswith("\0"):
                _send(out, ("error", name[1:]))
                return 0
            data = book.get_sheet_by_name(name)
            _send(out, ("sheet", name))
            _stream(out, data.iter_rows())
    except calamine.CalamineError as exc:
        _send(out, ("unreadable", str(exc)))
    except MemoryError:
        return 3  # the parent names the ceiling
    return 0


def _sheet_name(names: list[str], sheet: str) -> str:
    """The sheet to read, or ``\\0`` and why not."""
    if sheet == "":
        return names[0] if names else "\0the workbook has no sheet"
    if sheet.isdigit() and sheet not in names:
        number = int(sheet)
        if not 1 <= number <= len(names):
            return f"\0no sheet number {number}; the sheets are {', '.join(names)}"
        return names[number - 1]
    if sheet in names:
        return sheet
    return f"\0no sheet {sheet!r}; the sheets are {', '.join(names)}"


def _stream(out: BinaryIO, rows: Any) -> None:
    batch: list[tuple[int, list[Any]]] = []
    # iter_rows starts at the sheet's first row, so the index is the row number.
    for index, cells in enumerate(rows):
        batch.append((index + 1, list(cells)))
        if len(batch) == ROWS_PER_MESSAGE:
            _send(out, ("rows", batch))
            batch = []
    _send(out, ("rows", batch))
    _send(out, ("end",))


def _send(out: BinaryIO, message: tuple[Any, ...]) -> None:
    pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
