"""Prometheus metrics of one daemon process, in a registry of its own (no global state)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# A first answer: a minute to a working day and beyond.
FIRST_RESPONSE_BUCKETS_S = (60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 259200.0)
# PBX API outcomes that say nothing bad about the link to the PBX.
PBX_API_OK_OUTCOMES = frozenset({"success", "call_gone"})
# Label values come from this set only, so that no input can mint new series.
PBX_API_OUTCOMES = PBX_API_OK_OUTCOMES | {
    "bad_request", "refused", "rate_limited", "server_error", "unreachable", "not_found", "other"}


@dataclass(frozen=True)
class PbxApiResult:
    """The last answer (or silence) of the PBX's API, for /health."""

    path: str
    outcome: str
    at: float
    status: int | None = None
    code: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in PBX_API_OK_OUTCOMES


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter(
            "callbridge_events_total", "PBX webhooks received, by event type and outcome",
            ["type", "outcome"], registry=r)
        self.event_latency = Histogram(
            "callbridge_event_processing_seconds", "Time from webhook received to answered",
            ["type"], buckets=LATENCY_BUCKETS_S, registry=r)
        self.signature_failures = Counter(
            "callbridge_signature_failures_total", "Webhooks refused for a wrong key or sign", registry=r)
        self.route_commands = Counter(
            "callbridge_route_commands_total", "Route commands by outcome", ["outcome"], registry=r)
        self.routing_latency = Histogram(
            "callbridge_routing_seconds", "Time from the Appeared webhook to the route command sent",
            buckets=LATENCY_BUCKETS_S, registry=r)
        self.pool_in_use = Gauge(
            "callbridge_db_pool_in_use", "Database connections in use", registry=r)
        self.spool_backlog = Gauge(
            "callbridge_spool_backlog", "Events in the local spool waiting for PostgreSQL", registry=r)
        self.last_event = Gauge(
            "callbridge_last_event_timestamp_seconds", "Unix time of the last accepted PBX event", registry=r)
        self.pbx_api_requests = Counter(
            "callbridge_pbx_api_requests_total", "Requests to the PBX's API by outcome",
            ["outcome"], registry=r)
        self.events_quarantined = Counter(
            "callbridge_events_quarantined_total",
            "Acknowledged events kept in the quarantine table instead of stored: a spool record that"
            " could not be read (unreadable) or that PostgreSQL refused (refused), or an e-mail that"
            " could not be filed (mail)", ["reason"], registry=r)
        self.task_restarts = Counter(
            "callbridge_task_restarts_total", "Background tasks restarted after a crash", ["task"],
            registry=r)
        self.http_connections = Gauge(
            "callbridge_http_connections", "Open HTTP connections (idle keep-alive ones included)",
            registry=r)
        self.client_disconnects = Counter(
            "callbridge_client_disconnects_total", "Requests whose client hung up before sending the"
            " whole body (not counted as events)", registry=r)
        self.pbx_api_last: PbxApiResult | None = None
        self.inquiries = Counter(
            "callbridge_inquiries_total", "Inquiries filed, by channel and outcome "
            "(new_contact, known_contact, unreachable)", ["channel", "outcome"], registry=r)
        self.replies = Counter(
            "callbridge_replies_total", "Replies to customers by channel and outcome: queued (accepted"
            " by the API or the auto-reply), sent, retry (the provider asked to wait, failed or did not"
            " answer), failed (refused for good, or not delivered within give_up_after_h)",
            ["channel", "outcome"], registry=r)
        self.reply_maybe_duplicates = Counter(
            "callbridge_reply_maybe_duplicates_total", "Retries of a reply whose last attempt may have"
            " reached a provider that takes no idempotency key (a timeout, a killed daemon): each may"
            " have delivered the reply twice", ["channel"], registry=r)
        self.inbox_items = Gauge(
            "callbridge_inbox_items", "Open inbox items by state: overdue (past due), queued (nobody has it"
            " yet), assigned", ["state"], registry=r)
        self.first_response = Histogram(
            "callbridge_first_response_seconds", "From an inbox item's arrival to its first answer (a reply"
            " or a call back), counted once across daemons", buckets=FIRST_RESPONSE_BUCKETS_S, registry=r)

    def event_seen(self, kind: str, outcome: str, started_perf: float) -> None:
        self.events.labels(kind, outcome).inc()
        self.event_latency.labels(kind).observe(time.perf_counter() - started_perf)
        if outcome in ("stored", "duplicate", "spooled"):
            self.last_event.set(time.time())

    def pbx_api_result(self, path: str, outcome: str, *, status: int | None = None,
                       code: int | None = None) -> None:
        """Record one PBX API request's outcome (``adapters.mango.client.Outcome`` values)."""
        label = outcome if outcome in PBX_API_OUTCOMES else "other"
        self.pbx_api_requests.labels(label).inc()
        self.pbx_api_last = PbxApiResult(path=path, outcome=label, at=time.time(), status=status,
                                         code=code)

    def reply(self, channel: str, outcome: str) -> None:
        self.replies.labels(channel, outcome).inc()

    def inquiry_filed(self, channel: str, outcome: str) -> None:
        self.inquiries.labels(channel, outcome).inc()
