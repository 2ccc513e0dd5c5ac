"""The messengers' reply channels, each ``send`` against a stand-in of its provider's API
(tests/support/providers.py, a real aiohttp server): success, 429 with a retry time, 401,
a blocked user, a lost answer. The requests are read back as the provider received them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from adapters.avito.reply import AvitoReply
from adapters.greenapi.reply import GreenApiReply
from adapters.max.reply import MaxReply
from adapters.telegram.reply import TelegramReply
from adapters.wazzup.reply import WazzupReply
from config.settings import SourceSettings
from daemon.domain.replies import Delivered, OutgoingReply, Refused, ReplyAddress, RetryLater
from daemon.runtime.reply_channels import REPLY_CHANNELS, channel_for
from tests.channels import example
from tests.support.providers import Scripted, StandInProviders, stand_in_providers

LOST_S = 0.3  # the channel's timeout in these tests; a stand-in answer slower than it is lost


@pytest.fixture
async def providers() -> AsyncIterator[StandInProviders]:
    async with stand_in_providers() as stand_in:
        yield stand_in


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def _source(kind: str, url: str, **extra: Any) -> SourceSettings:
    return SourceSettings(kind=kind, secret="webhook-secret", api_url=url, **extra)  # type: ignore[arg-type]


def _reply(kind: str, to: str, text: str = "Добрый день!", message_id: int = 123, **thread: str) -> OutgoingReply:
    return OutgoingReply(message_id=message_id, channel=kind, source=f"{kind}-src", text=text,
                         address=ReplyAddress(to=to, thread=thread))


def _response(name: str) -> Scripted:
    response = example(name)["response"]
    return Scripted(response["status"], response["body"])


def test_every_kind_has_one_channel() -> None:
    kinds = [channel.kind for channel in REPLY_CHANNELS]
    assert sorted(kinds) == sorted(set(kinds)) == ["avito", "email", "greenapi", "max", "telegram", "vk", "wazzup"]
    assert channel_for("max") is not None and channel_for("jivo") is None


# -- MAX ------------------------------------------------------------------------------------
async def test_max_sends_to_the_user_with_the_bare_token(providers: StandInProviders,
                                                         session: aiohttp.ClientSession) -> None:
    providers.answer("/messages", _response("max-send-message"))
    outcome = await MaxReply().send(session, _source("max", providers.url, bot_token="max-token-1"),
                                    _reply("max", "91234567", chat_id="-71234567890"))
    assert outcome == Delivered("mid.0000000000f2a9c1b7019a6e5d3c4c01")
    (seen,) = providers.at("/messages")
    assert seen.query == {"user_id": "91234567"}
    assert seen.headers["Authorization"] == "max-token-1"
    assert seen.body == {"text": "Добрый день!"}


@pytest.mark.parametrize(("answer", "expected"), [
    (Scripted(429, {"code": "too.many.requests", "message": "Too many requests"}, {"Retry-After": "2"}),
     RetryLater),
    (Scripted(401, {"code": "verify.token", "message": "Invalid access_token"}), Refused),
    (Scripted(403, {"code": "chat.denied", "message": "the user suspended the bot"}), Refused),
    (Scripted(503, {"code": "internal", "message": "unavailable"}), RetryLater),
])
async def test_max_errors(providers: StandInProviders, session: aiohttp.ClientSession,
                          answer: Scripted, expected: type) -> None:
    providers.answer("/messages", answer)
    outcome = await MaxReply().send(session, _source("max", providers.url, bot_token="t"), _reply("max", "1"))
    assert isinstance(outcome, expected)
    if answer.status == 429:
        assert isinstance(outcome, RetryLater) and outcome.after_s == 2.0 and not outcome.maybe_delivered


async def test_max_lost_answer_may_have_been_delivered(providers: StandInProviders,
                                                       session: aiohttp.ClientSession) -> None:
    providers.answer("/messages", Scripted(200, {"message": {"body": {"mid": "m"}}}, delay_s=LOST_S * 3))
    channel = MaxReply()
    channel.timeout_s = LOST_S
    outcome = await channel.send(session, _source("max", providers.url, bot_token="t"), _reply("max", "1"))
    assert isinstance(outcome, RetryLater) and outcome.maybe_delivered
    assert not channel.idempotent


async def test_max_without_a_token_refuses_without_calling(providers: StandInProviders,
                                                           session: aiohttp.ClientSession) -> None:
    outcome = await MaxReply().send(session, _source("max", providers.url), _reply("max", "1"))
    assert isinstance(outcome, Refused) and providers.seen == []


# -- Wazzup ---------------------------------------------------------------------------------
def _wazzup_reply(text: str = "Виктор, добрый день!", chat_type: str = "whatsapp") -> OutgoingReply:
    return _reply("wazzup", "79265550202", text, channel_id="e0629e11-0f67-4567-92a9-2237e91ec1b9",
                  chat_type=chat_type)


async def test_wazzup_sends_our_message_id_as_crm_message_id(providers: StandInProviders,
                                                             session: aiohttp.ClientSession) -> None:
    providers.answer("/v3/message", _response("wazzup-send-message"))
    outcome = await WazzupReply().send(session, _source("wazzup", providers.url, api_key="wz-key"), _wazzup_reply())
    assert outcome == Delivered("9c8d7e6f-1a2b-4c3d-8e9f-0a1b2c3d4e55")
    (seen,) = providers.at("/v3/message")
    assert seen.headers["Authorization"] == "Bearer wz-key"
    assert seen.body == {"channelId": "e0629e11-0f67-4567-92a9-2237e91ec1b9", "chatType": "whatsapp",
                         "chatId": "79265550202", "text": "Виктор, добрый день!", "crmMessageId": "123"}


async def test_wazzup_retry_after_a_lost_answer_is_not_sent_twice(providers: StandInProviders,
                                                                  session: aiohttp.ClientSession) -> None:
    """The first answer comes too late; the retry carries the same crmMessageId, Wazzup refuses
    it as a repeat, and that means delivered: the customer got one message."""
    providers.answer("/v3/message", Scripted(201, {"messageId": "w-1", "chatId": "79265550202"}, delay_s=LOST_S * 3))
    channel = WazzupReply()
    channel.timeout_s = LOST_S
    source = _source("wazzup", providers.url, api_key="k")
    first = await channel.send(session, source, _wazzup_reply())
    assert isinstance(first, RetryLater) and first.maybe_delivered
    assert await channel.send(session, source, _wazzup_reply()) == Delivered(None)
    assert len(providers.at("/v3/message")) == 2 and providers.wazzup_taken == {"123"}
    assert channel.idempotent


@pytest.mark.parametrize(("answer", "expected", "after_s"), [
    (Scripted(429, {"error": "tooManyRequests"}, {"Retry-After": "5"}), RetryLater, 5.0),
    (Scripted(401, {"error": "unauthorized", "description": "Invalid API key"}), Refused, None),
    (Scripted(400, {"error": "chatNotFound", "description": "the contact blocked the channel"}), Refused, None),
    (Scripted(502, None), RetryLater, None),
])
async def test_wazzup_errors(providers: StandInProviders, session: aiohttp.ClientSession,
                             answer: Scripted, expected: type, after_s: float | None) -> None:
    providers.answer("/v3/message", answer)
    outcome = await WazzupReply().send(session, _source("wazzup", providers.url, api_key="k"), _wazzup_reply())
    assert isinstance(outcome, expected)
    if isinstance(outcome, RetryLater):
        assert outcome.after_s == after_s


async def test_wazzup_text_limit_depends_on_the_chat(providers: StandInProviders,
                                                     session: aiohttp.ClientSession) -> None:
    providers.answer("/v3/message", Scripted(201, {"messageId": "x"}))
    source = _source("wazzup", providers.url, api_key="k")
    long_text = "я" * 5000
    refused = await WazzupReply().send(session, source, _wazzup_reply(long_text, chat_type="telegram"))
    assert isinstance(refused, Refused) and providers.seen == []
    assert await WazzupReply().send(session, source, _wazzup_reply(long_text)) == Delivered("x")


# -- Green-API ------------------------------------------------------------------------------
async def test_green_api_sends_with_the_token_in_the_path(providers: StandInProviders,
                                                          session: aiohttp.ClientSession) -> None:
    providers.answer("/waInstance1101823456/sendMessage/", _response("greenapi-send-message"))
    source = _source("greenapi", providers.url, api_token="ga-api-token", id_instance="1101823456")
    outcome = await GreenApiReply().send(session, source, _reply("greenapi", "79035550404@c.us",
                                                                id_instance="1101823456"))
    assert outcome == Delivered("1101823456:79035550404@c.us:3EB0C767D097B7C7C030")
    (seen,) = providers.seen
    assert seen.path == "/waInstance1101823456/sendMessage/ga-api-token"
    assert seen.body == {"chatId": "79035550404@c.us", "message": "Добрый день!"}


@pytest.mark.parametrize(("answer", "expected"), [
    (Scripted(429, {"message": "Too Many Requests"}, {"Retry-After": "1"}), RetryLater),
    (Scripted(401, None), Refused),
    (Scripted(400, {"message": "Validation failed. Details: 'chatId' is not on WhatsApp"}), Refused),
])
async def test_green_api_errors_never_show_the_token(providers: StandInProviders, session: aiohttp.ClientSession,
                                                     answer: Scripted, expected: type) -> None:
    providers.answer("/waInstance", answer)
    source = _source("greenapi", providers.url, api_token="ga-api-token", id_instance="1101823456")
    outcome = await GreenApiReply().send(session, source, _reply("greenapi", "79035550404@c.us"))
    assert isinstance(outcome, expected)
    assert isinstance(outcome, RetryLater | Refused) and "ga-api-token" not in outcome.reason


# -- Avito ----------------------------------------------------------------------------------
CHAT = "u2i-Xk3bL9qYtR2wZ7mN1pQ4sA"
MESSAGES = f"/messenger/v1/accounts/287654321/chats/{CHAT}/messages"


def _avito_source(url: str) -> SourceSettings:
    return _source("avito", url, client_id="cid", client_secret="csecret")


def _token(value: str, expires_in: int = 86400) -> Scripted:
    return Scripted(200, {"access_token": value, "expires_in": expires_in, "token_type": "Bearer"})


async def test_avito_token_is_cached_until_it_expires(providers: StandInProviders,
                                                      session: aiohttp.ClientSession) -> None:
    providers.answer("/token/", _token("tok-1"))
    providers.answer("/messenger/", _response("avito-send-message"))
    channel = AvitoReply()
    for _ in range(2):
        outcome = await channel.send(session, _avito_source(providers.url), _reply("avito", CHAT, user_id="287654321"))
        assert outcome == Delivered("2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b")
    (token_request,) = providers.at("/token/")
    assert token_request.body == {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "csecret"}
    sent = providers.at(MESSAGES)
    assert [s.headers["Authorization"] for s in sent] == ["Bearer tok-1"] * 2
    assert sent[0].body == {"message": {"text": "Добрый день!"}, "type": "text"}


async def test_avito_token_near_its_end_is_renewed(providers: StandInProviders,
                                                   session: aiohttp.ClientSession) -> None:
    providers.answer("/token/", _token("short", expires_in=30), _token("next", expires_in=30))
    providers.answer("/messenger/", Scripted(200, {"id": "m"}))
    channel = AvitoReply()
    for _ in range(2):
        await channel.send(session, _avito_source(providers.url), _reply("avito", CHAT, user_id="287654321"))
    assert [s.headers["Authorization"] for s in providers.at(MESSAGES)] == ["Bearer short", "Bearer next"]


async def test_avito_401_renews_the_token_once(providers: StandInProviders, session: aiohttp.ClientSession) -> None:
    providers.answer("/token/", _token("revoked"), _token("fresh"))
    providers.answer("/messenger/", Scripted(401, {"error": {"code": 401, "message": "unauthorized"}}),
                     Scripted(200, {"id": "m-2"}))
    outcome = await AvitoReply().send(session, _avito_source(providers.url), _reply("avito", CHAT, user_id="287654321"))
    assert outcome == Delivered("m-2")
    assert [s.headers["Authorization"] for s in providers.at(MESSAGES)] == ["Bearer revoked", "Bearer fresh"]


async def test_avito_bad_credentials_are_refused(providers: StandInProviders, session: aiohttp.ClientSession) -> None:
    providers.answer("/token/", Scripted(400, {"error": "invalid_client"}))
    outcome = await AvitoReply().send(session, _avito_source(providers.url), _reply("avito", CHAT, user_id="287654321"))
    assert isinstance(outcome, Refused) and "token" in outcome.reason
    assert providers.at(MESSAGES) == []


@pytest.mark.parametrize(("answer", "expected"), [
    (Scripted(429, {"error": "too many requests"}, {"Retry-After": "3"}), RetryLater),
    (Scripted(403, {"error": {"code": 403, "message": "user is blocked"}}), Refused),
])
async def test_avito_errors(providers: StandInProviders, session: aiohttp.ClientSession,
                            answer: Scripted, expected: type) -> None:
    providers.answer("/token/", _token("t"))
    providers.answer("/messenger/", answer)
    outcome = await AvitoReply().send(session, _avito_source(providers.url), _reply("avito", CHAT, user_id="287654321"))
    assert isinstance(outcome, expected)
    if isinstance(outcome, RetryLater):
        assert outcome.after_s == 3.0


# -- Telegram Business ------------------------------------------------------------------------
async def test_telegram_business_reply_goes_through_the_connection(providers: StandInProviders,
                                                                   session: aiohttp.ClientSession) -> None:
    providers.answer("/bottg-token/sendMessage", Scripted(200, {"ok": True, "result": {"message_id": 5414}}))
    source = _source("telegram", providers.url, bot_token="tg-token")
    outcome = await TelegramReply().send(
        session, source, _reply("telegram", "598765432", business_connection_id="Bx9aTqLmZk0DAAAAxYz12AbCdEf"))
    assert outcome == Delivered("5414")
    assert providers.seen[0].body == {"chat_id": "598765432", "text": "Добрый день!",
                                      "business_connection_id": "Bx9aTqLmZk0DAAAAxYz12AbCdEf"}


async def test_telegram_429_waits_retry_after_and_blocked_is_refused(providers: StandInProviders,
                                                                     session: aiohttp.ClientSession) -> None:
    providers.answer("/bott/sendMessage", _response("telegram-send-message-429"),
                     _response("telegram-send-message-blocked"),
                     Scripted(400, {"ok": False, "error_code": 400,
                                    "description": "Bad Request: BUSINESS_CONNECTION_NOT_ALLOWED"}))
    source = _source("telegram", providers.url, bot_token="t")
    channel = TelegramReply()
    address = {"business_connection_id": "Bx9a"}
    flood = await channel.send(session, source, _reply("telegram", "1", **address))
    assert isinstance(flood, RetryLater) and flood.after_s == 7.0
    blocked = await channel.send(session, source, _reply("telegram", "1", **address))
    assert isinstance(blocked, Refused) and "blocked" in blocked.reason
    not_allowed = await channel.send(session, source, _reply("telegram", "1", **address))
    assert isinstance(not_allowed, Refused) and "NOT_ALLOWED" in not_allowed.reason
