"""The routing runtime: from an Appeared-in-IVR event to a route command, off the webhook's path.

The intake calls ``on_event`` after the event is stored; it only queues a job,
so neither a slow database nor a slow PBX can delay the PBX's 200. ``run`` is
the supervised task that works the queue, each job in a task of its own:

1. one round trip claims the leg in ``route_decisions`` (keyed by its call_id,
   so that of two daemons only one ever decides and sends), looks the caller
   up by one indexed probe when the policy needs it, and tells whether the
   caller has already left the IVR;
2. the policy decides;
3. a route command waits for a slot of the PBX's rate limit, which every daemon
   shares through PostgreSQL (``pacing.py``), but never longer than the caller
   can still be in the IVR;
4. a leg that has moved on (a later event of it, or the call's summary, in the
   inbox) or waited longer than the IVR hold is dropped as ``too_late``: a late
   route would pull a caller out of whatever the PBX's scheme has since done
   with him;
5. the outcome, and later the PBX's /result/route, are stored on the decision
   and on the call's communication.

A route that fails (429, 5xx, timeout) is logged and counted, and the call
falls through to the PBX's own scheme: nothing is retried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog

from adapters.mango.client import CommandOutcome, MangoClient, Outcome, new_command_id
from daemon.domain.errors import CallbridgeError
from daemon.domain.events import CallLegChanged, CommandResult, Envelope
from daemon.domain.phones import normalise_phone
from daemon.routing.pacing import SharedRateLimit
from daemon.routing.policy import Decision, Reason, Responsible, RoutingPolicy
from daemon.runtime.metrics import Metrics
from daemon.store.repository import Repository

log = structlog.get_logger(__name__)

IVR_LOCATION = "ivr"
ROUTE_COMMAND = "route"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Office hours are judged by our own clock when the event reaches us, never by the
    PBX's timestamp, whose zone Mango Office's manuals disagree on (UTC or UTC+3)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class RouteJob:
    entry_id: str
    call_id: str
    dedup_key: str
    caller_number: str | None
    line_number: str | None
    at: datetime     # wall-clock time the event reached us
    seen: float      # time.monotonic() then, for the rate-limit wait and the latency metric


@dataclass(frozen=True)
class ResultJob:
    command_id: str
    result: int


class Router:
    def __init__(self, *, repo: Repository, client: MangoClient, policy: RoutingPolicy,
                 limiter: SharedRateLimit, ivr_hold_s: float, request_timeout_s: float,
                 metrics: Metrics, clock: Clock | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._repo = repo
        self._client = client
        self._policy = policy
        self._limiter = limiter
        self._hold_s = ivr_hold_s
        self._timeout_s = request_timeout_s
        self._metrics = metrics
        self._clock = clock or SystemClock()
        self._monotonic = monotonic
        self._queue: asyncio.Queue[RouteJob | ResultJob] = asyncio.Queue()
        self._jobs: set[asyncio.Task[None]] = set()
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def reconfigure(self, *, policy: RoutingPolicy, ivr_hold_s: float, request_timeout_s: float,
                    limiter: SharedRateLimit | None = None) -> None:
        """Take new rules (SIGHUP); jobs already deciding finish under the old ones."""
        self._policy = policy
        self._hold_s = ivr_hold_s
        self._timeout_s = request_timeout_s
        if limiter is not None:
            self._limiter = limiter

    # -- the intake's listener (synchronous, on the webhook's path) ------------
    def on_event(self, env: Envelope) -> None:
        event = env.event
        if isinstance(event, CallLegChanged):
            if (event.state != "appeared" or event.location != IVR_LOCATION
                    or event.caller.extension):
                return  # only a customer's first ring in the IVR is ours to route
            if not self._policy.enabled:
                return
            self._submit(RouteJob(
                entry_id=event.entry_id, call_id=event.call_id, dedup_key=env.dedup_key,
                caller_number=event.caller.number, line_number=event.line_number,
                at=self._clock.now(), seen=self._monotonic(),
            ))
        elif isinstance(event, CommandResult) and event.command == ROUTE_COMMAND:
            self._submit(ResultJob(command_id=event.command_id, result=event.result))

    def _submit(self, job: RouteJob | ResultJob) -> None:
        self._pending += 1
        self._idle.clear()
        self._queue.put_nowait(job)

    # -- the supervised task ---------------------------------------------------
    async def run(self) -> None:
        """Start a task per job; on cancellation, cancel and await the jobs in flight."""
        try:
            while True:
                job = await self._queue.get()
                name = (f"route:{job.call_id}" if isinstance(job, RouteJob)
                        else f"route-result:{job.command_id}")
                task = asyncio.create_task(self._handle(job), name=name)
                self._jobs.add(task)
                task.add_done_callback(self._job_done)
        finally:
            for task in self._jobs:
                task.cancel()
            await asyncio.gather(*self._jobs, return_exceptions=True)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._jobs.discard(task)
        self._pending -= 1
        if self._pending == 0:
            self._idle.set()

    async def drain(self) -> None:
        """Wait until every queued job is finished (tests; a graceful stop)."""
        await self._idle.wait()

    async def _handle(self, job: RouteJob | ResultJob) -> None:
        ids = {"call_id": job.call_id, "entry_id": job.entry_id} if isinstance(job, RouteJob) else {
            "command_id": job.command_id}
        try:
            if isinstance(job, ResultJob):
                await self._repo.record_route_result(job.command_id, job.result)
                log.info("route_result_stored", result=job.result, **ids)
            else:
                await self._route(job)
        except CallbridgeError as exc:
            # The call falls through to the PBX's scheme; the event itself is safe in the inbox.
            log.error("routing_failed", error=str(exc), **ids)
            self._metrics.route_commands.labels("storage_error").inc()
        except Exception:
            log.exception("routing_crashed", **ids)
            self._metrics.route_commands.labels("crashed").inc()

    # -- one call --------------------------------------------------------------
    async def _route(self, job: RouteJob) -> None:
        phone = normalise_phone(job.caller_number, self._policy.region)
        early = self._policy.before_lookup(at=job.at, line_number=job.line_number,
                                           caller_phone=phone)
        command_id = new_command_id("route")
        # One round trip: the claim, the lookup (only when the decision needs it) and the
        # "has the caller moved on" check, so that the common case goes straight to the PBX.
        row = await self._repo.claim_call_and_find_responsible(
            call_id=job.call_id, entry_id=job.entry_id, command_id=command_id,
            phone=phone if early is None else None, dedup_key=job.dedup_key)
        if not row["claimed"]:
            log.info("route_claimed_elsewhere", call_id=job.call_id, entry_id=job.entry_id)
            self._metrics.route_commands.labels("claimed_elsewhere").inc()
            return
        decision = early or self._policy.after_lookup(
            Responsible(contact_id=row["contact_id"], new_contact=row["new_contact"],
                        extension=row["extension"], active=row["active"])
            if row["contact_id"] is not None else None)
        if not decision.routes:
            await self._finish(job, decision, decision.reason)
            return
        # The PBX's limit is the office's, shared with every other daemon: a slot of it
        # is reserved in PostgreSQL, never further off than the caller can still wait.
        wait_s = await self._limiter.reserve(max_wait_s=self._hold_s - (self._monotonic() - job.seen))
        if wait_s is None:
            await self._finish(job, decision, "too_late", why="rate_limit_wait")
            return
        if wait_s <= 0:
            moved_on, age_s = row["moved_on"], row["age_s"] or 0.0  # the claim's check is still fresh
        else:
            await asyncio.sleep(wait_s)
            moved_on, age_s = await self._repo.route_progress(
                call_id=job.call_id, dedup_key=job.dedup_key, entry_id=job.entry_id)
        remaining_s = self._hold_s - max(age_s, self._monotonic() - job.seen)
        if moved_on or remaining_s <= 0:
            why = "moved_on" if moved_on else "ivr_hold_over"
            await self._finish(job, decision, "too_late", why=why)
            return
        await self._send(job, decision, command_id, remaining_s)

    async def _send(self, job: RouteJob, decision: Decision, command_id: str,
                    remaining_s: float) -> None:
        assert decision.target is not None
        outcome = await self._client.route(job.call_id, decision.target, command_id=command_id,
                                           timeout_s=min(self._timeout_s, remaining_s))
        self._metrics.routing_latency.observe(self._monotonic() - job.seen)
        self._observe(outcome)
        if outcome.ok:
            await self._finish(job, decision, decision.reason, routed_to=decision.target,
                               outcome=outcome)
        elif outcome.outcome is Outcome.CALL_GONE:
            await self._finish(job, decision, "too_late", outcome=outcome, why="pbx_says_call_gone")
        else:
            await self._finish(job, decision, "pbx_error", outcome=outcome)

    async def _finish(self, job: RouteJob, decision: Decision, reason: Reason, *,
                      routed_to: str | None = None, outcome: CommandOutcome | None = None,
                      why: str | None = None) -> None:
        await self._repo.record_route_outcome(
            call_id=job.call_id, reason=reason, target=decision.target, routed_to=routed_to,
            pbx_outcome=outcome.outcome.value if outcome else None, sent=outcome is not None)
        self._metrics.route_commands.labels(outcome.outcome.value if outcome else reason).inc()
        (log.warning if reason == "pbx_error" else log.info)(
            "route_decided", call_id=job.call_id, entry_id=job.entry_id, reason=reason,
            target=decision.target, routed_to=routed_to, sent=outcome is not None,
            command_id=outcome.command_id if outcome else None,
            pbx_outcome=outcome.outcome.value if outcome else None,
            pbx_request_id=outcome.request_id if outcome else None, why=why,
            elapsed_ms=round((self._monotonic() - job.seen) * 1000, 2))

    def _observe(self, outcome: CommandOutcome) -> None:
        self._metrics.pbx_api_result("commands/route", outcome.outcome.value, status=outcome.status,
                                     code=outcome.code)
