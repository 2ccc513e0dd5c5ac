"""The mailbox poller against a real Dovecot and a real PostgreSQL.

Messages are APPENDed over IMAP as a mail server would deliver them; the
poller takes each once, files it (the raw message lands in the inbox under
source + Message-ID), and moves it to the done folder. Auto-replies are moved
to the done folder without being filed.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.email.parse import parse_email
from daemon.domain.errors import StorageUnavailable
from daemon.domain.inquiry import Inquiry
from daemon.inquiries import mailbox
from daemon.inquiries.imap import Endpoint
from daemon.inquiries.mail_inbox import inbox_filer
from daemon.inquiries.mailbox import DEFAULT_QUARANTINE_FOLDER, FileInquiry, MailboxConfig, MailboxPoller
from daemon.intake.admission import EventNotStorable
from daemon.intake.quarantine import quarantine
from daemon.store.repository import Repository
from tests.imapkit import Account, Dovecot, _session, append, kick, messages_in
from tests.unit.test_email_adapter import AGENCY, EXAMPLES, check_expect, example

DONE = "Processed"
WAIT_S = 30.0


def config(server: Dovecot, account: Account, *, tls: bool = False, **overrides) -> MailboxConfig:  # type: ignore[no-untyped-def]
    endpoint = Endpoint(
        host="127.0.0.1", port=server.tls_port if tls else server.plain_port,
        security="tls" if tls else "plain", username=account.username, password=account.password,
        timeout_s=10, ssl_context=server.ssl_context() if tls else None,
    )
    values = {"source": "mail", "endpoint": endpoint, "done_folder": DONE, "own_addresses": AGENCY,
              "poll_interval_s": 0.2, "retry_pause_s": 0.1} | overrides
    return MailboxConfig(**values)


async def eventually(condition: Callable[[], object], what: str) -> None:
    """Wait (bounded) until ``condition()`` is true; the bound only guards against a hang."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Running:
    """A poller running as a task, as the daemon runs it."""

    def __init__(self, poller: MailboxPoller) -> None:
        self.poller = poller
        self.task = asyncio.create_task(poller.run_forever(), name=f"mailbox:{poller.config.source}")

    async def stop(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def running() -> AsyncIterator[Callable[[MailboxPoller], Running]]:
    started: list[Running] = []

    def start(poller: MailboxPoller) -> Running:
        started.append(Running(poller))
        return started[-1]

    yield start
    for run in started:
        if not run.task.done():
            await run.stop()


async def inbox_rows(repo: Repository) -> list[dict]:
    rows = await repo.pool.fetch("SELECT dedup_key, source, path, raw, kind, event::text AS event FROM inbox ORDER BY id")
    return [dict(r) for r in rows]


def example_raws(names: list[str]) -> list[bytes]:
    return [example(name)[0] for name in names]


async def test_every_example_is_filed_once_and_moved(dovecot: Dovecot, repo: Repository, running) -> None:
    """Each example goes through Dovecot and the poller: filed with its expect, moved, the
    auto-reply moved but not filed; replayed shuffled and twice, nothing new is filed."""
    account = dovecot.add_account()
    order = list(EXAMPLES)
    random.Random(11).shuffle(order)
    await append(dovecot, account, example_raws(order))
    run = running(MailboxPoller(config(dovecot, account), inbox_filer(repo, folder="INBOX")))
    await eventually(lambda: run.poller.totals.filed + run.poller.totals.skipped == len(order), "the first pass")

    rows = await inbox_rows(repo)
    expected = {name: example(name)[1] for name in order}
    filed = [e for e in expected.values() if not e.get("skip")]
    assert sorted(r["dedup_key"] for r in rows) == sorted(f"inquiry:mail:{e['dedup_id']}" for e in filed)
    for row in rows:
        # The raw message is kept verbatim and reads back into the same inquiry.
        name = next(n for n, e in expected.items() if row["dedup_key"] == f"inquiry:mail:{e['dedup_id']}")
        assert row["raw"].encode("utf-8") == example(name)[0]
        check_expect(parse_email(row["raw"].encode("utf-8"), source="mail", own_addresses=AGENCY), expected[name])
        stored = Inquiry.model_validate(json.loads(row["event"]))
        assert stored.external_id == expected[name]["dedup_id"] and stored.channel == "email"
    await eventually(lambda: run.poller.waiting, "the pass to end")
    assert await messages_in(dovecot, account, "INBOX") == []
    assert sorted(await messages_in(dovecot, account, DONE)) == sorted(example_raws(order))
    assert run.poller.totals.skipped == 1

    # The same deliveries again (a mail server retrying), twice, in another order.
    again = order[::-1] + order
    await append(dovecot, account, example_raws(again))
    await eventually(lambda: run.poller.totals.duplicate == 2 * len(filed), "the repeats")
    await eventually(lambda: run.poller.totals.skipped == 3, "the skipped repeats")
    assert await inbox_rows(repo) == rows
    await eventually(lambda: run.poller.waiting, "the pass to end")
    assert await messages_in(dovecot, account, "INBOX") == []
    assert len(await messages_in(dovecot, account, DONE)) == 3 * len(order)


async def test_a_restart_does_not_take_a_message_twice(dovecot: Dovecot, repo: Repository, running) -> None:
    """A message filed by an earlier run that died before moving it is found again after the
    restart, recognised by its Message-ID, and only moved."""
    account = dovecot.add_account()
    raw, expect = example("email_cp1251_outlook")
    filer = inbox_filer(repo, folder="INBOX")
    parsed = parse_email(raw, source="mail", own_addresses=AGENCY)
    assert parsed.inquiry is not None
    assert await filer(parsed.inquiry, raw) == "stored"  # the earlier run's write
    await append(dovecot, account, [raw])

    run = running(MailboxPoller(config(dovecot, account), filer))
    await eventually(lambda: run.poller.totals.duplicate == 1 and run.poller.waiting, "the message")
    assert run.poller.totals.filed == 0
    assert [r["dedup_key"] for r in await inbox_rows(repo)] == [f"inquiry:mail:{expect['dedup_id']}"]
    assert await messages_in(dovecot, account, DONE) == [raw]
    await run.stop()

    # A second poller (the daemon restarted) finds nothing to do.
    second = running(MailboxPoller(config(dovecot, account), filer))
    await eventually(lambda: second.poller.passes >= 1 and second.poller.waiting, "the restarted poller's pass")
    assert second.poller.totals.filed == second.poller.totals.duplicate == 0


async def test_idle_push_over_tls(dovecot: Dovecot, repo: Repository, running) -> None:
    """Over TLS with IDLE (and polling effectively off), a message appended while the
    poller waits is taken as soon as the server announces it."""
    account = dovecot.add_account()
    run = running(MailboxPoller(config(dovecot, account, tls=True, poll_interval_s=3600),
                                inbox_filer(repo, folder="INBOX")))
    await eventually(lambda: run.poller.passes >= 1, "the first (empty) pass")
    raw, expect = example("email_plain_encoded_subject")
    await append(dovecot, account, [raw])
    await eventually(lambda: run.poller.totals.filed == 1 and run.poller.waiting, "the pushed message")
    assert [r["dedup_key"] for r in await inbox_rows(repo)] == [f"inquiry:mail:{expect['dedup_id']}"]
    assert await messages_in(dovecot, account, DONE) == [raw]


async def test_polling_and_copy_expunge_without_move(dovecot: Dovecot, repo: Repository, running) -> None:
    """Without IDLE the poller polls; without MOVE it copies, flags \\Deleted and expunges.
    A watched folder other than INBOX and a separate, Cyrillic-named folder for skipped mail work too."""
    account = dovecot.add_account()
    cfg = config(dovecot, account, use_idle=False, use_move=False, folder="Leads", skipped_folder="Роботы")
    client_raw, _ = example("email_multipart_reply_to")
    robot_raw, _ = example("email_autoreply_koi8r")
    # The watched folder is the client's to create; the poller makes only its own folders.
    session = await _session(dovecot, account)
    assert (await session.create("Leads")).result == "OK"
    await session.logout()
    await append(dovecot, account, [client_raw, robot_raw], folder="Leads")
    run = running(MailboxPoller(cfg, inbox_filer(repo, folder="Leads")))
    await eventually(lambda: run.poller.totals.filed == 1 and run.poller.totals.skipped == 1
                     and run.poller.waiting, "both messages")
    assert await messages_in(dovecot, account, "Leads") == []
    assert await messages_in(dovecot, account, DONE) == [client_raw]
    assert await messages_in(dovecot, account, "Роботы") == [robot_raw]
    # Polling: a later message is found by the next poll.
    later, _ = example("email_plain_encoded_subject")
    await append(dovecot, account, [later], folder="Leads")
    await eventually(lambda: run.poller.totals.filed == 2, "the later message")


async def test_retries_a_refused_login_and_a_dropped_connection(
        dovecot: Dovecot, repo: Repository, running) -> None:
    """A login the server refuses and a connection it drops are retried after a pause;
    mail is taken once the server lets the poller in again."""
    account = dovecot.add_account()
    wrong = Account(account.username, account.password + "-wrong")
    run = running(MailboxPoller(config(dovecot, wrong), inbox_filer(repo, folder="INBOX")))
    await asyncio.sleep(0.5)
    assert run.poller.passes == 0 and not run.task.done()
    await run.stop()

    run = running(MailboxPoller(config(dovecot, account, poll_interval_s=3600), inbox_filer(repo, folder="INBOX")))
    await eventually(lambda: run.poller.passes >= 1, "the first pass")
    kick(dovecot, account)
    raw, _ = example("email_cp1251_outlook")
    await append(dovecot, account, [raw])
    await eventually(lambda: run.poller.totals.filed == 1, "the message after the reconnect")
    assert not run.task.done()


async def test_cancel_stops_the_poller_at_once(dovecot: Dovecot, repo: Repository, running) -> None:
    """Shutdown cancels the task whether it is idling or pausing between attempts."""
    account = dovecot.add_account()
    idling = running(MailboxPoller(config(dovecot, account, poll_interval_s=3600), inbox_filer(repo, folder="INBOX")))
    await eventually(lambda: idling.poller.passes >= 1, "the first pass")
    await idling.stop()
    assert idling.task.cancelled()


async def test_a_filer_that_cannot_store_leaves_the_message_in_place(
        dovecot: Dovecot, repo: Repository, running) -> None:
    """Until the inquiry is durable the message stays in the folder; it is taken on a later try."""
    account = dovecot.add_account()
    raw, _ = example("email_plain_encoded_subject")
    await append(dovecot, account, [raw])
    real = inbox_filer(repo, folder="INBOX")
    refusals = []

    async def database_away_at_first(inquiry: Inquiry, message: bytes) -> str:
        if not refusals:
            refusals.append(inquiry.external_id)
            await repo.pool.execute("SELECT 1/0")  # a real PostgreSQL error, not a stand-in
        return await real(inquiry, message)

    filer: FileInquiry = database_away_at_first
    run = running(MailboxPoller(config(dovecot, account), filer))
    await eventually(lambda: run.poller.totals.filed == 1 and run.poller.waiting, "the second try")
    assert refusals == ["<1747032067.4821.kuznetsova@mail.yandex.ru>"]
    assert await messages_in(dovecot, account, DONE) == [raw]


def test_the_done_folder_cannot_be_the_watched_one(dovecot: Dovecot) -> None:
    account = Account("x", "y")
    with pytest.raises(ValueError, match="must differ"):
        config(dovecot, account, done_folder="inbox")
    with pytest.raises(ValueError, match="must differ"):
        config(dovecot, account, folder="Leads", skipped_folder="Leads")
    with pytest.raises(ValueError, match="must differ"):
        config(dovecot, account, quarantine_folder="INBOX")


def refusing(real: FileInquiry, refused_id: str, error: Exception, tries: list[str]) -> FileInquiry:
    """The real filer, except that the message ``refused_id`` is refused with ``error``."""

    async def file(inquiry: Inquiry, raw: bytes) -> str:
        tries.append(inquiry.external_id)
        if inquiry.external_id == refused_id:
            raise error
        return await real(inquiry, raw)

    return file


async def test_a_message_that_cannot_be_filed_is_quarantined_and_the_next_ones_are_filed(
        dovecot: Dovecot, repo: Repository, running) -> None:
    """A message PostgreSQL would refuse held up every later one, tried for ever. Now the
    mail behind it is filed at once; it is tried three times, then kept in the quarantine
    table (raw, reason, dedup key) and moved to the quarantine folder."""
    account = dovecot.add_account()
    bad, _ = example("email_plain_encoded_subject")
    good, good_expect = example("email_cp1251_outlook")
    await append(dovecot, account, [bad, good])
    tries: list[str] = []
    bad_id = "<1747032067.4821.kuznetsova@mail.yandex.ru>"
    filer = refusing(inbox_filer(repo, folder="INBOX"), bad_id,
                     EventNotStorable([{"field": "dedup_key", "problem": "longer than 1024 bytes"}]), tries)

    async def keep(raw: bytes, reason: str, dedup_key: str | None) -> None:
        await quarantine(repo, raw, reason=reason, dedup_key=dedup_key)

    run = running(MailboxPoller(config(dovecot, account), filer, quarantine=keep))
    await eventually(lambda: run.poller.totals.quarantined == 1 and run.poller.waiting, "the quarantine")
    assert tries[:2] == [bad_id, good_expect["dedup_id"]]  # the next message did not wait
    assert tries.count(bad_id) == 3
    assert [r["dedup_key"] for r in await inbox_rows(repo)] == [f"inquiry:mail:{good_expect['dedup_id']}"]
    assert await messages_in(dovecot, account, "INBOX") == []
    assert await messages_in(dovecot, account, DONE) == [good]
    assert await messages_in(dovecot, account, DEFAULT_QUARANTINE_FOLDER) == [bad]
    row = await repo.pool.fetchrow("SELECT * FROM event_quarantine")
    assert (bytes(row["envelope"]), row["dedup_key"], row["resolved_at"]) == (bad, f"inquiry:mail:{bad_id}", None)
    assert "after 3 attempts" in row["reason"] and "longer than 1024 bytes" in row["reason"]
    assert (run.poller.totals.filed, run.poller.totals.failed) == (1, 3)


async def test_a_database_that_is_away_is_no_fault_of_the_message(
        dovecot: Dovecot, repo: Repository, running, monkeypatch: pytest.MonkeyPatch) -> None:
    """While nothing durable can take mail (PostgreSQL and the spool both away) the message is
    tried again and again, never quarantined; it is filed when the database is back."""
    account = dovecot.add_account()
    raw, expect = example("email_plain_encoded_subject")
    await append(dovecot, account, [raw])
    real = inbox_filer(repo, folder="INBOX")
    tries: list[str] = []

    async def away_five_times(inquiry: Inquiry, message: bytes) -> str:
        tries.append(inquiry.external_id)
        if len(tries) <= 5:
            raise StorageUnavailable("database and spool both unavailable")
        return await real(inquiry, message)

    async def keep(raw: bytes, reason: str, dedup_key: str | None) -> None:
        raise AssertionError("quarantined")

    # The reconnect pauses (1 s, 2 s, 4 s...) would make this slow; the order of events is what counts.
    monkeypatch.setattr(mailbox, "BACKOFF_FIRST_S", 0.01)
    monkeypatch.setattr(mailbox, "BACKOFF_MAX_S", 0.01)
    run = running(MailboxPoller(config(dovecot, account), away_five_times, quarantine=keep))
    await eventually(lambda: run.poller.totals.filed == 1 and run.poller.waiting, "the message")
    assert len(tries) == 6 and run.poller.totals.quarantined == 0
    assert await messages_in(dovecot, account, DONE) == [raw]
