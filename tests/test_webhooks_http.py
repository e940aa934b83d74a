"""`humansupport webhooks serve` over real HTTP on 127.0.0.1: every bad input and fault, one test each.

The helpdesk behind the service is a plugin's fake on an httpx MockTransport sharing the test's FakeClock, so
signatures, tolerances and retry delays follow time the test moves; only the server thread is real.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from humansupport.plugins import PluginRegistry
from humansupport.store import Store
from humansupport.testing import FakeClock, FakeHelpdesk
from humansupport.webhooks import WebhookApp, WebhookQueue

from .webhooks.support import (
    HISTORY,
    app_for,
    first_party_registry,
    make_fake,
    make_runtime,
    new_conversation,
    wait_until,
)
from .webhooks.support import serving as serving_app


@pytest.fixture(scope="module")
def registry() -> PluginRegistry:
    return first_party_registry()


@dataclass
class Served:
    url: str
    app: WebhookApp
    fake: FakeHelpdesk
    clock: FakeClock
    secret: str
    store: Store

    @property
    def queue(self) -> WebhookQueue:
        return self.app.queue

    def endpoint(self) -> str:
        return f"{self.url}/webhooks/{self.fake.vendor}/{self.fake.vendor}"

    def post(self, headers: dict[str, str], body: bytes) -> httpx.Response:
        return httpx.post(self.endpoint(), headers=headers, content=body, timeout=10)

    def deliver(self, conversation_id: str, event: str = "conversation.created") -> httpx.Response:
        headers, body = self.fake.signed_webhook(secret=self.secret, conversation_id=conversation_id, event=event)
        return self.post(headers, body)

    def rows(self) -> list[dict[str, object]]:
        return self.queue.rows()

    def drained(self) -> bool:
        return bool(self.rows()) and all(r["state"] in ("done", "skipped", "failed") for r in self.rows())

    def assigns(self, conversation_id: str) -> int:
        """Writes that reached the fake for this conversation (assignments)."""
        return sum(
            1
            for r in self.fake.requests
            if r.method in ("PUT", "PATCH", "POST") and conversation_id in r.path and (r.status or 0) < 300
        )


def _serve(registry: PluginRegistry, vendor: str, tmp_path: Path, **config: object) -> Iterator[Served]:
    clock = FakeClock(start=HISTORY.config.end)
    fake = make_fake(registry, vendor, clock)
    secret = secrets.token_hex(16)
    with Store.open(tmp_path / "store.db") as store:
        runtime = make_runtime(registry, fake, store, secret=secret)
        app = app_for([runtime], store, clock, **config)
        with serving_app(app) as url:
            yield Served(url=url, app=app, fake=fake, clock=clock, secret=secret, store=store)


@pytest.fixture
def zendesk(registry: PluginRegistry, tmp_path: Path) -> Iterator[Served]:
    yield from _serve(registry, "zendesk", tmp_path, max_body=4096)


@pytest.fixture
def helpscout(registry: PluginRegistry, tmp_path: Path) -> Iterator[Served]:
    yield from _serve(registry, "helpscout", tmp_path)


@pytest.fixture
def acmedesk(registry: PluginRegistry, tmp_path: Path) -> Iterator[Served]:
    yield from _serve(registry, "acmedesk", tmp_path)


# -- the happy path --------------------------------------------------------------------------------------


def test_new_zendesk_conversation_is_routed_and_assigned(zendesk: Served) -> None:
    new_conversation(zendesk.fake, "90001")
    response = zendesk.deliver("90001")
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0, "ignored": 0}
    wait_until(zendesk.drained, what="the event to be processed")
    (row,) = zendesk.rows()
    assert row["state"] == "done" and row["outcome"] == "assigned", row
    assignee = zendesk.fake.conversations["90001"].assignee_id
    assert assignee is not None and assignee == row["assigned_agent_id"]
    assert zendesk.store.conversation("zendesk", "90001").assignee_id == assignee  # the store follows


def test_new_helpscout_conversation_is_routed_and_assigned(helpscout: Served) -> None:
    new_conversation(helpscout.fake, "90002")
    response = helpscout.deliver("90002", event="convo.created")
    assert response.status_code == 200, response.text
    wait_until(helpscout.drained, what="the event to be processed")
    (row,) = helpscout.rows()
    assert row["outcome"] == "assigned", row
    assert helpscout.fake.conversations["90002"].assignee_id == row["assigned_agent_id"]


# -- bad input ---------------------------------------------------------------------------------------------


def test_bad_signature_is_401_and_logged_without_the_body(zendesk: Served, caplog: pytest.LogCaptureFixture) -> None:
    new_conversation(zendesk.fake, "90003")
    headers, body = zendesk.fake.signed_webhook(secret="not-the-secret", conversation_id="90003")
    with caplog.at_level(logging.WARNING, logger="humansupport.webhooks"):
        response = zendesk.post(headers, body)
    assert response.status_code == 401
    assert zendesk.rows() == []
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "vendor=zendesk account=zendesk remote=127.0.0.1" in logged and "reason=" in logged
    assert "90003" not in logged and "zen:ticket" not in logged  # nothing of the body


def test_unsigned_request_is_401(helpscout: Served) -> None:
    _, body = helpscout.fake.signed_webhook(secret=helpscout.secret, conversation_id=HISTORY.conversations[0].id)
    response = helpscout.post({"Content-Type": "application/json"}, body)
    assert response.status_code == 401
    assert helpscout.rows() == []


def test_replayed_zendesk_delivery_outside_the_tolerance_is_401(zendesk: Served) -> None:
    new_conversation(zendesk.fake, "90004")
    headers, body = zendesk.fake.signed_webhook(secret=zendesk.secret, conversation_id="90004")
    zendesk.clock.advance(301)  # the default tolerance is 300 s
    response = zendesk.post(headers, body)
    assert response.status_code == 401
    assert zendesk.rows() == []


def test_malformed_json_is_400(acmedesk: Served) -> None:
    """Signed correctly (the example plugin signs the body with the toolkit's HMAC), but not JSON."""
    from humansupport_acmedesk.adapter import SIGNATURE_HEADER

    from humansupport.vendor import sign

    body = b'{"event": "conversation.created", "conversation_id": '
    response = acmedesk.post({SIGNATURE_HEADER: sign(acmedesk.secret, body)}, body)
    assert response.status_code == 400
    assert acmedesk.rows() == []


def test_huge_body_is_413(zendesk: Served) -> None:
    body = json.dumps({"padding": "x" * 10_000}).encode()
    response = zendesk.post({"Content-Type": "application/json"}, body)
    assert response.status_code == 413
    assert zendesk.rows() == []


def test_huge_chunked_body_is_413(zendesk: Served) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
        for _ in range(10):
            yield b"x" * 1000

    response = httpx.post(zendesk.endpoint(), content=chunks(), timeout=10)
    assert response.status_code == 413


@pytest.mark.parametrize("path", ["/webhooks/zendesk/other-account", "/webhooks/nodesk/zendesk", "/webhooks/x"])
def test_unknown_vendor_or_account_is_404(zendesk: Served, path: str) -> None:
    headers, body = zendesk.fake.signed_webhook(secret=zendesk.secret, conversation_id="1")
    response = httpx.post(zendesk.url + path, headers=headers, content=body, timeout=10)
    assert response.status_code == 404


# -- reliability -------------------------------------------------------------------------------------------


def test_the_same_event_delivered_five_times_is_assigned_once(zendesk: Served) -> None:
    new_conversation(zendesk.fake, "90005")
    headers, body = zendesk.fake.signed_webhook(secret=zendesk.secret, conversation_id="90005")
    answers = [zendesk.post(headers, body).json() for _ in range(5)]
    assert answers[0]["accepted"] == 1
    assert [a["accepted"] for a in answers[1:]] == [0, 0, 0, 0]
    assert [a["duplicates"] for a in answers[1:]] == [1, 1, 1, 1]
    wait_until(zendesk.drained, what="the event to be processed")
    assert len(zendesk.rows()) == 1
    assert zendesk.assigns("90005") == 1


def test_helpdesk_429_while_routing_is_retried_from_the_queue(zendesk: Served) -> None:
    new_conversation(zendesk.fake, "90006")
    # a wait longer than the HTTP layer's cap: the adapter raises RateLimitError instead of sleeping
    zendesk.fake.fail_next(429, headers={"Retry-After": "120"}, match=r"/tickets/90006")
    assert zendesk.deliver("90006").status_code == 200
    wait_until(
        lambda: zendesk.rows() and zendesk.rows()[0]["attempts"] == 1 and zendesk.rows()[0]["state"] == "queued",
        what="the first attempt to be put back",
    )
    assert zendesk.app.worker.ready_accounts() == []  # back-pressure: the account's work pauses
    assert zendesk.fake.conversations["90006"].assignee_id is None
    zendesk.clock.advance(121)
    wait_until(zendesk.drained, what="the retry")
    (row,) = zendesk.rows()
    assert row["outcome"] == "assigned" and row["attempts"] == 2
    assert zendesk.assigns("90006") == 1


def test_helpdesk_500_while_routing_is_retried_from_the_queue(zendesk: Served) -> None:
    new_conversation(zendesk.fake, "90007")
    zendesk.fake.fail_next(500, times=6, match=r"/tickets/90007")  # more than the HTTP layer retries
    assert zendesk.deliver("90007").status_code == 200

    def done() -> bool:
        zendesk.clock.advance(1)  # the queue's backoff is on the injected clock
        return zendesk.drained()

    wait_until(done, what="the retry")
    (row,) = zendesk.rows()
    assert row["outcome"] == "assigned" and row["attempts"] >= 2, row
    assert zendesk.assigns("90007") == 1
    assert "humansupport_webhook_events_retried_total" in httpx.get(zendesk.url + "/metrics").text


def test_queue_over_its_depth_answers_503_with_retry_after(registry: PluginRegistry, tmp_path: Path) -> None:
    for served in _serve(registry, "zendesk", tmp_path, max_queue_depth=1, retry_after=7):
        served.app.worker.stop()  # nothing drains: the queue only grows
        new_conversation(served.fake, "90008")
        new_conversation(served.fake, "90009")
        assert served.deliver("90008").status_code == 200
        refused = served.deliver("90009")
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "7"
        assert len(served.rows()) == 1


def test_max_queue_counts_each_accounts_own_backlog(registry: PluginRegistry, tmp_path: Path) -> None:
    """zd-a's backlog does not refuse zd-b's deliveries: depth and `--max-queue` are per account."""
    clock = FakeClock(start=HISTORY.config.end)
    fake = make_fake(registry, "zendesk", clock)
    secret = secrets.token_hex(16)
    with Store.open(tmp_path / "store.db") as store:
        runtimes = [make_runtime(registry, fake, store, secret=secret, account=name) for name in ("zd-a", "zd-b")]
        app = app_for(runtimes, store, clock, max_queue_depth=5)
        with serving_app(app) as url:
            app.worker.stop()  # nothing drains

            def deliver(account: str, conversation_id: str) -> httpx.Response:
                new_conversation(fake, conversation_id)
                headers, body = fake.signed_webhook(secret=secret, conversation_id=conversation_id)
                return httpx.post(f"{url}/webhooks/zendesk/{account}", headers=headers, content=body, timeout=10)

            assert [deliver("zd-a", str(91000 + i)).status_code for i in range(7)] == [200] * 5 + [503] * 2
            asyncio.run(app.refresh_stats())
            assert deliver("zd-b", "91100").status_code == 200
            assert app.metrics.stats.depth_of("zd-a") == 5


# -- operations --------------------------------------------------------------------------------------------


def test_healthz_and_metrics(zendesk: Served) -> None:
    new_conversation(zendesk.fake, "90010")
    zendesk.deliver("90010")
    zendesk.post({}, b"{}")  # unsigned
    wait_until(zendesk.drained, what="the event to be processed")
    health = httpx.get(zendesk.url + "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    asyncio.run(zendesk.app.refresh_stats())
    text = httpx.get(zendesk.url + "/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    where = (("account", "zendesk"), ("vendor", "zendesk"))
    assert samples[("humansupport_webhook_events_received_total", where)] == 1
    assert samples[("humansupport_webhook_events_routed_total", where)] == 1
    assert samples[("humansupport_webhook_requests_rejected_total", (("reason", "unsigned"),))] == 1
    assert samples[("humansupport_webhook_queue_depth", (("account", "zendesk"),))] == 0
    assert samples[("humansupport_webhook_queue_lag_seconds", (("account", "zendesk"),))] == 0
    assert httpx.get(zendesk.url + "/nothing-here").status_code == 404


def test_a_dead_worker_process_is_restarted_and_health_says_so(registry: PluginRegistry, tmp_path: Path) -> None:
    from .webhooks.support import crashing_worker

    clock = FakeClock(start=HISTORY.config.end)
    fake = make_fake(registry, "zendesk", clock)
    with Store.open(tmp_path / "store.db") as store:
        runtime = make_runtime(registry, fake, store, secret=secrets.token_hex(8))
        app = WebhookApp(store=store, accounts=[runtime], clock=clock, worker="process", worker_process=crashing_worker)
        with serving_app(app) as url:
            wait_until(lambda: app.worker_restarts >= 1, what="the supervisor to restart the worker", timeout=20)
            health = httpx.get(url + "/healthz").json()
            assert health["worker_ready"] is False
