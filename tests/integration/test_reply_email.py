"""Replies by e-mail through a real SMTP server (aiosmtpd): threading headers, the form's address,
a refused recipient."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from adapters.email.parse import parse_email
from daemon.intake.submit import submit
from daemon.runtime.keys import INTAKE
from tests.replykit import eventually, messages, reply, reply_client, reply_settings, reply_sources, settled, status_of
from tests.support.mailserver import Mailbox, mail_server
from tests.support.messengers import FakeMessengers, fake_messengers
from tests.support.paths import CHANNEL_FIXTURES

OUTBOUND = json.loads((CHANNEL_FIXTURES / "replies" / "email-reply-outbound.json").read_text(encoding="utf-8"))
MAIL_SOURCE = {"kind": "email", "imap_host": "127.0.0.1", "imap_port": 9, "imap_security": "plain",
               "username": "info@tury-primer.ru", "password": "imap-secret", "poll_interval_s": 3600}


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    async with mail_server() as box:
        yield box


@pytest.fixture
async def fake() -> AsyncIterator[FakeMessengers]:
    async with fake_messengers() as found:
        yield found


def settings_for(db_url: str, tmp_path: Path, fake: FakeMessengers, mailbox: Mailbox):  # type: ignore[no-untyped-def]
    sources = reply_sources(fake, mail=MAIL_SOURCE)
    return reply_settings(db_url, tmp_path, fake, sources=sources, CALLBRIDGE_SMTP_HOST="127.0.0.1",
                          CALLBRIDGE_SMTP_PORT=str(mailbox.port), CALLBRIDGE_SMTP_SECURITY="none")


async def file_email(client: TestClient, name: str) -> str:
    parsed = parse_email((CHANNEL_FIXTURES / name).read_bytes(), source="mail",
                         own_addresses=["info@tury-primer.ru"])
    assert parsed.inquiry is not None
    await submit(client.app[INTAKE], parsed.inquiry, path="imap/INBOX", raw=b"raw")
    return parsed.external_id


async def test_an_email_reply_threads_onto_the_customers_message(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers, mailbox: Mailbox) -> None:
    async with reply_client(settings_for(db_url, tmp_path, fake, mailbox)) as client:
        external_id = await file_email(client, "email_plain_encoded_subject.eml")
        cid = await pool.fetchval("SELECT id FROM communications WHERE external_id = $1", external_id)
        status, body = await reply(client, cid, {"text": OUTBOUND["request"]["body"], "extension": "101"})
        assert status == 202
        await eventually(lambda: settled(pool, body["message_id"]))
        conv = await messages(client, cid)
    assert await status_of(pool, body["message_id"]) == "sent", conv
    (letter,) = mailbox.messages()
    expected = OUTBOUND["request"]["headers"]
    assert letter["In-Reply-To"] == expected["In-Reply-To"]
    assert letter["References"] == expected["References"]
    assert letter["Subject"] == expected["Subject"]
    assert letter["To"] == "anna.kuznetsova@yandex.ru"
    assert letter["From"] == "info@tury-primer.ru"  # the mailbox the customer wrote to
    assert letter["Message-ID"].endswith("@tury-primer.ru>")
    for header in OUTBOUND["expect"]["must_not_have"]:
        assert header not in letter
    assert letter.get_content().strip() == OUTBOUND["request"]["body"].strip()
    provider_id = await pool.fetchval("SELECT provider_id FROM communication_messages WHERE id = $1",
                                      body["message_id"])
    assert provider_id == letter["Message-ID"]  # the customer's answer will reference it


async def test_a_form_mailers_notice_is_answered_as_a_new_letter_to_the_client(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers, mailbox: Mailbox) -> None:
    async with reply_client(settings_for(db_url, tmp_path, fake, mailbox)) as client:
        external_id = await file_email(client, "email_multipart_reply_to.eml")
        cid = await pool.fetchval("SELECT id FROM communications WHERE external_id = $1", external_id)
        _, body = await reply(client, cid, {"text": "Сергей, добрый день!", "extension": "101"})
        await eventually(lambda: settled(pool, body["message_id"]))
    (letter,) = mailbox.messages()
    assert letter["To"] == "sergey.volkov@mail.ru"
    assert "In-Reply-To" not in letter and "References" not in letter
    assert letter["Subject"] == "Re: Новая заявка с сайта: горящий тур"


async def test_a_web_form_with_an_email_is_answered_by_email_and_a_refusal_is_failed(
        db_url: str, pool: asyncpg.Pool, tmp_path: Path, fake: FakeMessengers, mailbox: Mailbox) -> None:
    sources = reply_sources(fake, **{"site-form": {"reply_from": "Туры Пример <sales@tury-primer.ru>"}})
    settings = reply_settings(db_url, tmp_path, fake, sources=sources, CALLBRIDGE_SMTP_HOST="127.0.0.1",
                              CALLBRIDGE_SMTP_PORT=str(mailbox.port), CALLBRIDGE_SMTP_SECURITY="none")
    async with reply_client(settings) as client:
        for n, address in enumerate(["m.sokolova@mail.ru", "nobody@mail.ru"]):
            resp = await client.post("/inquiries/site-form?token=form-secret-2",
                                     json={"id": f"f-{n}", "name": "Мария", "email": address, "message": "Тур"})
            assert resp.status == 200
        ids = [await pool.fetchval("SELECT id FROM communications WHERE external_id = $1", f"f-{n}") for n in (0, 1)]
        _, ok = await reply(client, ids[0], {"text": "Мария, здравствуйте!", "extension": "101"})
        await eventually(lambda: settled(pool, ok["message_id"]))
        mailbox.refuse_with = "550 5.1.1 No such user"
        _, refused = await reply(client, ids[1], {"text": "Здравствуйте!", "extension": "101"})
        await eventually(lambda: settled(pool, refused["message_id"]))
        (failed,) = [m for m in await messages(client, ids[1]) if m["direction"] == "out"]
    (letter,) = mailbox.messages()
    assert letter["To"] == "m.sokolova@mail.ru" and letter["From"] == "Туры Пример <sales@tury-primer.ru>"
    assert letter["Subject"] == "Ваша заявка"
    assert failed["status"] == "failed" and failed["error"].startswith("SMTP 550")
