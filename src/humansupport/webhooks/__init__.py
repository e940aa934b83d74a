"""Real-time preferred-agent routing from helpdesk webhooks (`humansupport webhooks serve`, docs/webhooks.md).

app.py receives and queues, queue.py is the durable queue table, intake.py the group commit, worker.py the event
handlers, routing.py the warm per-account router, metrics.py `/metrics`, service.py what the CLI commands do.
"""

from __future__ import annotations

from .app import ServiceConfig, WebhookApp
from .queue import QueuedEvent, WebhookQueue, dedupe_key
from .routing import RouterCache, RoutingOptions
from .service import (
    AccountSpec,
    build_app,
    build_runtime,
    parse_account_spec,
    register_webhook,
    resolve_account_specs,
)
from .worker import AccountRuntime, Worker, WorkerConfig

__all__ = [
    "AccountRuntime",
    "AccountSpec",
    "QueuedEvent",
    "RouterCache",
    "RoutingOptions",
    "ServiceConfig",
    "WebhookApp",
    "WebhookQueue",
    "Worker",
    "WorkerConfig",
    "build_app",
    "build_runtime",
    "dedupe_key",
    "parse_account_spec",
    "register_webhook",
    "resolve_account_specs",
]
