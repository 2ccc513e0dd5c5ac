"""Duplicate candidates: proven by the pipeline (identifier) or by the same name with evidence
(name); a pair marked "not a duplicate" never comes back; merged contacts drop out."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.repository import Repository
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


async def _duplicates(client: TestClient, **params: str) -> list[dict]:
    resp = await client.get("/api/contacts/duplicates", params=params, headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


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
    """ё = е, case and word order are ignored; the same name alone is not enough (the third
    Фёдоров shares neither manager nor phone); an identifier hint is proposed first."""
    await office.pool.execute("INSERT INTO contact_duplicate_hints (contact_low, contact_high, evidence)"
                              " VALUES ($1, $2, '{\"entry_id\": \"form-1\"}')",
                              min(people["anna"], people["orlov"]), max(people["anna"], people["orlov"]))
    found = await _duplicates(client)
    pairs = {tuple(c["contact_ids"]): c for c in found}
    assert found[0]["reason"] == "identifier" and found[0]["score"] == 1.0
    assert found[0]["contact_ids"] == sorted([people["anna"], people["orlov"]])
    fedorovs = pairs[(people["fedorov"], people["petr"])]
    assert (fedorovs["reason"], fedorovs["score"], fedorovs["evidence"]["same_manager"]) == ("name", 0.75, True)
    annas = pairs[(people["anna_work"], people["anna_old"])]  # +7916555 00 11 / 00 22: a similar phone
    assert (annas["score"], annas["evidence"]["similar_phone"]) == (0.75, True)
    assert (people["fedorov"], people["fedorov_other"]) not in pairs
    assert (people["petr"], people["fedorov_other"]) not in pairs
    assert all(c["score"] <= found[0]["score"] for c in found)


async def test_a_pair_marked_not_duplicate_is_never_proposed_again(
        client: TestClient, settings: Settings, office: Repository, people: dict[str, int]) -> None:
    status, answer = await post_json(client, "/api/contacts/not-duplicates",
                                     {"contact_ids": [people["petr"], people["fedorov"]]})
    assert (status, answer["contact_ids"]) == (200, [people["fedorov"], people["petr"]])
    code, out, err = await run_cli(settings, "contacts", "not-duplicate", str(people["anna_old"]),
                                   str(people["anna_work"]))
    assert code == 0 and "not a duplicate" in out, err
    found = await _duplicates(client)
    assert not {tuple(c["contact_ids"]) for c in found} & {
        (people["fedorov"], people["petr"]), (people["anna_work"], people["anna_old"])}
    assert not await _duplicates(client, contact_id=str(people["petr"]))
    for body, want in (({"contact_ids": [people["petr"]]}, 400), ({"contact_ids": [1, 1]}, 400),
                       ({"contact_ids": [people["petr"], 999999]}, 404)):
        status, answer = await post_json(client, "/api/contacts/not-duplicates", body)
        assert status == want and answer["error"], body


async def test_merged_contacts_are_no_longer_proposed(client: TestClient, office: Repository,
                                                      people: dict[str, int]) -> None:
    status, _ = await post_json(client, "/api/contacts/merge",
                                {"survivor_id": people["fedorov"], "merged_ids": [people["petr"]]})
    assert status == 200
    found = await _duplicates(client)
    assert all(people["petr"] not in c["contact_ids"] for c in found)


async def test_candidates_of_one_contact_include_similar_names(client: TestClient, office: Repository,
                                                               people: dict[str, int]) -> None:
    """For one contact, a misspelt name with a similar phone is a candidate too (pg_trgm),
    scored below the same name."""
    if not await office.pool.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')"):
        pytest.skip("this PostgreSQL has no pg_trgm")
    found = await _duplicates(client, contact_id=str(people["anna_work"]))
    pairs = {tuple(c["contact_ids"]): c for c in found}
    same = pairs[(people["anna_work"], people["anna_old"])]
    typo = pairs[tuple(sorted((people["anna_work"], people["typo"])))]
    assert 0 < typo["evidence"]["similarity"] < 1 <= same["evidence"]["similarity"]
    assert typo["score"] < same["score"]
    global_pairs = {tuple(c["contact_ids"]) for c in await _duplicates(client)}
    assert tuple(sorted((people["anna_work"], people["typo"]))) not in global_pairs


async def test_duplicates_from_the_command_line(settings: Settings, people: dict[str, int]) -> None:
    code, out, err = await run_cli(settings, "contacts", "duplicates")
    assert code == 0, err
    assert f"0.75 name       #{people['fedorov']} #{people['petr']}" in out


async def test_without_pg_trgm_one_contact_gets_its_same_name_candidates(
        client: TestClient, office: Repository, people: dict[str, int]) -> None:
    """The embedded PostgreSQL (pgserver) has no pg_trgm: exact names still work."""
    await office.pool.execute("DROP EXTENSION IF EXISTS pg_trgm CASCADE")
    found = await _duplicates(client, contact_id=str(people["anna_work"]))
    assert [c["contact_ids"] for c in found] == [[people["anna_work"], people["anna_old"]]]
    assert found[0]["score"] == 0.75
