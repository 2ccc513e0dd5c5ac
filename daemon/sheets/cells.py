"""Cells and headers: what a spreadsheet cell says, as text, and what kind of file we hold."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

from daemon.sheets.errors import SheetError

# Excel stores numbers as doubles and shows at most 15 significant digits; a number
# of 16 digits or more was rounded when it was typed, so its last digits are guesses.
EXCEL_EXACT_BELOW = 10**15
SNIFF_BYTES = 64 * 1024
_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2 compound file: Excel 97-2003
_ZIP_MAGIC = b"PK\x03\x04"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# 9.16123E+9, 7,9161234567E+10 (a Russian Excel's decimal comma), 1e5
_SCIENTIFIC = re.compile(r"([+-]?)(\d+)(?:[.,](\d+))?[eE]([+-]?\d{1,3})")


def header_key(text: str) -> str:
    """A header as compared: case, spacing, punctuation and ё/е do not matter."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    return "".join(ch for ch in folded if ch.isalnum())


def cell_text(value: Any) -> tuple[str, str | None]:
    """The cell as text, and why that text may not be what was typed (None if it is)."""
    if value is None or value == "":
        return "", None
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE"), None
    if isinstance(value, int):
        return str(value), None
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat(), None
    text = str(value).strip()
    match = _SCIENTIFIC.fullmatch(text)
    return _scientific_text(text, match) if match else (text, None)


def _float_text(value: float) -> tuple[str, str | None]:
    if not math.isfinite(value):
        return str(value), f"number cell {value} is not a number"
    if not value.is_integer():
        return repr(value), f"number cell {value!r} is not a whole number"
    if abs(value) >= EXCEL_EXACT_BELOW:
        text = f"{value:.15g}"
        return text, f"number cell {text} has more digits than Excel keeps (15): the last ones are lost"
    return str(int(value)), None


def _scientific_text(text: str, match: re.Match[str]) -> tuple[str, str | None]:
    """``7.9161234567E+10`` is exactly 79161234567; ``9.16123E+9`` lost the digits after 916123."""
    sign, whole, fraction, exponent = match[1], match[2], match[3] or "", int(match[4])
    shift = exponent - len(fraction)
    if shift == 0:
        return sign + (whole + fraction).lstrip("0") or "0", None
    if shift > 0:
        return text, f"{text} is a number in scientific notation: its last {shift} digit(s) are lost"
    return text, f"{text} is a number in scientific notation, not a whole number"


def sniff_format(path: Path) -> str:
    """``xlsx``, ``xls``, ``ods`` or ``csv``, by content (an export's name often lies)."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(_XLS_MAGIC):
        return "xls"
    if head.startswith(_ZIP_MAGIC):
        return _zip_format(path)
    if head.startswith(_UTF16_BOMS):
        return "csv"
    if head.startswith(b"%PDF"):
        raise SheetError(f"{path}: a PDF document, not a spreadsheet or CSV file")
    if b"\x00" in head:
        raise SheetError(f"{path}: binary data, not a spreadsheet (.xlsx, .xls, .ods) or CSV text")
    return "csv"


def _zip_format(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype").decode("ascii", "replace") if "mimetype" in names else ""
    except zipfile.BadZipFile as exc:
        raise SheetError(f"{path}: a damaged zip archive, not a readable spreadsheet ({exc})") from exc
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "content.xml" in names and "spreadsheet" in mimetype:
        return "ods"
    if "word/document.xml" in names:
        raise SheetError(f"{path}: a Word document, not a spreadsheet")
    raise SheetError(f"{path}: a zip archive, not a spreadsheet (.xlsx, .ods)")
