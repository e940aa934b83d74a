"""The FakeHelpdesk base: request log, faults, rate limit, noise and the ASGI wrapper."""

from __future__ import annotations

import httpx
import pytest
from humansupport_acmedesk import FakeAcme

from humansupport.testing import FakeClock, generate_history
from humansupport.testing.fake import NOISE_KEY

AUTH = {"Authorization": f"Bearer {FakeAcme.token}"}


@pytest.fixture
def fake() -> FakeAcme:
    return FakeAcme(history=generate_history(customers=20, agents=4, groups=2), clock=FakeClock())


def _client(fake: FakeAcme) -> httpx.Client:
    return httpx.Client(transport=fake.transport(), base_url="https://api.acmedesk.test", headers=AUTH)


def test_requests_are_logged_with_status_and_body(fake: FakeAcme) -> None:
    with _client(fake) as client:
        client.get("/api/agents", params={"cursor": "0"})
        client.put("/api/conversations/nope", json={"assignee_id": None})
    first, second = fake.requests
    assert (first.method, first.path, first.url_params, first.status) == ("GET", "/api/agents", {"cursor": "0"}, 200)
    assert second.json == {"assignee_id": None} and second.status == 404


def test_auth_and_revocation(fake: FakeAcme) -> None:
    with httpx.Client(transport=fake.transport(), base_url="https://x.test") as anon:
        assert anon.get("/api/agents").status_code == 401
    with _client(fake) as client:
        assert client.get("/api/agents").status_code == 200
        fake.revoke_credentials()
        assert client.get("/api/agents").status_code == 401


def test_fail_next_skip_times_and_match(fake: FakeAcme) -> None:
    fake.fail_next(503, times=2, skip=1, match=r"/api/agents")
    with _client(fake) as client:
        assert client.get("/api/groups").status_code == 200  # not matched
        statuses = [client.get("/api/agents").status_code for _ in range(4)]
    assert statuses == [200, 503, 503, 200]


def test_drop_next_is_a_transport_error(fake: FakeAcme) -> None:
    fake.drop_next()
    with _client(fake) as client:
        with pytest.raises(httpx.ConnectError):
            client.get("/api/agents")
        assert client.get("/api/agents").status_code == 200


def test_rate_limit_window_on_the_injected_clock(fake: FakeAcme) -> None:
    fake.rate_limit_per_minute = 3
    with _client(fake) as client:
        ok = [client.get("/api/groups") for _ in range(3)]
        limited = client.get("/api/groups")
        assert [r.headers["X-Rate-Limit-Remaining"] for r in ok] == ["2", "1", "0"]
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) == 60
        fake.clock.advance(61)
        assert client.get("/api/groups").status_code == 200
    assert fake.rate_limited == 1


def test_latency_advances_the_clock(fake: FakeAcme) -> None:
    fake.latency = 0.25
    before = fake.clock.monotonic()
    with _client(fake) as client:
        for _ in range(4):
            client.get("/api/groups")
    assert fake.clock.monotonic() - before == pytest.approx(1.0)


def test_unknown_field_noise_goes_into_every_record(fake: FakeAcme) -> None:
    fake.unknown_fields = True
    with _client(fake) as client:
        data = client.get("/api/agents").json()
    assert all(NOISE_KEY in agent for agent in data["data"])


def test_unknown_endpoint_and_wrong_method(fake: FakeAcme) -> None:
    with _client(fake) as client:
        assert client.get("/api/nothing").status_code == 404
        assert client.delete("/api/agents").status_code == 405


def test_bad_request_body_gets_the_vendor_validation_error(fake: FakeAcme) -> None:
    conv_id = next(iter(fake.conversations))
    with _client(fake) as client:
        resp = client.put(f"/api/conversations/{conv_id}", json={"assignee_id": "not-an-agent"})
    assert resp.status_code == 422 and resp.json()["error"]["field"] == "assignee_id"


def test_touch_conversation_bumps_version_and_time(fake: FakeAcme) -> None:
    conv_id = next(iter(fake.conversations))
    before = fake.conversations[conv_id]
    after = fake.touch_conversation(conv_id)
    assert after.updated_at is not None and before.updated_at is not None and after.updated_at > before.updated_at
    assert after.version != before.version


async def test_asgi_app_serves_the_fake(fake: FakeAcme) -> None:
    transport = httpx.ASGITransport(app=fake.asgi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://fake.test", headers=AUTH) as client:
        resp = await client.get("/api/groups")
        assert resp.status_code == 200 and len(resp.json()["data"]) == len(fake.groups)
        fake.drop_next()
        assert (await client.get("/api/groups")).status_code == 502


def test_live_clock_follows_real_time_and_advances() -> None:
    from humansupport.testing.clock import LiveClock

    clock = LiveClock()
    first = clock.monotonic()
    clock.advance(30)
    assert clock.monotonic() - first >= 30
    assert clock.now().tzinfo is not None
