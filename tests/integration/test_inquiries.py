# ruff: noqa: F811  (app_client, a fixture imported from tests.channels, is a parameter here)
"""The inquiry pipeline through its endpoints, against a real PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import load_settings
from daemon.runtime.app import build_app
from daemon.runtime.keys import INTAKE, METRICS, RELOADER
from daemon.store.repository import Repository
from tests.channels import SOURCES, app_client, channel_env, identifiers_of  # noqa: F401  (app_client: a fixture)
from tests.conftest import auth

TG = {"X-Telegram-Bot-Api-Secret-Token": SOURCES["tg-bot"]["secret"]}
ANNA_PHONE = "+79161234567"  # in the imported base (tests/fixtures/contacts.csv)


def api_body(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"source": "partner-site", "external_id": external_id, **fields}


def tg_update(message_id: int, *, chat: int = 500100200, date: int = 1_764_000_000, **message: Any) -> dict[str, Any]:
    sender = {"id": chat, "is_bot": False, "first_name": "Ольга", "last_name": "Петрова"}
    return {"update_id": 900_000 + message_id, "message": {
        "message_id": message_id, "from": sender, "chat": {"id": chat, "type": "private"}, "date": date,
        **message}}


async def post_tg(client: TestClient, update: dict[str, Any]) -> int:
    resp = await client.post("/inquiries/tg-bot", json=update, headers=TG)
    await resp.read()
    return resp.status


async def contact_by(repo: Repository, kind: str, value: str) -> int | None:
    return await repo.pool.fetchval("SELECT contact_id FROM contact_identifiers WHERE kind = $1 AND value = $2",
                                    kind, value)


async def test_api_inquiry_is_201_then_200_with_the_same_ids(app_client: TestClient, repo: Repository) -> None:
    """A new person through the API: contact and lead made; the same source+external_id again changes nothing."""
    body = api_body("x-1", name="Иван", phone="8 (999) 111-22-33", email="Ivan@Example.RU", text="Хочу в Сочи",
                    utm={"source": "yandex", "campaign": "sochi"})
    first = await app_client.post("/api/inquiries", json=body, headers=auth())
    assert first.status == 201
    made = await first.json()
    assert made["new_contact"] and made["new_lead"] and not made["unreachable"]
    again = await app_client.post("/api/inquiries", json=body, headers=auth())
    assert again.status == 200
    assert await again.json() == made
    assert await identifiers_of(repo.pool, made["contact_id"]) == {("phone", "+79991112233"),
                                                                   ("email", "ivan@example.ru")}
    lead = await repo.pool.fetchrow("SELECT * FROM leads WHERE id = $1", made["lead_id"])
    assert lead["ad_source"] == "Яндекс.Директ" and lead["status"] == "open"
    assert await repo.pool.fetchval("SELECT count(*) FROM communications WHERE channel = 'api'") == 1


async def test_api_needs_the_bearer_token_and_a_valid_body(app_client: TestClient, repo: Repository) -> None:
    """No token is 401, a body that is not the documented shape is 400 with the field; nothing is stored."""
    resp = await app_client.post("/api/inquiries", json=api_body("x-2", phone="+79991112233"))
    assert resp.status == 401
    for bad in (b"[1]", b"{", json.dumps({"external_id": "x"}).encode(), json.dumps(api_body("")).encode(),
                json.dumps(api_body("x", utm="yandex")).encode()):
        resp = await app_client.post("/api/inquiries", data=bad, headers=auth())
        assert resp.status == 400, bad
        assert "error" in await resp.json()
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 0


@pytest.mark.parametrize("source", ["tg-bot", "vk-group", "jivo-chat", "tilda-site"])
async def test_the_api_may_not_post_as_a_webhook_source(app_client: TestClient, repo: Repository,
                                                       source: str) -> None:
    """The same source and external id would make the sender's own delivery a dropped duplicate."""
    resp = await app_client.post("/api/inquiries", headers=auth(), json={
        "source": source, "external_id": "500100200:7", "name": "Ольга", "phone": "+79161234567"})
    assert resp.status == 409, await resp.text()
    assert source in (await resp.json())["error"]
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 0


async def test_the_api_may_post_as_a_form_source_or_a_name_of_its_own(app_client: TestClient) -> None:
    for source in ("site-form", "partner-site"):
        resp = await app_client.post("/api/inquiries", headers=auth(), json=api_body(
            "own-1", source=source, name="Ольга", phone="+79161234567"))
        assert resp.status == 201, await resp.text()


async def test_inquiry_without_a_way_to_reply_is_unreachable(app_client: TestClient, repo: Repository) -> None:
    """No phone, e-mail or messenger id: stored and counted, no contact, no lead."""
    resp = await app_client.post("/api/inquiries", json=api_body("x-3", name="Аноним", phone="12-34",
                                                                  text="Сколько стоит?"), headers=auth())
    assert resp.status == 201
    got = await resp.json()
    assert got["unreachable"] and got["contact_id"] is None and got["lead_id"] is None
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts") == 0
    assert await repo.pool.fetchval("SELECT text FROM communications WHERE id = $1",
                                    got["communication_id"]) == "Сколько стоит?"
    counted = app_client.app[METRICS].inquiries.labels("api", "unreachable")._value.get()
    assert counted == 1


async def test_identifier_of_another_contact_is_a_hint_not_a_merge(app_client: TestClient, office: Repository) -> None:
    """A form with one contact's phone and another's e-mail: both stay, the pair is proposed once."""
    anna = await contact_by(office, "phone", ANNA_PHONE)
    other = await office.pool.fetchval(
        "SELECT contact_id FROM contact_identifiers WHERE kind = 'email' AND contact_id <> $1 LIMIT 1", anna)
    email = await office.pool.fetchval(
        "SELECT value FROM contact_identifiers WHERE kind = 'email' AND contact_id = $1 LIMIT 1", other)
    for external_id in ("h-1", "h-2"):
        resp = await app_client.post("/api/inquiries", json=api_body(external_id, phone=ANNA_PHONE, email=email),
                                     headers=auth())
        assert (await resp.json())["contact_id"] == anna
    hints = await office.pool.fetch("SELECT * FROM contact_duplicate_hints")
    assert len(hints) == 1
    assert (hints[0]["contact_low"], hints[0]["contact_high"]) == (min(anna, other), max(anna, other))
    assert hints[0]["reason"] == "identifier"
    assert json.loads(hints[0]["evidence"])["inquiry"]["external_id"] == "h-1"
    assert await contact_by(office, "email", email) == other
    assert await office.pool.fetchval("SELECT count(*) FROM contacts WHERE merged_into IS NOT NULL") == 0


async def test_a_hundred_telegram_messages_are_one_communication(app_client: TestClient, repo: Repository) -> None:
    """One chat, a hundred messages a minute apart: one communication whose transcript grew in order."""
    for n in range(1, 101):
        assert await post_tg(app_client, tg_update(n, date=1_764_000_000 + 60 * n, text=f"сообщение {n}")) == 200
    comms = await repo.pool.fetch("SELECT * FROM communications WHERE source = 'tg-bot'")
    assert len(comms) == 1
    comm = comms[0]
    assert comm["message_count"] == 100
    assert comm["text"].splitlines() == [f"сообщение {n}" for n in range(1, 101)]
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts") == 1
    assert await repo.pool.fetchval("SELECT count(*) FROM leads") == 1


async def test_after_the_idle_gap_a_new_communication_joins_the_open_lead(
        app_client: TestClient, repo: Repository) -> None:
    """A chat silent for longer than the gap (2 h) starts a new communication; the person's lead stays one."""
    await post_tg(app_client, tg_update(1, date=1_764_000_000, text="Привет"))
    await post_tg(app_client, tg_update(2, date=1_764_000_000 + 3 * 3600, text="Я снова тут"))
    await post_tg(app_client, tg_update(3, date=1_764_000_000 + 3 * 3600 + 60, text="Ещё вопрос"))
    comms = await repo.pool.fetch("SELECT * FROM communications WHERE source = 'tg-bot' ORDER BY id")
    assert [c["message_count"] for c in comms] == [1, 2]
    assert comms[0]["lead_id"] == comms[1]["lead_id"] is not None


async def test_phone_typed_in_a_chat_identifies_the_person(app_client: TestClient, office: Repository) -> None:
    """Анна writes from an unknown Telegram account and types her phone: her chat ends up on her contact
    (absorbed, when the contacts merge is there; else proposed as a duplicate)."""
    anna = await contact_by(office, "phone", ANNA_PHONE)
    await post_tg(app_client, tg_update(1, chat=700700, text="Здравствуйте, нужен тур"))
    await post_tg(app_client, tg_update(2, chat=700700, date=1_764_000_100, text="Мой телефон 8 916 123-45-67"))
    comm = await office.pool.fetchrow("SELECT * FROM communications WHERE source = 'tg-bot'")
    assert comm["phone"] == ANNA_PHONE
    chat_contact = await contact_by(office, "telegram", "700700")
    assert chat_contact == anna == comm["contact_id"]
    assert await office.pool.fetchval("SELECT count(*) FROM leads WHERE status = 'open' AND contact_id = $1",
                                      anna) == 1


async def test_shared_contact_of_someone_else_is_not_the_senders_phone(
        app_client: TestClient, repo: Repository) -> None:
    """A forwarded contact card (another user_id) identifies nobody."""
    await post_tg(app_client, tg_update(1, contact={"phone_number": "79035550000", "first_name": "Друг",
                                                    "user_id": 111}))
    assert await contact_by(repo, "phone", "+79035550000") is None
    assert await contact_by(repo, "telegram", "500100200") is not None


async def test_referrer_is_found_or_made_and_listed(app_client: TestClient, office: Repository) -> None:
    """A referrer known by phone is linked; an unknown one is made; both list whom they brought."""
    anna = await contact_by(office, "phone", ANNA_PHONE)
    resp = await app_client.post("/api/inquiries", headers=auth(), json=api_body(
        "r-1", name="Пётр", phone="+79057770011", referrer={"name": "Анна", "phone": "8 916 123 45 67"}))
    brought = (await resp.json())["contact_id"]
    resp = await app_client.post("/api/inquiries", headers=auth(), json=api_body(
        "r-2", name="Вера", email="vera@example.ru", referrer={"name": "Новый", "email": "new.ref@example.ru"}))
    vera = await resp.json()
    listed = await app_client.get(f"/api/contacts/{anna}/referrals", headers=auth())
    assert [r["contact_id"] for r in await listed.json()] == [brought]
    new_ref = await contact_by(office, "email", "new.ref@example.ru")
    listed = await app_client.get(f"/api/contacts/{new_ref}/referrals", headers=auth())
    assert [(r["contact_id"], r["name"]) for r in await listed.json()] == [(vera["contact_id"], "Вера")]
    assert await office.pool.fetchval("SELECT ad_source FROM leads WHERE id = $1", vera["lead_id"]) == "Рекомендация"
    # A known referrer with an identifier nobody holds yet is given it (one statement), not a second contact.
    resp = await app_client.post("/api/inquiries", headers=auth(), json=api_body(
        "r-3", name="Олег", phone="+79057770033",
        referrer={"name": "Анна", "phone": "8 916 123 45 67", "email": "anna.new@example.ru"}))
    assert resp.status == 201, await resp.text()
    assert await contact_by(office, "email", "anna.new@example.ru") == anna
    assert (await app_client.get("/api/contacts/999999/referrals", headers=auth())).status == 404
    # daemon.http.inputs.path_id, as on every route: a path id that is not a number names nothing.
    assert (await app_client.get("/api/contacts/abc/referrals", headers=auth())).status == 404


@pytest.mark.parametrize("path,kwargs", [
    ("/inquiries/tilda-site?token=nope", {"data": "Name=A&Phone=89161234567"}),
    ("/inquiries/site-form", {"json": {"phone": "89161234567"}, "headers": {"Authorization": "Bearer nope"}}),
    ("/inquiries/jivo-chat", {"json": {"event_name": "offline_message"}}),
    ("/inquiries/tg-bot", {"json": {"update_id": 1}, "headers": {"X-Telegram-Bot-Api-Secret-Token": "nope"}}),
    ("/inquiries/vk-group", {"json": {"type": "confirmation", "secret": "nope"}}),
])
async def test_wrong_secret_is_403_and_stores_nothing(app_client: TestClient, repo: Repository, path: str,
                                                      kwargs: dict[str, Any]) -> None:
    resp = await app_client.post(path, **kwargs)
    assert resp.status == 403
    assert "error" in await resp.json()
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 0


async def test_unknown_source_is_404_and_malformed_body_is_400(app_client: TestClient, repo: Repository) -> None:
    assert (await app_client.post("/inquiries/nobody", data="x")).status == 404
    resp = await app_client.post("/inquiries/tg-bot", data=b"\xff{", headers=TG)
    assert resp.status == 400 and "JSON" in (await resp.json())["error"]
    resp = await app_client.post("/inquiries/tg-bot", json={"message": {}}, headers=TG)
    assert resp.status == 400 and "way to reply" in (await resp.json())["error"]
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 0


async def test_sources_are_reloaded(app_client: TestClient, db_url: str, tmp_path: Path) -> None:
    """SIGHUP's reload: a new secret works at once and the old one is refused."""
    sources = dict(SOURCES) | {"tg-bot": {"kind": "telegram", "secret": "rotated-secret"}}
    env = channel_env(db_url, tmp_path / "state", CALLBRIDGE_SOURCES=json.dumps(sources))
    result = await app_client.app[RELOADER].reload(lambda: load_settings(env))
    assert result.ok and "sources" in result.changed
    assert await post_tg(app_client, tg_update(1, text="hi")) == 403
    resp = await app_client.post("/inquiries/tg-bot", json=tg_update(1, text="hi"),
                                 headers={"X-Telegram-Bot-Api-Secret-Token": "rotated-secret"})
    assert resp.status == 200


async def test_spooled_inquiry_is_filed_when_the_database_is_back(app_client: TestClient, repo: Repository) -> None:
    """With PostgreSQL marked away the inquiry goes to the spool (202, durable); the replay files it,
    and the API then answers with its ids."""
    intake = app_client.app[INTAKE]
    intake.database_ok = False
    body = api_body("s-1", phone="+79991234500", text="из спула")
    resp = await app_client.post("/api/inquiries", json=body, headers=auth())
    assert resp.status == 202
    assert await post_tg(app_client, tg_update(1, text="тоже из спула")) == 200
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 0
    intake.database_ok = True
    assert await intake.replay_spool() == 2
    resp = await app_client.post("/api/inquiries", json=body, headers=auth())
    assert resp.status == 200
    got = await resp.json()
    assert got["contact_id"] == await contact_by(repo, "phone", "+79991234500")
    assert await repo.pool.fetchval("SELECT text FROM communications WHERE source = 'tg-bot'") == "тоже из спула"


async def test_agency_reply_marks_the_conversation_replied(app_client: TestClient, repo: Repository) -> None:
    """VK: the community's reply joins the client's conversation, identifies nobody and marks it replied."""
    secret = SOURCES["vk-group"]["secret"]

    def vk(kind: str, event_id: str, from_id: int, text: str, date: int) -> dict[str, Any]:
        return {"type": kind, "group_id": 1, "event_id": event_id, "v": "5.199", "secret": secret,
                "object": {"message": {"id": 1, "date": date, "peer_id": 42, "from_id": from_id, "text": text}}}

    for update in (vk("message_new", "e1", 42, "Здравствуйте", 1_764_000_000),
                   vk("message_reply", "e2", -1, "Добрый день!", 1_764_000_060)):
        resp = await app_client.post("/inquiries/vk-group", json=update)
        assert resp.status == 200 and await resp.text() == "ok"
    comm = await repo.pool.fetchrow("SELECT * FROM communications WHERE source = 'vk-group'")
    assert comm["message_count"] == 2 and comm["replied_at"] is not None
    assert comm["text"] == "Здравствуйте\nДобрый день!"
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts") == 1


async def test_submit_files_an_inquiry_from_outside_http(app_client: TestClient, repo: Repository) -> None:
    """The e-mail poller's way in: the same intake and pipeline, deduplicated by source and external id."""
    from datetime import UTC, datetime

    from daemon.domain.inquiry import Inquiry
    from daemon.intake.submit import submit

    inquiry = Inquiry(channel="email", source="mailbox", external_id="<m1@example.ru>",
                      received_at=datetime.now(UTC), name="Павел", emails=("Pavel@Example.ru",), text="Тур?")
    intake = app_client.app[INTAKE]
    assert await submit(intake, inquiry, path="imap/mailbox/INBOX", raw=b"From: x\r\n\r\nTur\x00") == "stored"
    assert await submit(intake, inquiry, path="imap/mailbox/INBOX", raw=b"From: x\r\n\r\nTur") == "duplicate"
    comm = await repo.pool.fetchrow("SELECT * FROM communications WHERE source = 'mailbox'")
    assert comm["channel"] == "email" and comm["email"] == "pavel@example.ru"
    assert await contact_by(repo, "email", "pavel@example.ru") == comm["contact_id"]


async def test_telegram_deep_link_payload_maps_to_an_ad_source(db_url: str, tmp_path: Path,
                                                               repo: Repository) -> None:
    """``/start ya_turkey_may`` from an ad's link: the payload goes through [utm_sources]."""
    utm = json.dumps({"ya_turkey_may": "Яндекс.Директ"})
    app = build_app(load_settings(channel_env(db_url, tmp_path / "state", CALLBRIDGE_UTM_SOURCES=utm)),
                    database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        assert await post_tg(client, tg_update(1, text="/start ya_turkey_may")) == 200
        assert await post_tg(client, tg_update(2, chat=8080, text="/start unknown_campaign")) == 200
    ad_sources = await repo.pool.fetch("SELECT ad_source FROM leads ORDER BY id")
    assert [r["ad_source"] for r in ad_sources] == ["Яндекс.Директ", "Telegram"]


async def test_messages_of_a_new_chat_arriving_at_once_make_one_contact(
        app_client: TestClient, repo: Repository) -> None:
    """Twenty messages of a new person's chat, posted concurrently (and each twice): one contact,
    one lead, one communication with every message once."""
    import asyncio

    updates = [tg_update(n, chat=9090, date=1_764_000_000 + n, text=f"m{n}") for n in range(1, 21)]
    statuses = await asyncio.gather(*(post_tg(app_client, u) for u in updates + updates))
    assert set(statuses) == {200}
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts") == 1
    assert await repo.pool.fetchval("SELECT count(*) FROM leads") == 1
    comm = await repo.pool.fetchrow("SELECT * FROM communications WHERE source = 'tg-bot'")
    assert comm["message_count"] == 20
    assert sorted(comm["text"].splitlines()) == sorted(f"m{n}" for n in range(1, 21))


async def test_a_form_and_a_call_of_one_new_number_at_once_make_one_contact(
        app_client: TestClient, repo: Repository) -> None:
    """The form takes the call pipeline's phone lock: racing, they still make one contact and one lead."""
    import asyncio

    from tests.screenkit import moved, post_steps

    number = "79267770011"
    call = moved("missed_incoming.json", suffix="-race", ago_s=10, number=number)
    form = app_client.post("/inquiries/site-form", json={"phone": "+" + number, "name": "Гонка"},
                           headers={"Authorization": f"Bearer {SOURCES['site-form']['secret']}"})
    resp, _ = await asyncio.gather(form, post_steps(app_client, call))
    assert resp.status == 200
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts") == 1
    assert await repo.pool.fetchval("SELECT count(*) FROM leads") == 1
    assert await repo.pool.fetchval("SELECT count(DISTINCT contact_id) FROM communications") == 1


async def test_a_long_jivo_chat_is_filed_whole(app_client: TestClient, repo: Repository) -> None:
    """A finished chat of 400 messages (over 100 kB, past the PBX webhooks' 64 kB) is stored verbatim."""
    secret = SOURCES["jivo-chat"]["secret"]
    messages = [{"message": f"Сообщение номер {n}: " + "турция " * 20, "timestamp": 1_764_000_000 + n,
                 "type": "visitor" if n % 2 else "agent"} for n in range(400)]
    body = {"event_name": "chat_finished", "widget_id": "1", "chat_id": 77,
            "visitor": {"name": "Долгий", "phone": "+79990007777"}, "chat": {"messages": messages}}
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    assert len(raw) > 100_000
    resp = await app_client.post(f"/inquiries/jivo-chat?token={secret}", data=raw,
                                 headers={"Content-Type": "application/json"})
    assert resp.status == 200, await resp.text()
    assert await repo.pool.fetchval("SELECT raw FROM inbox WHERE source = 'jivo-chat'") == raw.decode()
    text = await repo.pool.fetchval("SELECT text FROM communications WHERE source = 'jivo-chat'")
    assert text.count("\n") == 399 and "Сообщение номер 399" in text
    too_big = b'{"event_name": "offline_message", "x": "' + b"a" * (1024 * 1024) + b'"}'
    resp = await app_client.post(f"/inquiries/jivo-chat?token={secret}", data=io.BytesIO(too_big),
                                 headers={"Content-Type": "application/json"})
    assert resp.status == 413


async def test_a_chat_after_a_quiet_lead_opens_a_new_lead_naming_the_old_one(
        app_client: TestClient, repo: Repository) -> None:
    """Leads end for messages too: judged by the sender's own times (Telegram's ``date``), a chat 40
    days after the lead went quiet opens a new lead with previous_lead_id; one 10 days after
    that joins it."""
    day = 86_400
    start = 1_764_000_000
    for message_id, date in ((1, start), (2, start + 40 * day), (3, start + 50 * day)):
        status = await post_tg(app_client, tg_update(message_id, date=date, text="Мой номер +7 999 555-44-33"))
        assert status == 200
    contact = await contact_by(repo, "phone", "+79995554433")
    leads = await repo.pool.fetch("SELECT id, status, previous_lead_id FROM leads WHERE contact_id = $1"
                                  " ORDER BY id", contact)
    assert [(r["status"], r["previous_lead_id"]) for r in leads] == [("archived", None), ("open", leads[0]["id"])]
    comms = await repo.pool.fetch("SELECT lead_id FROM communications WHERE source = 'tg-bot' ORDER BY started_at")
    assert [c["lead_id"] for c in comms] == [leads[0]["id"], leads[1]["id"], leads[1]["id"]]


async def test_the_agencys_own_line_typed_in_a_chat_is_nobodys_identifier(
        app_client: TestClient, office: Repository) -> None:
    """A tourist who writes «звонил вам на 8 495 123-45-67» names the agency's line (lines.csv),
    not his own phone: the chat's contact does not get it, and nobody is found by it."""
    await post_tg(app_client, tg_update(1, chat=810810, text="Звонил вам на 8 495 123-45-67, не дозвонился"))
    comm = await office.pool.fetchrow("SELECT phone, contact_id FROM communications WHERE source = 'tg-bot'")
    assert comm["phone"] is None
    assert await identifiers_of(office.pool, comm["contact_id"]) == {("telegram", "810810")}
    assert await contact_by(office, "phone", "+74951234567") is None


async def test_an_inquiry_fills_in_a_known_contacts_name_and_ad_source_but_never_replaces_them(
        app_client: TestClient, repo: Repository) -> None:
    first = await app_client.post("/api/inquiries", json=api_body("f-1", phone="+7 999 123-00-77"), headers=auth())
    contact_id = (await first.json())["contact_id"]
    assert await repo.pool.fetchval("SELECT name FROM contacts WHERE id = $1", contact_id) is None
    for n, name in enumerate(("Ирина Соколова", "Марина Орлова"), start=2):
        body = api_body(f"f-{n}", phone="8 999 123-00-77", name=name, utm={"source": "yandex"})
        resp = await app_client.post("/api/inquiries", json=body, headers=auth())
        assert resp.status == 201 and (await resp.json())["contact_id"] == contact_id
    row = await repo.pool.fetchrow("SELECT name, ad_source FROM contacts WHERE id = $1", contact_id)
    assert row["name"] == "Ирина Соколова"
    assert row["ad_source"] == "Яндекс.Директ"


async def test_the_api_takes_max_avito_and_instagram_ids_and_finds_the_person_by_them(
        app_client: TestClient, repo: Repository) -> None:
    first = await app_client.post("/api/inquiries", json=api_body(
        "m-1", name="Ольга", max=91234567, avito="364512987", instagram="olga.travels", text="Хотим в Египет"),
        headers=auth())
    assert first.status == 201
    made = await first.json()
    assert await identifiers_of(repo.pool, made["contact_id"]) == {
        ("max", "91234567"), ("avito", "364512987"), ("instagram", "olga.travels")}
    again = await app_client.post("/api/inquiries", json=api_body("m-2", avito=364512987, text="И ещё вопрос"),
                                  headers=auth())
    assert (await again.json())["contact_id"] == made["contact_id"]
    found = await app_client.get("/api/contacts/lookup", params={"instagram": "olga.travels"}, headers=auth())
    assert found.status == 200 and (await found.json())["id"] == made["contact_id"]
