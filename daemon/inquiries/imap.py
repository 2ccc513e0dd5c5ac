"""The few IMAP4rev1 operations the mailbox poller needs, over aioimaplib.

aioimaplib answers every command with ``Response(result, lines)`` and leaves
the reading of those lines to us; this module does that reading, raises
``ImapError`` for any answer other than OK, and hides the differences between
servers (MOVE or COPY + \\Deleted + EXPUNGE, IDLE or not).
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from dataclasses import dataclass
from typing import Literal

import aioimaplib  # type: ignore[import-untyped]
import structlog

log = structlog.get_logger(__name__)
Security = Literal["tls", "plain"]
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_UID = re.compile(rb"UID (\d+)")
IDLE_RENEW_S = 300.0  # well under the 29 minutes of RFC 2177; also a safety net for a lost push


class ImapError(Exception):
    """The server said NO or BAD, or an answer could not be read."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    security: Security
    username: str
    password: str
    timeout_s: float = 30.0
    ssl_context: ssl.SSLContext | None = None  # None: the system's trusted CAs


def utf7_mailbox(name: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 §5.1.3): «Обработанные» -> ``&BB4EMQ...-``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def quote_mailbox(name: str) -> str:
    """A mailbox name as an IMAP quoted string (spaces, "[Gmail]/...", Cyrillic names)."""
    return '"' + utf7_mailbox(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(response: aioimaplib.Response, what: str) -> aioimaplib.Response:
    if response.result != "OK":
        text = b" ".join(line for line in response.lines if isinstance(line, bytes | bytearray))
        raise ImapError(f"{what}: {response.result} {text.decode('utf-8', 'replace')[:300]}")
    return response


class ImapSession:
    """One logged-in connection; ``lost`` is set when the server goes away."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.lost = asyncio.Event()
        context = None
        if endpoint.security == "tls":
            context = endpoint.ssl_context or ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        # IMAP4 rather than IMAP4_SSL: only IMAP4 takes the connection-lost callback.
        self.client = aioimaplib.IMAP4(host=endpoint.host, port=endpoint.port, timeout=endpoint.timeout_s,
                                       conn_lost_cb=lambda _exc: self.lost.set(), ssl_context=context)

    async def open(self) -> None:
        await self.client.wait_hello_from_server()
        _ok(await self.client.login(self.endpoint.username, self.endpoint.password), "LOGIN")
        # The capabilities change after login (MOVE, UIDPLUS, IDLE); ask again.
        await asyncio.wait_for(self.client.protocol.capability(), self.endpoint.timeout_s)

    def has(self, capability: str) -> bool:
        return self.client.has_capability(capability)

    async def ensure_mailbox(self, name: str) -> None:
        """CREATE the mailbox unless it exists (a NO for an existing one is fine)."""
        listed = _ok(await self.client.list('""', quote_mailbox(name)), "LIST")
        if any(isinstance(line, bytes | bytearray) and line.startswith(b"(") for line in listed.lines):
            return
        _ok(await self.client.create(quote_mailbox(name)), f"CREATE {name}")

    async def select(self, name: str) -> int:
        """SELECT the mailbox; returns its UIDVALIDITY (RFC 3501 §2.3.1.1)."""
        response = _ok(await self.client.select(quote_mailbox(name)), f"SELECT {name}")
        for line in response.lines:
            match = _UIDVALIDITY.search(bytes(line))
            if match:
                return int(match.group(1))
        raise ImapError(f"SELECT {name}: no UIDVALIDITY in the answer")

    async def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid``, oldest first.

        ``n:*`` always includes the highest UID even when n is larger
        (RFC 3501 §6.4.8), so the answer is filtered again here.
        """
        response = _ok(await self.client.uid_search(f"UID {last_uid + 1}:*", charset=None), "UID SEARCH")
        uids: list[int] = []
        for line in response.lines[:-1]:  # aioimaplib gives "* SEARCH 1 2" as b"1 2"; last: the OK text
            words = bytes(line).split()
            if words[:1] == [b"SEARCH"]:
                words = words[1:]
            if words and all(w.isdigit() for w in words):
                uids.extend(int(w) for w in words)
        return sorted(uid for uid in set(uids) if uid > last_uid)

    async def fetch(self, uid: int) -> bytes | None:
        """The whole message (``BODY.PEEK[]``: \\Seen is left as it was); None when it is gone."""
        response = _ok(await self.client.uid("fetch", str(uid), "(UID BODY.PEEK[])"), "UID FETCH")
        lines = response.lines
        for i, line in enumerate(lines):
            if isinstance(line, bytearray) and i > 0 and _FETCH_UID.search(bytes(lines[i - 1])):
                return bytes(line)
        return None

    async def move(self, uid: int, folder: str, *, use_move: bool = True) -> None:
        """Move one message; without MOVE (RFC 6851): COPY, flag \\Deleted, expunge it.

        Without UIDPLUS the expunge is a plain EXPUNGE, which also removes other
        messages someone flagged \\Deleted in this mailbox, as any mail client would.
        """
        if use_move and self.has("MOVE"):
            _ok(await self.client.uid("move", str(uid), quote_mailbox(folder)), "UID MOVE")
            return
        _ok(await self.client.uid("copy", str(uid), quote_mailbox(folder)), "UID COPY")
        _ok(await self.client.uid("store", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), "UID STORE")
        if self.has("UIDPLUS"):
            _ok(await self.client.uid("expunge", str(uid)), "UID EXPUNGE")
        else:
            _ok(await self.client.expunge(), "EXPUNGE")

    async def wait_for_news(self, *, use_idle: bool, poll_interval_s: float) -> None:
        """Return when the mailbox may have new mail: a push under IDLE, else after the interval.

        Raises ConnectionError when the server went away meanwhile.
        """
        if not (use_idle and self.has("IDLE")):
            await self._until_lost(asyncio.sleep(poll_interval_s))
            return
        idle = await self.client.idle_start(timeout=IDLE_RENEW_S)
        try:
            # Any push (EXISTS, EXPUNGE, a flag change) is worth a look; on the
            # timeout aioimaplib pushes its own stop marker.
            await self._until_lost(self.client.wait_server_push(timeout=IDLE_RENEW_S + 5))
        except TimeoutError:
            pass
        finally:
            if self.client.has_pending_idle():
                self.client.idle_done()
        # A push may be the server's BYE: then the IDLE never completes, the connection is gone.
        await self._until_lost(asyncio.wait_for(idle, self.endpoint.timeout_s))

    async def _until_lost(self, awaitable) -> None:  # type: ignore[no-untyped-def]
        waiting = asyncio.ensure_future(awaitable)
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            await asyncio.wait({waiting, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not waiting.done():
                waiting.cancel()
        if self.lost.is_set() and not waiting.done():
            raise ConnectionError("IMAP server closed the connection")
        if waiting.done() and not waiting.cancelled() and waiting.exception() is not None:
            raise waiting.exception()  # type: ignore[misc]

    async def close(self) -> None:
        """LOGOUT when the connection still stands, then drop it; never raises."""
        try:
            # Within IDLE (cancelled while waiting) DONE was sent already; a
            # LOGOUT now would race its answer, so the connection is just dropped.
            if not self.lost.is_set() and not self.client.has_pending_idle():
                await asyncio.wait_for(self.client.logout(), 2.0)
        except Exception as exc:  # noqa: BLE001 - closing a broken connection: nothing left to save
            log.debug("imap_logout_failed", error=repr(exc))
        for task in list(self.client.tasks):  # aioimaplib's own IDLE tasks
            task.cancel()
        transport = self.client.protocol.transport
        if transport is not None:
            transport.close()
