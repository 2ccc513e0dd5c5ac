"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it is sent, or refuses as told."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope


@dataclass
class Mailbox:
    received: list[Envelope] = field(default_factory=list)
    port: int = 0
    refuse_with: str | None = None  # e.g. "550 5.1.1 No such user"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        if self.refuse_with is not None:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.received.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[Message]:
        # The default policy decodes RFC 2047 headers and RFC 2231 file names: the Russian a person reads.
        return [email.message_from_bytes(e.content, policy=email.policy.default)  # type: ignore[arg-type]
                for e in self.received]


@contextlib.asynccontextmanager
async def mail_server() -> AsyncIterator[Mailbox]:
    box = Mailbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="callbridge.test"), "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    try:
        yield box
    finally:
        server.close()
        await server.wait_closed()
