"""Shared pieces of the webhook tests: a served app on 127.0.0.1, fakes with fresh conversations, polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import uvicorn

from humansupport.models import Conversation, ConversationStatus
from humansupport.plugins import PluginRegistry, new_plugin_manager
from humansupport.store import Store
from humansupport.testing import FakeClock, FakeHelpdesk, generate_history
from humansupport.webhooks import (
    AccountSpec,
    RoutingOptions,
    ServiceConfig,
    WebhookApp,
    build_app,
    build_runtime,
)
from humansupport.webhooks.worker import AccountRuntime

__all__ = [
    "HISTORY",
    "first_party_registry",
    "make_fake",
    "make_runtime",
    "new_conversation",
    "serving",
    "wait_until",
]

HISTORY = generate_history(customers=40, agents=6, groups=2, seed=11)


def first_party_registry() -> PluginRegistry:
    registry = PluginRegistry(new_plugin_manager())
    registry.load_entrypoints(environ={})
    return registry


def make_fake(registry: PluginRegistry, vendor: str, clock: FakeClock) -> FakeHelpdesk:
    fake: FakeHelpdesk = registry.fakes()[vendor](history=HISTORY, clock=clock)
    return fake


def new_conversation(fake: FakeHelpdesk, conversation_id: str, **changes: Any) -> Conversation:
    """A new, unassigned conversation from a customer with history, as a customer writing in would create."""
    template = next(c for c in HISTORY.conversations if c.customer_id and c.group_id)
    now = fake.clock.now()
    conv = template.model_copy(
        update={
            "id": conversation_id,
            "assignee_id": None,
            "status": ConversationStatus.NEW,
            "created_at": now - timedelta(minutes=1),
            "updated_at": now - timedelta(minutes=1),
            "version": "1",
            "tags": [],
            **changes,
        }
    )
    fake.conversations[conversation_id] = conv
    fake.messages[conversation_id] = []
    return conv


def make_runtime(
    registry: PluginRegistry,
    fake: FakeHelpdesk,
    store: Store,
    *,
    secret: str,
    account: str | None = None,
    options: RoutingOptions | None = None,
) -> AccountRuntime:
    vendor = fake.vendor
    return build_runtime(
        AccountSpec(vendor=vendor, account=account or vendor),
        store=store,
        options=options or RoutingOptions(),
        clock=fake.clock,
        registry=registry,
        environ={f"HUMANSUPPORT_{vendor.upper()}_WEBHOOK_SECRET": secret},
        settings=fake.adapter_settings(),
        transport=fake.transport(),
    )


@contextmanager
def serving(app: WebhookApp) -> Iterator[str]:
    """Runs the app under uvicorn on 127.0.0.1 (port 0) in a thread; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="the server to start", alive=thread.is_alive)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def wait_until(
    check: Callable[[], Any], *, what: str, timeout: float = 10.0, alive: Callable[[], bool] | None = None
) -> Any:
    """Polls a real server's state with short real sleeps (the server runs on its own thread)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline or (alive is not None and not alive()):
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def app_for(runtimes: list[AccountRuntime], store: Store, clock: FakeClock, **config: Any) -> WebhookApp:
    return build_app(runtimes, store=store, clock=clock, config=ServiceConfig(**config))


def crashing_worker(parent_pid: int, ready: Any) -> None:
    """A worker process that dies at once (module level: the spawned child imports it)."""
    raise SystemExit(3)
