"""Hostile spreadsheets, built part by part with zipfile: small on disk, huge once read.

Each builder writes a workbook whose header (``ФИО``, ``Телефон``) and one good row
are real, so that only its size, never its content, decides whether it is read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from tests.spreadsheets import write_ods

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>')
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Лист1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/></Relationships>')
_SHEET_HEAD = '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
_GOOD_ROWS = ('<row r="1"><c r="A1" t="inlineStr"><is><t>ФИО</t></is></c><c r="B1" t="inlineStr"><is><t>Телефон</t>'
              '</is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>Анна</t></is></c>'
              '<c r="B2" t="inlineStr"><is><t>+79161234567</t></is></c></row>')
_SST_HEAD = '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>'
MB = 1024 * 1024


def _xlsx(path: Path, sheet_xml: str, *, shared_strings: str | None = None) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
    archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
    archive.writestr("_rels/.rels", _RELS)
    archive.writestr("xl/workbook.xml", _WORKBOOK)
    archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
    archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    if shared_strings is not None:
        archive.writestr("xl/sharedStrings.xml", shared_strings)
    return archive


def _sheet(rows: str, *, dimension: str | None = None) -> str:
    declared = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f"{_SHEET_HEAD}{declared}<sheetData>{_GOOD_ROWS}{rows}</sheetData></worksheet>"


def huge_dimension_xlsx(path: Path) -> Path:
    """Declares A1:XFD1048576 (17 billion cells) and holds one far cell: the 550 GB file."""
    _xlsx(path, _sheet('<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
                       dimension="A1:XFD1048576")).close()
    return path


def far_cells_xlsx(path: Path) -> Path:
    """No <dimension>, a lying one, or none at all: two cells 40,000 rows and 16,383 columns apart."""
    _xlsx(path, _sheet('<row r="40000"><c r="XFD40000"><v>1</v></c></row>', dimension="A1:B2")).close()
    return path


def shared_string_fanout_xlsx(path: Path) -> Path:
    """200,000 cells all pointing at one 30,000-character shared string: 12 GB of text once read."""
    rows = "".join(f'<row r="{n}"><c r="A{n}" t="s"><v>0</v></c></row>' for n in range(3, 200_003))
    _xlsx(path, _sheet(rows), shared_strings=f"{_SST_HEAD}{'Б' * 30_000}</t></si></sst>").close()
    return path


def zip_bomb_xlsx(path: Path, *, unpacked_mb: int = 600) -> Path:
    """A sharedStrings.xml that inflates to ``unpacked_mb`` MB from under 1 MB."""
    with _xlsx(path, _sheet("")) as archive, \
            archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
        part.write(_SST_HEAD.encode())
        block = b"A" * MB
        for _ in range(unpacked_mb):
            part.write(block)
        part.write(b"</t></si></sst>")
    return path


def _ods_with(path: Path, extra_rows: str) -> Path:
    write_ods(path, [["ФИО", "Телефон"], ["Анна", "+79161234567"]])
    with zipfile.ZipFile(path) as original:
        parts = {name: original.read(name) for name in original.namelist()}
    content = parts["content.xml"].decode().replace("</table:table>", f"{extra_rows}</table:table>")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", parts.pop("mimetype"), compress_type=zipfile.ZIP_STORED)
        parts.pop("content.xml")
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        for name, data in parts.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def repeated_rows_ods(path: Path) -> Path:
    """One row with text, repeated a million times across 100 columns."""
    return _ods_with(path, '<table:table-row table:number-rows-repeated="1000000">'
                           '<table:table-cell table:number-columns-repeated="100" office:value-type="string">'
                           "<text:p>x</text:p></table:table-cell></table:table-row>")


def libreoffice_tail_ods(path: Path) -> Path:
    """What LibreOffice writes below a formatted sheet: empty rows repeated to the last row."""
    return _ods_with(path, '<table:table-row table:number-rows-repeated="1048574">'
                           '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>')


def crafted_cells_xlsx(path: Path, table: list[list[str]]) -> Path:
    """Text cells as written, even those XlsxWriter refuses: over 32,767 characters, or a NUL
    (which OOXML spells ``_x0000_``, as Excel does for control characters)."""
    def cell(col: int, row: int, text: str) -> str:
        ref = f"{chr(ord('A') + col)}{row}"
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(text).replace(chr(0), "_x0000_")}</t></is></c>'

    rows = "".join(f'<row r="{r}">' + "".join(cell(c, r, text) for c, text in enumerate(values) if text)
                   + "</row>" for r, values in enumerate(table, start=1))
    _xlsx(path, f"{_SHEET_HEAD}<sheetData>{rows}</sheetData></worksheet>").close()
    return path
