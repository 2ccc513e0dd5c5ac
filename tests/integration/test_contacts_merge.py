"""Merging contacts: everything moves to the survivor in one journaled transaction, and undo
puts every table back as it was."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.contacts.errors import ContactRefused
from daemon.contacts.merge import merge_contacts
from daemon.contacts.store import ContactStore
from daemon.store.repository import Repository
from tests.callgen import generate_calls, stream
from tests.conftest import auth, run_cli
from tests.contactkit import (
    call_in,
    contact_of,
    counts,
    load_dupes,
    orphans,
    post_json,
    snapshot,
)
from tests.scenarios import replay

ANNA, ANNA_WORK, ANNA_OLD = "+79161234567", "+79165550011", "+79165550022"


@pytest.fixture
async def base(client: TestClient, office: Repository) -> dict[str, int]:
    """The example agency, a second spreadsheet of duplicates, and a day of calls:
    Anna calls from her own phone and from her work phone (two open leads)."""
    await load_dupes(office)
    ids = {"anna": await contact_of(office, "phone", ANNA),
           "work": await contact_of(office, "phone", ANNA_WORK),
           "old": await contact_of(office, "phone", ANNA_OLD)}
    async with office.transaction() as tx:
        await tx.add_invalid_identifier(ids["work"], "phone", "12-34", "too short for a phone number")
        await tx.add_invalid_identifier(ids["anna"], "phone", "12-34", "too short for a phone number")
        await office.pool.execute(
            "INSERT INTO contact_duplicate_hints (contact_low, contact_high, evidence)"
            " VALUES (least($1::bigint, $2::bigint), greatest($1::bigint, $2::bigint), '{\"via\": \"form\"}')",
            ids["anna"], ids["work"])
    await call_in(client, ANNA[1:], "a")
    await call_in(client, ANNA_WORK[1:], "w")
    await replay(client, stream(generate_calls(12)))  # other callers: must not be touched
    return ids


async def test_merge_moves_everything_and_undo_restores_every_table(
        client: TestClient, office: Repository, base: dict[str, int]) -> None:
    """Counts of communications and leads are the same before, after the merge and after the
    undo; after the merge nothing points at a merged contact; after the undo every table
    holds exactly the rows it held before."""
    before, before_counts = await snapshot(office), await counts(office)
    survivor, merged = base["anna"], [base["work"], base["old"]]
    moved_comms = await office.pool.fetchval(
        "SELECT count(*) FROM communications WHERE contact_id = ANY($1::bigint[])", merged)
    assert moved_comms > 0

    status, answer = await post_json(client, "/api/contacts/merge",
                                     {"survivor_id": survivor, "merged_ids": merged, "reason": "one person"})
    assert status == 200, answer
    assert answer["survivor_id"] == survivor and answer["moved"]["communications"] >= moved_comms
    assert answer["moved"]["identifiers"] == 3  # work phone, work e-mail, old phone
    after_counts = await counts(office)
    assert {k: after_counts[k] for k in ("communications", "leads", "contacts")} == \
           {k: before_counts[k] for k in ("communications", "leads", "contacts")}
    assert await orphans(office) == []
    leads = await office.pool.fetch("SELECT id, status, reason FROM leads WHERE contact_id = $1 ORDER BY id", survivor)
    assert [r["status"] for r in leads] == ["open", "merged"]
    assert not await office.pool.fetchval(
        "SELECT count(*) FROM communications WHERE lead_id = $1", leads[1]["id"])
    card = await office.pool.fetchrow("SELECT name, tags, responsible_id FROM contacts WHERE id = $1", survivor)
    assert card["name"] == "Кузнецова Анна Сергеевна"  # the survivor keeps its own
    assert set(card["tags"]) == {"постоянный турист", "работа"}
    assert await office.pool.fetchval(
        "SELECT count(*) FROM contact_duplicate_hints WHERE $1 IN (contact_low, contact_high)", survivor) == 0

    status, undone = await post_json(client, f"/api/merges/{answer['merge_id']}/undo")
    assert status == 200, undone
    assert await counts(office) == before_counts
    after = await snapshot(office)
    assert [t for t in before if before[t] != after[t]] == []
    status, again = await post_json(client, f"/api/merges/{answer['merge_id']}/undo")
    assert status == 409 and "already" in again["error"]


async def test_lookups_of_a_merged_contact_give_the_survivor(
        client: TestClient, office: Repository, base: dict[str, int]) -> None:
    """Every identifier of a merged contact finds the survivor; so does its old id; and its
    next call joins the survivor's one open lead."""
    survivor = base["anna"]
    status, _ = await post_json(client, "/api/contacts/merge",
                                {"survivor_id": survivor, "merged_ids": [base["work"], base["old"]]})
    assert status == 200
    for query in ({"phone": "8 916 555-00-11"}, {"phone": ANNA_OLD}, {"email": "Anna.Work@example.ru"},
                  {"phone": ANNA}):
        resp = await client.get("/api/contacts/lookup", params=query, headers=auth())
        assert (resp.status, (await resp.json())["id"]) == (200, survivor), query
    for old_id in (base["work"], base["old"]):
        resp = await client.get(f"/api/contacts/{old_id}", headers=auth())
        card = await resp.json()
        assert (resp.status, card["id"], card["requested_id"]) == (200, survivor, old_id)
        assert {ANNA, ANNA_WORK, ANNA_OLD} <= set(card["phones"])
    open_lead = await office.pool.fetchval("SELECT id FROM leads WHERE contact_id = $1 AND status = 'open'", survivor)
    await call_in(client, ANNA_OLD[1:], "after")
    rows = await office.pool.fetch("SELECT contact_id, lead_id FROM communications WHERE entry_id LIKE '%~after%'")
    assert rows and {(r["contact_id"], r["lead_id"]) for r in rows} == {(survivor, open_lead)}
    resp = await client.get("/api/communications", params={"contact_id": str(base["old"])}, headers=auth())
    assert resp.status == 200 and len(await resp.json()) == await office.pool.fetchval(
        "SELECT count(*) FROM communications WHERE contact_id = $1", survivor)


async def test_undo_refuses_when_rows_changed_since_unless_forced(
        client: TestClient, office: Repository, base: dict[str, int]) -> None:
    """Work merged into Anna, then Anna into Orlov: undoing the first would pull rows out of
    the second merge, so it is refused with 409 naming them; with force it is done."""
    orlov = await contact_of(office, "phone", "+79031112233")
    status, first = await post_json(client, "/api/contacts/merge",
                                    {"survivor_id": base["anna"], "merged_ids": [base["work"]]})
    assert status == 200
    status, _second = await post_json(client, "/api/contacts/merge",
                                     {"survivor_id": orlov, "merged_ids": [base["anna"]]})
    assert status == 200
    status, refused = await post_json(client, f"/api/merges/{first['merge_id']}/undo")
    assert status == 409
    named = {(r["table"], tuple(r["key"].values())) for r in refused["rows"]}
    assert ("contact_identifiers", ("phone", ANNA_WORK)) in named
    assert any(t == "communications" for t, _ in named)
    status, forced = await post_json(client, f"/api/merges/{first['merge_id']}/undo", force="true")
    assert status == 200 and forced["overwritten"]
    resp = await client.get("/api/contacts/lookup", params={"phone": ANNA_WORK}, headers=auth())
    assert (await resp.json())["id"] == base["work"]
    assert await orphans(office) == []


async def test_merge_refuses_what_cannot_be_merged(client: TestClient, office: Repository,
                                                   base: dict[str, int]) -> None:
    """Unknown ids are 404, a contact already merged is 409, malformed requests are 400 with a
    reason, and a refused merge changes nothing."""
    before = await snapshot(office)
    cases = [
        ({"survivor_id": base["anna"], "merged_ids": [999999]}, 404),
        ({"survivor_id": base["anna"], "merged_ids": [base["anna"]]}, 400),
        ({"survivor_id": base["anna"], "merged_ids": []}, 400),
        ({"survivor_id": "x", "merged_ids": [1]}, 400),
        ([1, 2], 400),
    ]
    for body, want in cases:
        status, answer = await post_json(client, "/api/contacts/merge", body)
        assert status == want and answer["error"], body
    resp = await client.post("/api/contacts/merge", data=b"{not json", headers=auth())
    assert resp.status == 400
    assert await snapshot(office) == before
    status, _ = await post_json(client, "/api/contacts/merge", {"survivor_id": base["anna"], "merged_ids": [base["old"]]})
    status, answer = await post_json(client, "/api/contacts/merge",
                                     {"survivor_id": base["work"], "merged_ids": [base["old"]]})
    assert status == 409 and answer["contact_ids"] == [base["old"]]
    status, answer = await post_json(client, "/api/merges/424242/undo")
    assert status == 404


async def test_merge_joins_the_callers_transaction(office: Repository, base: dict[str, int]) -> None:
    """merge_contacts works inside a transaction it did not open: rolled back with it."""
    before = await snapshot(office)

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback):
        async with office.transaction() as tx:
            result = await merge_contacts(tx, survivor_id=base["anna"], merged_ids=[base["work"]],
                                          actor="channels", reason="absorbed")
            assert result.moved["identifiers"] == 2
            raise Rollback
    assert await snapshot(office) == before


async def test_concurrent_merges_of_overlapping_contacts_do_not_deadlock(
        office: Repository, base: dict[str, int]) -> None:
    """Merges over the same contacts in opposite directions, at once: each either succeeds
    or is refused as already merged; none deadlocks, and nothing is left pointing at a merged
    contact."""
    store = ContactStore(office)
    a, b, c = base["anna"], base["work"], base["old"]
    plans = [(a, [b, c]), (c, [b, a]), (b, [a]), (c, [a]), (b, [c])] * 2

    async def one(survivor: int, merged: list[int]) -> str:
        try:
            await store.in_transaction(lambda tx: merge_contacts(
                tx, survivor_id=survivor, merged_ids=merged, actor="t", reason=""))
            return "merged"
        except ContactRefused as exc:
            assert exc.status == 409, exc
            return "refused"

    outcomes = await asyncio.gather(*(one(s, m) for s, m in plans))
    assert "merged" in outcomes
    assert await office.pool.fetchval(
        "SELECT count(*) FROM contacts WHERE id = ANY($1::bigint[]) AND merged_into IS NULL", [a, b, c]) >= 1
    assert await orphans(office) == []


async def test_merge_and_unmerge_from_the_command_line(settings: Settings, office: Repository,
                                                       base: dict[str, int]) -> None:
    before = await snapshot(office)
    code, out, err = await run_cli(settings, "contacts", "merge", str(base["anna"]), str(base["work"]),
                                   "--reason", "same person")
    assert code == 0, err
    merge_id = await office.pool.fetchval("SELECT max(id) FROM contact_merges")
    assert f"объединение #{merge_id}: #{base['work']} в #{base['anna']}; перенесено: " in out
    code, out, err = await run_cli(settings, "contacts", "merges")
    assert code == 0 and "same person" in out
    # For a person: office time to the minute (no UTC seconds), the state and what moved, in Russian.
    (line,) = [row for row in out.splitlines() if row.startswith(f"#{merge_id} ")]
    assert re.match(rf"#{merge_id} \d\d\.\d\d\.\d{{4}} \d\d:\d\d cli:\S+: #{base['work']} → #{base['anna']}"
                    r" \(действует\); перенесено: .*обращений \d+", line), line
    code, out, err = await run_cli(settings, "contacts", "unmerge", str(merge_id))
    assert code == 0, err
    assert await snapshot(office) == before
    code, out, err = await run_cli(settings, "contacts", "unmerge", str(merge_id))
    assert code == 1 and "already" in err


async def test_trips_move_with_the_merge_once_the_table_exists(client: TestClient, office: Repository,
                                                               base: dict[str, int]) -> None:
    """The lead-lifecycle work adds trips; a merge moves them and undo brings them back."""
    trip = await office.pool.fetchval("INSERT INTO trips (order_number, contact_id, status, booked_at)"
                                      " VALUES ('M-1', $1, 'paid', now()) RETURNING id", base["work"])
    before = await snapshot(office)
    status, answer = await post_json(client, "/api/contacts/merge",
                                     {"survivor_id": base["anna"], "merged_ids": [base["work"]]})
    assert (status, answer["moved"]["trips"]) == (200, 1)
    assert await office.pool.fetchval("SELECT contact_id FROM trips WHERE id = $1", trip) == base["anna"]
    assert await orphans(office) == []
    status, _ = await post_json(client, f"/api/merges/{answer['merge_id']}/undo")
    assert status == 200 and await snapshot(office) == before


async def test_calls_arriving_during_a_merge_end_with_the_survivor(
        client: TestClient, office: Repository, base: dict[str, int]) -> None:
    """Events of the merged contacts' calls processed while the merge runs: afterwards no
    communication or lead points at a merged contact, and at most one lead is open."""
    calls = [call_in(client, phone[1:], f"race{n}", concurrently=True)
             for n, phone in enumerate((ANNA_WORK, ANNA_OLD, ANNA_WORK, ANNA))]
    merge = post_json(client, "/api/contacts/merge",
                      {"survivor_id": base["anna"], "merged_ids": [base["work"], base["old"]]})
    results = await asyncio.gather(merge, *calls)
    assert results[0][0] == 200
    assert await orphans(office) == []
    assert await office.pool.fetchval(
        "SELECT count(*) FROM leads WHERE contact_id = $1 AND status = 'open'", base["anna"]) == 1
    assert not await office.pool.fetchval(
        "SELECT count(*) FROM communications c JOIN leads l ON l.id = c.lead_id"
        " WHERE l.status = 'merged' OR l.contact_id <> c.contact_id")


async def test_undo_gives_back_the_calls_that_arrived_while_merged(
        client: TestClient, office: Repository, base: dict[str, int]) -> None:
    """While Анна's cards are merged, a call from the work phone is filed on the survivor (the
    phone is the survivor's then). Undoing the merge gives the work phone back to its card,
    and the call goes with it: a communication that arrived while merged follows the
    identifier it arrived under (its phone; without one, its e-mail) back to the restored
    contact, into that contact's open lead. A call from the survivor's own phone in the same
    time stays, and no communication is left in a lead of another contact."""
    survivor, work = base["anna"], base["work"]
    status, merged = await post_json(client, "/api/contacts/merge", {"survivor_id": survivor, "merged_ids": [work]})
    assert status == 200
    await call_in(client, ANNA_WORK[1:], "while")
    await call_in(client, ANNA[1:], "own")
    assert {r["contact_id"] for r in await office.pool.fetch(
        "SELECT contact_id FROM communications WHERE entry_id LIKE '%~while%' OR entry_id LIKE '%~own%'")} == {survivor}

    status, _ = await post_json(client, f"/api/merges/{merged['merge_id']}/undo")
    assert status == 200
    work_lead = await office.pool.fetchval("SELECT id FROM leads WHERE contact_id = $1 AND status = 'open'", work)
    moved = await office.pool.fetch("SELECT contact_id, lead_id FROM communications WHERE entry_id LIKE '%~while%'")
    assert moved and {(r["contact_id"], r["lead_id"]) for r in moved} == {(work, work_lead)}
    stayed = await office.pool.fetch("SELECT contact_id FROM communications WHERE entry_id LIKE '%~own%'")
    assert stayed and {r["contact_id"] for r in stayed} == {survivor}
    assert not await office.pool.fetchval(
        "SELECT count(*) FROM communications c JOIN leads l ON l.id = c.lead_id WHERE l.contact_id <> c.contact_id")


async def test_renames_and_tags_sent_to_a_merged_id_reach_the_survivor(
        client: TestClient, office: Repository, base: dict[str, int]) -> None:
    """A screen still showing the merged card sends its old id: the name and the tags land on
    the survivor (as lookups follow merged_into), never on the hidden card."""
    survivor, work = base["anna"], base["work"]
    status, _ = await post_json(client, "/api/contacts/merge", {"survivor_id": survivor, "merged_ids": [work]})
    assert status == 200
    hidden_before = await office.pool.fetchrow("SELECT name, tags FROM contacts WHERE id = $1", work)

    resp = await client.put(f"/api/contacts/{work}/name", json={"name": "Анна Кузнецова (работа)"}, headers=auth())
    assert (resp.status, (await resp.json())["id"]) == (200, survivor)
    status, _ = await post_json(client, f"/api/contacts/{work}/tags", {"tag": "постоянный"})
    assert status == 200
    resp = await client.delete(f"/api/contacts/{work}/tags/работа", headers=auth())
    assert resp.status == 200

    row = await office.pool.fetchrow("SELECT name, tags FROM contacts WHERE id = $1", survivor)
    assert row["name"] == "Анна Кузнецова (работа)"
    assert "постоянный" in row["tags"] and "работа" not in row["tags"]
    assert await office.pool.fetchrow("SELECT name, tags FROM contacts WHERE id = $1", work) == hidden_before
    assert await office.pool.fetchval("SELECT contact_id FROM contact_tag_removals WHERE tag = 'работа'") == survivor


async def test_merge_keeps_a_birthday_and_note_only_a_merged_contact_had(
        client: TestClient, office: Repository, base: dict[str, int]) -> None:
    """An imported birthday and note live on one card; merged into a survivor without them they
    stay with the person, and undo takes them back off the survivor."""
    survivor, work = base["anna"], base["work"]
    await office.pool.execute("UPDATE contacts SET birthday = NULL, note = NULL WHERE id = $1", survivor)
    await office.pool.execute(
        "UPDATE contacts SET birthday = '1985-03-15', note = 'Любит Турцию' WHERE id = $1", work)
    status, answer = await post_json(client, "/api/contacts/merge", {"survivor_id": survivor, "merged_ids": [work]})
    assert status == 200, answer
    card = await office.pool.fetchrow("SELECT birthday, note FROM contacts WHERE id = $1", survivor)
    assert (str(card["birthday"]), card["note"]) == ("1985-03-15", "Любит Турцию")
    status, undone = await post_json(client, f"/api/merges/{answer['merge_id']}/undo")
    assert status == 200, undone
    rows = {r["id"]: (r["birthday"], r["note"]) for r in await office.pool.fetch(
        "SELECT id, birthday, note FROM contacts WHERE id = ANY($1::bigint[])", [survivor, work])}
    assert rows[survivor] == (None, None)
    assert str(rows[work][0]) == "1985-03-15" and rows[work][1] == "Любит Турцию"
