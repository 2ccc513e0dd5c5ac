"""The local spool: fsynced records with checksums that survive restarts and torn writes."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from daemon.intake.spool import HEADER, MAGIC, Spool, read_records
from daemon.runtime.keys import INTAKE, REPOSITORY, SPOOL, TASKS
from tests.conftest import post_event
from tests.scenarios import final_state, replay, steps


def _payloads(spool: Spool) -> list[bytes]:
    return [p for seg in spool.segments() for p in read_records(seg)]


async def test_records_come_back_in_order_and_survive_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_max_bytes=100)
    for i in range(10):
        await spool.append(f'{{"n": {i}}}'.encode())
    assert spool.backlog() == 10
    assert len(spool.segments()) > 1  # rolled over at 100 bytes
    spool.close()
    again = Spool(tmp_path)
    assert again.backlog() == 10
    assert _payloads(again) == [f'{{"n": {i}}}'.encode() for i in range(10)]
    again.close()


async def test_a_torn_tail_is_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        await spool.append(f"record-{i}".encode())
    spool.close()
    segment = spool.segments()[0]
    with segment.open("ab") as fh:  # a power cut in the middle of the fourth record
        fh.write(HEADER.pack(MAGIC, 50, 1234) + b"only-part-of-it")
    assert list(read_records(segment)) == [b"record-0", b"record-1", b"record-2"]
    assert Spool(tmp_path).backlog() == 3


async def test_a_corrupt_record_in_the_middle_does_not_hide_the_next(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        await spool.append(f"record-{i}".encode())
    spool.close()
    segment = spool.segments()[0]
    data = bytearray(segment.read_bytes())
    second = data.find(b"record-1")
    data[second] ^= 0xFF  # flip a byte of the second record's payload
    segment.write_bytes(bytes(data))
    assert list(read_records(segment)) == [b"record-0", b"record-2"]


async def test_an_unwritable_spool_raises_and_says_so(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    shutil.rmtree(tmp_path / "spool")  # the directory (and its lock file) replaced by a file
    (tmp_path / "spool").write_text("in the way")
    with pytest.raises(OSError):
        await spool.append(b"x")
    assert not spool.writable()


async def test_events_spooled_while_the_database_is_away_are_replayed(
    client: TestClient, office, db_reset
) -> None:
    """The same final state as a clean delivery, once the replayer has drained the spool."""
    await replay(client, steps("answered_incoming.json"))
    clean = await final_state(office)
    await db_reset()
    await client.app[TASKS].stop()  # no replayer: this test drains the spool itself
    intake = client.app[INTAKE]
    intake.database_ok = False  # what the intake concludes after a failed write
    for step in steps("answered_incoming.json"):
        resp = await post_event(client, step.path, step.json)
        assert (await resp.json()) == {"result": "spooled"}
    assert client.app[SPOOL].backlog() == 9
    assert await office.pool.fetchval("SELECT count(*) FROM inbox") == 0
    intake.database_ok = True
    assert await intake.replay_spool() == 9
    assert client.app[SPOOL].backlog() == 0 and client.app[SPOOL].segments() == []
    assert await final_state(office) == clean


async def test_the_replayer_task_drains_on_its_own(client: TestClient, office) -> None:
    intake = client.app[INTAKE]
    intake.database_ok = False
    for step in steps("missed_incoming.json"):
        await post_event(client, step.path, step.json)
    # The supervised replayer probes the database, finds it answering, and drains.
    for _ in range(100):
        if client.app[SPOOL].backlog() == 0:
            break
        await asyncio.sleep(0.05)
    assert client.app[SPOOL].backlog() == 0
    assert intake.database_ok
    status = await client.app[REPOSITORY].pool.fetchval("SELECT status FROM communications")
    assert status == "missed"


async def test_replaying_while_appends_continue_loses_nothing(tmp_path: Path) -> None:
    """Regression (found by the benchmark): a segment opened by the writer while the
    replayer listed the folder looked sealed, was replayed half-written and deleted."""
    spool = Spool(tmp_path, segment_max_bytes=2000)
    replayed: list[bytes] = []
    writing = True

    async def replayer() -> None:
        while writing or spool.backlog():
            spool.seal()
            for segment in spool.sealed_segments():
                records = list(read_records(segment))
                replayed.extend(records)
                spool.consumed(segment, len(records))
            await asyncio.sleep(0)

    task = asyncio.create_task(replayer())
    await asyncio.gather(*(spool.append(f"rec-{i}".encode()) for i in range(5000)))
    writing = False
    await asyncio.wait_for(task, 30)
    spool.close()
    assert sorted(replayed) == sorted(f"rec-{i}".encode() for i in range(5000))
    assert spool.backlog() == 0 and spool.segments() == []
