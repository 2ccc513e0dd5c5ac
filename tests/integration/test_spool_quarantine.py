"""Nothing acknowledged is lost quietly: refused up front, or replayed, or kept in the quarantine table.

The spool's records carry a format version and old
ones are upgraded on read; a record that cannot be read, or that PostgreSQL
refuses, is quarantined with its reason, counted, and turns /health to warn,
and the replay goes on with the records after it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from daemon.domain.events import CallLegChanged, Envelope, Party
from daemon.intake import admission
from daemon.intake.spool import _segment_name
from daemon.runtime.keys import INTAKE, METRICS, SPOOL, TASKS
from daemon.store.records import (
    FORMAT_VERSION,
    UnreadableRecord,
    dump_envelope,
    load_envelope,
    load_stored_event,
    renamed,
    stored_event_json,
)
from tests.conftest import fixture_json, post_event
from tests.scenarios import steps

CALL = steps("answered_incoming.json")
OTHER_CALL = steps("missed_incoming.json")


def quarantined(client: TestClient, reason: str) -> float:
    value = client.app[METRICS].registry.get_sample_value(
        "callbridge_events_quarantined_total", {"reason": reason})
    return value or 0.0


async def health(client: TestClient) -> dict:
    resp = await client.get("/health")
    assert resp.status == 200
    return json.loads(await resp.text())


async def spool_instead_of_storing(client: TestClient, events) -> None:  # type: ignore[no-untyped-def]
    """Post ``events`` as if PostgreSQL were away: each is acknowledged from the spool."""
    await client.app[TASKS].stop()  # no replayer: the test replays itself
    client.app[INTAKE].database_ok = False
    for step in events:
        resp = await post_event(client, step.path, step.json)
        assert (resp.status, await resp.json()) == (200, {"result": "spooled"})
    client.app[INTAKE].database_ok = True


# -- the record format ------------------------------------------------------------------------

def _leg(**changes: object) -> Envelope:
    event = CallLegChanged(entry_id="e-1", call_id="c-1", seq=1, state="appeared", at=1_760_000_000,
                           caller=Party(number="79161234567"), **changes)  # type: ignore[arg-type]
    return Envelope(source="mango", path="events/call", raw="{}", dedup_key="mango:call:c-1:1:appeared",
                    event=event)


def test_records_carry_their_format_version_and_read_back() -> None:
    env = _leg()
    payload = dump_envelope(env)
    assert json.loads(payload)["v"] == FORMAT_VERSION
    assert load_envelope(payload) == env


def test_a_record_written_before_versions_existed_still_reads() -> None:
    """The shape every spool held until now: the envelope's JSON with no version."""
    env = _leg()
    old = env.model_dump_json().encode()
    assert "v" not in json.loads(old)
    assert load_envelope(old) == env
    assert load_stored_event(env.event.model_dump_json()) == env.event


async def test_stored_events_read_back_through_postgresql_whatever_their_version(pool) -> None:  # type: ignore[no-untyped-def]
    """inbox.event as jsonb gives it back (keys reordered, spaced): today's version and the
    unversioned shape both read as the same event."""
    event = _leg().event
    for written in (stored_event_json(event), event.model_dump_json()):
        text = await pool.fetchval("SELECT $1::jsonb::text", written)
        assert load_stored_event(text) == event
    assert (await pool.fetchval("SELECT $1::jsonb ->> 'v'", stored_event_json(event))) == str(FORMAT_VERSION)


def test_an_upgrade_that_renames_a_field_reads_the_old_name() -> None:
    """A later version renames a field: records written under the old name are upgraded on read.
    (Here: version 1 called the leg's ``at`` ``occurred_at``; version 2 is today's model.)"""
    doc = json.loads(_leg().model_dump_json())
    doc["event"]["occurred_at"] = doc["event"].pop("at")
    old = json.dumps(doc).encode()
    with pytest.raises(UnreadableRecord):
        load_envelope(old)  # without the upgrade step it is not today's event
    upgrades = {1: renamed("call_leg", "occurred_at", "at")}
    assert load_envelope(old, upgrades=upgrades, to=2) == _leg()
    # Other kinds pass through the step untouched.
    assert renamed("call_leg", "x", "y")({"kind": "dtmf", "x": 1}) == {"kind": "dtmf", "x": 1}


@pytest.mark.parametrize(("payload", "why"), [
    (b"\xff\xfe not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"v": 99, "event": {}}', "newer callbridge"),
    (b'{"v": 2, "source": "mango"}', "not an event"),
])
def test_unreadable_records_say_why(payload: bytes, why: str) -> None:
    with pytest.raises(UnreadableRecord, match=why):
        load_envelope(payload)


# -- replay: set aside, keep going, count ------------------------------------------------------

async def test_one_bad_record_or_segment_does_not_stop_the_replay(client: TestClient, office) -> None:  # type: ignore[no-untyped-def]
    """A damaged record (valid checksum, not an event), an unreadable segment, and records in the
    old shape: the good ones are stored, each bad one is quarantined with its reason."""
    await spool_instead_of_storing(client, CALL[:3])
    spool = client.app[SPOOL]
    spool.seal()
    spool.append_sync(b'{"v": 2, "what": "a record no callbridge wrote"}')
    env = load_envelope(dump_envelope(_leg()))
    spool.append_sync(env.model_dump_json().encode())  # as spooled before versions existed
    spool.append_sync(b"bit rot will hit this one")
    spool.seal()
    second = spool.segments()[-1]
    second.write_bytes(second.read_bytes().replace(b"bit rot", b"bit ROT"))  # its checksum fails
    (spool.directory / _segment_name(999)).mkdir()  # a segment that cannot be read at all
    intake = client.app[INTAKE]

    assert await intake.replay_spool() == 4
    assert await office.pool.fetchval("SELECT count(*) FROM inbox") == 4
    rows = await office.pool.fetch("SELECT reason, dedup_key, envelope FROM event_quarantine ORDER BY id")
    segment_reason = f"spool segment {_segment_name(999)} unreadable (IsADirectoryError"
    assert rows[0]["reason"].startswith(f"damaged spool bytes in {second.name} at offset ")
    assert [r["reason"].split(":")[0] for r in rows[1:]] == ["unreadable spool record", segment_reason]
    assert rows[0]["reason"].endswith("checksum or length wrong") and rows[0]["envelope"].endswith(b"bit ROT will hit this one")
    assert rows[1]["envelope"] == b'{"v": 2, "what": "a record no callbridge wrote"}'
    assert (spool.directory / "rejected" / _segment_name(999)).is_dir()
    assert spool.backlog() == 0 and spool.sealed_segments() == []
    assert quarantined(client, "unreadable") == 3
    doc = await health(client)
    assert doc["status"] == "warn"
    (check,) = doc["checks"]["spool:quarantine"]
    assert (check["status"], check["observedValue"]) == ("warn", 3)
    assert "event_quarantine" in check["output"]


async def test_an_acknowledged_event_postgresql_refuses_is_quarantined_not_lost(
    client: TestClient, office  # type: ignore[no-untyped-def]
) -> None:
    """Answered 200 "spooled", then refused on replay (here by a rule the database has and the
    daemon does not know): kept in event_quarantine with the reason and the record as spooled,
    counted, /health warn; the other call's events are stored all the same."""
    refused_entry = CALL[0].json["entry_id"]
    await office.pool.execute(
        f"ALTER TABLE inbox ADD CONSTRAINT crm_rule CHECK (entry_id IS DISTINCT FROM '{refused_entry}')")
    await spool_instead_of_storing(client, CALL + OTHER_CALL)
    spooled = [p for seg in client.app[SPOOL].segments() for p in _records(seg)]

    assert await client.app[INTAKE].replay_spool() == len(OTHER_CALL)
    rows = await office.pool.fetch("SELECT reason, dedup_key, envelope, resolved_at FROM event_quarantine")
    assert len(rows) == len(CALL)
    assert all("crm_rule" in r["reason"] and r["reason"].startswith("refused by PostgreSQL") for r in rows)
    assert sorted(r["envelope"] for r in rows) == sorted(spooled[: len(CALL)])
    assert {r["dedup_key"] for r in rows} == {load_envelope(p).dedup_key for p in spooled[: len(CALL)]}
    assert await office.pool.fetchval("SELECT count(*) FROM inbox") == len(OTHER_CALL)
    assert quarantined(client, "refused") == len(CALL)
    assert not (client.app[SPOOL].directory / "rejected").exists()  # not a file nobody reads
    assert (await health(client))["checks"]["spool:quarantine"][0]["observedValue"] == len(CALL)

    # A person deals with them; /health passes again.
    await office.pool.execute("UPDATE event_quarantine SET resolved_at = now()")
    assert (await health(client))["status"] == "pass"


def _records(segment: Path) -> list[bytes]:
    from daemon.intake.spool import read_records

    return list(read_records(segment))


# -- refused before the 200 -------------------------------------------------------------------

async def test_text_postgresql_would_refuse_is_made_storable_before_the_200(
        client: TestClient, office) -> None:  # type: ignore[no-untyped-def]
    """The PBX's words reach the database in a shape it takes: digits of other scripts become
    ASCII and a NUL becomes U+FFFD, so such an event is stored, and nothing waits in the spool
    for a refusal (admission's own checks are the last guard, tested below)."""
    appeared = dict(fixture_json("answered_incoming.json")["steps"][0]["json"])
    appeared["from"] = {"number": "7916１２３４５６７"}
    appeared["location"] = "ivr\x00"
    resp = await post_event(client, "/events/call", appeared)
    body = await resp.json()
    assert (resp.status, body) == (200, {"result": "stored"})
    assert client.app[SPOOL].backlog() == 0
    stored = await office.pool.fetchval("SELECT event->'caller'->>'number' FROM inbox")
    assert stored is not None and "\x00" not in stored
    assert await office.pool.fetchval("SELECT phone FROM communications") == "+79161234567"


@pytest.mark.parametrize(("changes", "field", "problem"), [
    ({"location": "ivr\x00x"}, "event.location", "NUL"),
    ({"group": "g\ud800"}, "event.group", "lone surrogate"),
    ({"call_id": "c" * 600}, "event.call_id", "longer than 512 bytes"),
    ({"disconnect_reason": 2**40}, "event.disconnect_reason", "integer range"),
    ({"at": 10**12}, "event.at", "between 1970 and 9999"),
])
def test_what_postgresql_checks_is_checked_before_answering(changes: dict, field: str, problem: str) -> None:
    """For any adapter's events, not only the PBX's (whose parser already refuses some of these)."""
    event = CallLegChanged.model_construct(**(dict(_leg().event) | changes))
    env = Envelope.model_construct(source="mango", path="events/call", raw="{}",
                                   dedup_key="mango:call:c-1:1:appeared", event=event)
    found = admission.problems(env, region="RU")
    assert [p["field"] for p in found] == [field]
    assert problem in found[0]["problem"]
    assert admission.problems(_leg(), region="RU") == []
