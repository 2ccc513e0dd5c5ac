"""``callbridge import contacts`` / ``import lines`` against a real database.

The agency's spreadsheets come from Excel and CRMs: UTF-8 with or without BOM,
``;`` or ``,`` separated, several phones in one cell, phones in any spelling.
Every test here asserts the exact rows left in PostgreSQL, not just the report.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from daemon import cli
from daemon.importer import CONTACT_COLUMNS, ImportFileError, import_contacts, import_lines
from daemon.managers import sync_managers
from daemon.repository import Repository
from tests.conftest import FIXTURES, example_employees, with_database

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


async def test_shipped_contacts_file_imports_four_people_and_skips_line_6(repo: Repository) -> None:
    """The BOM'd, ``;``-separated example gives four contacts: two phones from one cell for
    Орлов, an e-mail-only contact for Иван, and the unusable ``Ошибка ввода;12345`` row is
    skipped and reported by its line number 6 (the header being line 1)."""
    report = await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")

    assert (report.rows, report.created, report.merged) == (5, 4, 0)
    assert report.skipped == [SHIPPED_SKIP]
    assert report.warnings == []
    assert report.lines("contacts") == [
        "contacts: 5 rows, 4 created, 0 merged into existing, 1 skipped",
        "  line 6: skipped: not a valid phone number: '12345'; no valid phone or e-mail",
    ]
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


# -- phone spellings and file dialects ----------------------------------------


@pytest.mark.parametrize("spelling", ["8 (916) 123-45-67", "+7 916 1234567", "79161234567", "9161234567"])
async def test_any_spelling_of_a_known_phone_merges_into_its_contact(
    spelling: str, repo: Repository, tmp_path: Path
) -> None:
    """A later row spelling Анна's number differently is her, not a new contact nor a new phone."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")

    report = await import_contacts(repo, write(tmp_path, HEADER + f";{spelling};;;\n"), region="RU")

    assert (report.rows, report.created, report.merged, report.skipped) == (1, 0, 1, [])
    assert await contacts(repo.pool) == SHIPPED
    assert await repo.pool.fetchval("SELECT count(*) FROM contact_identifiers WHERE kind = 'phone'") == 4


async def test_four_spellings_in_one_file_and_one_cell_are_one_phone(repo: Repository, tmp_path: Path) -> None:
    """Four rows with the four spellings make one contact (1 created, 3 merged); a cell listing
    all four, separated by ``/`` and ``,``, adds nothing more: one phone ``+79161234567``."""
    text = HEADER + "".join(
        f"Анна;{spelling};;;\n" for spelling in ["8 (916) 123-45-67", "+7 916 1234567", "79161234567", "9161234567"]
    ) + 'Анна;"8 (916) 123-45-67 / +7 916 1234567, 79161234567,9161234567";;;\n'

    report = await import_contacts(repo, write(tmp_path, text), region="RU")

    assert (report.rows, report.created, report.merged, report.skipped, report.warnings) == (5, 1, 4, [], [])
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

    report = await import_contacts(repo, write(tmp_path, text), region="RU")

    assert (report.rows, report.created, report.merged, report.skipped, report.warnings) == (2, 2, 0, [], [])
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

    assert (report.rows, report.created, report.skipped, report.warnings) == (1, 1, [], [])
    assert await contacts(repo.pool) == [
        ("Анна", "105", ["постоянный турист"], ["+79031112233", "+79161234567"], ["anna.k@example.ru"]),
    ]


async def test_a_skipped_row_with_a_multiline_cell_is_reported_by_its_first_line(
    repo: Repository, tmp_path: Path
) -> None:
    """The line reported for a row is the line it starts on, where a person would look for it."""
    text = HEADER + 'Ошибка ввода;"12345\n678";;;\nИван;;ivan@example.ru;;\n'

    report = await import_contacts(repo, write(tmp_path, text), region="RU")

    assert [line for line, _ in report.skipped] == [2]


async def test_unusable_values_in_a_usable_row_are_warnings(repo: Repository, tmp_path: Path) -> None:
    """A bad phone, a bad e-mail or a non-numeric extension beside something usable is a
    warning on that line; the row is imported with what is valid."""
    text = HEADER + "Иван;12345, 8 916 123-45-67;not-an-email;доб. 105;\n"

    report = await import_contacts(repo, write(tmp_path, text), region="RU")

    assert (report.created, report.skipped) == (1, [])
    assert report.warnings == [
        (2, "not a valid phone number: '12345'"),
        (2, "not a valid e-mail: 'not-an-email'"),
        (2, "responsible_extension is not an extension number: 'доб. 105'"),
    ]
    assert await contacts(repo.pool) == [("Иван", None, [], ["+79161234567"], [])]
    assert await repo.pool.fetchval("SELECT count(*) FROM managers") == 0


# -- merging into what is already there ---------------------------------------


async def test_importing_the_same_file_twice_creates_nothing_new(repo: Repository) -> None:
    """The second run merges every usable row into the contact it made the first time and
    skips line 6 again; no contact, phone, e-mail, manager or tag is added."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")
    before = (await counts(repo.pool), await contacts(repo.pool), await managers(repo.pool))

    report = await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")

    assert (report.rows, report.created, report.merged) == (5, 0, 4)
    assert report.skipped == [SHIPPED_SKIP]
    assert report.warnings == []
    assert (await counts(repo.pool), await contacts(repo.pool), await managers(repo.pool)) == before


async def test_row_sharing_only_an_email_in_other_case_merges_and_adds_the_phone(
    repo: Repository, tmp_path: Path
) -> None:
    """``IVAN@Example.RU`` is ``ivan@example.ru``: the row merges into Иван (its name and
    responsible win), and his new phone is added to him. No other contact changes."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")
    ivan = await contact_id(repo.pool, "Без телефона Иван")

    text = HEADER + "Иван Петров;+7 999 000-11-22;IVAN@Example.RU;107;\n"
    report = await import_contacts(repo, write(tmp_path, text), region="RU")

    assert (report.rows, report.created, report.merged, report.skipped, report.warnings) == (1, 0, 1, [], [])
    assert await contact_id(repo.pool, "Иван Петров") == ivan
    assert await contacts(repo.pool) == SHIPPED[:3] + [
        ("Иван Петров", "107", [], ["+79990001122"], ["ivan@example.ru"]),
    ]
    assert await repo.pool.fetchval("SELECT contact_id FROM contact_identifiers WHERE value = '+79990001122'") == ivan


async def test_a_row_with_an_empty_name_keeps_the_existing_name(repo: Repository, tmp_path: Path) -> None:
    """Only values the spreadsheet gives overwrite: an empty name or responsible keeps the old one."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")

    await import_contacts(repo, write(tmp_path, HEADER + ";;anna.k@example.ru;;\n"), region="RU")

    assert await contacts(repo.pool) == SHIPPED


async def test_a_phone_owned_by_another_contact_gives_a_warning_and_stays(
    repo: Repository, tmp_path: Path
) -> None:
    """A row with Анна's e-mail and Орлов's phone matches both: it is merged into the first
    (Анна), with a warning, and Орлов's phone is reported as staying with him — not moved."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")
    anna = await contact_id(repo.pool, "Кузнецова Анна Сергеевна")
    orlov = await contact_id(repo.pool, "Орлов Дмитрий")
    assert anna < orlov

    text = HEADER + ";+7 903 111-22-33;anna.k@example.ru;;\n"
    report = await import_contacts(repo, write(tmp_path, text), region="RU")

    assert (report.created, report.merged, report.skipped) == (0, 1, [])
    assert report.warnings == [
        (2, f"matches several contacts [{anna}, {orlov}]; merged into {anna}"),
        (2, f"phone +79031112233 stays with contact {orlov}"),
    ]
    assert await repo.pool.fetchval("SELECT contact_id FROM contact_identifiers WHERE value = '+79031112233'") == orlov
    assert await contacts(repo.pool) == SHIPPED


async def test_an_email_owned_by_another_contact_gives_a_warning_and_stays(
    repo: Repository, tmp_path: Path
) -> None:
    """The mirror case: Анна's phone with Иван's e-mail merges into Анна; the e-mail stays with Иван."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")
    anna = await contact_id(repo.pool, "Кузнецова Анна Сергеевна")
    ivan = await contact_id(repo.pool, "Без телефона Иван")

    text = HEADER + ";89161234567;ivan@example.ru;;\n"
    report = await import_contacts(repo, write(tmp_path, text), region="RU")

    assert report.warnings == [
        (2, f"matches several contacts [{anna}, {ivan}]; merged into {anna}"),
        (2, f"e-mail ivan@example.ru stays with contact {ivan}"),
    ]
    assert await contacts(repo.pool) == SHIPPED


async def test_tags_are_merged_without_duplicates(repo: Repository, tmp_path: Path) -> None:
    """Tags from a later file join the contact's tags; a tag repeated in the cell or already
    held is kept once."""
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")

    text = HEADER + ";8 916 123-45-67;;;\"vip, постоянный турист, vip,  ,горящие туры\"\n"
    await import_contacts(repo, write(tmp_path, text), region="RU")
    await import_contacts(repo, write(tmp_path, text), region="RU")

    tags = await repo.pool.fetchval("SELECT tags FROM contacts WHERE name = 'Кузнецова Анна Сергеевна'")
    assert sorted(tags) == ["vip", "горящие туры", "постоянный турист"]
    assert len(tags) == 3


async def test_responsible_extension_creates_an_unknown_manager_once(repo: Repository, tmp_path: Path) -> None:
    """Two rows naming the unknown extension 120 create one manager 120 (no name, active)
    and both contacts point at it."""
    text = HEADER + "А;+7 903 111-22-33;;120;\nБ;+7 985 555-44-33;;120;\n"

    await import_contacts(repo, write(tmp_path, text), region="RU")

    assert await managers(repo.pool) == [("120", None, None, True)]
    assert [c[1] for c in await contacts(repo.pool)] == ["120", "120"]


# -- files that cannot be read -------------------------------------------------


@pytest.mark.parametrize("missing", CONTACT_COLUMNS)
async def test_contacts_file_missing_a_column_is_refused_naming_it(
    missing: str, repo: Repository, tmp_path: Path
) -> None:
    """Without one of the five columns the file is refused as a whole, the message names the
    column, and nothing is written."""
    columns = [c for c in CONTACT_COLUMNS if c != missing]
    path = write(tmp_path, ";".join(columns) + "\n" + ";".join(["x"] * len(columns)) + "\n")

    with pytest.raises(ImportFileError, match=rf"missing column\(s\) {missing};"):
        await import_contacts(repo, path, region="RU")

    assert await counts(repo.pool) == dict.fromkeys(("contacts", "contact_identifiers", "managers", "lines"), 0)


async def test_lines_file_missing_a_column_is_refused_naming_it(repo: Repository, tmp_path: Path) -> None:
    path = write(tmp_path, "line_number;source\n74951234567;Avito\n", name="lines.csv")

    with pytest.raises(ImportFileError, match=r"missing column\(s\) ad_source;"):
        await import_lines(repo, path, region="RU")
    assert await repo.pool.fetchval("SELECT count(*) FROM lines") == 0


async def test_a_non_utf8_file_is_refused(repo: Repository, tmp_path: Path) -> None:
    """A Windows-1251 export (Excel's "CSV" in Russian Windows) is refused as not UTF-8, with
    nothing written, rather than imported as mojibake."""
    text = HEADER + "Кузнецова Анна;8 916 123-45-67;;105;\n"
    path = write(tmp_path, text, encoding="cp1251")

    with pytest.raises(ImportFileError, match="not UTF-8 text"):
        await import_contacts(repo, path, region="RU")

    assert await counts(repo.pool) == dict.fromkeys(("contacts", "contact_identifiers", "managers", "lines"), 0)


async def test_an_empty_file_is_refused(repo: Repository, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="missing column"):
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
    assert out.out.splitlines() == [
        "contacts: 5 rows, 4 created, 0 merged into existing, 1 skipped",
        "  line 6: skipped: not a valid phone number: '12345'; no valid phone or e-mail",
    ]
    assert await contacts(repo.pool) == SHIPPED

    code = await asyncio.to_thread(cli.main, ["import", "lines", str(FIXTURES / "lines.csv")])
    assert code == 0
    assert capsys.readouterr().out == "lines: 2 rows, 2 created, 0 merged into existing, 0 skipped\n"
    assert await repo.pool.fetchval("SELECT ad_source FROM lines WHERE line_key = '+74951234567'") == "Яндекс.Директ"


async def test_cli_refuses_a_non_utf8_file_with_exit_1(cli_env: str, repo: Repository, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, HEADER + "Анна;8 916 123-45-67;;;\n", encoding="cp1251")

    code = await asyncio.to_thread(cli.main, ["import", "contacts", str(path)])

    out = capsys.readouterr()
    assert code == 1
    assert out.err.startswith("callbridge: import: ") and "not UTF-8 text" in out.err
    assert out.out == ""
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
    assert done.stdout == "lines: 2 rows, 2 created, 0 merged into existing, 0 skipped\n"
    rows = await repo.pool.fetch("SELECT line_key, ad_source FROM lines ORDER BY line_key")
    assert [tuple(r) for r in rows] == [("+74951234567", "Яндекс.Директ"), ("+74957654321", "Avito")]
