"""The mailbox poller: one supervised task per ``email`` source.

It logs in over IMAP (TLS unless told otherwise), takes every message in the
watched folder, files each one like any inquiry, and only then moves it to the
done folder: a message leaves the folder once it is durable, never before. A
crash between the two leaves it in place; the next pass files it again and
the inbox's dedup key (source + Message-ID) makes that harmless, which is
also what makes "each message once" survive restarts. Within one connection
the last UID seen (per UIDVALIDITY) keeps a message that cannot be moved from
being taken again and again.

New mail is awaited with IDLE where the server offers it, else by polling.
A lost connection, a refused login or a database that is away are logged and
retried with a growing pause; cancellation (shutdown) ends the task at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from adapters.email.parse import parse_email
from daemon.inquiries.imap import Endpoint, ImapSession
from daemon.inquiries.model import Inquiry

log = structlog.get_logger(__name__)

# Files one inquiry with the raw message it came from, durably, and says how:
# "stored", "duplicate" (already filed under this source + external id) or
# "spooled" (kept on local disk while PostgreSQL is away). Raising means "not
# durable": the message stays in the folder and is tried again.
FileInquiry = Callable[[Inquiry, bytes], Awaitable[str]]

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 300.0


@dataclass(frozen=True)
class MailboxConfig:
    source: str
    endpoint: Endpoint
    folder: str = "INBOX"
    done_folder: str = "Processed"
    # Where auto-replies and bounces go; None: the done folder as well.
    skipped_folder: str | None = None
    own_addresses: tuple[str, ...] = ()
    own_phones: tuple[str, ...] = ()
    poll_interval_s: float = 60.0
    use_idle: bool = True
    use_move: bool = True

    def __post_init__(self) -> None:
        # Moving into the watched folder gives the message a new UID there: it
        # would be taken, found a duplicate and moved again, forever.
        for target in (self.done_folder, self.skipped_folder):
            if target is not None and target.lower() == self.folder.lower():
                raise ValueError(f"source {self.source}: done/skipped folder must differ from folder {self.folder!r}")


@dataclass
class PassCounts:
    filed: int = 0
    duplicate: int = 0
    skipped: int = 0
    failed: int = 0


class MailboxPoller:
    def __init__(self, config: MailboxConfig, file_inquiry: FileInquiry) -> None:
        self.config = config
        self.file_inquiry = file_inquiry
        self.totals = PassCounts()
        self.passes = 0  # completed passes over the folder; tests wait on it
        self.waiting = False  # drained, waiting for news (IDLE or the poll interval)
        self._uidvalidity: int | None = None
        self._last_uid = 0
        self._log = log.bind(source=config.source, folder=config.folder)

    async def run_forever(self) -> None:
        """Connect, drain, wait for news, drain... and after any failure, again after a pause."""
        pause = BACKOFF_FIRST_S
        while True:
            session = ImapSession(self.config.endpoint)
            passes_before = self.passes
            try:
                await self._connected(session)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure of one mailbox must not stop the daemon
                if self.passes > passes_before:  # it worked for a while: start the pauses over
                    pause = BACKOFF_FIRST_S
                self._log.warning("mailbox_retry", error=f"{type(exc).__name__}: {exc}", retry_in_s=pause)
            finally:
                await session.close()
            await asyncio.sleep(pause)
            pause = min(pause * 2, BACKOFF_MAX_S)

    async def _connected(self, session: ImapSession) -> None:
        cfg = self.config
        await session.open()
        await session.ensure_mailbox(cfg.done_folder)
        if cfg.skipped_folder:
            await session.ensure_mailbox(cfg.skipped_folder)
        uidvalidity = await session.select(cfg.folder)
        if uidvalidity != self._uidvalidity:
            # A new UIDVALIDITY voids every UID we knew (RFC 3501 §2.3.1.1).
            self._uidvalidity, self._last_uid = uidvalidity, 0
        idle = cfg.use_idle and session.has("IDLE")
        self._log.info("mailbox_open", uidvalidity=uidvalidity, idle=idle, move=session.has("MOVE"))
        while True:
            # Again until a search finds nothing: aioimaplib drops the EXISTS a
            # server sends with the answer to another command (mail that came
            # during this pass), and IDLE would not announce it again.
            while await self.drain(session):
                pass
            self.waiting = True
            try:
                await session.wait_for_news(use_idle=cfg.use_idle, poll_interval_s=cfg.poll_interval_s)
            finally:
                self.waiting = False

    async def drain(self, session: ImapSession) -> int:
        """Take every message not yet seen in this connection, oldest first; how many there were."""
        counts = PassCounts()
        uids = await session.uids_after(self._last_uid)
        for uid in uids:
            await self._take(session, uid, counts)
            self._last_uid = max(self._last_uid, uid)
        self.passes += 1
        for name in ("filed", "duplicate", "skipped", "failed"):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(counts, name))
        if counts.filed or counts.duplicate or counts.skipped or counts.failed:
            self._log.info("mailbox_pass", **vars(counts))
        return len(uids)

    async def _take(self, session: ImapSession, uid: int, counts: PassCounts) -> None:
        cfg = self.config
        raw = await session.fetch(uid)
        if raw is None:  # expunged by someone else meanwhile
            return
        try:
            parsed = parse_email(raw, source=cfg.source, own_addresses=cfg.own_addresses,
                                 own_phones=cfg.own_phones)
        except Exception:  # noqa: BLE001 - a message we cannot read stays for a human; the rest go on
            counts.failed += 1
            self._log.exception("mail_unreadable", uid=uid)
            return
        mlog = self._log.bind(uid=uid, message_id=parsed.external_id)
        if parsed.inquiry is None:
            counts.skipped += 1
            mlog.info("mail_skipped", reason=parsed.skip_reason)
            await session.move(uid, cfg.skipped_folder or cfg.done_folder, use_move=cfg.use_move)
            return
        # Raises when nothing durable took it: the message stays, the pass ends,
        # and the poller tries again after its pause.
        outcome = await self.file_inquiry(parsed.inquiry, raw)
        if outcome == "duplicate":
            counts.duplicate += 1
        else:
            counts.filed += 1
        mlog.info("mail_filed", outcome=outcome)
        await session.move(uid, cfg.done_folder, use_move=cfg.use_move)

