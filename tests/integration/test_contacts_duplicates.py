"""Duplicate candidates: proven by the pipeline or an import (identifier) or by the same name and a
similar phone (name); kept in a table as contacts change and read from it a page at a time; a pair
marked "not a duplicate" never comes back; merged and removed contacts drop out."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.contacts.importer import import_contacts
from daemon.store.repository import Repository
from tests.conftest import auth, run_cli
from tests.contactkit import contact_of, load_dupes, post_json


async def _contact(repo: Repository, name: str, extension: str | None, *phones: str) -> int:
    manager = await repo.pool.fetchval("SELECT id FROM managers WHERE extension = $1", extension)
    cid = await repo.pool.fetchval("INSERT INTO contacts (name, responsible_id) VALUES ($1, $2) RETURNING id",
                                   name, manager)
    for phone in phones:
        await repo.pool.execute("INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ('phone', $1, $2)",
                                phone, cid)
    return cid


async def _page(client: TestClient, **params: str) -> dict:
    resp = await client.get("/api/contacts/duplicates", params=params, headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _duplicates(client: TestClient, **params: str) -> list[dict]:
    return (await _page(client, **params))["items"]


async def _pairs(client: TestClient, **params: str) -> set[tuple[int, ...]]:
    return {tuple(c["contact_ids"]) for c in await _duplicates(client, **params)}


async def _kept(repo: Repository) -> list[tuple]:
    return [tuple(r) for r in await repo.pool.fetch(
        "SELECT contact_low, contact_high, reason, score, evidence::text FROM contact_duplicate_candidates"
        " ORDER BY 1, 2")]


async def _rebuilt(repo: Repository) -> list[tuple]:
    """The table as a recomputation from scratch makes it."""
    await repo.pool.execute("TRUNCATE contact_duplicate_candidates")
    async with repo.pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO contact_candidates_dirty SELECT id FROM contacts ON CONFLICT DO NOTHING")
        await conn.fetchval("SELECT contact_candidates_flush()")
    return await _kept(repo)


@pytest.fixture
async def people(office: Repository) -> dict[str, int]:
    await load_dupes(office)
    return {
        "anna": await contact_of(office, "phone", "+79161234567"),
        "anna_work": await contact_of(office, "phone", "+79165550011"),   # «Анна Кузнецова»
        "anna_old": await contact_of(office, "phone", "+79165550022"),    # «КУЗНЕЦОВА АННА», 106
        "orlov": await contact_of(office, "phone", "+79031112233"),
        "fedorov": await _contact(office, "Фёдоров Пётр", "105", "+79260000001"),
        "petr": await _contact(office, "петр  ФЕДОРОВ", "105", "+79990000002"),
        "fedorov_other": await _contact(office, "Федоров Петр", "106", "+79770000003"),
        "typo": await _contact(office, "Кузнецова Ана", None, "+79165550019"),
    }


async def test_candidates_carry_reason_and_score(client: TestClient, office: Repository,
                                                 people: dict[str, int]) -> None:
    """ё = е, case and word order are ignored; the same name alone is not enough, and the same
    responsible manager is no evidence at all (two Фёдоровы of manager 105 with unrelated
    phones are not proposed); an identifier hint is proposed first."""
    await office.pool.execute("INSERT INTO contact_duplicate_hints (contact_low, contact_high, evidence)"
                              " VALUES ($1, $2, '{\"entry_id\": \"form-1\"}')",
                              min(people["anna"], people["orlov"]), max(people["anna"], people["orlov"]))
    page = await _page(client)
    found = page["items"]
    pairs = {tuple(c["contact_ids"]): c for c in found}
    assert page["total"] == len(found) == 2
    assert (found[0]["reason"], found[0]["score"], found[0]["evidence"]) == ("identifier", 1.0, {"entry_id": "form-1"})
    assert found[0]["contact_ids"] == sorted([people["anna"], people["orlov"]])
    annas = pairs[(people["anna_work"], people["anna_old"])]  # +7916555 00 11 / 00 22: a similar phone
    assert (annas["reason"], annas["score"], annas["evidence"]) == (
        "name", 0.75, {"same_name": True, "similar_phone": True})
    assert (people["fedorov"], people["petr"]) not in pairs


async def test_a_common_name_is_no_evidence_alone(client: TestClient, office: Repository) -> None:
    """Forty «Иванова Елена» (some «Елена Иванова», «ИВАНОВА ЕЛЕНА»), all of manager 105, with
    unrelated phones: not one candidate. Two of them whose phones are one digit apart are."""
    spellings = ("Иванова Елена", "Елена Иванова", "ИВАНОВА ЕЛЕНА", "иванова  елена")
    ids = [await _contact(office, spellings[n % 4], "105", f"+7925{n:03d}{n * 7919 % 10000:04d}")
           for n in range(40)]
    assert await _pairs(client) == set()
    await office.pool.execute("INSERT INTO contact_identifiers (kind, value, contact_id)"
                              " VALUES ('phone', '+79251234500', $1), ('phone', '+79251234501', $2)",
                              ids[3], ids[17])
    assert await _pairs(client) == {(ids[3], ids[17])}


async def test_the_list_is_paged_and_filtered_by_reason(client: TestClient, office: Repository,
                                                        people: dict[str, int]) -> None:
    hinted = [(people["anna"], people["orlov"]), (people["fedorov"], people["petr"])]
    for a, b in hinted:
        await office.pool.execute("INSERT INTO contact_duplicate_hints (contact_low, contact_high) VALUES ($1, $2)",
                                  min(a, b), max(a, b))
    everything = await _page(client)
    assert everything["total"] == 3
    first, second = await _page(client, limit="2"), await _page(client, limit="2", offset="2")
    assert first["total"] == second["total"] == 3
    assert first["items"] + second["items"] == everything["items"]
    by_identifier = await _page(client, reason="identifier")
    assert by_identifier["total"] == 2 and {c["reason"] for c in by_identifier["items"]} == {"identifier"}
    by_name = await _page(client, reason="name")
    assert [c["contact_ids"] for c in by_name["items"]] == [[people["anna_work"], people["anna_old"]]]
    for params in ({"reason": "manager"}, {"offset": "-1"}, {"offset": "x"}, {"limit": "0"}, {"limit": "501"},
                   {"contact_id": "0"}, {"contact_id": "9" * 40}):
        resp = await client.get("/api/contacts/duplicates", params=params, headers=auth())
        assert resp.status == 400 and (await resp.json())["error"], params


async def test_a_pair_marked_not_duplicate_is_never_proposed_again(
        client: TestClient, settings: Settings, office: Repository, people: dict[str, int]) -> None:
    status, answer = await post_json(client, "/api/contacts/not-duplicates",
                                     {"contact_ids": [people["petr"], people["fedorov"]]})
    assert (status, answer["contact_ids"]) == (200, [people["fedorov"], people["petr"]])
    code, out, err = await run_cli(settings, "contacts", "not-duplicate", str(people["anna_old"]),
                                   str(people["anna_work"]))
    assert code == 0 and "не дубликаты" in out, err
    assert not await _pairs(client) & {(people["fedorov"], people["petr"]), (people["anna_work"], people["anna_old"])}
    assert (people["anna_work"], people["anna_old"]) not in await _pairs(client, contact_id=str(people["anna_old"]))
    for body, want in (({"contact_ids": [people["petr"]]}, 400), ({"contact_ids": [1, 1]}, 400),
                       ({"contact_ids": [people["petr"], 999999]}, 404)):
        status, answer = await post_json(client, "/api/contacts/not-duplicates", body)
        assert status == want and answer["error"], body


async def test_candidates_follow_renames_phones_merges_undo_and_purge(
        client: TestClient, office: Repository, people: dict[str, int]) -> None:
    """The kept list changes in the transaction of each write: a rename into the same name with
    a similar phone adds a pair and a rename out of it drops it; a phone moved away drops it; a
    merge drops the merged contact's pairs and its undo brings them back; a removed contact
    (purge) drops out and comes back when restored. After all that the table is what a
    recomputation from scratch makes."""
    typo, work, old = people["typo"], people["anna_work"], people["anna_old"]
    pair = (work, old)
    assert await _pairs(client) == {pair}
    resp = await client.put(f"/api/contacts/{typo}/name", json={"name": "Анна Кузнецова"}, headers=auth())
    assert resp.status == 200
    assert await _pairs(client) == {pair, (work, typo), (old, typo)}   # +7916555 00 19: similar to both
    resp = await client.put(f"/api/contacts/{typo}/name", json={"name": "Ана Кузнецова"}, headers=auth())
    assert await _pairs(client) == {pair}

    await office.pool.execute("UPDATE contact_identifiers SET contact_id = $1 WHERE value = '+79165550022'",
                              people["orlov"])
    assert await _pairs(client) == set()
    await office.pool.execute("UPDATE contact_identifiers SET contact_id = $1 WHERE value = '+79165550022'", old)
    assert await _pairs(client) == {pair}

    status, merged = await post_json(client, "/api/contacts/merge", {"survivor_id": people["anna"],
                                                                     "merged_ids": [old]})
    assert status == 200 and await _pairs(client) == set()
    status, _ = await post_json(client, f"/api/merges/{merged['merge_id']}/undo", {})
    assert status == 200 and await _pairs(client) == {pair}

    await office.pool.execute("UPDATE contacts SET removed_at = now() WHERE id = $1", old)
    assert await _pairs(client) == set()
    await office.pool.execute("UPDATE contacts SET removed_at = NULL WHERE id = $1", old)
    assert await _pairs(client) == {pair}
    assert await _kept(office) == await _rebuilt(office)


async def test_an_import_finds_candidates_once_at_its_end(office: Repository, tmp_path: Path) -> None:
    """The import's batches only queue the contacts they touch; the end of the import finds
    their candidates at once: a re-typed «Кузнецова Анна Сергеевна» with a phone one digit off."""
    sheet = tmp_path / "again.csv"
    sheet.write_text("name;phones\nАнна Сергеевна КУЗНЕЦОВА;+7 916 123-45-68\n", encoding="utf-8")
    await import_contacts(office, sheet, region="RU")
    anna = await contact_of(office, "phone", "+79161234567")
    again = await contact_of(office, "phone", "+79161234568")
    assert [k[:3] for k in await _kept(office)] == [(anna, again, "name")]
    assert await office.pool.fetchval("SELECT count(*) FROM contact_candidates_dirty") == 0


async def test_candidates_of_one_contact_include_similar_names(client: TestClient, office: Repository,
                                                               people: dict[str, int]) -> None:
    """For one contact, a misspelt name with a similar phone is a candidate too (pg_trgm),
    scored below the same name; the whole list keeps exact names only."""
    if not await office.pool.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')"):
        pytest.skip("this PostgreSQL has no pg_trgm")
    page = await _page(client, contact_id=str(people["anna_work"]))
    pairs = {tuple(c["contact_ids"]): c for c in page["items"]}
    assert page["total"] == len(pairs) == 2
    same = pairs[(people["anna_work"], people["anna_old"])]
    typo = pairs[tuple(sorted((people["anna_work"], people["typo"])))]
    assert 0 < typo["evidence"]["similarity"] < 1
    assert typo["score"] < same["score"]
    assert tuple(sorted((people["anna_work"], people["typo"]))) not in await _pairs(client)


async def test_duplicates_from_the_command_line(settings: Settings, people: dict[str, int]) -> None:
    code, out, err = await run_cli(settings, "contacts", "duplicates")
    assert code == 0, err
    assert f"0.75 name       #{people['anna_work']} #{people['anna_old']}" in out
    assert out.rstrip().endswith("кандидатов в дубликаты: 1")
    code, out, err = await run_cli(settings, "contacts", "duplicates", "--reason", "identifier")
    assert (code, out.strip()) == (0, "кандидатов в дубликаты: 0"), err


async def test_rebuild_finds_what_was_written_with_triggers_off(settings: Settings, office: Repository) -> None:
    """A base loaded with triggers off (a restore, a bulk COPY) has no kept candidates;
    ``contacts duplicates --rebuild`` recomputes them for the whole base."""
    async with office.pool.acquire() as conn:
        await conn.execute("SET session_replication_role = replica")
        try:
            a = await conn.fetchval("INSERT INTO contacts (name) VALUES ('Зайцева Ольга') RETURNING id")
            b = await conn.fetchval("INSERT INTO contacts (name) VALUES ('ольга зайцева') RETURNING id")
            await conn.execute("INSERT INTO contact_identifiers (kind, value, contact_id)"
                               " VALUES ('phone', '+79035550101', $1), ('phone', '+79035550107', $2)", a, b)
        finally:
            await conn.execute("SET session_replication_role = DEFAULT")
    assert await _kept(office) == []
    code, out, err = await run_cli(settings, "contacts", "duplicates", "--rebuild")
    assert code == 0, err
    assert out.startswith("кандидаты пересчитаны для контактов: ")
    assert f"0.75 name       #{a} #{b}" in out


async def test_without_pg_trgm_one_contact_gets_its_same_name_candidates(
        client: TestClient, office: Repository, people: dict[str, int]) -> None:
    """The embedded PostgreSQL (pgserver) has no pg_trgm: exact names still work."""
    await office.pool.execute("DROP EXTENSION IF EXISTS pg_trgm CASCADE")
    found = await _duplicates(client, contact_id=str(people["anna_work"]))
    assert [c["contact_ids"] for c in found] == [[people["anna_work"], people["anna_old"]]]
    assert found[0]["score"] == 0.75
