"""An ``email`` source in the daemon: the settings start a supervised mailbox task.

The whole daemon runs (build_app, its task group) with a source pointing at
the test Dovecot; messages are APPENDed over IMAP, filed, moved, and a
restarted daemon takes none of them twice.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings, SettingsError, load_settings
from daemon.inquiries.mail_tasks import mailbox_configs
from daemon.runtime.app import build_app
from daemon.runtime.keys import TASKS
from tests.conftest import API_KEY, API_SALT, API_TOKEN
from tests.imapkit import Account, Dovecot, append, messages_in
from tests.integration.test_mailbox import DONE
from tests.unit.test_email_adapter import AGENCY, EXAMPLES, example

WAIT_S = 30.0


def env(db_url: str, state_dir: Path, sources: dict, **extra: str) -> dict[str, str]:
    return {
        "CALLBRIDGE_DATABASE_URL": db_url, "CALLBRIDGE_MANGO_API_KEY": API_KEY,
        "CALLBRIDGE_MANGO_API_SALT": API_SALT, "CALLBRIDGE_API_TOKEN": API_TOKEN,
        "CALLBRIDGE_STATE_DIR": str(state_dir), "CALLBRIDGE_MANGO_API_URL": "http://127.0.0.1:9/vpbx/",
        "CALLBRIDGE_SOURCES": json.dumps(sources), **extra,
    }


def mail_settings(db_url: str, state_dir: Path, server: Dovecot, account: Account,
                  extra_sources: dict | None = None) -> Settings:
    mail = {"kind": "email", "imap_host": "127.0.0.1", "imap_port": server.plain_port, "imap_security": "plain",
            "username": account.username, "password": account.password, "done_folder": DONE,
            "poll_interval_s": 0.2, "ad_source": "E-mail"}
    sources = {"mail": mail, **(extra_sources or {})}
    return load_settings(env(db_url, state_dir, sources, CALLBRIDGE_AGENCY_EMAILS=",".join(AGENCY)))


def test_email_sources_in_the_settings(tmp_path: Path) -> None:
    """A TOML table per source; the agency's addresses lower-cased; the mailbox's own login
    counts as the agency's; an e-mail source without its login is refused with its name."""
    toml = tmp_path / "cb.toml"
    toml.write_text(
        'agency_emails = ["Info@Tury-Primer.ru"]\n'
        '[sources.mail]\nkind = "email"\nimap_host = "imap.example.ru"\n'
        'username = "zayavki@tury-primer.ru"\npassword = "pw"\nskipped_folder = "Роботы"\n'
        '[sources.site]\nkind = "form"\nsecret = "s"\n', encoding="utf-8")
    settings = load_settings({"CALLBRIDGE_CONFIG": str(toml)})
    [config] = mailbox_configs(settings)
    assert config.source == "mail" and config.folder == "INBOX" and config.done_folder == "Processed"
    assert config.skipped_folder == "Роботы"
    assert config.endpoint.port == 993 and config.endpoint.security == "tls"
    assert config.own_addresses == ("info@tury-primer.ru", "zayavki@tury-primer.ru")
    with pytest.raises(SettingsError, match="sources"):
        load_settings({"CALLBRIDGE_SOURCES": json.dumps({"mail": {"kind": "email", "imap_host": "h"}})})


async def _wait_until_taken(server: Dovecot, account: Account) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while await messages_in(server, account, "INBOX"):
        assert asyncio.get_running_loop().time() < deadline, "the mailbox task did not take the mail"
        await asyncio.sleep(0.1)


async def test_the_daemon_reads_its_mailbox_and_a_restart_takes_nothing_twice(
        db_url: str, tmp_path: Path, dovecot: Dovecot, pool) -> None:  # type: ignore[no-untyped-def]
    """The daemon runs ``mailbox:mail``; every example is taken and moved, the three inquiries
    filed under source + Message-ID. The same mail delivered again to a restarted daemon adds
    nothing; stopping the daemon stops the task."""
    account = dovecot.add_account()
    raws = [example(name)[0] for name in EXAMPLES]
    expected = sorted(f"inquiry:mail:{example(n)[1]['dedup_id']}" for n in EXAMPLES if not example(n)[1].get("skip"))
    for round_ in range(2):
        app = build_app(mail_settings(db_url, tmp_path / "state", dovecot, account), database_url=db_url,
                        apply_migrations=False)
        async with TestClient(TestServer(app)):
            assert "mailbox:mail" in app[TASKS].names
            await append(dovecot, account, raws)
            await _wait_until_taken(dovecot, account)
            keys = sorted(r["dedup_key"] for r in await pool.fetch("SELECT dedup_key FROM inbox WHERE source = 'mail'"))
            assert keys == expected, f"round {round_}"
            tasks = app[TASKS]
        assert tasks.names == []  # the task group stopped with the daemon
    assert len(await messages_in(dovecot, account, DONE)) == 2 * len(EXAMPLES)

async def test_mail_becomes_contacts_leads_and_communications(
        db_url: str, tmp_path: Path, dovecot: Dovecot, office) -> None:  # type: ignore[no-untyped-def]
    """Анна, known by phone, gives a new e-mail in the Tilda form and then writes from it: one
    contact, one open lead, the e-mail's communication on it. The others become contacts of
    their own with the mail source's ad source; the auto-reply and the site's noreply address
    identify nobody."""
    from tests.channels import SOURCES, replay
    from tests.channels import example as http_example

    account = dovecot.add_account()
    pool = office.pool
    settings = mail_settings(db_url, tmp_path / "state", dovecot, account, extra_sources=SOURCES)
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        status, _ = await replay(client, http_example("tilda_form_with_cookies"))
        assert status == 200
        anna = await contact_of(pool, "phone", "+79161234567")
        assert anna is not None and await contact_of(pool, "email", "anna.kuznetsova@yandex.ru") == anna
        anna_lead = await pool.fetchval("SELECT id FROM leads WHERE contact_id = $1 AND status = 'open'", anna)

        await append(dovecot, account, [example(name)[0] for name in EXAMPLES])
        await _wait_until_taken(dovecot, account)

    comms = {c["external_id"]: c for c in await pool.fetch("SELECT * FROM communications WHERE source = 'mail'")}
    assert set(comms) == {example(n)[1]["dedup_id"] for n in EXAMPLES if not example(n)[1].get("skip")}
    anna_mail = comms["<1747032067.4821.kuznetsova@mail.yandex.ru>"]
    assert anna_mail["contact_id"] == anna and anna_mail["lead_id"] == anna_lead
    assert anna_mail["channel"] == "email" and "Турцию, 2 взрослых" in anna_mail["text"]
    sergey = await contact_of(pool, "email", "sergey.volkov@mail.ru")
    assert sergey is not None and await contact_of(pool, "phone", "+79998765432") == sergey
    pavel = await contact_of(pool, "email", "nikolaev.p@rambler.ru")
    assert pavel is not None and await contact_of(pool, "phone", "+79162223344") == pavel
    for who in (sergey, pavel):
        lead = await pool.fetchrow("SELECT ad_source FROM leads WHERE contact_id = $1 AND status = 'open'", who)
        assert lead is not None and lead["ad_source"] == "E-mail"
    assert await contact_of(pool, "email", "noreply@tury-primer.ru") is None
    assert await contact_of(pool, "phone", "+74957650011") is None  # only in the auto-reply
    assert await contact_of(pool, "email", "sales@operator-primer.ru") is None


async def contact_of(pool, kind: str, value: str) -> int | None:  # type: ignore[no-untyped-def]
    return await pool.fetchval("SELECT contact_id FROM contact_identifiers WHERE kind = $1 AND value = $2",
                               kind, value)


async def test_a_known_caller_on_four_channels_is_one_contact_with_one_lead(
        db_url: str, tmp_path: Path, dovecot: Dovecot, office) -> None:  # type: ignore[no-untyped-def]
    """One person across every channel: Анна, known from the imported base, calls; fills in the Tilda form
    with a new e-mail; writes in Telegram and shares her phone there; then sends an e-mail from
    that address. One contact, one open lead, four communications, every one on that lead."""
    from tests.channels import SOURCES, replay
    from tests.channels import example as http_example
    from tests.screenkit import moved, post_steps

    pool = office.pool
    anna = await contact_of(pool, "phone", "+79161234567")
    active = "SELECT count(*) FROM contacts WHERE merged_into IS NULL AND removed_at IS NULL"
    people_before = await pool.fetchval(active)
    account = dovecot.add_account()
    settings = mail_settings(db_url, tmp_path / "state", dovecot, account, extra_sources=SOURCES)
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        await post_steps(client, moved("answered_incoming.json", suffix="-anna", ago_s=3600))
        for name in ("tilda_form_with_cookies", "telegram_start_deeplink", "telegram_text_message",
                     "telegram_contact_shared"):
            status, body = await replay(client, http_example(name))
            assert status == 200, (name, body)
        await append(dovecot, account, [example("email_plain_encoded_subject")[0]])
        await _wait_until_taken(dovecot, account)

    assert await contact_of(pool, "telegram", "412345678") == anna
    assert await contact_of(pool, "email", "anna.kuznetsova@yandex.ru") == anna
    leads = await pool.fetch("SELECT id FROM leads WHERE contact_id = $1 AND status = 'open'", anna)
    comms = await pool.fetch("SELECT channel, lead_id FROM communications WHERE contact_id = $1 ORDER BY id", anna)
    assert len(leads) == 1
    assert [c["channel"] for c in comms] == ["call", "web_form", "telegram", "email"]
    assert {c["lead_id"] for c in comms} == {leads[0]["id"]}
    assert await pool.fetchval(active) == people_before  # the chat's own contact was absorbed


async def test_a_reload_starts_stops_and_restarts_mailbox_tasks(
        db_url: str, tmp_path: Path, dovecot: Dovecot, pool) -> None:  # type: ignore[no-untyped-def]
    """SIGHUP's reload applies to e-mail sources like the other rules: a source taken out of the
    settings stops its task, one put back starts it, and a changed one reads with its new folder."""
    from daemon.runtime.keys import RELOADER

    account = dovecot.add_account()
    settings = mail_settings(db_url, tmp_path / "state", dovecot, account)
    without = settings.model_copy(update={"sources": {}})
    moved_done = settings.model_copy(update={"sources": {
        "mail": settings.inquiries.sources["mail"].model_copy(update={"done_folder": "Обработано"})}})
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)):
        tasks, reloader = app[TASKS], app[RELOADER]
        assert "mailbox:mail" in tasks.names
        assert (await reloader.reload(lambda: without)).ok
        assert "mailbox:mail" not in tasks.names
        assert (await reloader.reload(lambda: moved_done)).ok
        assert "mailbox:mail" in tasks.names
        await append(dovecot, account, [example("email_plain_encoded_subject")[0]])
        await _wait_until_taken(dovecot, account)
        assert len(await messages_in(dovecot, account, "Обработано")) == 1


async def test_a_message_the_database_would_refuse_is_quarantined_and_the_mailbox_goes_on(
        db_url: str, tmp_path: Path, dovecot: Dovecot, pool) -> None:  # type: ignore[no-untyped-def]
    """A Message-ID too long for the index (400 CJK characters: 1,200 bytes) was refused on
    every pass and every later message waited behind it. Now it is tried three times, kept in
    event_quarantine and moved to ``callbridge-quarantine``; the message after it is filed,
    /health says warn and the quarantine metric counts it."""
    from daemon.runtime.keys import METRICS

    account = dovecot.add_account()
    good, _ = example("email_plain_encoded_subject")
    bad = good.replace(b"Message-ID: <1747032067.4821.kuznetsova@mail.yandex.ru>",
                       "Message-ID: <{}@tury-primer.ru>".format("漢" * 400).encode("utf-8"))
    assert bad != good
    app = build_app(mail_settings(db_url, tmp_path / "state", dovecot, account), database_url=db_url,
                    apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        await append(dovecot, account, [bad, good])
        await _wait_until_taken(dovecot, account)
        resp = await client.get("/health")
        health = await resp.json(content_type=None)
        quarantined = app[METRICS].registry.get_sample_value(
            "callbridge_events_quarantined_total", {"reason": "mail"})
    assert await messages_in(dovecot, account, "callbridge-quarantine") == [bad]
    assert await messages_in(dovecot, account, DONE) == [good]
    assert [r["external_id"] for r in await pool.fetch("SELECT external_id FROM communications")] == [
        "<1747032067.4821.kuznetsova@mail.yandex.ru>"]
    row = await pool.fetchrow("SELECT envelope, reason, dedup_key FROM event_quarantine")
    assert bytes(row["envelope"]) == bad and "after 3 attempts" in row["reason"]
    assert row["dedup_key"].startswith("inquiry:mail:<漢漢")
    assert health["status"] == "warn" and health["checks"]["spool:quarantine"][0]["status"] == "warn"
    assert quarantined == 1
