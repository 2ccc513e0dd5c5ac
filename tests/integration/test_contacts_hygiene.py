"""The base's hygiene: do-not-call marks that survive merges and re-imports, invalid
identifiers listed, and empty contacts purged in two stages."""

from __future__ import annotations

import csv
import io

from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.contacts.importer import import_contacts
from daemon.store.repository import Repository
from tests.conftest import FIXTURES, auth, run_cli
from tests.contactkit import call_in, contact_of, load_dupes, post_json
from tests.scenarios import REPORT_SINCE, REPORT_UNTIL

ANNA, ANNA_WORK = "+79161234567", "+79165550011"


async def _lookup(client: TestClient, **query: str) -> tuple[int, dict]:
    resp = await client.get("/api/contacts/lookup", params=query, headers=auth())
    return resp.status, await resp.json()


async def test_do_not_call_survives_merges_and_reimports_and_can_be_lifted(
        client: TestClient, office: Repository) -> None:
    await load_dupes(office)
    anna, work = await contact_of(office, "phone", ANNA), await contact_of(office, "phone", ANNA_WORK)
    resp = await client.put(f"/api/contacts/{work}/do-not-call", json={"reason": "просила не звонить"},
                            headers=auth())
    assert resp.status == 200, await resp.text()
    mark = (await resp.json())["do_not_call"]
    assert mark["reason"] == "просила не звонить" and mark["since"]
    status, card = await _lookup(client, email="anna.work@example.ru")
    assert card["do_not_call"]["reason"] == "просила не звонить"
    status, _ = await post_json(client, "/api/contacts/merge", {"survivor_id": anna, "merged_ids": [work]})
    assert status == 200
    await import_contacts(office, FIXTURES / "contacts_dupes.csv", region="RU")
    await import_contacts(office, FIXTURES / "contacts.csv", region="RU")
    status, card = await _lookup(client, phone=ANNA)
    assert (card["id"], card["do_not_call"]["reason"]) == (anna, "просила не звонить")
    resp = await client.delete(f"/api/contacts/{work}/do-not-call", headers=auth())  # the old id works too
    assert resp.status == 200 and (await resp.json()) == {"contact_id": anna, "do_not_call": None}
    status, card = await _lookup(client, phone=ANNA_WORK)
    assert card["do_not_call"] is None


async def test_do_not_call_refuses_bad_requests(client: TestClient, office: Repository) -> None:
    anna = await contact_of(office, "phone", ANNA)
    for path, body, want in ((f"/api/contacts/{anna}/do-not-call", {"reason": ""}, 400),
                             (f"/api/contacts/{anna}/do-not-call", {}, 400),
                             ("/api/contacts/999999/do-not-call", {"reason": "x"}, 404)):
        resp = await client.put(path, json=body, headers=auth())
        assert resp.status == want and (await resp.json())["error"], (path, body)
    empty = await office.pool.fetchval("INSERT INTO contacts (name) VALUES ('Пустой') RETURNING id")
    resp = await client.put(f"/api/contacts/{empty}/do-not-call", json={"reason": "x"}, headers=auth())
    assert resp.status == 409


async def test_missed_call_report_marks_do_not_call_callers(client: TestClient, office: Repository) -> None:
    """A caller marked «не звонить» is shown with the mark, not counted as one to call back."""
    await call_in(client, ANNA[1:], "dnc")
    anna = await contact_of(office, "phone", ANNA)
    params = {"since": REPORT_SINCE.isoformat(), "until": REPORT_UNTIL.isoformat(), "all": "true"}
    resp = await client.get("/api/reports/missed", params=params, headers=auth())
    rows = [r for r in (await resp.json())["rows"] if r["phone"] == ANNA]
    assert rows and rows[0]["do_not_call_reason"] is None
    resp = await client.put(f"/api/contacts/{anna}/do-not-call", json={"reason": "жалоба"}, headers=auth())
    assert resp.status == 200
    resp = await client.get("/api/reports/missed", params=params, headers=auth())
    rows = [r for r in (await resp.json())["rows"] if r["phone"] == ANNA]
    assert rows[0]["do_not_call_reason"] == "жалоба"
    resp = await client.get("/api/reports/missed", params=params | {"format": "text"}, headers=auth())
    assert "[не звонить: жалоба]" in await resp.text()


async def test_invalid_identifiers_are_listed_with_reason_and_contact(settings: Settings,
                                                                      office: Repository) -> None:
    anna = await contact_of(office, "phone", ANNA)
    async with office.transaction() as tx:
        await tx.add_invalid_identifier(anna, "email", "anna@", "no domain after @")
        await tx.add_invalid_identifier(anna, "phone", "12-34", "too short for a phone number")
    code, out, err = await run_cli(settings, "contacts", "invalid", "--format", "csv")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "contact_id,contact_name,kind,value,reason"
    assert f"{anna},Кузнецова Анна Сергеевна,email,anna@,no domain after @" in lines
    assert f"{anna},Кузнецова Анна Сергеевна,phone,12-34,too short for a phone number" in lines
    code, out, err = await run_cli(settings, "contacts", "invalid")
    assert code == 0 and "'anna@': no domain after @" in out


async def test_invalid_identifiers_csv_never_carries_a_formula(settings: Settings, office: Repository) -> None:
    """A value or name typed as ``=cmd|…`` or ``@SUM(…)`` leaves as text (``'=cmd|…``), as in the
    reports' CSV; a phone in E.164 keeps its ``+``."""
    rogue = await office.pool.fetchval("INSERT INTO contacts (name) VALUES ($1) RETURNING id",
                                       '=HYPERLINK("http://evil.example","Анна")')
    async with office.transaction() as tx:
        await tx.add_invalid_identifier(rogue, "email", "=cmd|' /C calc'!A0", "no @")
        await tx.add_invalid_identifier(rogue, "phone", "@SUM(1+1)*cmd|' /C calc'!A0", "not a number")
        await tx.add_invalid_identifier(rogue, "phone", "+7 916 12", "too short for a phone number")
    code, out, err = await run_cli(settings, "contacts", "invalid", "--format", "csv")
    assert code == 0, err
    rows = [r for r in csv.reader(io.StringIO(out)) if r[0] == str(rogue)]
    assert sorted(rows) == sorted([
        [str(rogue), '\'=HYPERLINK("http://evil.example","Анна")', "email", "'=cmd|' /C calc'!A0", "no @"],
        [str(rogue), '\'=HYPERLINK("http://evil.example","Анна")', "phone", "'@SUM(1+1)*cmd|' /C calc'!A0",
         "not a number"],
        [str(rogue), '\'=HYPERLINK("http://evil.example","Анна")', "phone", "+7 916 12",
         "too short for a phone number"],
    ])


async def test_purge_removes_empty_contacts_in_two_stages(client: TestClient, settings: Settings,
                                                          office: Repository) -> None:
    """--dry-run lists contacts with nothing in them; purge hides them; restore brings one back;
    a contact removed over 30 days ago is deleted for good by the next purge; a contact with a
    trip is kept once the trips table exists."""
    empty = [await office.pool.fetchval("INSERT INTO contacts (name) VALUES ($1) RETURNING id", n)
             for n in ("Пустой один", "Пустой два", "С поездкой")]
    code, out, err = await run_cli(settings, "contacts", "purge", "--dry-run")
    assert code == 0, err
    assert [f"будет убран #{i}" in out for i in empty] == [True] * 3
    assert "Кузнецова" not in out
    await office.pool.execute("INSERT INTO trips (order_number, contact_id, status, booked_at)"
                              " VALUES ('H-1', $1, 'paid', now())", empty[2])
    code, out, err = await run_cli(settings, "contacts", "purge")
    assert code == 0, err
    assert "пустых контактов убрано: 2" in out and f"#{empty[2]}" not in out
    resp = await client.get(f"/api/contacts/{empty[0]}", headers=auth())
    assert resp.status == 404
    code, out, err = await run_cli(settings, "contacts", "restore", str(empty[0]))
    assert code == 0 and f"возвращён #{empty[0]}" in out
    resp = await client.get(f"/api/contacts/{empty[0]}", headers=auth())
    assert resp.status == 200
    await office.pool.execute("UPDATE contacts SET removed_at = now() - interval '31 days' WHERE id = $1",
                              empty[1])
    code, out, err = await run_cli(settings, "contacts", "purge")
    assert code == 0 and f"удалён насовсем #{empty[1]}" in out
    assert await office.pool.fetchval("SELECT count(*) FROM contacts WHERE id = $1", empty[1]) == 0
    code, out, err = await run_cli(settings, "contacts", "restore", str(empty[1]))
    assert code == 1 and "no removed contact" in err
