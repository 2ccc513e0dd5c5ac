"""What the «База» tab asks of the API: duplicates filtered (reason, least score, «мои») with their
total, and a merge previewed (what will move, nothing written) before it is done."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from daemon.store.repository import Repository
from tests.conftest import auth
from tests.contactkit import contact_of, load_dupes, post_json, snapshot


async def _base(office: Repository) -> dict[str, int]:
    """Anna (105) and Орлов (106) share an inquiry (an identifier hint, score 1.0); Anna's work card
    (nobody's) and «КУЗНЕЦОВА АННА» (106) share a name and a similar phone (0.75)."""
    await load_dupes(office)
    ids = {"anna": await contact_of(office, "phone", "+79161234567"),
           "orlov": await contact_of(office, "phone", "+79031112233"),
           "work": await contact_of(office, "phone", "+79165550011"),
           "old": await contact_of(office, "phone", "+79165550022")}
    await office.pool.execute("INSERT INTO contact_duplicate_hints (contact_low, contact_high, evidence)"
                              " VALUES (least($1::bigint, $2::bigint), greatest($1::bigint, $2::bigint), '{}')",
                              ids["anna"], ids["orlov"])
    return ids


async def _page(client: TestClient, **params: str) -> tuple[int, list[list[int]]]:
    resp = await client.get("/api/contacts/duplicates", params=params, headers=auth())
    doc = await resp.json()
    assert resp.status == 200, doc
    return doc["total"], [c["contact_ids"] for c in doc["items"]]


async def test_duplicates_are_filtered_by_reason_score_and_manager(client: TestClient, office: Repository) -> None:
    ids = await _base(office)
    hinted, named = sorted([ids["anna"], ids["orlov"]]), sorted([ids["work"], ids["old"]])
    assert await _page(client) == (2, [hinted, named])
    assert await _page(client, min_score="0.9") == (1, [hinted])
    assert await _page(client, min_score="0.5", reason="name") == (1, [named])
    assert await _page(client, responsible="105") == (1, [hinted])        # Anna is 105's
    assert await _page(client, responsible="106") == (2, [hinted, named])  # Орлов and the old card are 106's
    assert await _page(client, responsible="107") == (0, [])
    # The total counts every pair the filters keep, not the page.
    assert await _page(client, responsible="106", limit="1", offset="1") == (2, [named])
    for bad in ({"min_score": "much"}, {"min_score": "1.5"}, {"min_score": "nan"}, {"responsible": "10 5"}):
        resp = await client.get("/api/contacts/duplicates", params=bad, headers=auth())
        assert resp.status == 400, bad


async def test_a_merge_preview_says_what_would_move_and_writes_nothing(
        client: TestClient, office: Repository) -> None:
    ids = await _base(office)
    body = {"survivor_id": ids["anna"], "merged_ids": [ids["work"]], "actor": "screen:105"}
    before = await snapshot(office)
    journal = await office.pool.fetchval("SELECT count(*) FROM contact_merges")
    status, preview = await post_json(client, "/api/contacts/merge", body, dry_run="true")
    assert status == 200, preview
    assert (preview["dry_run"], preview["merge_id"], preview["survivor_id"]) == (True, None, ids["anna"])
    assert await snapshot(office) == before
    assert await office.pool.fetchval("SELECT count(*) FROM contact_merges") == journal

    status, done = await post_json(client, "/api/contacts/merge", body)
    assert status == 200, done
    assert done["moved"] == preview["moved"] and done["moved"]["identifiers"] >= 2  # phone and e-mail
    assert await office.pool.fetchval("SELECT merged_into FROM contacts WHERE id = $1", ids["work"]) == ids["anna"]
