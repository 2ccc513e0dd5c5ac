"""daemon.sheets: any export the agency has becomes rows of text cells keyed by field.

These tests need no database: they read real files written by XlsxWriter, by hand
(.ods) or as bytes (CSV in the encodings Excel writes) and assert the exact rows.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from daemon.sheets import Row, SheetError, read_table
from daemon.sheets.cells import cell_text
from tests import crafted
from tests.crafted import crafted_cells_xlsx
from tests.spreadsheets import write_csv, write_ods, write_xlsx

ALIASES = {
    "name": ("ФИО", "Имя", "Клиент", "Name"),
    "phones": ("Телефон", "Телефоны", "Моб. телефон", "Phone"),
    "email": ("E-mail", "Email", "Эл. почта", "Почта"),
}


def read(path: Path, **options: object) -> tuple[dict[str, object], list[Row]]:
    with read_table(path, ALIASES, multi={"phones"}, **options) as table:  # type: ignore[arg-type]
        info = {"format": table.format, "sheet": table.sheet, "encoding": table.encoding,
                "header_row": table.header_row, "columns": table.columns, "ignored": table.ignored}
        return info, list(table.rows)


def test_xlsx_with_a_title_row_and_messy_headers_is_read_by_header(tmp_path: Path) -> None:
    """A title line above the header, headers in odd case and spacing (``  фио``, ``МОБ.ТЕЛЕФОН``,
    ``e-mail``), two phone columns joined, an unknown column ignored, an empty row not yielded;
    rows are numbered as Excel shows them."""
    path = write_xlsx(tmp_path / "export.xlsx", [
        ["Выгрузка клиентов за ноябрь"],
        [],
        ["  фио", "МОБ.ТЕЛЕФОН", "Телефон ", "e-mail", "Комментарий"],
        ["Анна", 79161234567.0, "8 495 000-11-22", "Anna@Example.ru", "звонить вечером"],
        [None, None, None, None, None],
        ["Пётр", None, None, None, "только коммент"],
    ], start_row=1)

    info, rows = read(path)

    assert info == {"format": "xlsx", "sheet": "Лист1", "encoding": None, "header_row": 4,
                    "columns": {"name": ["фио"], "phones": ["МОБ.ТЕЛЕФОН", "Телефон"], "email": ["e-mail"]},
                    "ignored": ["Комментарий"]}
    assert rows == [
        Row(5, {"name": "Анна", "phones": "79161234567\n8 495 000-11-22", "email": "Anna@Example.ru"}, {}),
        Row(7, {"name": "Пётр", "phones": "", "email": ""}, {}),
    ]


def test_number_cells_become_their_digits_or_are_doubted(tmp_path: Path) -> None:
    """A whole float is its digits; a fraction or a number past Excel's 15 digits keeps its
    text and says why it cannot be trusted; a CSV's ``9,16123E+09`` lost its last digits while
    ``7.9161234567E+10`` did not."""
    path = write_xlsx(tmp_path / "n.xlsx", [
        ["Телефон"], [79161234567], [9161234567.0], [79161234567.5], [7916123456789012345.0],
        ["9,16123E+09"], ["7.9161234567E+10"],
    ])

    _, rows = read(path)

    assert [(r.values["phones"], r.doubts.get("phones", {}).get(r.values["phones"])) for r in rows] == [
        ("79161234567", None),
        ("9161234567", None),
        ("79161234567.5", "number cell 79161234567.5 is not a whole number"),
        ("7.91612345678901e+18",
         "number cell 7.91612345678901e+18 has more digits than Excel keeps (15): the last ones are lost"),
        ("9,16123E+09", "9,16123E+09 is a number in scientific notation: its last 4 digit(s) are lost"),
        ("79161234567", None),
    ]


def test_windows_1251_csv_is_detected_and_decoded(tmp_path: Path) -> None:
    """Excel's "CSV" in Russian Windows: cp1251, ``;``; the Cyrillic comes out right."""
    path = write_csv(tmp_path / "c.csv", "Клиент;Телефоны;Эл. почта\nКузнецова Анна;8 916 123-45-67;\n",
                     encoding="cp1251")

    info, rows = read(path)

    assert (info["format"], info["encoding"]) == ("csv", "cp1251")
    assert rows == [Row(2, {"name": "Кузнецова Анна", "phones": "8 916 123-45-67", "email": ""}, {})]


@pytest.mark.parametrize(("text", "bom", "encoding"), [
    ("Name,Phone\n\"Орлов, Дмитрий\",\"+7 903 111-22-33,\n8-495-000-11-22\"\nБ,1\n", False, "utf-8"),
    ("Name;Phone\nОрлов, Дмитрий;\"+7 903 111-22-33,\n8-495-000-11-22\"\nБ;1\n", True, "utf-8-sig"),
])
def test_utf8_csv_with_either_separator_numbers_rows_by_their_first_line(
    text: str, bom: bool, encoding: str, tmp_path: Path
) -> None:
    """A quoted cell spanning two lines: the next row is numbered by the line it starts on."""
    info, rows = read(write_csv(tmp_path / "c.csv", text, bom=bom))

    assert info["encoding"] == encoding
    assert [(r.number, r.values["name"]) for r in rows] == [(2, "Орлов, Дмитрий"), (4, "Б")]
    assert rows[0].values["phones"] == "+7 903 111-22-33,\n8-495-000-11-22"


def test_ods_is_read_like_xlsx(tmp_path: Path) -> None:
    path = write_ods(tmp_path / "c.ods", [["Имя", "Телефон"], ["Анна", 79161234567], ["Б", "8 916 1234567"]])

    info, rows = read(path)

    assert info["format"] == "ods"
    assert [r.values for r in rows] == [{"name": "Анна", "phones": "79161234567"},
                                        {"name": "Б", "phones": "8 916 1234567"}]


def test_the_format_is_found_by_content_not_by_name(tmp_path: Path) -> None:
    """An .xlsx saved as ``.csv`` (it happens) is still read as a workbook."""
    path = write_xlsx(tmp_path / "really.csv", [["Имя", "Телефон"], ["Анна", 79161234567]])

    info, rows = read(path)

    assert info["format"] == "xlsx"
    assert rows[0].values["phones"] == "79161234567"


def test_mapping_adds_a_column_and_wins_over_an_alias(tmp_path: Path) -> None:
    """``--map "Доп. номер=phones"`` adds that column's phones; ``--map "Контакт=name"`` makes
    «Контакт» the name even though an «Имя» column exists. Unknown fields or missing columns
    are file errors."""
    path = write_xlsx(tmp_path / "m.xlsx", [["Имя", "Контакт", "Телефон", "Доп. номер"],
                                           ["Фирма", "Анна", "1", "2"]])

    info, rows = read(path, mapping={"доп номер": "phones", "Контакт": "name"})

    assert info["columns"] == {"name": ["Контакт", "Имя"], "phones": ["Доп. номер", "Телефон"]}
    assert rows[0].values == {"name": "Анна", "phones": "2\n1"}
    with pytest.raises(SheetError, match="unknown field.*birthday"):
        read(path, mapping={"Доп. номер": "birthday"})
    with pytest.raises(SheetError, match="no column 'Паспорт' to map"):
        read(path, mapping={"Паспорт": "name"})


def test_sheet_by_name_or_number_and_a_missing_sheet(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "s.xlsx", [["Имя"], ["первый"]],
                      more_sheets={"Клиенты": [["ФИО", "Телефон"], ["второй", 1]]})

    assert read(path)[1][0].values == {"name": "первый"}
    assert read(path, sheet="Клиенты")[1][0].values == {"name": "второй", "phones": "1"}
    assert read(path, sheet="2")[0]["sheet"] == "Клиенты"
    with pytest.raises(SheetError, match="no sheet 'Архив'; the sheets are Лист1, Клиенты"):
        read(path, sheet="Архив")


@pytest.mark.parametrize(("content", "message"), [
    (b"%PDF-1.4\n...", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "binary data"),
    (b"", "the file is empty"),
    ("Дата;Сумма\n01.11;100\n".encode(), "no recognisable column; expected a header with one of name: ФИО"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "cannot read it as xls"),
])
def test_a_file_that_is_no_table_is_one_sheet_error(content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)

    with pytest.raises(SheetError, match=message) as caught:
        read(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_a_zip_that_is_no_spreadsheet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "docs.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")

    with pytest.raises(SheetError, match="a Word document"):
        read(path)


@pytest.mark.parametrize(("value", "expected"), [
    (None, ("", None)), (" text ", ("text", None)), (105, ("105", None)), (105.0, ("105", None)),
    (True, ("TRUE", None)), ("1e5", ("1e5", "1e5 is a number in scientific notation: its last 5 digit(s) are lost")),
])
def test_cell_text(value: object, expected: tuple[str, str | None]) -> None:
    assert cell_text(value) == expected


def test_excel_unicode_text_export_utf16_tab_separated(tmp_path: Path) -> None:
    """Excel's "Unicode text" save: UTF-16 with a BOM, tab-separated."""
    path = tmp_path / "unicode.txt"
    path.write_bytes("ФИО\tТелефон\r\nАнна\t8 916 123-45-67\r\n".encode("utf-16"))

    info, rows = read(path)

    assert (info["format"], info["encoding"]) == ("csv", "utf-16")
    assert rows == [Row(2, {"name": "Анна", "phones": "8 916 123-45-67"}, {})]


def test_a_file_that_is_neither_utf8_nor_windows_1251_is_refused(tmp_path: Path) -> None:
    """Byte 0x98 is undefined in Windows-1251 and invalid as UTF-8 here: no guess is made."""
    path = tmp_path / "odd.csv"
    path.write_bytes("ФИО;Телефон\n".encode("cp1251") + b"\x98\x98;1\n")

    with pytest.raises(SheetError, match="neither UTF-8 nor Windows-1251 text"):
        read(path)


# -- crafted files: small on disk, huge once read ---------------------------------


@pytest.mark.parametrize(("build", "reason"), [
    (crafted.huge_dimension_xlsx, "xl/worksheets/sheet1.xml declares 1,048,576 rows × 16,384 columns "
                                  "(17,179,869,184 cells); at most 5,000,000 cells are read"),
    (crafted.zip_bomb_xlsx, "its part xl/sharedStrings.xml unpacks to 600 MB (at most 512 MB is read)"),
    (crafted.repeated_rows_ods, "a table of content.xml spans 1,000,002 rows × 100 columns"),
    (crafted.far_cells_xlsx, "reading this xlsx needs more than 400 MB"),
    (crafted.shared_string_fanout_xlsx, "reading this xlsx needs more than 400 MB"),
])
def test_a_crafted_workbook_is_one_sheet_error_never_a_crash(build: Callable[[Path], Path], reason: str,
                                                              tmp_path: Path) -> None:
    """What a workbook declares (its zip directory, its <dimension>, an .ods's repeated rows) is
    checked before it is read; what it hides (cells far apart, one long string shared by 200,000
    cells) meets the reader's memory ceiling in its own process. Either way: one line, the reason."""
    path = build(tmp_path / "crafted.bin")

    with pytest.raises(SheetError) as caught:
        read(path)

    assert str(caught.value).startswith(f"{path}: {reason}")
    assert "\n" not in str(caught.value)


def test_libreoffice_empty_rows_to_the_sheet_end_are_no_reason_to_refuse(tmp_path: Path) -> None:
    """LibreOffice repeats an empty row a million times below a formatted sheet: nothing in them."""
    _, rows = read(crafted.libreoffice_tail_ods(tmp_path / "tail.ods"))

    assert rows == [Row(2, {"name": "Анна", "phones": "+79161234567"}, {})]


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_an_overlong_or_nul_cell_refuses_its_row_and_only_it(kind: str, tmp_path: Path) -> None:
    """A used cell over Excel's 32,767 characters, or holding NUL (no PostgreSQL text can), refuses
    its row with the reason and empty values; an unused column may hold anything; the rest is read."""
    table = [["ФИО", "Телефон", "Комментарий"], ["Анна", "+79161234567", "x" * 40_000],
             ["Б" * 32_768, "+79161234568", ""], ["Вера", "+7916\x001234569", ""], ["Гена", "+79161234570", ""]]
    if kind == "xlsx":
        path = crafted_cells_xlsx(tmp_path / "cells.xlsx", table)
    else:
        path = write_csv(tmp_path / "cells.csv", "".join(";".join(r) + "\n" for r in table))

    _, rows = read(path)

    empty = {"name": "", "phones": ""}
    assert rows == [
        Row(2, {"name": "Анна", "phones": "+79161234567"}, {}),
        Row(3, empty, {}, "the name cell has 32,768 characters, more than a spreadsheet cell holds (32,767)"),
        Row(4, empty, {}, "the phones cell holds a NUL character, which no text field can store"),
        Row(5, {"name": "Гена", "phones": "+79161234570"}, {}),
    ]


@pytest.mark.parametrize(("tail", "reason"), [
    ("x" * (1 << 24) + ";+79161234568\n", "line 3 is longer than 16,777,216 characters: not an export"),
    ('"' + "x\n" * (1 << 23) + 'x";+79161234568\n', "the row from line 3 cannot be read: field larger than"),
])
def test_a_csv_line_or_cell_past_16_mb_is_one_sheet_error_never_a_traceback(tail: str, reason: str,
                                                                         tmp_path: Path) -> None:
    """A CSV line is read whole before it is split, so a file of one huge line is refused in one
    line rather than read into memory; a quoted cell over the field limit likewise (it was a
    ``_csv.Error`` traceback)."""
    path = write_csv(tmp_path / "long.csv", "ФИО;Телефон\nАнна;+79161234567\n" + tail)

    with pytest.raises(SheetError) as caught:
        read(path)

    assert str(caught.value).startswith(f"{path}: {reason}")
