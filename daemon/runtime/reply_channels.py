"""Every channel replies can go out through, in one place (``REPLY_CHANNELS``).

The outbox (daemon/inquiries/outbox*.py) picks the channel whose ``kind`` is the
source's kind; a source whose kind has none (a Tilda or generic form, Jivo, the
API) is answered by e-mail when its inquiry gave an address. A new messenger is
one more entry here and an ``adapters/<sender>/reply.py``.
One instance each for the daemon's life: a channel keeps what it may reuse between
replies (Avito's OAuth token, MAX's pace), never state the outbox needs.
"""

from __future__ import annotations

from adapters.avito.reply import AvitoReply
from adapters.email.reply import EmailReply
from adapters.greenapi.reply import GreenApiReply
from adapters.max.reply import MaxReply
from adapters.telegram.reply import TelegramReply
from adapters.vk.reply import VkReply
from adapters.wazzup.reply import WazzupReply
from daemon.domain.replies import ReplyChannel

REPLY_CHANNELS: tuple[ReplyChannel, ...] = (
    TelegramReply(), VkReply(), EmailReply(), MaxReply(), WazzupReply(), GreenApiReply(), AvitoReply(),
)
EMAIL = "email"


def channel_for(kind: str) -> ReplyChannel | None:
    """The channel of this kind, or None."""
    return next((c for c in REPLY_CHANNELS if c.kind == kind), None)
