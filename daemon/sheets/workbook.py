"""A workbook's rows (.xlsx, .xls, .ods), read by python-calamine in a child process.

The file's declared sizes are checked first (daemon/sheets/limits.py); then the
child (daemon/sheets/worker.py) reads it under a ceiling of ``READER_MEMORY_BYTES``
and sends the rows back in batches. A file that needs more memory than that kills
only the child, and becomes one ``SheetError`` line here: the import writes nothing.
"""

from __future__ import annotations

import contextlib
import pickle
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from daemon.sheets.errors import SheetError
from daemon.sheets.limits import check_zip_workbook

# The child's address space: Python and calamine (about 40 MB) plus the sheet's cells.
# With the importer's own 60-80 MB while it reads, the two stay under 500 MB however crafted the file.
READER_MEMORY_BYTES = 400 * 1024 * 1024
_OUT_OF_MEMORY_EXIT = 3
_RUST_OOM = re.compile(r"memory allocation of (\d+) bytes failed")


def open_workbook(path: Path, fmt: str, sheet: str | int | None,
                  stack: contextlib.ExitStack) -> tuple[Iterator[tuple[int, list[Any]]], str]:
    """(rows as (row number, cells), the sheet's name); SheetError for a file we cannot read."""
    if fmt in ("xlsx", "ods"):
        check_zip_workbook(path, fmt)
    errors = stack.enter_context(tempfile.TemporaryFile())
    proc = subprocess.Popen(
        [sys.executable, "-m", "daemon.sheets.worker", str(path), "" if sheet is None else str(sheet),
         str(READER_MEMORY_BYTES)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
    stack.callback(_stop, proc)
    kind, value = _receive(path, fmt, proc, errors)
    if kind == "error":
        raise SheetError(f"{path}: {value}")
    if kind == "unreadable":
        raise SheetError(f"{path}: cannot read it as {fmt}: {value}")
    return _rows(path, fmt, proc, errors), value


def _rows(path: Path, fmt: str, proc: subprocess.Popen[bytes],
          errors: IO[bytes]) -> Iterator[tuple[int, list[Any]]]:
    while True:
        message = _receive(path, fmt, proc, errors)
        if message[0] == "end":
            return
        yield from message[1]


def _receive(path: Path, fmt: str, proc: subprocess.Popen[bytes], errors: IO[bytes]) -> tuple[Any, ...]:
    assert proc.stdout is not None
    try:
        message: tuple[Any, ...] = pickle.load(proc.stdout)
        return message
    except (EOFError, pickle.UnpicklingError):
        pass
    code = proc.wait()
    errors.seek(0)
    said = errors.read(4096).decode("utf-8", "replace").strip().splitlines()
    if code in (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGSEGV, _OUT_OF_MEMORY_EXIT):
        asked = next((f" (it asked for {int(m[1]):,} bytes at once)" for line in said
                      if (m := _RUST_OOM.match(line))), "")
        raise SheetError(f"{path}: reading this {fmt} needs more than {READER_MEMORY_BYTES >> 20} MB{asked}: "
                         f"a sheet far larger than its data, or a crafted file; save the used part as CSV")
    raise SheetError(f"{path}: the {fmt} reader stopped (exit {code}): {said[-1] if said else 'no message'}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
