"""The supervised task that sends the outbox's replies (``reply-sender``), one of them per daemon.

Stateless: each pass claims due rows (``FOR UPDATE SKIP LOCKED``, then a lease
of ``send_timeout_s`` and a margin in ``next_attempt_at``), so two daemons on one
database never hold one message at once, and a message a killed daemon held is
due again when its lease runs out (then counted as maybe delivered: Telegram and
SMTP take no idempotency key; VK drops a repeat of ``random_id``). Each attempt
ends in one fenced write: sent (the transcript and ``replied_at`` with it),
retry (429 after ``retry_after``; 5xx and timeouts with a doubling back-off,
failed once past ``give_up_after_h``), or failed with the provider's reason.

A reply accepted by this daemon's API wakes the task at once; those of other
daemons are found within ``poll_interval_s``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import structlog
from aiohttp import web

from config.settings import Settings
from daemon.domain.errors import StorageError, StorageUnavailable
from daemon.domain.inquiry import MAX_TEXT_CHARS
from daemon.domain.replies import Delivered, OutgoingReply, Refused, RetryLater, SendOutcome, paced_rate
from daemon.inquiries import pace
from daemon.inquiries.outbox import Claimed, OutboxStore, sending_settings, source_settings
from daemon.runtime.keys import METRICS, RELOADER, REPOSITORY, TASKS
from daemon.runtime.metrics import Metrics
from daemon.runtime.reply_channels import channel_for
from daemon.runtime.tasks import nap
from daemon.store.repository import Repository, translated_errors

log = structlog.get_logger(__name__)

TASK = "reply-sender"
LEASE_MARGIN_S = 30.0  # a claim outlives one attempt's timeout by this much
BACKOFF_MAX_S = 1800.0
AUTO_SUBMITTED = "auto-replied"  # RFC 3834: an automatic answer says so


class ReplySender:
    """Claims due replies and hands each to its channel, ``concurrency`` at a time."""

    def __init__(self, repo: Repository, settings: Callable[[], Settings], metrics: Metrics | None = None) -> None:
        self._repo = repo
        self._settings = settings  # the reloadable settings: read on every pass
        self._metrics = metrics
        self.wake = asyncio.Event()

    async def run_forever(self) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    sent = await self.pass_once(session)
                except (StorageUnavailable, StorageError) as exc:
                    log.warning("reply_sender_storage", error=str(exc)[:300])
                    sent = 0
                if sent == 0:
                    await self._idle()

    async def _idle(self) -> None:
        await nap(self.wake, self._settings().replies.poll_interval_s)

    async def pass_once(self, session: aiohttp.ClientSession) -> int:
        """Claim and send what is due now; how many were claimed."""
        settings = self._settings().replies
        with translated_errors():
            claimed = await OutboxStore(self._repo.pool).claim(
                limit=settings.concurrency, lease_s=settings.send_timeout_s + LEASE_MARGIN_S)
        # Every attempt runs to its end (none is left behind as an orphan task); then the first
        # failure that is not PostgreSQL's is raised: a bug, for the task group to restart us.
        results = await asyncio.gather(*(self._send(session, c) for c in claimed), return_exceptions=True)
        for claim, result in zip(claimed, results, strict=True):
            if isinstance(result, StorageUnavailable | StorageError):
                # Sent or not, the outcome was not written: due again when the claim runs out.
                log.warning("reply_outcome_not_stored", message_id=claim.id, error=str(result)[:300])
            elif isinstance(result, BaseException):
                raise result
        return len(claimed)

    async def _send(self, session: aiohttp.ClientSession, claimed: Claimed) -> None:
        settings = self._settings()
        channel = channel_for(claimed.channel)
        source = sending_settings(settings, source_settings(settings, claimed.source))
        outcome: SendOutcome
        if channel is None:
            outcome = Refused(f"no reply channel {claimed.channel!r} in this daemon")
        else:
            if claimed.maybe_delivered and not channel.idempotent:
                self._count_duplicate(claimed.channel)
            extras = {"timeout_s": str(settings.replies.send_timeout_s)}
            if claimed.kind == "auto_reply":
                extras["auto_submitted"] = AUTO_SUBMITTED
            reply = OutgoingReply(message_id=claimed.id, channel=claimed.channel, source=claimed.source,
                                  address=claimed.address, text=claimed.text, attempt=claimed.attempt,
                                  extras=extras)
            rate = paced_rate(channel)
            with translated_errors():
                turn = rate is None or await pace.wait_turn(self._repo.pool, kind=claimed.channel,
                                                            source=claimed.source, requests_per_s=rate)
            if turn:
                outcome = await self._attempt(session, channel.send, source, reply, settings.replies.send_timeout_s)
            else:
                outcome = RetryLater(f"paced: the provider takes {rate:g} requests a second", after_s=pace.MAX_WAIT_S)
        with translated_errors():
            await self._record(claimed, outcome, settings)

    @staticmethod
    async def _attempt(session: aiohttp.ClientSession, send: Callable[..., object], source: object,
                       reply: OutgoingReply, timeout_s: float) -> SendOutcome:
        try:
            async with asyncio.timeout(timeout_s):
                result = await send(session, source, reply)  # type: ignore[misc]
        except TimeoutError:
            return RetryLater("no answer in time", maybe_delivered=True)
        assert isinstance(result, Delivered | RetryLater | Refused)
        return result

    async def _record(self, claimed: Claimed, outcome: SendOutcome, settings: Settings) -> None:
        store = OutboxStore(self._repo.pool)
        bound = {"message_id": claimed.id, "communication_id": claimed.communication_id,
                 "channel": claimed.channel, "attempt": claimed.attempt}
        if isinstance(outcome, Delivered):
            held = await store.sent(claimed, provider_id=outcome.provider_id, transcript=True,
                                    max_chars=MAX_TEXT_CHARS)
            log.info("reply_sent", provider_id=outcome.provider_id, held=held, **bound)
            self._count(claimed.channel, "sent")
        elif isinstance(outcome, Refused):
            await store.failed(claimed, reason=outcome.reason)
            log.warning("reply_refused", reason=outcome.reason, **bound)
            self._count(claimed.channel, "failed")
        else:
            after = outcome.after_s if outcome.after_s is not None else backoff_s(
                claimed.attempt, settings.replies.retry_base_s)
            status = await store.retry(claimed, after_s=after, reason=outcome.reason,
                                       maybe_delivered=outcome.maybe_delivered,
                                       give_up_after_s=settings.replies.give_up_after_h * 3600)
            log.warning("reply_retry", reason=outcome.reason, after_s=after, status=status, **bound)
            self._count(claimed.channel, "failed" if status == "failed" else "retry")

    def _count(self, channel: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.reply(channel, outcome)

    def _count_duplicate(self, channel: str) -> None:
        if self._metrics is not None:
            self._metrics.reply_maybe_duplicates.labels(channel).inc()


def backoff_s(attempt: int, base_s: float) -> float:
    """``base_s`` doubled per attempt made, at most half an hour."""
    return float(min(base_s * 2 ** max(attempt - 1, 0), BACKOFF_MAX_S))


REPLY_SENDER: web.AppKey[ReplySender] = web.AppKey("reply_sender")


def start_reply_sender(app: web.Application) -> ReplySender:
    """The ``reply-sender`` task in the daemon's TaskGroup (a factory: restarted if it dies)."""
    sender = ReplySender(app[REPOSITORY], lambda: app[RELOADER].current, app.get(METRICS))
    app[REPLY_SENDER] = sender
    app[TASKS].start(TASK, sender.run_forever)
    return sender
