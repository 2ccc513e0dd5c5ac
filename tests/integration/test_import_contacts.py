"""``callbridge import contacts`` of real exports: xlsx with messy headers and number cells,
ods, internal duplicates, dry runs, and the call pipeline writing at the same time.

Every test imports into a real PostgreSQL and asserts the rows left there and the per-row
report (which must account for every row of the file).
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from daemon import cli
from daemon.contacts.import_report import note_kind
from daemon.contacts.import_rows import parse_birthday
from daemon.contacts.importer import import_contacts
from daemon.screen.cards import card_json, load_snapshot
from daemon.store.repository import Repository
from tests.conftest import after_database_line, auth
from tests.integration.test_import import cli_env, contacts
from tests.scenarios import replay, steps
from tests.spreadsheets import write_ods, write_xlsx

__all__ = ["cli_env"]  # a fixture of test_import, used here too

MESSY_HEADER = ["  ФИО ", "Моб.телефон", "ТЕЛЕФОНЫ", "e-mail", "Ответственный", "Метки", "Комментарий"]
MESSY_ROWS: list[list[Any]] = [
    ["Кузнецова Анна", 79161234567.0, "8 (495) 000-11-22; +7 903 111-22-33", "Anna@Example.ru", 105, "vip", "x"],
    ["Орлов Дмитрий", 9031112233, None, None, None, "горящие туры", None],      # Анна's 2nd phone
    [None, None, "89855554433\n8 985 555 44 33", "ivanov@", "106", None, None],  # one phone, twice
    ["Семья Васильевых", None, None, "vasilyevy@example.ru", None, "vip; холодный", None],
    ["Потерянный", 9.16123e21, "12-34", None, None, None, None],                   # nothing valid
    ["Васильев", None, "+7 926 000-00-01", "VASILYEVY@example.ru", None, None, None],  # = row 7
    [None, None, None, None, None, None, "только комментарий"],
]


async def read_report(path: Path) -> list[tuple[str, ...]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["row", "outcome", "contact_id", "notes"]
    return [tuple(r) for r in rows[1:]]


async def snapshot(pool: asyncpg.Pool) -> list[list[tuple[Any, ...]]]:
    return [
        [tuple(r) for r in await pool.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")]
        for table in ("contacts", "contact_identifiers", "contact_invalid_identifiers", "managers",
                      "contact_duplicate_hints")
    ]


def messy_xlsx(tmp_path: Path) -> Path:
    return write_xlsx(tmp_path / "Клиенты.xlsx", [["Выгрузка из CRM, 01.12.2026"], [], MESSY_HEADER, *MESSY_ROWS])


async def test_messy_xlsx_export_imports_in_one_command(repo: Repository, tmp_path: Path) -> None:
    """A title line, headers in odd spelling, phones as number cells and several per cell,
    a row that duplicates another by e-mail (in other case), a row whose only phone lost its
    digits in Excel: four contacts, and every row of the sheet accounted for in the report."""
    report_path = tmp_path / "report.csv"

    report = await import_contacts(repo, messy_xlsx(tmp_path), region="RU", report_path=report_path)

    assert await read_report(report_path) == [
        ("4", "created", "1", ""),
        ("5", "merged into #1", "1", ""),
        ("6", "created", "2", "not an e-mail address: 'ivanov@'"),
        ("7", "created", "3", ""),
        ("8", ("skipped: phone number cell 9.16123e+21 has more digits than Excel keeps (15): the last ones "
               "are lost; not a valid phone number: '12-34'; no valid phone or e-mail"), "", ""),
        ("9", "merged into #3", "3", ""),
        ("10", "skipped: no valid phone or e-mail", "", ""),
    ]
    assert (report.rows, report.created, report.updated, report.merged, report.skipped) == (7, 3, 0, 2, 2)
    assert await contacts(repo.pool) == [
        ("Кузнецова Анна", "105", ["vip", "горящие туры"],
         ["+74950001122", "+79031112233", "+79161234567"], ["anna@example.ru"]),
        (None, "106", [], ["+79855554433"], []),
        ("Семья Васильевых", None, ["vip", "холодный"], ["+79260000001"], ["vasilyevy@example.ru"]),
    ]
    invalid = await repo.pool.fetch("SELECT contact_id, kind, value FROM contact_invalid_identifiers")
    assert [tuple(r) for r in invalid] == [(2, "email", "ivanov@")]


async def test_a_second_import_of_the_same_export_changes_nothing(repo: Repository, tmp_path: Path) -> None:
    """Same rows, same database: nothing created or updated, every table byte for byte the same."""
    path = messy_xlsx(tmp_path)
    await import_contacts(repo, path, region="RU")
    before = await snapshot(repo.pool)

    report = await import_contacts(repo, path, region="RU", report_path=tmp_path / "second.csv")

    assert (report.created, report.updated, report.merged, report.skipped) == (0, 0, 5, 2)
    assert await snapshot(repo.pool) == before
    assert [r[1] for r in await read_report(tmp_path / "second.csv")][:3] == [
        "merged into #1", "merged into #1", "merged into #2"]


async def test_dry_run_reports_everything_and_commits_nothing(repo: Repository, tmp_path: Path) -> None:
    """``--dry-run`` gives the same outcomes as the real run would, and leaves the database as it was."""
    before = await snapshot(repo.pool)

    report = await import_contacts(repo, messy_xlsx(tmp_path), region="RU", dry_run=True,
                                   report_path=tmp_path / "dry.csv")

    assert await snapshot(repo.pool) == before
    assert (report.rows, report.created, report.merged, report.skipped, report.dry_run) == (7, 3, 2, 2, True)
    assert report.lines()[0].endswith("(пробный прогон: ничего не записано)")
    assert [r[1][:7] for r in await read_report(tmp_path / "dry.csv")] == [
        "created", "merged ", "created", "created", "skipped", "merged ", "skipped"]


async def test_rows_chained_through_shared_identifiers_and_an_existing_contact_are_one_person(
    repo: Repository, tmp_path: Path
) -> None:
    """Row 2 and row 5 share nothing directly, but 2-3 share a phone, 3-4 an e-mail and 4 holds
    a phone of existing contact #1, as does row 5: all four rows are #1, its blanks filled."""
    await repo.pool.execute(
        "INSERT INTO contacts (id, name) VALUES (1, NULL);"
        "INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ('phone', '+79990000004', 1),"
        " ('email', 'old@example.ru', 1);"
        "SELECT setval('contacts_id_seq', 1)")
    path = write_xlsx(tmp_path / "chain.xlsx", [
        ["Name", "Phone", "Email"],
        ["Первый", 79990000001, None],
        [None, "79990000001, 79990000002", "chain@example.ru"],
        [None, 79990000004, "CHAIN@example.ru"],
        [None, None, "old@example.ru"],
        ["Отдельный", 79990000009, None],
    ])

    report = await import_contacts(repo, path, region="RU", report_path=tmp_path / "r.csv")

    assert [r[:3] for r in await read_report(tmp_path / "r.csv")] == [
        ("2", "updated #1", "1"), ("3", "merged into #1", "1"), ("4", "merged into #1", "1"),
        ("5", "merged into #1", "1"), ("6", "created", "2")]
    assert (report.created, report.updated, report.merged) == (1, 1, 3)
    assert await contacts(repo.pool) == [
        ("Первый", None, [], ["+79990000001", "+79990000002", "+79990000004"], ["chain@example.ru", "old@example.ru"]),
        ("Отдельный", None, [], ["+79990000009"], []),
    ]


async def test_ods_export_imports(repo: Repository, tmp_path: Path) -> None:
    """LibreOffice's .ods, read by calamine like xlsx (``.xls`` has no writer here to test with)."""
    path = write_ods(tmp_path / "c.ods", [["Клиент", "Телефон", "Почта"], ["Анна", 79161234567, "a@example.ru"]])

    report = await import_contacts(repo, path, region="RU")

    assert report.created == 1
    assert await contacts(repo.pool) == [("Анна", None, [], ["+79161234567"], ["a@example.ru"])]


async def test_import_waits_for_a_callers_phone_lock_then_joins_the_contact_the_call_made(
    repo: Repository, tmp_path: Path
) -> None:
    """The pipeline creates a contact for an unknown caller under the advisory lock
    ``phone:<e164>``. An import adding that phone takes the same lock, so it waits for the call's
    transaction and then finds the new contact: no second contact, no unique-key error."""
    path = write_xlsx(tmp_path / "c.xlsx", [["ФИО", "Телефон"], ["Анна", 79161234567], ["Борис", 79031112233]])
    call = await repo.pool.acquire()
    try:
        tx = call.transaction()
        await tx.start()
        await call.execute("SELECT pg_advisory_xact_lock(hashtextextended('phone:+79161234567', 0))")
        importing = asyncio.create_task(import_contacts(repo, path, region="RU", report_path=tmp_path / "r.csv"))
        while not await repo.pool.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"):
            await asyncio.sleep(0.01)  # until the import waits on the call's lock
        caller = await call.fetchval(
            "WITH c AS (INSERT INTO contacts (ad_source) VALUES ('Avito') RETURNING id) "
            "INSERT INTO contact_identifiers (kind, value, contact_id) SELECT 'phone', '+79161234567', id FROM c "
            "RETURNING contact_id")
        await tx.commit()
    finally:
        await repo.pool.release(call)
    report = await importing

    assert (report.created, report.updated) == (1, 1)
    assert [r[1] for r in await read_report(tmp_path / "r.csv")] == [f"updated #{caller}", "created"]
    assert await contacts(repo.pool) == [("Анна", None, [], ["+79161234567"], []),
                                         ("Борис", None, [], ["+79031112233"], [])]


async def test_cli_options_report_sheet_map_and_dry_run(cli_env: str, repo: Repository, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``--sheet`` picks the sheet, ``--map`` reads an unknown column as phones, ``--report``
    writes the outcomes, ``--dry-run`` commits nothing and says so."""
    path = write_xlsx(tmp_path / "book.xlsx", [["Итоги"], ["ничего"]],
                      more_sheets={"Клиенты": [["Имя", "Рабочий номер"], ["Анна", 79161234567]]})
    args = ["import", "contacts", str(path), "--sheet", "Клиенты", "--map", "Рабочий номер=phones",
            "--report", str(tmp_path / "r.csv")]

    code = await asyncio.to_thread(cli.main, [*args, "--dry-run"])
    assert code == 0, capsys.readouterr().err
    assert after_database_line(capsys.readouterr().out).startswith("контакты: строк 1, создано 1, обновлено 0, объединено 0, пропущено 0, "
                                              "с замечаниями 0 (пробный прогон: ничего не записано)")
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts") == 0

    assert await asyncio.to_thread(cli.main, args) == 0
    assert await contacts(repo.pool) == [("Анна", None, [], ["+79161234567"], [])]
    assert [r[1] for r in await read_report(tmp_path / "r.csv")] == ["created"]


# -- birthday, note, columns not used, the summary ------------------------------

DETAILS_HEADER = ["ФИО", "Телефон", "Дата рождения", "Комментарий", "Ответственный", "Город", "Паспорт"]
DETAILS_ROWS: list[list[Any]] = [
    ["Анна", 79161234567, date(1985, 3, 15), "любит Турцию", "Нет Такого", "Москва", None],  # an Excel date cell
    ["Борис", 79031112233, "02.11.1990", None, None, None, "4510 123456"],
    ["Вера", 79261112233, "1979-07-01", "VIP\nзвонить после 18", None, None, None],
    ["Глеб", 79851112233, "31.02.1980", None, None, None, None],                              # no such day
    ["Дина", 79851112244, "весной", None, None, None, None],
]


async def details(pool: asyncpg.Pool) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await pool.fetch("SELECT name, birthday, note FROM contacts ORDER BY id")]


async def test_birthday_and_note_are_kept_and_unused_columns_named(repo: Repository, tmp_path: Path) -> None:
    """«Дата рождения» as an Excel date cell, dd.mm.yyyy or yyyy-mm-dd, and «Комментарий» are kept
    on the contact; a birthday that is no date is a note and the contact is imported without it.
    The columns the import does not use are named in one line."""
    path = write_xlsx(tmp_path / "u-on.xlsx", [DETAILS_HEADER, *DETAILS_ROWS])

    report = await import_contacts(repo, path, region="RU", report_path=tmp_path / "r.csv")

    assert await details(repo.pool) == [
        ("Анна", date(1985, 3, 15), "любит Турцию"), ("Борис", date(1990, 11, 2), None),
        ("Вера", date(1979, 7, 1), "VIP\nзвонить после 18"), ("Глеб", None, None), ("Дина", None, None)]
    assert [r[3] for r in await read_report(tmp_path / "r.csv")][3:] == [
        "birthday '31.02.1980' is not a date such as 15.03.1985 or 1985-03-15",
        "birthday 'весной' is not a date such as 15.03.1985 or 1985-03-15"]
    assert report.ignored_columns == ["Город", "Паспорт"]
    assert report.lines()[1:5] == [
        "пропущенные столбцы: Город, Паспорт",
        "  дата рождения — не дата вида 15.03.1985: 2 строки",
        "    строка 5: дата рождения '31.02.1980' — не дата вида 15.03.1985 или 1985-03-15",
        "    строка 6: дата рождения 'весной' — не дата вида 15.03.1985 или 1985-03-15"]


async def test_a_second_import_fills_a_blank_birthday_and_note_and_keeps_given_ones(
    repo: Repository, tmp_path: Path
) -> None:
    """An existing contact keeps its birthday and note; a blank one is filled (``updated``); the same
    file again changes nothing."""
    await import_contacts(repo, write_xlsx(tmp_path / "a.xlsx", [DETAILS_HEADER, *DETAILS_ROWS]), region="RU")
    path = write_xlsx(tmp_path / "b.xlsx", [["Телефон", "Д.р.", "Примечание"],
                                            [79161234567, "01.01.2000", "другое"],
                                            [79031112233, "01.01.2000", "новый комментарий"]])

    report = await import_contacts(repo, path, region="RU")
    again = await import_contacts(repo, path, region="RU")

    assert (report.updated, report.merged) == (1, 1)
    assert (again.updated, again.merged) == (0, 2)
    assert (await details(repo.pool))[:2] == [("Анна", date(1985, 3, 15), "любит Турцию"),
                                              ("Борис", date(1990, 11, 2), "новый комментарий")]


async def test_map_reads_any_column_as_birthday_or_note(repo: Repository, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "c.xlsx", [["Имя", "Телефон", "Родился", "Инфо"],
                                            ["Анна", 79161234567, "15.03.1985", "постоянный клиент"]])

    report = await import_contacts(repo, path, region="RU", mapping={"Родился": "birthday", "Инфо": "note"})

    assert report.ignored_columns == []
    assert await details(repo.pool) == [("Анна", date(1985, 3, 15), "постоянный клиент")]


async def test_the_summary_groups_notes_by_kind_with_three_example_rows(repo: Repository, tmp_path: Path) -> None:
    """Five rows with a broken e-mail, one with a broken phone and two skipped: three kinds, each
    counted once with at most three example rows, the largest first; the report file has the rest."""
    rows: list[list[Any]] = [["Имя", "Телефон", "Почта"]]
    rows += [[f"Клиент {n}", 79160000000 + n, f"client{n}@"] for n in range(5)]
    rows += [["Ошибка", "79161112233, 12-34", None], ["Пусто", None, None], ["Пусто 2", "555", None]]
    path = write_xlsx(tmp_path / "d.xlsx", rows)

    report = await import_contacts(repo, path, region="RU")

    assert report.lines()[1:-1] == [
        "  не адрес e-mail: 5 строк",
        "    строка 2: не адрес e-mail: 'client0@'",
        "    строка 3: не адрес e-mail: 'client1@'",
        "    строка 4: не адрес e-mail: 'client2@'",
        "  пропущена: нет ни верного телефона, ни верного e-mail: 2 строки",
        "    строка 8: нет ни верного телефона, ни верного e-mail",
        "    строка 9: не номер телефона: '555'; нет ни верного телефона, ни верного e-mail",
        "  не номер телефона: 1 строка",
        "    строка 7: не номер телефона: '12-34'",
        "  итог каждой строки: --report FILE",
    ]


async def analyze_counts(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch("SELECT relname, analyze_count FROM pg_stat_user_tables "
                            "WHERE relname IN ('contacts', 'contact_identifiers', 'managers')")
    return {r["relname"]: r["analyze_count"] for r in rows}


async def test_an_import_analyzes_the_tables_it_wrote_and_says_how_long_it_took(
    repo: Repository, tmp_path: Path
) -> None:
    """Statistics are fresh after an import, whatever autovacuum does (``ANALYZE`` at the end);
    the summary's last line gives its time. A dry run writes nothing and analyzes nothing."""
    path = write_xlsx(tmp_path / "e.xlsx", [DETAILS_HEADER, *DETAILS_ROWS])
    before = await analyze_counts(repo.pool)

    dry = await import_contacts(repo, path, region="RU", dry_run=True)
    assert await analyze_counts(repo.pool) == before
    assert dry.analyze_s is None

    report = await import_contacts(repo, path, region="RU")

    after = await analyze_counts(repo.pool)
    assert {name: after[name] - before.get(name, 0) for name in after} == {
        "contacts": 1, "contact_identifiers": 1, "managers": 1}
    assert report.analyze_s is not None
    assert re.fullmatch(r"статистика обновлена \(ANALYZE\) за \d+\.\d с", report.lines()[-1])


async def test_lookup_and_card_show_birthday_note_and_a_responsible_known_by_name(
    client: TestClient, repo: Repository, tmp_path: Path
) -> None:
    """What the import kept is what a manager sees: the read API's lookup and the contact's card
    give the birthday (ISO date), the note and the responsible known by name only."""
    await import_contacts(repo, write_xlsx(tmp_path / "f.xlsx", [DETAILS_HEADER, *DETAILS_ROWS]), region="RU")

    found = await (await client.get("/api/contacts/lookup", params={"phone": "89161234567"}, headers=auth())).json()
    card = await (await client.get(f"/api/contacts/{found['id']}", headers=auth())).json()

    for doc in (found, card):
        assert (doc["birthday"], doc["note"]) == ("1985-03-15", "любит Турцию")
        assert doc["responsible"] == {"extension": None, "name": "Нет Такого"}


async def test_the_screen_card_shows_birthday_note_and_a_responsible_known_by_name(
    client: TestClient, repo: Repository, tmp_path: Path
) -> None:
    """Анна calls: her card on the manager's screen carries the imported birthday and note, and
    her responsible by name (no extension yet) instead of «не назначен»."""
    await import_contacts(repo, write_xlsx(tmp_path / "g.xlsx", [DETAILS_HEADER, *DETAILS_ROWS]), region="RU")
    await replay(client, steps("answered_incoming.json"))

    snapshot = await load_snapshot(repo, "MTI4OTY2MjMzMTk=")
    assert snapshot is not None
    card = card_json(snapshot, phase="ended", region="RU")

    assert card["contact"]["name"] == "Анна"
    assert (card["contact"]["birthday"], card["contact"]["note"]) == ("1985-03-15", "любит Турцию")
    assert card["responsible"] == {"extension": None, "name": "Нет Такого"}


async def test_cli_lookup_shows_birthday_note_and_the_responsible_by_name(
    cli_env: str, repo: Repository, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``callbridge contacts lookup`` finds the contact by a phone in any spelling (or by #id) and
    prints what the import kept; ``--json`` is the card the API answers."""
    await import_contacts(repo, write_xlsx(tmp_path / "h.xlsx", [DETAILS_HEADER, *DETAILS_ROWS]), region="RU")

    assert await asyncio.to_thread(cli.main, ["contacts", "lookup", "8 (926) 111-22-33"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "#3 Вера", "  телефоны: +7 926 111-22-33", "  день рождения: 01.07.1979", "  комментарий: VIP",
        "    звонить после 18"]

    assert await asyncio.to_thread(cli.main, ["contacts", "lookup", "#1", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert (card["birthday"], card["note"], card["responsible"]) == (
        "1985-03-15", "любит Турцию", {"extension": None, "name": "Нет Такого"})

    assert await asyncio.to_thread(cli.main, ["contacts", "lookup", "+79990000000"]) == 1
    assert "no contact with phone +79990000000" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "value"), [
    ("15.03.1985", date(1985, 3, 15)), ("5.3.1985", date(1985, 3, 5)), ("1985-03-15", date(1985, 3, 15)),
    ("1985-03-15T00:00:00", date(1985, 3, 15)), ("1985-03-15 00:00:00", date(1985, 3, 15)),
])
def test_birthdays_as_exports_write_them(text: str, value: date) -> None:
    assert parse_birthday(text, today=date(2026, 12, 1)) == value


@pytest.mark.parametrize(("text", "reason"), [
    ("15.03.85", "is not a date such as"), ("31.02.1980", "is not a date such as"), ("весной", "is not a date"),
    ("01.01.1850", "is not a plausible date of birth"), ("01.01.2027", "is not a plausible date of birth"),
])
def test_a_birthday_that_cannot_be_one_says_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_birthday(text, today=date(2026, 12, 1))


@pytest.mark.parametrize(("note", "kind"), [
    ("not a valid phone number: '12-34'", "not a valid phone number"),
    ("phone number cell 9.16123e+21 has more digits than Excel keeps (15): the last ones are lost",
     "phone number cell … has more digits than Excel keeps …"),
    ("phone +79031112233 stays with contact #12", "phone or e-mail held by another contact"),
    ("e-mail a@example.ru stays with contact #3", "phone or e-mail held by another contact"),
    ("responsible Ким Анна names several managers: give the extension", "responsible names several managers"),
])
def test_a_note_without_its_values_is_its_kind(note: str, kind: str) -> None:
    assert note_kind(note) == kind
