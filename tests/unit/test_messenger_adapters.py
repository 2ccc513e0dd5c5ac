"""The messenger adapters' rules beyond their documented examples, as pure functions of a Delivery."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters import avito, greenapi, telegram, wazzup
from adapters import max as max_bot
from config.settings import SourceSettings
from daemon.domain.delivery import Delivery, Malformed, Translated
from daemon.domain.vcard import vcard_name, vcard_phones
from tests.channels import example

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def _deliver(translate: Any, kind: str, body: dict[str, Any], *, secret: str = "s3cret-value",
             headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> Translated:
    settings = SourceSettings(kind=kind, secret=secret)  # type: ignore[arg-type]
    return translate(Delivery(source="src", settings=settings, query=query or {"token": secret},
                              headers=headers or {}, content_type="application/json",
                              body=json.dumps(body, ensure_ascii=False).encode(), received_at=NOW))


def _body(name: str) -> dict[str, Any]:
    return copy.deepcopy(example(name)["request"]["body"])


MAX_HEADERS = {"X-Max-Bot-Api-Secret": "s3cret-value"}


def test_vcard_reads_waid_first_and_unfolds() -> None:
    card = "BEGIN:VCARD\r\nFN:Сергей\r\n  Орлов\r\nTEL;type=CELL;waid=79165550505:+7 916 555-05-05\r\nTEL:89161234567\r\nEND:VCARD"
    assert vcard_phones(card) == ["+79165550505", "89161234567"]
    assert vcard_name(card) == "Сергей Орлов"
    assert vcard_phones("TEL;TYPE=cell:79175550101") == ["+79175550101"]
    assert vcard_phones(None) == [] and vcard_name("") is None


def test_max_someone_else_s_card_is_not_the_sender_s_phone() -> None:
    body = _body("max-contact-shared")
    payload = body["message"]["body"]["attachments"][0]["payload"]
    payload["max_info"]["user_id"] = 11111
    inquiry = _deliver(max_bot.translate, "max", body, headers=MAX_HEADERS).inquiry
    assert inquiry is not None and inquiry.phones == ()
    payload["tam_info"] = payload.pop("max_info") | {"user_id": 91234567}  # the official client's name
    inquiry = _deliver(max_bot.translate, "max", body, headers=MAX_HEADERS).inquiry
    assert inquiry is not None and inquiry.phones == ("+79175550101",)


def test_max_bot_messages_are_the_agency_s_and_other_updates_nothing() -> None:
    body = _body("max-message-created")
    body["message"]["sender"]["is_bot"] = True
    inquiry = _deliver(max_bot.translate, "max", body, headers=MAX_HEADERS).inquiry
    assert inquiry is not None and inquiry.from_agency and inquiry.max_id is None
    assert inquiry.reply_to is not None and inquiry.reply_to.thread == {"message_id": "mid.0000000000f2a9c1b7019a6e5d3c4b2a"}
    removed = {"update_type": "message_removed", "message_id": "mid.1", "chat_id": 1, "user_id": 2}
    assert _deliver(max_bot.translate, "max", removed, headers=MAX_HEADERS).inquiry is None
    del body["message"]["body"]["mid"]
    with pytest.raises(Malformed, match="mid"):
        _deliver(max_bot.translate, "max", body, headers=MAX_HEADERS)


def test_max_milliseconds_become_the_time() -> None:
    inquiry = _deliver(max_bot.translate, "max", _body("max-message-created"), headers=MAX_HEADERS).inquiry
    assert inquiry is not None and inquiry.received_at == datetime.fromtimestamp(1747046000.123, UTC)


@pytest.mark.parametrize(("chat_type", "field", "channel"), [
    ("vk", "vk_id", "vk"), ("avito", "avito_id", "avito"), ("telegram", "telegram_id", "telegram"),
    ("instagram", "instagram_id", "instagram")])
def test_wazzup_chats_give_their_own_identifiers(chat_type: str, field: str, channel: str) -> None:
    body = _body("wazzup-whatsapp-text")
    body["messages"][0] |= {"chatType": chat_type, "chatId": "583920174"}
    inquiry = _deliver(wazzup.translate, "wazzup", body).inquiry
    assert inquiry is not None and getattr(inquiry, field) == "583920174" and inquiry.channel == channel
    assert inquiry.phones == ()


def test_wazzup_groups_deleted_and_instagram() -> None:
    body = _body("wazzup-whatsapp-text")
    message = body["messages"][0]
    for change in ({"chatType": "whatsgroup"}, {"isDeleted": True}):
        assert _deliver(wazzup.translate, "wazzup", {"messages": [message | change]}).inquiry is None
    insta = _deliver(wazzup.translate, "wazzup", {"messages": [message | {
        "chatType": "instagram", "chatId": "olga.travels", "type": "image", "text": None,
        "contentUri": "https://store.wazzup24.com/x.jpg"}]}).inquiry
    assert insta is not None and insta.channel == "instagram" and insta.phones == ()
    assert insta.instagram_id == "olga.travels"
    assert insta.text == "[image] https://store.wazzup24.com/x.jpg"


def test_wazzup_status_only_post_files_no_inquiry() -> None:
    translated = _deliver(wazzup.translate, "wazzup", {"statuses": [
        {"messageId": "m-1", "timestamp": "2025-05-12T11:09:10.004Z", "status": "error",
         "error": {"error": "BAD_CONTACT", "description": "the number is not on WhatsApp"}}]})
    assert translated.inquiries == ()
    (status,) = translated.statuses
    assert (status.provider_id, status.status, status.detail) == ("m-1", "error", "the number is not on WhatsApp")


def test_green_api_groups_states_and_statuses() -> None:
    body = _body("greenapi-incoming-text")
    body["senderData"]["chatId"] = "120363043968066561@g.us"
    auth = {"Authorization": "Bearer s3cret-value"}
    assert _deliver(greenapi.translate, "greenapi", body, headers=auth, query={}).inquiry is None
    state = _deliver(greenapi.translate, "greenapi", _body("greenapi-state-changed"), headers=auth, query={})
    assert state.inquiries == () and state.statuses == ()
    status = _deliver(greenapi.translate, "greenapi", {
        "typeWebhook": "outgoingMessageStatus", "instanceData": {"idInstance": 1101823456},
        "timestamp": 1747049800, "idMessage": "3EB0C767D097B7C7C030", "status": "read",
        "chatId": "79035550404@c.us"}, headers=auth, query={})
    assert [s.provider_id for s in status.statuses] == ["1101823456:79035550404@c.us:3EB0C767D097B7C7C030"]


def test_green_api_name_prefers_the_agency_s_address_book() -> None:
    body = _body("greenapi-incoming-text")
    body["senderData"]["senderContactName"] = "Наталья Орлова (Кипр)"
    inquiry = _deliver(greenapi.translate, "greenapi", body, headers={"Authorization": "s3cret-value"}, query={}).inquiry
    assert inquiry is not None and inquiry.name == "Наталья Орлова (Кипр)"


def test_avito_other_message_types() -> None:
    body = _body("avito-message")
    body["payload"]["value"] |= {"type": "image", "content": {"image": {"sizes": {}}}}
    inquiry = _deliver(avito.translate, "avito", body).inquiry
    assert inquiry is not None and inquiry.text == "[image]" and inquiry.avito_id == "364512987"
    body["payload"]["value"].pop("author_id")
    assert _deliver(avito.translate, "avito", body).inquiry is None
    assert _deliver(avito.translate, "avito", {"payload": {"type": "chat_read"}}).inquiry is None


def test_telegram_business_edit_and_bot_sent() -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-value"}
    body = _body("telegram-business-message")
    edited = {"update_id": 2, "edited_business_message": body["business_message"] | {"edit_date": 1747052200}}
    inquiry = _deliver(telegram.translate, "telegram", edited, headers=headers).inquiry
    assert inquiry is not None and inquiry.external_id.endswith(":5412:edit:1747052200") and not inquiry.from_agency
    body["business_message"]["sender_business_bot"] = {"id": 1, "is_bot": True, "first_name": "bot"}
    sent = _deliver(telegram.translate, "telegram", body, headers=headers).inquiry
    assert sent is not None and sent.from_agency and sent.telegram_id is None
    connection = _deliver(telegram.translate, "telegram", _body("telegram-business-connection"), headers=headers)
    assert connection.inquiry is None


def test_our_own_messages_name_the_provider_id_our_send_was_given() -> None:
    """An echo's reply address carries the id the reply channel returned (Delivered.provider_id),
    so the outbox can tell its own reply coming back from a manager's message made elsewhere."""
    echo = _deliver(greenapi.translate, "greenapi", _body("greenapi-outgoing-api-message"),
                    headers={"Authorization": "Bearer s3cret-value"}, query={}).inquiry
    assert echo is not None and echo.from_agency and echo.reply_to is not None
    assert echo.reply_to.thread["message_id"] == example("greenapi-send-message")["expect"]["outbound_id"]
    wz = _deliver(wazzup.translate, "wazzup", _body("wazzup-echo-and-status")).inquiry
    assert wz is not None and wz.reply_to is not None
    assert wz.reply_to.thread["message_id"] == example("wazzup-send-message")["expect"]["outbound_id"]
    own = _deliver(avito.translate, "avito", _body("avito-own-message")).inquiry
    assert own is not None and own.reply_to is not None
    assert own.reply_to.thread["message_id"] == example("avito-send-message")["expect"]["outbound_id"]
