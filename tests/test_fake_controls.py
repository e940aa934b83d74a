"""A fake a user can drive: snapshots and reset, random failures, served latency, the `serve_fake` fixture."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import humansupport_acmedesk
import pytest
from humansupport_acmedesk import FakeAcme

from humansupport import PluginRegistry
from humansupport.testing import FakeHelpdesk, ServedFake, generate_history
from humansupport.testing import fake as fake_module


def _fake() -> FakeAcme:
    return FakeAcme(history=generate_history(customers=20, agents=4, groups=2))


def test_snapshot_and_restore_put_the_state_back() -> None:
    fake = _fake()
    conv_id = next(iter(fake.conversations))
    before = fake.conversations[conv_id]
    name = fake.snapshot()
    fake.touch_conversation(conv_id, assignee_id=None)
    del fake.customers[next(iter(fake.customers))]
    fake.restore(name)
    assert fake.conversations[conv_id] == before and len(fake.customers) == 20
    with pytest.raises(KeyError, match="saved: snapshot-1"):
        fake.restore("nope")


def test_the_fail_rate_is_reproducible_and_says_what_it_is() -> None:
    def failures(seed: int) -> list[int]:
        fake = _fake()
        fake.fail_randomly(0.3, seed=seed)
        with httpx.Client(transport=fake.transport(), base_url="http://fake") as client:
            headers = {"Authorization": f"Bearer {FakeAcme.token}"}
            return [client.get("/api/agents", headers=headers).status_code for _ in range(200)]

    statuses = failures(seed=5)
    failed = [s for s in statuses if s != 200]
    assert 30 <= len(failed) <= 90 and set(failed) <= {500, 502, 503}
    assert failures(seed=5) == statuses  # the same seed, the same failures
    with pytest.raises(ValueError, match="between 0 and 1"):
        _fake().fail_randomly(1.5)


def test_control_endpoints_reset_a_served_fake(serve_fake: Callable[..., ServedFake]) -> None:
    served = serve_fake(_fake())
    fake = served.fake
    conv_id = next(iter(fake.conversations))
    original = fake.conversations[conv_id]
    with httpx.Client(base_url=served.url) as client:
        assert client.get("/_fake").json()["conversations"] == len(fake.conversations)
        saved = client.post("/_fake/snapshot", json={"name": "before-script"}).json()["snapshot"]
        assert saved == "before-script"
        fake.touch_conversation(conv_id, assignee_id=None)
        client.post("/_fake/restore", json={"name": "before-script"}).raise_for_status()
        assert fake.conversations[conv_id] == original
        fake.touch_conversation(conv_id, assignee_id=None)
        state = client.post("/_fake/reset").json()
        assert fake.conversations[conv_id] == original and state["snapshots"] == ["initial", "before-script"]
        client.post("/_fake/faults", json={"status": 503, "times": 1}).raise_for_status()
        assert client.get("/api/agents").status_code == 503
        bad = client.post("/_fake/restore", json={"name": "nope"})
        assert bad.status_code == 400 and "no snapshot 'nope'" in bad.json()["error"]
        assert client.post("/_fake/explode").status_code == 404


def test_served_latency_waits_before_each_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(fake_module, "_sleep", record)
    fake = _fake()
    fake.served_latency = 0.25
    app = fake.asgi_app()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/api/agents", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    assert waits == [0.25] and sent[0]["status"] == 401  # no token: the answer still came after the wait


def test_the_fixture_serves_an_installed_plugins_fake(
    serve_fake: Callable[..., ServedFake], plugin_registry: PluginRegistry
) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    served = serve_fake("acmedesk", customers=15)
    assert isinstance(served.fake, FakeHelpdesk) and served.url.startswith("http://127.0.0.1:")
    assert served.environment()["HUMANSUPPORT_ACMEDESK_BASE_URL"] == served.url
    with served.connect() as helpdesk:
        assert len(list(helpdesk.iter_agents())) == len(served.fake.agents)
    with pytest.raises(LookupError, match=r"installed: .*acmedesk"):
        serve_fake("nosuchdesk")
