"""Spreadsheet files for the import tests, written the way Excel and LibreOffice write them.

``.xlsx`` through XlsxWriter (numbers stay number cells); ``.ods`` built by hand as the
zip LibreOffice writes (a stored ``mimetype`` first, then ``content.xml``), because no
installed library writes it. ``.xls`` (the binary Excel 97 format) has no writer here.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import xlsxwriter

Cell = str | int | float | dt.date | None


def write_xlsx(path: Path, rows: Sequence[Sequence[Cell]], *, sheet: str = "Лист1",
               start_row: int = 0, more_sheets: dict[str, Sequence[Sequence[Cell]]] | None = None) -> Path:
    """Numbers are written as number cells, dates as date cells (dd.mm.yyyy, as a Russian Excel
    shows them), text as text; ``start_row`` leaves empty rows above."""
    book = xlsxwriter.Workbook(str(path))
    date_format = book.add_format({"num_format": "dd.mm.yyyy"})
    for name, sheet_rows, first in [(sheet, rows, start_row)] + [(n, r, 0) for n, r in (more_sheets or {}).items()]:
        worksheet = book.add_worksheet(name)
        for r, row in enumerate(sheet_rows):
            for c, value in enumerate(row):
                if isinstance(value, dt.date):
                    worksheet.write_datetime(first + r, c, value, date_format)
                elif isinstance(value, (int, float)):
                    worksheet.write_number(first + r, c, value)
                elif value is not None:
                    worksheet.write_string(first + r, c, value)
    book.close()
    return path


_ODS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
    '<office:body><office:spreadsheet>'
)
_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    '</manifest:manifest>'
)


def _ods_cell(value: Cell) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, dt.date):
        return (f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}">'
                f'<text:p>{value:%d.%m.%Y}</text:p></table:table-cell>')
    if isinstance(value, (int, float)):
        return f'<table:table-cell office:value-type="float" office:value="{value!r}"><text:p>{value}</text:p></table:table-cell>'
    return f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p></table:table-cell>'


def write_ods(path: Path, rows: Sequence[Sequence[Cell]], *, sheet: str = "Лист1") -> Path:
    body = "".join("<table:table-row>" + "".join(map(_ods_cell, row)) + "</table:table-row>" for row in rows)
    content = f'{_ODS_HEAD}<table:table table:name="{escape(sheet)}">{body}</table:table>' \
              "</office:spreadsheet></office:body></office:document-content>"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                         compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", _MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return path


def write_csv(path: Path, text: str, *, encoding: str = "utf-8", bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path
