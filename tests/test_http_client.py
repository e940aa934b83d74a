"""HttpClient: headers, errors, retries, rate limits, JSON, logs and secrets (MockTransport, fake clock)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from humansupport import __version__
from humansupport.errors import (
    AuthenticationError,
    ConflictError,
    HelpdeskError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from humansupport.http import HttpClient, RateLimiter, RateLimitHeaders, RetryPolicy, reset_limiters
from humansupport.testing import FakeClock

SECRET = "sekret-123"
BASIC = base64.b64encode(f"{SECRET}:X".encode()).decode()


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Script:
    """A MockTransport handler answering from a list, recording every request."""

    answers: Sequence[httpx.Response | Exception]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    reset_limiters()
    yield
    reset_limiters()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(handler: Handler, clock: FakeClock, **kw: Any) -> HttpClient:
    options: dict[str, Any] = {
        "vendor": "zendesk",
        "base_url": "https://acme.zendesk.test/api/v2",
        "transport": httpx.MockTransport(handler),
        "clock": clock,
        "rng": random.Random(0),
    }
    options.update(kw)
    return HttpClient(**options)


def ok(body: Any = None, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {"ok": True}, headers=headers)


async def test_sends_user_agent_timeouts_and_base_url(clock: FakeClock) -> None:
    script = Script([ok()])
    async with make_client(script, clock, headers={"X-Extra": "1"}) as client:
        assert await client.get_json("/tickets.json", params={"per_page": 2}) == {"ok": True}
    (request,) = script.requests
    assert request.headers["User-Agent"] == f"humansupport/{__version__}"
    assert request.headers["X-Extra"] == "1"
    assert str(request.url) == "https://acme.zendesk.test/api/v2/tickets.json?per_page=2"
    timeouts = request.extensions["timeout"]
    assert set(timeouts) == {"connect", "read", "write", "pool"}
    assert all(value == 30.0 for value in timeouts.values())


def test_constructor_is_keyword_only_and_validates(clock: FakeClock) -> None:
    with pytest.raises(TypeError):
        HttpClient("zendesk", "https://x")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="timeout"):
        make_client(Script([ok()]), clock, timeout=0)
    with pytest.raises(ValueError, match="max_concurrency"):
        make_client(Script([ok()]), clock, max_concurrency=0)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, ValidationError),
        (418, HelpdeskError),
    ],
)
async def test_fatal_statuses_raise_typed_errors_without_retry(
    clock: FakeClock, status: int, cls: type[HelpdeskError]
) -> None:
    script = Script([httpx.Response(status, json={"error": "Nope"}, headers={"X-Request-Id": "req-1"})])
    async with make_client(script, clock) as client:
        with pytest.raises(cls) as info:
            await client.get_json("/tickets/1.json", params={"q": "x"})
    assert type(info.value) is cls
    assert len(script.requests) == 1
    assert clock.sleeps == []
    err = info.value
    assert (err.vendor, err.status, err.method, err.path, err.request_id) == (
        "zendesk",
        status,
        "GET",
        "/api/v2/tickets/1.json",
        "req-1",
    )
    assert "q=x" not in str(err)


async def test_request_id_header_order_and_error_hints(clock: FakeClock) -> None:
    script = Script([httpx.Response(404, headers={"X-Zendesk-Request-Id": "zd-9", "X-Request-Id": "gen"})])
    client = make_client(
        script,
        clock,
        request_id_headers=("X-Zendesk-Request-Id", "X-Request-Id"),
        error_hints={404: "tickets older than 120 days are archived"},
    )
    with pytest.raises(NotFoundError) as info:
        await client.get_json("/tickets/1.json")
    assert info.value.request_id == "zd-9"
    assert "archived" in str(info.value)
    await client.aclose()


async def test_429_is_retried_even_for_post_and_honours_retry_after(clock: FakeClock) -> None:
    script = Script([httpx.Response(429, headers={"Retry-After": "7"}), ok({"id": 1}, 201)])
    async with make_client(script, clock) as client:
        assert await client.send_json("POST", "/tickets.json", json={"a": 1}) == {"id": 1}
    assert len(script.requests) == 2
    assert clock.sleeps == [7.0]


async def test_429_penalizes_the_shared_limiter(clock: FakeClock) -> None:
    limiter = RateLimiter(per_minute=600, clock=clock)
    script = Script([httpx.Response(429, headers={"Retry-After": "5"}), ok()])
    async with make_client(script, clock, limiter=limiter) as client:
        await client.get_json("/a")
    assert client.limiter is limiter
    assert clock.monotonic() == pytest.approx(5.0)


async def test_429_without_retry_after_uses_reset_header_then_default(clock: FakeClock) -> None:
    headers = RateLimitHeaders(reset="X-RateLimit-Reset", reset_kind="seconds")
    script = Script([httpx.Response(429, headers={"X-RateLimit-Reset": "12"}), httpx.Response(429), ok()])
    async with make_client(script, clock, rate_headers=headers) as client:
        await client.get_json("/a")
    assert clock.sleeps == [12.0, 10.0]


async def test_429_past_max_retry_wait_raises_at_once(clock: FakeClock) -> None:
    script = Script([httpx.Response(429, headers={"Retry-After": "3600"}), ok()])
    async with make_client(script, clock) as client:
        with pytest.raises(RateLimitError) as info:
            await client.get_json("/a")
        assert info.value.retry_after == 3600.0
        assert "retry after 3600s" in str(info.value)
        assert len(script.requests) == 1
        assert clock.sleeps == []
        # The account is now blocked for an hour: other requests fail fast instead of sleeping.
        with pytest.raises(RateLimitError):
            await client.get_json("/b")
        assert len(script.requests) == 1


async def test_with_options_lowers_the_cap(clock: FakeClock) -> None:
    script = Script([httpx.Response(429, headers={"Retry-After": "30"}), ok()])
    async with make_client(script, clock) as base:
        strict = base.with_options(max_retry_wait=5)
        assert strict.retry_policy.max_retry_wait == 5
        assert base.retry_policy.max_retry_wait == 60
        assert strict.limiter is base.limiter
        assert repr(strict) == repr(base)
        with pytest.raises(RateLimitError):
            await strict.get_json("/a")
        await strict.aclose()


def test_with_options_rejects_unknown_names(clock: FakeClock) -> None:
    client = make_client(Script([ok()]), clock)
    with pytest.raises(TypeError, match="max_retries"):
        client.with_options(max_retries=3)
    copy = client.with_options(retry=RetryPolicy(max_attempts=2), vendor="freshdesk")
    assert copy.vendor == "freshdesk"
    assert copy.retry_policy.max_attempts == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_retried_for_idempotent_requests(clock: FakeClock, status: int) -> None:
    script = Script([httpx.Response(status), httpx.Response(status), ok()])
    async with make_client(script, clock) as client:
        assert await client.get_json("/a") == {"ok": True}
    assert len(script.requests) == 3
    assert len(clock.sleeps) == 2
    assert all(0 <= s <= 1.0 for s in clock.sleeps)  # full jitter, 0.5 s then 1 s caps


async def test_503_retry_after_is_honoured(clock: FakeClock) -> None:
    script = Script([httpx.Response(503, headers={"Retry-After": "4"}), ok()])
    async with make_client(script, clock) as client:
        await client.request("PUT", "/a", json={})
    assert clock.sleeps == [4.0]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_5xx_not_retried_for_writes(clock: FakeClock, method: str) -> None:
    script = Script([httpx.Response(503), ok()])
    async with make_client(script, clock) as client:
        with pytest.raises(ServerError):
            await client.send_json(method, "/a", json={})
    assert len(script.requests) == 1


async def test_post_marked_idempotent_is_retried(clock: FakeClock) -> None:
    script = Script([httpx.Response(502), ok()])
    async with make_client(script, clock) as client:
        await client.send_json("POST", "/search", json={}, idempotent=True)
    assert len(script.requests) == 2


async def test_delete_is_idempotent_by_default(clock: FakeClock) -> None:
    script = Script([httpx.Response(500), httpx.Response(204)])
    async with make_client(script, clock) as client:
        assert await client.send_json("DELETE", "/a") is None
    assert len(script.requests) == 2


async def test_gives_up_after_max_attempts_with_last_error(clock: FakeClock) -> None:
    script = Script([httpx.Response(500)] * 5 + [httpx.Response(503, json={"error": "down"})])
    async with make_client(script, clock) as client:
        with pytest.raises(ServerError) as info:
            await client.get_json("/a")
    assert len(script.requests) == 6
    assert info.value.status == 503
    assert len(clock.sleeps) == 5


async def test_extra_retry_statuses(clock: FakeClock) -> None:
    script = Script([httpx.Response(408), ok()])
    async with make_client(script, clock, retry=RetryPolicy(extra_retry_statuses=frozenset({408}))) as client:
        await client.get_json("/a")
    assert len(script.requests) == 2


async def test_transport_errors_retried_for_reads(clock: FakeClock) -> None:
    script = Script([httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), ok()])
    async with make_client(script, clock) as client:
        assert await client.get_json("/a") == {"ok": True}
    assert len(script.requests) == 3


async def test_transport_error_for_write_is_typed_and_chained(clock: FakeClock) -> None:
    script = Script([httpx.ReadTimeout("slow"), ok()])
    async with make_client(script, clock) as client:
        with pytest.raises(TransportError) as info:
            await client.send_json("POST", "/tickets.json?x=1", json={})
    assert len(script.requests) == 1
    err = info.value
    assert isinstance(err.__cause__, httpx.ReadTimeout)
    assert err.retriable
    assert (err.method, err.path, err.status) == ("POST", "/api/v2/tickets.json", None)
    assert "timed out" in str(err)


async def test_writes_cost_write_cost_and_reads_cost_one(clock: FakeClock) -> None:
    costs: list[float] = []

    class Spy(RateLimiter):
        async def acquire(self, cost: float = 1.0, *, max_block: float = float("inf")) -> None:
            costs.append(cost)
            await super().acquire(cost, max_block=max_block)

    script = Script([ok()])
    async with make_client(script, clock, limiter=Spy(per_minute=400, clock=clock), write_cost=2.0) as client:
        await client.get_json("/a")
        await client.send_json("POST", "/a", json={})
        await client.send_json("PUT", "/a", json={})
        await client.request("POST", "/search", cost=1.0)
    assert costs == [1.0, 2.0, 2.0, 1.0]


async def test_observes_rate_limit_headers(clock: FakeClock) -> None:
    script = Script([ok(headers={"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "650"})])
    async with make_client(script, clock) as client:
        await client.get_json("/a")
        room = client.limiter.headroom()
    assert (room.limit_per_minute, room.remaining) == (700, 650)


async def test_max_concurrency_bounds_in_flight_requests(clock: FakeClock) -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        in_flight -= 1
        return ok()

    client = HttpClient(
        vendor="zendesk",
        base_url="https://acme.zendesk.test",
        transport=httpx.MockTransport(handler),
        clock=clock,
        max_concurrency=3,
    )
    await asyncio.gather(*(client.get_json(f"/t/{i}") for i in range(12)))
    await client.aclose()
    assert peak == 3


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(204), None),
        (httpx.Response(200, content=b""), None),
        (httpx.Response(200, content=b"  \n"), None),
        (httpx.Response(200, json=[1, 2]), [1, 2]),
    ],
)
async def test_json_bodies(clock: FakeClock, response: httpx.Response, expected: Any) -> None:
    async with make_client(Script([response]), clock) as client:
        assert await client.send_json("PUT", "/a", json={"x": 1}) == expected


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe garbage", b"<html>oops</html>"])
async def test_malformed_json_is_a_clear_error(clock: FakeClock, content: bytes) -> None:
    script = Script([httpx.Response(200, content=content, headers={"X-Request-Id": "r-7"})])
    async with make_client(script, clock) as client:
        with pytest.raises(HelpdeskError) as info:
            await client.get_json("/a", params={"page": 2})
    err = info.value
    assert type(err) is HelpdeskError
    assert "malformed JSON in response" in str(err)
    assert (err.status, err.method, err.path, err.request_id) == (200, "GET", "/api/v2/a", "r-7")
    assert err.__cause__ is None
    assert err.__suppress_context__


async def test_logs_method_path_status_attempt_but_no_query(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="humansupport.http")
    script = Script([httpx.Response(503), ok()])
    async with make_client(script, clock) as client:
        await client.get_json("/users/search.json", params={"query": "jane@example.com"})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /api/v2/users/search.json -> 503 (attempt 1)" in text
    assert "retrying GET /api/v2/users/search.json after 503 (attempt 1 of 6), waiting" in text
    assert "-> 200 (attempt 2)" in text
    assert "jane" not in text
    assert "query" not in text


def _basic_client(handler: Handler, clock: FakeClock) -> HttpClient:
    return make_client(handler, clock, auth=httpx.BasicAuth(SECRET, "X"))


def _header_client(handler: Handler, clock: FakeClock) -> HttpClient:
    return make_client(handler, clock, headers={"Authorization": f"Bearer {SECRET}"})


def _basic_header_client(handler: Handler, clock: FakeClock) -> HttpClient:
    return make_client(handler, clock, headers={"Authorization": f"Basic {BASIC}"})


def _transport_failure(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.parametrize(
    "build", [_basic_client, _basic_header_client, _header_client], ids=["basic-auth", "basic-header", "bearer"]
)
@pytest.mark.parametrize(
    ("handler", "cls"),
    [
        (lambda r: httpx.Response(401, json={"error": "Couldn't authenticate you"}), AuthenticationError),
        (lambda r: httpx.Response(500, text="boom"), ServerError),
        (_transport_failure, TransportError),
    ],
    ids=["401", "500-after-retries", "transport"],
)
async def test_secrets_appear_nowhere(
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    build: Callable[[Handler, FakeClock], HttpClient],
    handler: Handler,
    cls: type[HelpdeskError],
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = build(recording, clock)
    with pytest.raises(cls) as info:
        await client.get_json("/tickets.json", params={"api_token": SECRET})
    await client.aclose()
    assert seen
    assert SECRET in seen[0].headers["Authorization"] or BASIC in seen[0].headers["Authorization"]
    err = info.value
    texts = [
        str(err),
        repr(err),
        str(client),
        repr(client),
        "".join(traceback.format_exception(err)),
        json.dumps([r.getMessage() for r in caplog.records]),
        repr([r.args for r in caplog.records]),
    ]
    for text in texts:
        assert SECRET not in text
        assert BASIC not in text
    assert repr(client) == "HttpClient(vendor='zendesk', base_url='https://acme.zendesk.test/api/v2')"
