"""Every reply channel, by source kind: what the outbox hands a reply to (daemon/domain/replies.py).

One instance each for the daemon's life: a channel keeps what it may reuse between
replies (Avito's OAuth token, MAX's pace), never state the outbox needs.
"""

from __future__ import annotations

from adapters.avito.reply import AvitoReply
from adapters.greenapi.reply import GreenApiReply
from adapters.max.reply import MaxReply
from adapters.telegram.business_reply import TelegramBusinessReply
from adapters.wazzup.reply import WazzupReply
from daemon.domain.replies import ReplyChannel

REPLY_CHANNELS: tuple[ReplyChannel, ...] = (
    MaxReply(), WazzupReply(), GreenApiReply(), AvitoReply(), TelegramBusinessReply(),
)


def reply_channel(kind: str) -> ReplyChannel | None:
    return next((channel for channel in REPLY_CHANNELS if channel.kind == kind), None)
