"""``callbridge import contacts`` / ``import lines`` against a real database.

The agency's spreadsheets come from Excel and CRMs: UTF-8 with or without BOM,
``;`` or ``,`` separated, several phones in one cell, phones in any spelling.
Every test here asserts the exact rows left in PostgreSQL, not just the report.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from daemon import cli
from daemon.calls.lines import ImportFileError, import_lines
from daemon.calls.managers import sync_managers
from daemon.contacts.importer import ImportReport, import_contacts
from daemon.store.choice import describe_url
from daemon.store.repository import Repository
from tests.conftest import FIXTURES, after_database_line, example_employees, with_database

CONTACT_COLUMNS = ("name", "phones", "email", "responsible_extension", "tags")

HEADER = "name;phones;email;responsible_extension;tags\n"
SHIPPED = [
    # (name, responsible extension, tags, phones, emails), in file order
    ("Кузнецова Анна Сергеевна", "105", ["постоянный турист"], ["+79161234567"], ["anna.k@example.ru"]),
    ("Орлов Дмитрий", "106", [], ["+74950001122", "+79031112233"], []),
    ("Семья Васильевых", None, ["холодный"], ["+79855554433"], ["vasilyevy@example.ru"]),
    ("Без телефона Иван", "105", [], [], ["ivan@example.ru"]),
]
SHIPPED_SKIP = (6, "not a valid phone number: '12345'; no valid phone or e-mail")


def write(tmp_path: Path, text: str, *, name: str = "contacts.csv", encoding: str = "utf-8",
          bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


async def contacts(pool: asyncpg.Pool) -> list[tuple[Any, ...]]:
    """Every contact as (name, responsible extension, tags, phones, e-mails), by id."""
    rows = await pool.fetch(
        """
        SELECT c.name, m.extension, c.tags,
               ARRAY(SELECT p.value FROM contact_identifiers p
                     WHERE p.contact_id = c.id AND p.kind = 'phone' ORDER BY p.value) AS phones,
               ARRAY(SELECT e.value FROM contact_identifiers e
                     WHERE e.contact_id = c.id AND e.kind = 'email' ORDER BY e.value) AS emails
        FROM contacts c LEFT JOIN managers m ON m.id = c.responsible_id
        ORDER BY c.id
        """
    )
    return [(r["name"], r["extension"], list(r["tags"]), list(r["phones"]), list(r["emails"])) for r in rows]


async def managers(pool: asyncpg.Pool) -> list[tuple[Any, ...]]:
    rows = await pool.fetch("SELECT extension, name, email, active FROM managers ORDER BY extension")
    return [tuple(r) for r in rows]


async def counts(pool: asyncpg.Pool) -> dict[str, int]:
    return {
        table: await pool.fetchval(f"SELECT count(*) FROM {table}")
        for table in ("contacts", "contact_identifiers", "managers", "lines")
    }


async def contact_id(pool: asyncpg.Pool, name: str) -> int:
    return await pool.fetchval("SELECT id FROM contacts WHERE name = $1", name)


# -- the shipped contacts.csv --------------------------------------------------


async def run(repo: Repository, path: Path, **options: Any) -> tuple[ImportReport, list[tuple[str, ...]]]:
    """Import with a --report file; the report's rows as (row, outcome, contact_id, notes)."""
    report_path = Path(tempfile.mkdtemp(prefix="callbridge-report-")) / "report.csv"
    report = await import_contacts(repo, path, region="RU", report_path=report_path, **options)
    with report_path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["row", "outcome", "contact_id", "notes"]
    return report, [tuple(r) for r in rows[1:]]


def counts_of(report: ImportReport) -> tuple[int, ...]:
    return report.rows, report.created, report.updated, report.merged, report.skipped


async def test_shipped_contacts_file_imports_four_people_and_skips_line_6(repo: Repository) -> None:
    """The BOM'd, ``;``-separated example gives four contacts: two phones from one cell for
    Орлов, an e-mail-only contact for Иван, and the unusable ``Ошибка ввода;12345`` row is
    skipped and reported by its line number 6 (the header being line 1)."""
    report, rows = await run(repo, FIXTURES / "contacts.csv")

    assert counts_of(report) == (5, 4, 0, 0, 1)
    *lines, analyzed = report.lines("contacts")
    assert lines == [
        "контакты: строк 5, создано 4, обновлено 0, объединено 0, пропущено 1, с замечаниями 0",
        "  пропущена: нет ни верного телефона, ни верного e-mail: 1 строка",
        "    строка 6: не номер телефона: '12345'; нет ни верного телефона, ни верного e-mail",
    ]
    assert re.fullmatch(r"статистика обновлена \(ANALYZE\) за \d+\.\d с", analyzed)
    assert rows == [("2", "created", "1", ""), ("3", "created", "2", ""), ("4", "created", "3", ""),
                    ("5", "created", "4", ""), ("6", "skipped: " + SHIPPED_SKIP[1], "", "")]
    assert await contacts(repo.pool) == SHIPPED
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts WHERE name = 'Ошибка ввода'") == 0


async def test_shipped_file_creates_unknown_responsible_managers_by_extension(repo: Repository) -> None:
    """``responsible_extension`` 105 and 106 are not known yet: each becomes an active manager
    with only its extension (the PBX sync fills the name later); 105 is created once though two
    rows name it."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")

    assert await managers(repo.pool) == [("105", None, None, True), ("106", None, None, True)]
    anna = await contact_id(repo.pool, "Кузнецова Анна Сергеевна")
    ivan = await contact_id(repo.pool, "Без телефона Иван")
    assert await repo.pool.fetchval(
        "SELECT count(DISTINCT responsible_id) FROM contacts WHERE id = ANY($1::bigint[])", [anna, ivan]
    ) == 1


async def test_known_responsible_extension_reuses_the_synced_manager(repo: Repository) -> None:
    """After a PBX sync, importing does not create a second manager 105 nor touch its name."""
    await sync_managers(repo, example_employees())
    before = await managers(repo.pool)

    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")

    assert await managers(repo.pool) == before
    assert [c[1] for c in await contacts(repo.pool)] == ["105", "106", None, "105"]


async def test_responsible_given_by_a_managers_name(repo: Repository, tmp_path: Path) -> None:
    """«Ответственный» may hold the manager's name in any case, spacing and word order, ё or е;
    a name no manager has becomes one manager known by name only (no extension), shared by every
    row that names it; a name two managers share is a note, and no manager is made for it."""
    await repo.pool.execute("INSERT INTO managers (extension, name) VALUES ('105', 'Семёнова Ольга'),"
                            " ('106', 'Орлов Пётр'), ('107', 'Ким Анна'), ('108', 'Анна Ким')")
    text = ("ФИО;Телефон;Ответственный\nА;+7 903 111-22-33;  ольга   семенова\nБ;+7 985 555-44-33;Нет Такого\n"
            "В;+7 985 555-44-34;такого нет\nГ;+7 985 555-44-35;Ким Анна\n")

    report, rows = await run(repo, write(tmp_path, text))

    assert rows == [("2", "created", "1", ""), ("3", "created", "2", ""), ("4", "created", "3", ""),
                    ("5", "created", "4", "responsible Ким Анна names several managers: give the extension")]
    named = await repo.pool.fetch("SELECT id, extension, name FROM managers WHERE extension IS NULL")
    assert [tuple(r)[1:] for r in named] == [(None, "Нет Такого")]
    assert await repo.pool.fetch("SELECT name, responsible_id FROM contacts ORDER BY id") == [
        ("А", await repo.pool.fetchval("SELECT id FROM managers WHERE extension = '105'")),
        ("Б", named[0]["id"]), ("В", named[0]["id"]), ("Г", None)]
    assert report.noted == 1

    await run(repo, write(tmp_path, "ФИО;Телефон;Ответственный\nД;+7 985 555-44-36;НЕТ ТАКОГО\n"))
    assert await repo.pool.fetchval("SELECT count(*) FROM managers WHERE extension IS NULL") == 1


# -- phone spellings and file dialects ----------------------------------------


@pytest.mark.parametrize("spelling", ["8 (916) 123-45-67", "+7 916 1234567", "79161234567", "9161234567"])
async def test_any_spelling_of_a_known_phone_merges_into_its_contact(
    spelling: str, repo: Repository, tmp_path: Path
) -> None:
    """A later row spelling Анна's number differently is her, not a new contact nor a new phone;
    it brings nothing new, so she is not "updated"."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")
    anna = await contact_id(repo.pool, "Кузнецова Анна Сергеевна")

    report, rows = await run(repo, write(tmp_path, HEADER + f";{spelling};;;\n"))

    assert counts_of(report) == (1, 0, 0, 1, 0)
    assert rows == [("2", f"merged into #{anna}", str(anna), "")]
    assert await contacts(repo.pool) == SHIPPED
    assert await repo.pool.fetchval("SELECT count(*) FROM contact_identifiers WHERE kind = 'phone'") == 4


async def test_four_spellings_in_one_file_and_one_cell_are_one_phone(repo: Repository, tmp_path: Path) -> None:
    """Four rows with the four spellings make one contact (1 created, 4 merged into it); a cell
    listing all four, separated by ``/`` and ``,``, adds nothing more: one phone ``+79161234567``."""
    text = HEADER + "".join(
        f"Анна;{spelling};;;\n" for spelling in ["8 (916) 123-45-67", "+7 916 1234567", "79161234567", "9161234567"]
    ) + 'Анна;"8 (916) 123-45-67 / +7 916 1234567, 79161234567,9161234567";;;\n'

    report, rows = await run(repo, write(tmp_path, text))

    assert counts_of(report) == (5, 1, 0, 4, 0)
    assert [r[1] for r in rows] == ["created"] + ["merged into #1"] * 4
    assert await contacts(repo.pool) == [("Анна", None, [], ["+79161234567"], [])]


async def test_comma_separated_file_without_bom_with_two_phones_in_a_quoted_cell(
    repo: Repository, tmp_path: Path
) -> None:
    """A CRM export: ``,`` separators, no BOM, the phones cell quoted because it holds a comma;
    quoted tags with commas are split into separate tags."""
    text = (
        "name,phones,email,responsible_extension,tags\n"
        '"Орлов, Дмитрий","+7 903 111-22-33, 8-495-000-11-22",Orlov@Example.RU,106,"vip, горящие туры"\n'
        "Семья Васильевых,+7(985)5554433,,,\n"
    )

    report, _ = await run(repo, write(tmp_path, text))

    assert counts_of(report) == (2, 2, 0, 0, 0) and report.noted == 0
    assert await contacts(repo.pool) == [
        ("Орлов, Дмитрий", "106", ["vip", "горящие туры"], ["+74950001122", "+79031112233"], ["orlov@example.ru"]),
        ("Семья Васильевых", None, [], ["+79855554433"], []),
    ]


async def test_excel_crlf_file_with_capitalised_header_and_multiline_phone_cell(
    repo: Repository, tmp_path: Path
) -> None:
    """Excel on Windows writes CRLF line ends and keeps its header's capitals; Alt+Enter in a
    cell puts a line break between two phones. All of it reads as usual."""
    text = (
        "Name;Phones;Email;Responsible_Extension;Tags\r\n"
        'Анна;"8 916 123-45-67\r\n+7 903 111-22-33";Anna.K@example.ru;105;постоянный турист\r\n'
    )

    report = await import_contacts(repo, write(tmp_path, text, bom=True), region="RU")

    assert counts_of(report) == (1, 1, 0, 0, 0) and report.noted == 0
    assert await contacts(repo.pool) == [
        ("Анна", "105", ["постоянный турист"], ["+79031112233", "+79161234567"], ["anna.k@example.ru"]),
    ]


async def test_a_skipped_row_with_a_multiline_cell_is_reported_by_its_first_line(
    repo: Repository, tmp_path: Path
) -> None:
    """The line reported for a row is the line it starts on, where a person would look for it."""
    text = HEADER + 'Ошибка ввода;"12345\n678";;;\nИван;;ivan@example.ru;;\n'

    _, rows = await run(repo, write(tmp_path, text))

    assert [(r[0], r[1][:8]) for r in rows] == [("2", "skipped:"), ("4", "created")]


async def test_unusable_values_in_a_usable_row_are_kept_as_invalid_and_noted(
    repo: Repository, tmp_path: Path
) -> None:
    """A bad phone or e-mail beside something usable is kept on the contact as an invalid
    identifier (never used to find anyone) and noted on the row; an unknown responsible too."""
    text = HEADER + "Иван;12345, 8 916 123-45-67;not-an-email;доб. 105;\n"

    report, rows = await run(repo, write(tmp_path, text))

    assert (report.created, report.skipped, report.noted) == (1, 0, 1)
    assert rows == [("2", "created", "1", ("not a valid phone number: '12345'; not an e-mail address: "
                     "'not-an-email'; responsible доб. 105 is neither an extension nor a name"))]
    assert await contacts(repo.pool) == [("Иван", None, [], ["+79161234567"], [])]
    invalid = await repo.pool.fetch("SELECT contact_id, kind, value, reason FROM contact_invalid_identifiers"
                                    " ORDER BY kind DESC")
    assert [tuple(r) for r in invalid] == [(1, "phone", "12345", "not a valid phone number"),
                                           (1, "email", "not-an-email", "not an e-mail address")]
    assert await repo.pool.fetchval("SELECT count(*) FROM managers") == 0


# -- merging into what is already there ---------------------------------------


async def test_importing_the_same_file_twice_creates_nothing_new(repo: Repository) -> None:
    """The second run merges every usable row into the contact it made the first time, updates
    none, and skips line 6 again; no contact, phone, e-mail, manager or tag is added or touched."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")
    before = (await counts(repo.pool), await contacts(repo.pool), await managers(repo.pool),
              await repo.pool.fetch("SELECT * FROM contacts ORDER BY id"))

    report, rows = await run(repo, FIXTURES.joinpath("contacts.csv"))

    assert counts_of(report) == (5, 0, 0, 4, 1)
    assert [r[1] for r in rows] == ["merged into #1", "merged into #2", "merged into #3", "merged into #4",
                                    "skipped: " + SHIPPED_SKIP[1]]
    assert (await counts(repo.pool), await contacts(repo.pool), await managers(repo.pool),
            await repo.pool.fetch("SELECT * FROM contacts ORDER BY id")) == before


async def test_row_sharing_only_an_email_in_other_case_merges_and_adds_the_phone(
    repo: Repository, tmp_path: Path
) -> None:
    """``IVAN@Example.RU`` is ``ivan@example.ru``: the row is Иван, who keeps his name and
    responsible (existing values are kept) and gains the new phone: "updated"."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")
    ivan = await contact_id(repo.pool, "Без телефона Иван")

    text = HEADER + "Иван Петров;+7 999 000-11-22;IVAN@Example.RU;107;\n"
    report, rows = await run(repo, write(tmp_path, text))

    assert counts_of(report) == (1, 0, 1, 0, 0)
    assert rows == [("2", f"updated #{ivan}", str(ivan), "")]
    assert await contacts(repo.pool) == SHIPPED[:3] + [
        ("Без телефона Иван", "105", [], ["+79990001122"], ["ivan@example.ru"]),
    ]
    assert await repo.pool.fetchval("SELECT contact_id FROM contact_identifiers WHERE value = '+79990001122'") == ivan


async def test_blanks_are_filled_and_existing_values_kept(repo: Repository, tmp_path: Path) -> None:
    """A contact the pipeline made for an unknown caller has no name: the import gives it one
    and a responsible; an empty name in the file never blanks an existing one."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")
    await repo.pool.execute("INSERT INTO contacts (id, ad_source) VALUES (100, 'Avito');"
                            "INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ('phone', '+79991112233', 100)")

    text = HEADER + ";;anna.k@example.ru;;\nНовый Клиент;8 999 111 22 33;;106;\n"
    _, rows = await run(repo, write(tmp_path, text))

    assert rows == [("2", "merged into #1", "1", ""), ("3", "updated #100", "100", "")]
    assert (await contacts(repo.pool))[:4] == SHIPPED
    assert (await contacts(repo.pool))[4] == ("Новый Клиент", "106", [], ["+79991112233"], [])


async def test_a_row_linking_two_existing_contacts_proposes_them_as_duplicates(
    repo: Repository, tmp_path: Path
) -> None:
    """A row with Анна's e-mail and Орлов's phone is one person with two contacts. The import
    does not merge existing contacts (that moves calls and leads: ``contacts merge``): the row
    goes to the lower id, Орлов's phone stays with him, the note says so, and the pair becomes
    a duplicate hint carrying the file and row."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")
    anna = await contact_id(repo.pool, "Кузнецова Анна Сергеевна")
    orlov = await contact_id(repo.pool, "Орлов Дмитрий")

    text = HEADER + ";+7 903 111-22-33;anna.k@example.ru;;\n"
    _, rows = await run(repo, write(tmp_path, text, name="manager.csv"))

    assert rows == [("2", f"merged into #{anna}", str(anna), f"phone +79031112233 stays with contact #{orlov}")]
    assert await repo.pool.fetchval("SELECT contact_id FROM contact_identifiers WHERE value = '+79031112233'") == orlov
    assert await contacts(repo.pool) == SHIPPED
    hints = await repo.pool.fetch("SELECT contact_low, contact_high, reason, evidence::text FROM contact_duplicate_hints")
    assert [tuple(h) for h in hints] == [(anna, orlov, "identifier", '{"row": 2, "file": "manager.csv", "source": "import"}')]


async def test_a_pair_marked_not_duplicate_is_not_hinted_again(repo: Repository, tmp_path: Path) -> None:
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")
    await repo.pool.execute("INSERT INTO contact_not_duplicates (contact_low, contact_high) VALUES (1, 2)")

    await run(repo, write(tmp_path, HEADER + ";+7 903 111-22-33;anna.k@example.ru;;\n"))

    assert await repo.pool.fetchval("SELECT count(*) FROM contact_duplicate_hints") == 0


async def test_tags_are_merged_without_duplicates(repo: Repository, tmp_path: Path) -> None:
    """Tags from a later file join the contact's tags; a tag repeated in the cell or already
    held is kept once; the second identical import changes nothing."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")

    text = HEADER + ";8 916 123-45-67;;;\"vip, постоянный турист, vip,  ,горящие туры\"\n"
    first = await import_contacts(repo, write(tmp_path, text), region="RU")
    second = await import_contacts(repo, write(tmp_path, text), region="RU")

    tags = await repo.pool.fetchval("SELECT tags FROM contacts WHERE name = 'Кузнецова Анна Сергеевна'")
    assert tags == ["постоянный турист", "vip", "горящие туры"]
    assert (first.updated, second.updated, second.merged) == (1, 0, 1)


async def test_responsible_extension_creates_an_unknown_manager_once(repo: Repository, tmp_path: Path) -> None:
    """Two rows naming the unknown extension 120 create one manager 120 (no name, active)
    and both contacts point at it."""
    text = HEADER + "А;+7 903 111-22-33;;120;\nБ;+7 985 555-44-33;;120;\n"

    await import_contacts(repo, write(tmp_path, text), region="RU")

    assert await managers(repo.pool) == [("120", None, None, True)]
    assert [c[1] for c in await contacts(repo.pool)] == ["120", "120"]


# -- files that cannot be read -------------------------------------------------


@pytest.mark.parametrize("missing", ["name", "responsible_extension", "tags"])
async def test_contacts_file_without_an_optional_column_imports(
    missing: str, repo: Repository, tmp_path: Path
) -> None:
    """Only a phone or an e-mail column is needed; the others may be absent."""
    columns = [c for c in CONTACT_COLUMNS if c != missing]
    values = {"name": "Анна", "phones": "89161234567", "email": "a@example.ru", "responsible_extension": "105",
              "tags": "vip"}
    path = write(tmp_path, ";".join(columns) + "\n" + ";".join(values[c] for c in columns) + "\n")

    report = await import_contacts(repo, path, region="RU")

    assert report.created == 1


async def test_contacts_file_without_phone_and_email_columns_is_refused(repo: Repository, tmp_path: Path) -> None:
    """Nothing can find a person without a phone or an e-mail: the file is refused as a whole,
    naming what it found, and nothing is written."""
    path = write(tmp_path, "name;tags\nАнна;vip\n")

    with pytest.raises(ImportFileError, match=r"no phone or e-mail column; found 'name' \(name\), 'tags'"):
        await import_contacts(repo, path, region="RU")

    assert await counts(repo.pool) == dict.fromkeys(("contacts", "contact_identifiers", "managers", "lines"), 0)


async def test_lines_file_missing_a_column_is_refused_naming_it(repo: Repository, tmp_path: Path) -> None:
    path = write(tmp_path, "line_number;comment\n74951234567;Avito\n", name="lines.csv")

    with pytest.raises(ImportFileError, match=r"missing column\(s\) ad_source;"):
        await import_lines(repo, path, region="RU")
    assert await repo.pool.fetchval("SELECT count(*) FROM lines") == 0


async def test_a_windows_1251_file_is_read(repo: Repository, tmp_path: Path) -> None:
    """A Windows-1251 export (Excel's "CSV" in Russian Windows) is recognised and imported with
    its Cyrillic intact, not refused and not mojibake."""
    text = HEADER + "Кузнецова Анна;8 916 123-45-67;;105;постоянный турист\n"
    path = write(tmp_path, text, encoding="cp1251")

    await import_contacts(repo, path, region="RU")

    assert await contacts(repo.pool) == [("Кузнецова Анна", "105", ["постоянный турист"], ["+79161234567"], [])]


async def test_an_empty_file_is_refused(repo: Repository, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="the file is empty"):
        await import_contacts(repo, write(tmp_path, ""), region="RU")


# -- lines.csv -----------------------------------------------------------------


async def test_shipped_lines_file_keys_lines_by_e164(repo: Repository) -> None:
    """``74951234567`` is stored under ``+74951234567``, with its ad source and the text as given."""
    report = await import_lines(repo, FIXTURES / "lines.csv", region="RU")

    assert (report.rows, report.created, report.merged, report.skipped) == (2, 2, 0, [])
    rows = await repo.pool.fetch("SELECT line_key, line_number, ad_source FROM lines ORDER BY line_key")
    assert [tuple(r) for r in rows] == [
        ("+74951234567", "74951234567", "Яндекс.Директ"),
        ("+74957654321", "74957654321", "Avito"),
    ]


async def test_reimporting_a_line_with_a_new_ad_source_updates_it(repo: Repository, tmp_path: Path) -> None:
    """The same line in another spelling is the same line: its ad source and text are replaced
    (merged, not created); a SIP line is kept verbatim; a row without an ad source is skipped."""
    await import_lines(repo, FIXTURES / "lines.csv", region="RU")
    text = (
        "line_number;ad_source\n"
        "8 (495) 123-45-67;Google Ads\n"
        "sip:promo@vpbx400000001.mangosip.ru;Сайт\n"
        "74957654321;\n"
    )

    report = await import_lines(repo, write(tmp_path, text, name="lines2.csv"), region="RU")

    assert (report.rows, report.created, report.merged) == (3, 1, 1)
    assert report.skipped == [(4, "line_number and ad_source are both required")]
    rows = await repo.pool.fetch("SELECT line_key, line_number, ad_source FROM lines ORDER BY line_key")
    assert [tuple(r) for r in rows] == [
        ("+74951234567", "8 (495) 123-45-67", "Google Ads"),
        ("+74957654321", "74957654321", "Avito"),
        ("sip:promo@vpbx400000001.mangosip.ru", "sip:promo@vpbx400000001.mangosip.ru", "Сайт"),
    ]


# -- the command line ----------------------------------------------------------


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment ``callbridge`` reads, pointing at this test's database. Logging is left
    as the test session configured it (main() would bind it to this test's captured stderr)."""
    for name in list(os.environ):
        if name.startswith("CALLBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CALLBRIDGE_DATABASE_URL", db_url)
    monkeypatch.setattr(cli, "configure_logging", lambda **_: None)
    return db_url


async def test_cli_import_contacts_then_lines(cli_env: str, repo: Repository,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``callbridge import contacts FILE`` prints the report and exits 0; the database holds
    the same rows as a direct import. ``import lines`` likewise."""
    code = await asyncio.to_thread(cli.main, ["import", "contacts", str(FIXTURES / "contacts.csv")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert out.out.splitlines()[:-1] == [
        f"database: {describe_url(cli_env)}",
        "контакты: строк 5, создано 4, обновлено 0, объединено 0, пропущено 1, с замечаниями 0",
        "  пропущена: нет ни верного телефона, ни верного e-mail: 1 строка",
        "    строка 6: не номер телефона: '12345'; нет ни верного телефона, ни верного e-mail",
    ]
    assert await contacts(repo.pool) == SHIPPED

    code = await asyncio.to_thread(cli.main, ["import", "lines", str(FIXTURES / "lines.csv")])
    assert code == 0
    assert after_database_line(capsys.readouterr().out) == "линии: строк 2, создано 2, обновлено существующих 0, пропущено 0\n"
    assert await repo.pool.fetchval("SELECT ad_source FROM lines WHERE line_key = '+74951234567'") == "Яндекс.Директ"


@pytest.mark.parametrize(("content", "reason"), [
    (b"%PDF-1.7 ...", "a PDF document, not a spreadsheet or CSV file"),
    ("Дата;Сумма\n01.11;100\n".encode(), "no recognisable column; expected a header with one of name: "),
    ("ФИО;Метки\nАнна;vip\n".encode(), "no phone or e-mail column; found 'ФИО' (name), 'Метки' (tags)"),
])
async def test_cli_refuses_a_bad_file_with_one_line_and_exit_2(
    content: bytes, reason: str, cli_env: str, repo: Repository, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that is no table, or has no column we know, is the user's to fix: exit code 2,
    one line on stderr naming the file and the reason, nothing on stdout, nothing written."""
    path = tmp_path / "export.xlsx"
    path.write_bytes(content)

    code = await asyncio.to_thread(cli.main, ["import", "contacts", str(path)])

    out = capsys.readouterr()
    assert code == 2
    assert out.err.startswith(f"callbridge: import: {path}: {reason}")
    assert out.err.count("\n") == 1
    assert out.out == f"database: {describe_url(cli_env)}\n"
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts") == 0


async def test_a_missing_file_is_reported_as_a_missing_file(repo: Repository, tmp_path: Path) -> None:
    """A path that does not exist is the user's mistake, not the database's: FileNotFoundError
    naming the path, nothing written."""
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        await import_contacts(repo, tmp_path / "nope.csv", region="RU")


async def test_cli_reports_a_missing_file_by_its_name_with_exit_1(
    cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``callbridge import contacts nope.csv`` exits 1 with a line naming the file, and does
    not blame PostgreSQL."""
    code = await asyncio.to_thread(cli.main, ["import", "contacts", str(tmp_path / "nope.csv")])

    err = capsys.readouterr().err
    assert code == 1
    assert "nope.csv" in err and "PostgreSQL" not in err


async def test_cli_with_a_database_that_does_not_exist_exits_1_with_one_line(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped database name is a configuration error: one line on stderr, exit 1."""
    monkeypatch.setenv("CALLBRIDGE_DATABASE_URL", with_database(cli_env, "callbridge_no_such_db"))

    code = await asyncio.to_thread(cli.main, ["import", "contacts", str(FIXTURES / "contacts.csv")])

    assert code == 1
    assert capsys.readouterr().err.startswith("callbridge: import: ")


async def test_installed_callbridge_script_imports_lines(db_url: str, repo: Repository) -> None:
    """The console script itself, in its own process, with only the environment to go on."""
    script = Path(sys.executable).with_name("callbridge")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBRIDGE_")}
    env.update(CALLBRIDGE_DATABASE_URL=db_url, CALLBRIDGE_LOG_LEVEL="warning")

    done = await asyncio.to_thread(
        subprocess.run, [str(script), "import", "lines", str(FIXTURES / "lines.csv")],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )

    assert done.returncode == 0, done.stderr
    assert after_database_line(done.stdout) == "линии: строк 2, создано 2, обновлено существующих 0, пропущено 0\n"
    rows = await repo.pool.fetch("SELECT line_key, ad_source FROM lines ORDER BY line_key")
    assert [tuple(r) for r in rows] == [("+74951234567", "Яндекс.Директ"), ("+74957654321", "Avito")]
