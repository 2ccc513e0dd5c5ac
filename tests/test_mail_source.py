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
from daemon.app import build_app
from daemon.inquiries.mail_tasks import mailbox_configs
from daemon.keys import TASKS
from tests.conftest import API_KEY, API_SALT, API_TOKEN
from tests.imapkit import Account, Dovecot, append, messages_in
from tests.test_email_adapter import AGENCY, EXAMPLES, example
from tests.test_mailbox import DONE

WAIT_S = 30.0


def env(db_url: str, state_dir: Path, sources: dict, **extra: str) -> dict[str, str]:
    return {
        "CALLBRIDGE_DATABASE_URL": db_url, "CALLBRIDGE_MANGO_API_KEY": API_KEY,
        "CALLBRIDGE_MANGO_API_SALT": API_SALT, "CALLBRIDGE_API_TOKEN": API_TOKEN,
        "CALLBRIDGE_STATE_DIR": str(state_dir), "CALLBRIDGE_MANGO_API_URL": "http://127.0.0.1:9/vpbx/",
        "CALLBRIDGE_SOURCES": json.dumps(sources), **extra,
    }


def mail_settings(db_url: str, state_dir: Path, server: Dovecot, account: Account) -> Settings:
    mail = {"kind": "email", "imap_host": "127.0.0.1", "imap_port": server.plain_port, "imap_security": "plain",
            "username": account.username, "password": account.password, "done_folder": DONE,
            "poll_interval_s": 0.2, "ad_source": "E-mail"}
    return load_settings(env(db_url, state_dir, {"mail": mail}, CALLBRIDGE_AGENCY_EMAILS=",".join(AGENCY)))


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
