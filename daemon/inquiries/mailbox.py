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

A message that cannot be read or filed for a reason of its own (PostgreSQL
refuses it, the adapter fails on it) must not hold up the mail behind it: the
pass goes on, the message is tried again after the next wait, and after
``MAX_ATTEMPTS`` it is recorded in the quarantine table (``/health`` warns) and
moved to the source's quarantine folder, where a person finds it (and may move
it back to be taken again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from adapters.email.parse import parse_email
from daemon.domain.errors import StorageUnavailable
from daemon.domain.inquiry import Inquiry
from daemon.inquiries.imap import Endpoint, ImapSession

log = structlog.get_logger(__name__)

# Files one inquiry with the raw message it came from, durably, and says how:
# "stored", "duplicate" (already filed under this source + external id) or
# "spooled" (kept on local disk while PostgreSQL is away). Raising means "not
# durable": the message stays in the folder and is tried again.
FileInquiry = Callable[[Inquiry, bytes], Awaitable[str]]
# Keeps a message that cannot be filed for a person (the quarantine table):
# (raw message, reason, its dedup key if known). Raising means "not kept": the
# message stays in the folder and is tried again.
QuarantineMail = Callable[[bytes, str, "str | None"], Awaitable[None]]

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 300.0
MAX_ATTEMPTS = 3
DEFAULT_QUARANTINE_FOLDER = "callbridge-quarantine"
# Not the message's fault: the pass ends and the connection is tried again later.
NOT_THE_MESSAGE = (StorageUnavailable, TimeoutError, OSError)


@dataclass(frozen=True)
class MailboxConfig:
    source: str
    endpoint: Endpoint
    folder: str = "INBOX"
    done_folder: str = "Processed"
    # Where auto-replies and bounces go; None: the done folder as well.
    skipped_folder: str | None = None
    # Where a message goes that could not be filed after MAX_ATTEMPTS.
    quarantine_folder: str = DEFAULT_QUARANTINE_FOLDER
    own_addresses: tuple[str, ...] = ()
    own_phones: tuple[str, ...] = ()
    poll_interval_s: float = 60.0
    # While a message waits to be tried again, news is awaited at most this long.
    retry_pause_s: float = 30.0
    use_idle: bool = True
    use_move: bool = True

    def __post_init__(self) -> None:
        # Moving into the watched folder gives the message a new UID there: it
        # would be taken, found a duplicate and moved again, forever.
        for target in (self.done_folder, self.skipped_folder, self.quarantine_folder):
            if target is not None and target.lower() == self.folder.lower():
                raise ValueError(f"source {self.source}: done/skipped/quarantine folder must differ"
                                 f" from folder {self.folder!r}")


@dataclass
class PassCounts:
    filed: int = 0
    duplicate: int = 0
    skipped: int = 0
    failed: int = 0  # attempts that failed (each message at most MAX_ATTEMPTS times)
    quarantined: int = 0


class MailboxPoller:
    def __init__(self, config: MailboxConfig, file_inquiry: FileInquiry, *,
                 quarantine: QuarantineMail | None = None) -> None:
        self.config = config
        self.file_inquiry = file_inquiry
        self.quarantine = quarantine  # None: a message given up on is only logged and moved
        self.totals = PassCounts()
        self.passes = 0  # completed passes over the folder; tests wait on it
        self.waiting = False  # drained, waiting for news (IDLE or the poll interval)
        self._uidvalidity: int | None = None
        self._last_uid = 0
        self._failures: dict[int, int] = {}  # UID -> failed attempts, within this UIDVALIDITY
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
        for folder in (cfg.done_folder, cfg.skipped_folder, cfg.quarantine_folder):
            if folder:
                await session.ensure_mailbox(folder)
        uidvalidity = await session.select(cfg.folder)
        if uidvalidity != self._uidvalidity:
            # A new UIDVALIDITY voids every UID we knew (RFC 3501 §2.3.1.1).
            self._uidvalidity, self._last_uid = uidvalidity, 0
            self._failures.clear()
        idle = cfg.use_idle and session.has("IDLE")
        self._log.info("mailbox_open", uidvalidity=uidvalidity, idle=idle, move=session.has("MOVE"))
        while True:
            # Again until a search finds nothing: aioimaplib drops the EXISTS a
            # server sends with the answer to another command (mail that came
            # during this pass), and IDLE would not announce it again. A message
            # that failed is tried again once per wait, not in the same burst.
            retry = True
            while await self.drain(session, retry=retry):
                retry = False
            self.waiting = True
            try:
                await self._wait(session)
            finally:
                self.waiting = False

    async def _wait(self, session: ImapSession) -> None:
        cfg = self.config
        if self._failures:  # a message waits for its next attempt: no long IDLE
            await session.wait_for_news(use_idle=False, poll_interval_s=min(cfg.poll_interval_s, cfg.retry_pause_s))
        else:
            await session.wait_for_news(use_idle=cfg.use_idle, poll_interval_s=cfg.poll_interval_s)

    async def drain(self, session: ImapSession, *, retry: bool = True) -> int:
        """Take every message not yet seen in this connection, oldest first, and (``retry``)
        those that failed before; how many new ones there were."""
        counts = PassCounts()
        uids = await session.uids_after(self._last_uid)
        again = [uid for uid in self._failures if uid <= self._last_uid] if retry else []
        for uid in sorted({*uids, *again}):
            await self._take(session, uid, counts)
            self._last_uid = max(self._last_uid, uid)
        self.passes += 1
        for name, value in vars(counts).items():
            setattr(self.totals, name, getattr(self.totals, name) + value)
        if any(vars(counts).values()):
            self._log.info("mailbox_pass", **vars(counts))
        return len(uids)

    async def _take(self, session: ImapSession, uid: int, counts: PassCounts) -> None:
        cfg = self.config
        raw = await session.fetch(uid)
        if raw is None:  # expunged by someone else meanwhile
            self._failures.pop(uid, None)
            return
        dedup_key: str | None = None
        try:
            parsed = parse_email(raw, source=cfg.source, own_addresses=cfg.own_addresses,
                                 own_phones=cfg.own_phones)
            dedup_key = f"inquiry:{cfg.source}:{parsed.external_id}"
            mlog = self._log.bind(uid=uid, message_id=parsed.external_id)
            if parsed.inquiry is None:
                counts.skipped += 1
                mlog.info("mail_skipped", reason=parsed.skip_reason)
                target = cfg.skipped_folder or cfg.done_folder
            else:
                outcome = await self.file_inquiry(parsed.inquiry, raw)
                counts.duplicate += outcome == "duplicate"
                counts.filed += outcome != "duplicate"
                mlog.info("mail_filed", outcome=outcome)
                target = cfg.done_folder
        except NOT_THE_MESSAGE:
            raise  # nothing durable took it: the pass ends, the message is tried again after the pause
        except Exception as exc:  # noqa: BLE001 - one message must not hold up the mail behind it
            await self._failed(session, uid, raw, dedup_key, exc, counts)
            return
        self._failures.pop(uid, None)
        await session.move(uid, target, use_move=cfg.use_move)

    async def _failed(self, session: ImapSession, uid: int, raw: bytes, dedup_key: str | None,
                      exc: Exception, counts: PassCounts) -> None:
        """Count the failed attempt; after the last one, quarantine the message."""
        counts.failed += 1
        attempts = self._failures[uid] = self._failures.get(uid, 0) + 1
        error = f"{type(exc).__name__}: {exc}"
        self._log.error("mail_not_filed", uid=uid, dedup_key=dedup_key, attempt=attempts,
                        max_attempts=MAX_ATTEMPTS, error=error, exc_info=attempts == 1)
        if attempts < MAX_ATTEMPTS:
            return
        cfg = self.config
        reason = (f"e-mail {cfg.source}/{cfg.folder} UID {uid} could not be filed after {attempts} attempts"
                  f" ({error}); moved to the IMAP folder {cfg.quarantine_folder!r}")
        if self.quarantine is not None:
            try:
                await self.quarantine(raw, reason, dedup_key)
            except Exception as qexc:  # noqa: BLE001 - not recorded: the message stays and is tried again
                self._log.warning("mail_quarantine_failed", uid=uid, error=f"{type(qexc).__name__}: {qexc}")
                return
        await session.move(uid, cfg.quarantine_folder, use_move=cfg.use_move)
        self._failures.pop(uid, None)
        counts.quarantined += 1
        self._log.error("mail_quarantined", uid=uid, dedup_key=dedup_key, reason=reason)
