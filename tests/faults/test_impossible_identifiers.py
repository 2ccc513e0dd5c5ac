"""An identifier no person can have (a 10,000-character e-mail, a long non-ASCII Telegram id)
is kept as an invalid identifier, and the inquiry or the imported row is filed with its valid ones."""

from __future__ import annotations

import random
from pathlib import Path

from aiohttp.test_utils import TestClient

from daemon.contacts.importer import import_contacts
from daemon.runtime.keys import INTAKE
from daemon.store.repository import Repository
from tests.conftest import auth
from tests.integration.test_inquiries import api_body, app_client, contact_by, post_tg, tg_update
from tests.spreadsheets import write_xlsx

__all__ = ["app_client"]  # a fixture of test_inquiries, used here too

CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"


def noise(chars: int, *, seed: int) -> str:
    """Text PostgreSQL cannot compress below a b-tree entry's 2.7 kB (two bytes a character)."""
    rnd = random.Random(seed)
    return "".join(rnd.choice(CYRILLIC) for _ in range(chars))


async def invalid_of(repo: Repository, contact_id: int) -> list[tuple[str, int, str]]:
    rows = await repo.pool.fetch("SELECT kind, value, reason FROM contact_invalid_identifiers"
                                 " WHERE contact_id = $1 ORDER BY kind", contact_id)
    return [(r["kind"], len(r["value"]), r["reason"]) for r in rows]


async def test_a_huge_email_is_kept_invalid_and_the_phone_files_the_inquiry(
        app_client: TestClient, repo: Repository) -> None:
    """Was 503 on every retry, the valid phone lost with the inquiry; a redelivery is a duplicate."""
    body = api_body("huge-1", phone="8 999 111-22-33", email=noise(10_000, seed=1) + "@почта.рф")
    resp = await app_client.post("/api/inquiries", json=body, headers=auth())
    assert resp.status == 201, await resp.text()
    contact = await contact_by(repo, "phone", "+79991112233")
    assert (await resp.json())["contact_id"] == contact
    assert await invalid_of(repo, contact) == [
        ("email", 2000, "longer than 254 characters: cannot be an e-mail address")]  # the API cuts fields at 2,000
    again = await app_client.post("/api/inquiries", json=body, headers=auth())
    assert again.status == 200
    assert len(await invalid_of(repo, contact)) == 1


async def test_a_long_non_ascii_telegram_id_is_kept_invalid(app_client: TestClient, repo: Repository) -> None:
    update = tg_update(1, text="Мой номер 8 926 000-11-22")
    update["message"]["from"]["id"] = noise(3000, seed=2)
    assert await post_tg(app_client, update) == 200
    contact = await contact_by(repo, "phone", "+79260001122")
    assert contact is not None
    assert await invalid_of(repo, contact) == [
        ("telegram", 2000, "longer than 64 characters: cannot be a telegram user id")]


async def test_under_load_it_is_acknowledged_and_then_filed_not_quarantined(
        app_client: TestClient, repo: Repository) -> None:
    """Spooled (202) while PostgreSQL is away: the replay files it; the quarantine stays empty."""
    intake = app_client.app[INTAKE]
    intake.database_ok = False
    body = api_body("huge-2", phone="+79991112244", email=noise(5000, seed=3))
    resp = await app_client.post("/api/inquiries", json=body, headers=auth())
    assert resp.status == 202
    intake.database_ok = True
    assert await intake.replay_spool() == 1
    assert await repo.pool.fetchval("SELECT count(*) FROM event_quarantine") == 0
    contact = await contact_by(repo, "phone", "+79991112244")
    assert [kind for kind, _, _ in await invalid_of(repo, contact)] == ["email"]


async def test_an_imported_row_keeps_its_phone_beside_a_huge_email(repo: Repository, tmp_path: Path) -> None:
    """The import applies the same rule: the row makes its contact, the e-mail is kept invalid, twice is once."""
    email = noise(10_000, seed=4) + "@почта.рф"
    path = write_xlsx(tmp_path / "c.xlsx", [["ФИО", "Телефон", "E-mail"], ["Анна", "8 916 555-44-33", email]])
    for _ in range(2):
        report = await import_contacts(repo, path, region="RU")
        assert report.skipped == 0
    contact = await contact_by(repo, "phone", "+79165554433")
    assert await invalid_of(repo, contact) == [
        ("email", len(email), "longer than 254 characters: cannot be an e-mail address")]
