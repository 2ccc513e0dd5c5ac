"""``callbridge sync-managers``: the PBX's employees become managers.

The PBX is stood in for by a real aiohttp server on 127.0.0.1 that checks every
request's signature (``adapters.mango.signature.verify``) the way the real API
does, and answers 401 to a badly signed one.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.mango.client import Employee, MangoClient, PbxApiError
from adapters.mango.signature import verify
from daemon import cli
from daemon.calls.managers import SyncReport, sync_managers
from daemon.contacts.importer import import_contacts
from daemon.store.repository import Repository
from tests.conftest import API_KEY, API_SALT, after_database_line, fixture_json

USERS_PATH = "/vpbx/config/users/request"
EXPECTED = [
    Employee(extension="105", name="Иванова Мария", email="ivanova@example-travel.ru", user_id=300049012),
    Employee(extension="106", name="Петров Алексей", email="petrov@example-travel.ru", user_id=300049013),
    Employee(extension="101", name="Смирнова Ольга", email="admin@example-travel.ru", user_id=300049001),
]
SYNCED = [
    ("101", "Смирнова Ольга", "admin@example-travel.ru", 300049001, True),
    ("105", "Иванова Мария", "ivanova@example-travel.ru", 300049012, True),
    ("106", "Петров Алексей", "petrov@example-travel.ru", 300049013, True),
]


@dataclass
class StandInPbx:
    """What the stand-in answers, and what it was asked (only correctly signed requests)."""

    url: str = ""
    status: int = 200
    answer: Any = field(default_factory=lambda: fixture_json("config_users_response.json")["response"])
    delay_s: float = 0.0
    requests: list[Any] = field(default_factory=list)
    badly_signed: list[dict[str, str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        key, sign, raw = (form.get(name) for name in ("vpbx_api_key", "sign", "json"))
        if not all(isinstance(v, str) for v in (key, sign, raw)) or not verify(
            api_key=API_KEY, api_salt=API_SALT, sent_key=key, json_text=raw, sent_sign=sign
        ):
            self.badly_signed.append({k: str(v) for k, v in form.items()})
            return web.json_response({"result": 3102}, status=401)
        self.requests.append(json.loads(raw))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        body = self.answer if isinstance(self.answer, str) else json.dumps(self.answer, ensure_ascii=False)
        return web.Response(status=self.status, text=body, content_type="application/json",
                            headers={"X-Uuid": "stand-in-request-1"})


@pytest.fixture
async def pbx() -> AsyncIterator[StandInPbx]:
    stand_in = StandInPbx()
    app = web.Application()
    app.router.add_post(USERS_PATH, stand_in.handle)
    async with TestServer(app, host="127.0.0.1", port=0) as server:
        stand_in.url = str(server.make_url("/vpbx/"))
        yield stand_in
    assert stand_in.badly_signed == [], "callbridge sent a request the PBX would refuse"


@pytest.fixture
async def mango(pbx: StandInPbx) -> AsyncIterator[MangoClient]:
    async with aiohttp.ClientSession() as session:
        yield MangoClient(session, base_url=pbx.url, api_key=API_KEY, api_salt=API_SALT, timeout_s=2)


async def managers(pool: asyncpg.Pool) -> list[tuple[Any, ...]]:
    rows = await pool.fetch("SELECT extension, name, email, pbx_user_id, active FROM managers ORDER BY extension")
    return [tuple(r) for r in rows]


def users(*extensions: str) -> dict[str, Any]:
    """The fixture's answer, keeping only the users with these extensions."""
    answer = copy.deepcopy(fixture_json("config_users_response.json")["response"])
    answer["users"] = [u for u in answer["users"] if u["telephony"]["extension"] in extensions]
    return answer


# -- the PBX client ------------------------------------------------------------


async def test_employees_are_read_from_a_signed_users_request(mango: MangoClient, pbx: StandInPbx) -> None:
    """One correctly signed ``config/users/request`` asking for user ids; the three employees
    come back in the PBX's order with names, e-mails and user ids."""
    assert await mango.employees() == EXPECTED
    assert pbx.requests == [{"ext_fields": ["general.user_id"]}]


async def test_the_stand_in_refuses_a_bad_signature(pbx: StandInPbx) -> None:
    """The stand-in really checks: a client with the wrong salt gets HTTP 401 as PbxApiError."""
    async with aiohttp.ClientSession() as session:
        wrong = MangoClient(session, base_url=pbx.url, api_key=API_KEY, api_salt="wrong-salt", timeout_s=2)
        with pytest.raises(PbxApiError) as caught:
            await wrong.employees()
    assert caught.value.status == 401
    assert len(pbx.badly_signed) == 1 and pbx.requests == []
    pbx.badly_signed.clear()  # expected here; the fixture fails any other test that sends one


async def test_users_without_an_extension_are_left_out_and_values_normalised(
    mango: MangoClient, pbx: StandInPbx
) -> None:
    """A user without an extension (an office account) is not an employee to route to; a
    numeric extension, an upper-case e-mail, a string user id and an empty name are tidied."""
    pbx.answer = {"users": [
        {"general": {"name": "Бухгалтерия", "email": "buh@example-travel.ru", "user_id": 1}, "telephony": {}},
        {"general": {"name": "", "email": "New@Example-Travel.RU", "user_id": "300049020"},
         "telephony": {"extension": 107}},
        {"general": {"name": "Без почты"}, "telephony": {"extension": " 108 "}},
    ]}

    assert await mango.employees() == [
        Employee(extension="107", name=None, email="new@example-travel.ru", user_id=300049020),
        Employee(extension="108", name="Без почты", email=None, user_id=None),
    ]


@pytest.mark.parametrize("status", [500, 502, 403])
async def test_an_http_error_is_a_pbx_api_error(status: int, mango: MangoClient, pbx: StandInPbx) -> None:
    pbx.status = status
    pbx.answer = "<html>Internal error</html>"

    with pytest.raises(PbxApiError, match=f"HTTP {status}") as caught:
        await mango.employees()
    assert (caught.value.status, caught.value.code) == (status, None)
    assert len(pbx.requests) == 1


@pytest.mark.parametrize("result", [3102, 2000, 4001])
async def test_an_error_result_code_is_a_pbx_api_error(result: int, mango: MangoClient, pbx: StandInPbx) -> None:
    """HTTP 200 with ``{"result": 3102}`` (or any non-1xxx code) is an error, with the code kept."""
    pbx.answer = {"result": result}

    with pytest.raises(PbxApiError, match=f"result {result}") as caught:
        await mango.employees()
    assert (caught.value.status, caught.value.code) == (200, result)


async def test_a_success_result_code_is_accepted(mango: MangoClient, pbx: StandInPbx) -> None:
    pbx.answer = {"result": 1000, **users("101")}

    assert await mango.employees() == [EXPECTED[2]]


async def test_a_pbx_that_does_not_answer_in_time_is_a_pbx_api_error(pbx: StandInPbx) -> None:
    pbx.delay_s = 1.0
    async with aiohttp.ClientSession() as session:
        client = MangoClient(session, base_url=pbx.url, api_key=API_KEY, api_salt=API_SALT, timeout_s=0.1)
        with pytest.raises(PbxApiError, match="TimeoutError"):
            await client.employees()


async def test_an_unreachable_pbx_is_a_pbx_api_error() -> None:
    """Nothing listens on the port (the stand-in was stopped): a connection error, as PbxApiError."""
    app = web.Application()
    async with TestServer(app, host="127.0.0.1", port=0) as server:
        url = str(server.make_url("/vpbx/"))
    async with aiohttp.ClientSession() as session:
        client = MangoClient(session, base_url=url, api_key=API_KEY, api_salt=API_SALT, timeout_s=2)
        with pytest.raises(PbxApiError, match="ClientConnectorError") as caught:
            await client.employees()
    assert caught.value.status is None


async def test_a_200_answer_that_is_not_json_is_a_pbx_api_error(mango: MangoClient, pbx: StandInPbx) -> None:
    """A maintenance page or a proxy's HTML with status 200 is not an answer of the PBX."""
    pbx.answer = "<html>Technical works</html>"

    with pytest.raises(PbxApiError):
        employees = await mango.employees()
        raise AssertionError(f"no PbxApiError; employees() returned {employees!r}")


# -- sync_managers -------------------------------------------------------------


async def test_sync_creates_the_managers_then_only_updates(mango: MangoClient, repo: Repository) -> None:
    """The first sync creates the three managers, active, with name, e-mail and user id; the
    second creates none and reports the three as updated, leaving the same rows."""
    first = await sync_managers(repo, await mango.employees())

    assert first == SyncReport(created=3, updated=0, deactivated=())
    assert first.line() == "менеджеры: создано 3, обновлено 0, отключены: нет"
    assert await managers(repo.pool) == SYNCED

    second = await sync_managers(repo, await mango.employees())

    assert second == SyncReport(created=0, updated=3, deactivated=())
    assert await managers(repo.pool) == SYNCED


async def test_an_employee_no_longer_listed_is_deactivated_not_deleted(
    mango: MangoClient, pbx: StandInPbx, repo: Repository
) -> None:
    """106 left the PBX: the manager stays (contacts and calls refer to it) but is inactive,
    reported once; when the PBX lists 106 again it is active again."""
    await sync_managers(repo, await mango.employees())
    ids = dict(await repo.pool.fetch("SELECT extension, id FROM managers"))

    pbx.answer = users("101", "105")
    report = await sync_managers(repo, await mango.employees())

    assert report == SyncReport(created=0, updated=2, deactivated=("106",))
    assert report.line() == "менеджеры: создано 0, обновлено 2, отключены: 106"
    assert await managers(repo.pool) == SYNCED[:2] + [SYNCED[2][:4] + (False,)]
    assert dict(await repo.pool.fetch("SELECT extension, id FROM managers")) == ids

    again = await sync_managers(repo, await mango.employees())
    assert again.deactivated == ()

    pbx.answer = users("101", "105", "106")
    await sync_managers(repo, await mango.employees())
    assert await managers(repo.pool) == SYNCED


async def test_a_manager_known_only_by_extension_gets_its_name(mango: MangoClient, repo: Repository) -> None:
    """A call or an import created manager 105 with only its extension; the sync fills in its
    name, e-mail and user id on that same row (updated, not created), and contacts that point
    at it keep pointing at it."""
    async with repo.transaction() as tx:
        early = await tx.manager_id("105")
        contact = await tx.insert_contact(name="Анна", responsible_id=early, tags=[])
    assert await managers(repo.pool) == [("105", None, None, None, True)]

    report = await sync_managers(repo, await mango.employees())

    assert report == SyncReport(created=2, updated=1, deactivated=())
    assert await managers(repo.pool) == SYNCED
    assert await repo.pool.fetchval("SELECT id FROM managers WHERE extension = '105'") == early
    assert await repo.pool.fetchval("SELECT responsible_id FROM contacts WHERE id = $1", contact) == early


async def test_a_manager_only_callbridge_knows_is_deactivated(mango: MangoClient, repo: Repository) -> None:
    """An extension seen in a call or a spreadsheet but unknown to the PBX is marked inactive."""
    async with repo.transaction() as tx:
        await tx.manager_id("120")

    report = await sync_managers(repo, await mango.employees())

    assert report.deactivated == ("120",)
    assert await managers(repo.pool) == SYNCED + [("120", None, None, None, False)]


async def test_an_empty_user_list_raises_and_changes_nothing(
    mango: MangoClient, pbx: StandInPbx, repo: Repository
) -> None:
    """No employees is far likelier a PBX hiccup than an office with no staff: ValueError, and
    no manager is deactivated."""
    await sync_managers(repo, await mango.employees())
    pbx.answer = {"users": []}

    employees = await mango.employees()
    assert employees == []
    with pytest.raises(ValueError, match="no employees"):
        await sync_managers(repo, employees)

    assert await managers(repo.pool) == SYNCED


# -- the command line ----------------------------------------------------------


@pytest.fixture
def cli_env(db_url: str, pbx: StandInPbx, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment ``callbridge sync-managers`` reads: this test's database and the
    stand-in PBX. Logging stays as the session configured it."""
    for name in list(os.environ):
        if name.startswith("CALLBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CALLBRIDGE_DATABASE_URL", db_url)
    monkeypatch.setenv("CALLBRIDGE_MANGO_API_KEY", API_KEY)
    monkeypatch.setenv("CALLBRIDGE_MANGO_API_SALT", API_SALT)
    monkeypatch.setenv("CALLBRIDGE_MANGO_API_URL", pbx.url)
    monkeypatch.setenv("CALLBRIDGE_PBX_REQUEST_TIMEOUT_S", "2")
    monkeypatch.setattr(cli, "configure_logging", lambda **_: None)


async def test_cli_sync_managers(cli_env: None, pbx: StandInPbx, repo: Repository,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """``callbridge sync-managers`` asks the PBX (signed), stores the managers, prints one line
    and exits 0."""
    code = await asyncio.to_thread(cli.main, ["sync-managers"])

    out = capsys.readouterr()
    assert code == 0, out.err
    assert after_database_line(out.out) == "менеджеры: создано 3, обновлено 0, отключены: нет\n"
    assert pbx.requests == [{"ext_fields": ["general.user_id"]}]
    assert await managers(repo.pool) == SYNCED


@pytest.mark.parametrize(("status", "answer", "message"), [
    (500, "oops", "callbridge: sync-managers: config/users/request: HTTP 500\n"),
    (200, {"result": 3102}, "callbridge: sync-managers: config/users/request: result 3102\n"),
    (200, {"users": []}, "callbridge: sync-managers: the PBX returned no employees with an extension; "
                         "nothing changed\n"),
])
async def test_cli_sync_managers_fails_with_exit_1_and_changes_nothing(
    status: int, answer: Any, message: str, cli_env: None, pbx: StandInPbx, repo: Repository,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await sync_managers(repo, EXPECTED)
    pbx.status, pbx.answer = status, answer

    code = await asyncio.to_thread(cli.main, ["sync-managers"])

    assert code == 1
    out = capsys.readouterr()
    assert (after_database_line(out.out), out.err) == ("", message)
    assert await managers(repo.pool) == SYNCED


async def test_cli_sync_managers_needs_the_api_key(cli_env: None, pbx: StandInPbx, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Without the API key the command stops before asking the PBX, exit 2, naming the setting."""
    monkeypatch.delenv("CALLBRIDGE_MANGO_API_KEY")

    code = await asyncio.to_thread(cli.main, ["sync-managers"])

    assert code == 2
    assert "CALLBRIDGE_MANGO_API_KEY" in capsys.readouterr().err
    assert pbx.requests == []


# -- managers an import knew by name only ---------------------------------------


async def import_responsibles(repo: Repository, tmp_path: Path, *rows: tuple[str, str]) -> None:
    """A contacts export whose «Ответственный» holds names, as U-ON and amoCRM write it."""
    lines = [f"Клиент {n};{phone};{who}\n" for n, (phone, who) in enumerate(rows)]
    text = "ФИО;Телефон;Ответственный\n" + "".join(lines)
    path = tmp_path / "clients.csv"
    path.write_text(text, encoding="utf-8")
    await import_contacts(repo, path, region="RU")


async def responsible_of(repo: Repository) -> dict[str, tuple[Any, ...]]:
    rows = await repo.pool.fetch("SELECT c.name, m.id, m.extension, m.name AS manager FROM contacts c "
                                 "LEFT JOIN managers m ON m.id = c.responsible_id ORDER BY c.id")
    return {r["name"]: tuple(r)[1:] for r in rows}


async def test_a_manager_named_in_an_import_gets_its_extension_from_the_sync(
    repo: Repository, tmp_path: Path
) -> None:
    """An import names «мария ИВАНОВА» and «Семенова  Ольга», whom no manager has: each becomes
    one manager by name, without an extension. The sync finds the PBX employees «Иванова Мария»
    and «Семёнова Ольга» (word order, case, spacing and ё ignored) and fills in the extension on
    those same rows: updated, not created, and the contacts are now routed to them."""
    await import_responsibles(repo, tmp_path, ("+79161110001", "мария ИВАНОВА"),
                              ("+79161110002", "Семенова  Ольга"), ("+79161110003", "Мария Иванова"))
    before = await responsible_of(repo)
    assert [v[1:] for v in before.values()] == [(None, "мария ИВАНОВА"), (None, "Семенова Ольга"),
                                                (None, "мария ИВАНОВА")]

    report = await sync_managers(repo, [
        EXPECTED[0], Employee(extension="107", name="Семёнова Ольга", email=None, user_id=None)])

    assert report == SyncReport(created=0, updated=2, deactivated=())
    after = await responsible_of(repo)
    assert after == {"Клиент 0": (before["Клиент 0"][0], "105", "Иванова Мария"),
                     "Клиент 1": (before["Клиент 1"][0], "107", "Семёнова Ольга"),
                     "Клиент 2": (before["Клиент 0"][0], "105", "Иванова Мария")}
    assert await repo.pool.fetchval("SELECT count(*) FROM managers") == 2

    again = await sync_managers(repo, [EXPECTED[0]])
    assert again == SyncReport(created=0, updated=1, deactivated=("107",))
    assert await repo.pool.fetchval("SELECT count(*) FROM managers") == 2


async def test_a_named_manager_whose_extension_a_call_made_first_is_one_manager(
    repo: Repository, tmp_path: Path
) -> None:
    """A call created manager 105 (extension only); an import then named «Иванова Мария», which
    no manager had yet. The sync names 105 «Иванова Мария»: the name-only manager's contacts move
    to 105 and it is gone, so one person is one manager."""
    async with repo.transaction() as tx:
        early = await tx.manager_id("105")
    await import_responsibles(repo, tmp_path, ("+79161110001", "Иванова Мария"))
    assert await repo.pool.fetchval("SELECT count(*) FROM managers") == 2

    report = await sync_managers(repo, [EXPECTED[0]])

    assert report == SyncReport(created=0, updated=1, deactivated=())
    assert await responsible_of(repo) == {"Клиент 0": (early, "105", "Иванова Мария")}
    assert await managers(repo.pool) == [SYNCED[1]]
