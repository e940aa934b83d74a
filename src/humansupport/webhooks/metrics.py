"""`/metrics` of the webhook service, in the Prometheus text format (prometheus_client, one registry per app).

A registry per app (not the library's global one) keeps two services in one process, as tests run them, apart.
Queue depth and lag are read from the latest queue statistics the worker took, so a scrape never hits the store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .queue import QueueStats

__all__ = ["CONTENT_TYPE", "WebhookMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST


class WebhookMetrics:
    """Counters the receiver and the worker update; gauges computed at scrape time."""

    def __init__(self, *, now: Callable[[], datetime]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._now = now
        self.stats = QueueStats(depth=0, oldest_received_at=None, by_state={})
        labels = ["vendor", "account"]
        self.received = Counter(
            "humansupport_webhook_events_received",
            "Webhook events accepted into the queue (after signature check and deduplication).",
            labels,
            registry=self.registry,
        )
        self.duplicates = Counter(
            "humansupport_webhook_events_duplicate",
            "Redelivered webhook events that were already queued (not queued again).",
            labels,
            registry=self.registry,
        )
        self.rejected = Counter(
            "humansupport_webhook_requests_rejected",
            "Webhook requests refused, by reason (unsigned, malformed, too_large, unknown_account, overloaded).",
            ["reason"],
            registry=self.registry,
        )
        self.routed = Counter(
            "humansupport_webhook_events_routed",
            "Events that ended in an assignment applied through the helpdesk.",
            labels,
            registry=self.registry,
        )
        self.skipped = Counter(
            "humansupport_webhook_events_skipped",
            "Events processed without an assignment (already assigned, recorded, held, deleted, ignored).",
            [*labels, "outcome"],
            registry=self.registry,
        )
        self.failed = Counter(
            "humansupport_webhook_events_failed",
            "Events given up on after their last attempt or on a non-retriable error.",
            labels,
            registry=self.registry,
        )
        self.retried = Counter(
            "humansupport_webhook_events_retried",
            "Attempts put back in the queue after a retriable helpdesk error (429, 5xx, network).",
            labels,
            registry=self.registry,
        )
        self.accept_seconds = Histogram(
            "humansupport_webhook_accept_seconds",
            "Time from a request's arrival to its answer (signature check, parse, durable enqueue).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        depth = Gauge(
            "humansupport_webhook_queue_depth",
            "Events queued or being processed.",
            registry=self.registry,
        )
        depth.set_function(lambda: float(self.stats.depth))
        lag = Gauge(
            "humansupport_webhook_queue_lag_seconds",
            "Age of the oldest event still queued or being processed (0 when the queue is empty).",
            registry=self.registry,
        )
        lag.set_function(self.lag_seconds)

    def lag_seconds(self) -> float:
        oldest = self.stats.oldest_received_at
        return 0.0 if oldest is None else max(0.0, (self._now() - oldest).total_seconds())

    def render(self) -> bytes:
        return generate_latest(self.registry)
