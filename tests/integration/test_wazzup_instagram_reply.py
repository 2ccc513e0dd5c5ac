"""A reply to a Wazzup Instagram chat keeps Instagram's 1,000-character limit (docs/CHANNELS.md),
checked against a stand-in of Wazzup's API (tests/support/providers.py, a real aiohttp server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.wazzup.reply import WazzupReply
from config.settings import SourceSettings
from daemon.domain.replies import Delivered, OutgoingReply, Refused, ReplyAddress
from tests.support.providers import Scripted, StandInProviders, stand_in_providers

INSTAGRAM_LIMIT = 1000


@pytest.fixture
async def providers() -> AsyncIterator[StandInProviders]:
    async with stand_in_providers() as stand_in:
        yield stand_in


def _reply(text: str) -> OutgoingReply:
    return OutgoingReply(message_id=77, channel="wazzup", source="wazzup-src", text=text,
                         address=ReplyAddress(to="olga.travels_2025", thread={
                             "channel_id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f", "chat_type": "instagram"}))


async def test_an_instagram_reply_is_at_most_1000_characters(providers: StandInProviders) -> None:
    providers.answer("/v3/message", Scripted(201, {"messageId": "ig-1"}))
    source = SourceSettings(kind="wazzup", secret="webhook-secret", api_url=providers.url, api_key="k")
    async with aiohttp.ClientSession() as session:
        refused = await WazzupReply().send(session, source, _reply("я" * (INSTAGRAM_LIMIT + 1)))
        assert isinstance(refused, Refused) and providers.seen == []
        assert await WazzupReply().send(session, source, _reply("я" * INSTAGRAM_LIMIT)) == Delivered("ig-1")
    (seen,) = providers.seen
    assert seen.body["chatType"] == "instagram" and seen.body["chatId"] == "olga.travels_2025"
    assert len(seen.body["text"]) == INSTAGRAM_LIMIT
