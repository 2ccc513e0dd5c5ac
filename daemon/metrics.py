"""Prometheus metrics of one daemon process, in a registry of its own (no global state)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


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

    def event_seen(self, kind: str, outcome: str, started_perf: float) -> None:
        self.events.labels(kind, outcome).inc()
        self.event_latency.labels(kind).observe(time.perf_counter() - started_perf)
        if outcome in ("stored", "duplicate", "spooled"):
            self.last_event.set(time.time())
