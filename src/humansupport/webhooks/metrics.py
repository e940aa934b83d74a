"""`/metrics` of the webhook service, in the Prometheus text format (prometheus_client, one registry per app).

Two sources. What the receiver does (events received, duplicates, rejected requests, accept time) is counted in
its process. What the worker did (routed, skipped, failed, retried) and the queue's depth and lag are read from
the queue table, refreshed about once a second: the worker may run in another process, and the table's counts
survive restarts, so the counters never go back (retention folds the rows it deletes into `webhook_queue_totals`).
Depth and lag are per account, like `--max-queue`.
A registry per app (not the library's global one) keeps two services in one process, as tests run them, apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from .queue import FAILED, AccountDepth, QueueStats

__all__ = ["CONTENT_TYPE", "ROUTED_OUTCOMES", "WebhookMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: outcomes that are an assignment we applied
ROUTED_OUTCOMES = frozenset({"assigned", "offered"})
_PREFIX = "humansupport_webhook"


class WebhookMetrics:
    """Receiver counters plus the queue's durable counts (`stats`, set by whoever refreshes it)."""

    def __init__(self, *, now: Callable[[], datetime]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._now = now
        self.stats = QueueStats(depth=0, oldest_received_at=None, by_state={})
        #: accounts this receiver serves: their gauges show 0 rather than nothing while their queue is empty
        self.served: tuple[str, ...] = ()
        labels = ["vendor", "account"]
        self.received = Counter(
            f"{_PREFIX}_events_received",
            "Webhook events accepted into the queue (signature checked, deduplicated).",
            labels,
            registry=self.registry,
        )
        self.duplicates = Counter(
            f"{_PREFIX}_events_duplicate",
            "Redelivered webhook events that were already queued (not queued again).",
            labels,
            registry=self.registry,
        )
        self.rejected = Counter(
            f"{_PREFIX}_requests_rejected",
            "Webhook requests refused, by reason (unsigned, malformed, too_large, unknown_account, overloaded).",
            ["reason"],
            registry=self.registry,
        )
        self.accept_seconds = Histogram(
            f"{_PREFIX}_accept_seconds",
            "Time from a request's arrival to its answer (signature check, parse, durable enqueue).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.registry.register(_QueueCollector(self))

    def lag_seconds(self, account: str | None = None) -> float:
        """Age of the oldest active event (of `account`), measured on the clock the receive times are on."""
        if account is not None:
            return self.stats.lag_of(account, self._now())
        oldest = self.stats.oldest_received_at
        now = self.stats.as_of or self._now()
        return 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())

    def queued(self, account: str, added: int) -> None:
        """Counts events this receiver just queued into the account's depth until the next re-read."""
        if added <= 0:
            return
        stats = self.stats
        current = stats.accounts.get(account)
        accounts = dict(stats.accounts)
        accounts[account] = AccountDepth(
            depth=(current.depth if current else 0) + added,
            oldest_received_at=current.oldest_received_at if current else None,
        )
        self.stats = replace(stats, accounts=accounts)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _QueueCollector(Collector):
    """Counters and gauges from the latest queue statistics."""

    def __init__(self, metrics: WebhookMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.metrics.stats
        labels = ["vendor", "account"]
        routed = CounterMetricFamily(
            f"{_PREFIX}_events_routed",
            "Events that ended in an assignment applied through the helpdesk.",
            labels=labels,
        )
        skipped = CounterMetricFamily(
            f"{_PREFIX}_events_skipped",
            "Events processed without an assignment (already assigned, recorded, held, deleted, ignored).",
            labels=[*labels, "outcome"],
        )
        failed = CounterMetricFamily(
            f"{_PREFIX}_events_failed", "Events given up on (last attempt, or a non-retriable error).", labels=labels
        )
        retried = CounterMetricFamily(
            f"{_PREFIX}_events_retried",
            "Attempts put back in the queue after a retriable helpdesk error (429, 5xx, network).",
            labels=labels,
        )
        sums: dict[tuple[str, ...], dict[str, float]] = {}
        for item in stats.outcomes:
            key = (item.vendor, item.account)
            bucket = sums.setdefault(key, {"routed": 0.0, "failed": 0.0, "retried": 0.0})
            bucket["retried"] += item.retries
            if item.state == FAILED:
                bucket["failed"] += item.rows
            elif item.outcome in ROUTED_OUTCOMES:
                bucket["routed"] += item.rows
            elif item.outcome is not None:
                skipped.add_metric([*key, item.outcome], item.rows)
        for where, bucket in sorted(sums.items()):
            routed.add_metric(list(where), bucket["routed"])
            failed.add_metric(list(where), bucket["failed"])
            retried.add_metric(list(where), bucket["retried"])
        yield from (routed, skipped, failed, retried)
        depth = GaugeMetricFamily(
            f"{_PREFIX}_queue_depth", "Events queued or being processed, per account.", labels=["account"]
        )
        lag = GaugeMetricFamily(
            f"{_PREFIX}_queue_lag_seconds",
            "Age of the oldest event still queued or being processed, per account (0 when none is).",
            labels=["account"],
        )
        for account in sorted(set(self.metrics.served) | set(stats.accounts)):
            depth.add_metric([account], stats.depth_of(account))
            lag.add_metric([account], self.metrics.lag_seconds(account))
        yield depth
        yield lag
