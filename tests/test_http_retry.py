"""Retry-After parsing, the retry policy and the tenacity loop (no real sleeps)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from humansupport.errors import (
    ConflictError,
    HelpdeskError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from humansupport.http.retry import RetryPolicy, is_retriable, parse_reset, parse_retry_after, retrying
from humansupport.testing import FakeClock

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _date(delta: float) -> str:
    return format_datetime(NOW + timedelta(seconds=delta), usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": "garbage"}, None),
        ({"Retry-After": ""}, None),
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "1e400"}, None),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "60"}, 60.0),
        ({"Retry-After": "61"}, 61.0),
        ({"Retry-After": " 2.5 "}, 2.5),
        ({"retry-after": "7"}, 7.0),
        ({"RETRY-AFTER": "7"}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"retry-after-ms": "junk", "Retry-After": "9"}, 9.0),
        ({"retry-after-ms": "-5", "Retry-After": "9"}, 9.0),
        ({"Retry-After": _date(30)}, 30.0),
        ({"Retry-After": _date(3600)}, 3600.0),
        ({"Retry-After": _date(-30)}, 0.0),
        ({"Retry-After": "Sun, 99 Foo 2026 99:99:99 GMT"}, None),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00"}, 0.0),  # no zone: read as UTC, in the past
    ],
)
def test_parse_retry_after_table(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, NOW) == expected


def test_parse_retry_after_reads_httpx_headers() -> None:
    import httpx

    assert parse_retry_after(httpx.Headers({"Retry-After": "12"}), NOW) == 12.0


@given(
    ms=st.one_of(st.none(), st.text()),
    ra=st.one_of(st.none(), st.text(), st.floats().map(str), st.integers().map(str)),
)
def test_parse_retry_after_never_raises(ms: str | None, ra: str | None) -> None:
    headers = {k: v for k, v in (("retry-after-ms", ms), ("Retry-After", ra)) if v is not None}
    result = parse_retry_after(headers, NOW)
    assert result is None or (math.isfinite(result) and result >= 0)


@given(value=st.one_of(st.text(), st.floats().map(str)), kind=st.sampled_from(["seconds", "epoch"]))
def test_parse_reset_never_raises(value: str, kind: str) -> None:
    result = parse_reset({"X-Reset": value}, NOW, header="x-reset", kind=kind)  # type: ignore[arg-type]
    assert result is None or (math.isfinite(result) and result >= 0)


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("30", "seconds", 30.0),
        ("0", "seconds", 0.0),
        ("-3", "seconds", None),
        ("soon", "seconds", None),
        (str(NOW.timestamp() + 45), "epoch", 45.0),
        (str(NOW.timestamp() - 45), "epoch", 0.0),
        ("junk", "epoch", None),
    ],
)
def test_parse_reset_table(value: str, kind: str, expected: float | None) -> None:
    assert parse_reset({"X-RateLimit-Reset": value}, NOW, header="x-ratelimit-reset", kind=kind) == expected  # type: ignore[arg-type]


def test_parse_reset_missing_header() -> None:
    assert parse_reset({}, NOW, header="X-RateLimit-Reset", kind="seconds") is None


@given(attempt=st.integers(min_value=-5, max_value=10_000), seed=st.integers())
def test_backoff_is_full_jitter_within_cap(attempt: int, seed: int) -> None:
    policy = RetryPolicy()
    wait = policy.backoff(attempt, random.Random(seed))
    assert 0.0 <= wait <= min(policy.max_delay, policy.base_delay * 2 ** min(max(attempt, 0), 60))


def test_backoff_grows_then_caps() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    rng = random.Random(1)
    assert max(policy.backoff(0, rng) for _ in range(200)) <= 1.0
    assert max(policy.backoff(10, rng) for _ in range(200)) > 4.0
    assert max(policy.backoff(10, rng) for _ in range(200)) <= 8.0


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_retry_wait": math.inf}, {"max_delay": math.nan}],
)
def test_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_policy_is_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        RetryPolicy(3)  # type: ignore[call-arg]
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_attempts = 2  # type: ignore[misc]


def _err(cls: type[HelpdeskError], status: int | None, **kw: Any) -> HelpdeskError:
    return cls(vendor="zendesk", status=status, method="GET", path="/x", **kw)


def test_is_retriable_reads_flag_and_walks_causes() -> None:
    assert is_retriable(_err(ServerError, 500))
    assert is_retriable(_err(RateLimitError, 429))
    assert is_retriable(_err(TransportError, None))
    assert not is_retriable(_err(NotFoundError, 404))
    assert not is_retriable(ValueError("x"))
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = _err(ServerError, 503)
    assert is_retriable(wrapped)
    during = KeyError("during handling")
    during.__context__ = _err(TransportError, None)
    assert is_retriable(during)
    suppressed = KeyError("fatal wins")
    suppressed.__cause__ = _err(NotFoundError, 404)
    suppressed.__context__ = _err(ServerError, 500)
    assert not is_retriable(suppressed)


def test_is_retriable_survives_a_cycle() -> None:
    a, b = ValueError("a"), ValueError("b")
    a.__cause__, b.__cause__ = b, a
    assert not is_retriable(a)


@pytest.mark.parametrize(
    ("error", "idempotent", "expected"),
    [
        (_err(RateLimitError, 429), False, True),  # the vendor did not process it
        (_err(RateLimitError, 429), True, True),
        (_err(ServerError, 503), False, False),
        (_err(ServerError, 503), True, True),
        (_err(ServerError, 500), True, True),
        (_err(TransportError, None), True, True),
        (_err(TransportError, None), False, False),
        (_err(ConflictError, 409), True, False),  # stale update: re-read, do not retry
        (_err(ValidationError, 422), True, False),
        (_err(HelpdeskError, 408), True, False),
        (_err(RateLimitError, 429, retry_after=61.0), True, False),  # past the cap: raise at once
        (_err(RateLimitError, 429, retry_after=60.0), True, True),
        (ValueError("bug"), True, False),
    ],
)
def test_should_retry_table(error: BaseException, idempotent: bool, expected: bool) -> None:
    assert RetryPolicy().should_retry(error, idempotent=idempotent) is expected


def test_extra_retry_statuses_only_for_idempotent() -> None:
    policy = RetryPolicy(extra_retry_statuses=frozenset({408}))
    assert policy.should_retry(_err(HelpdeskError, 408), idempotent=True)
    assert not policy.should_retry(_err(HelpdeskError, 408), idempotent=False)


def test_default_429_wait_counts_against_cap() -> None:
    assert RetryPolicy().requested_wait(_err(RateLimitError, 429)) == 10.0
    policy = RetryPolicy(default_429_wait=120.0)
    assert not policy.should_retry(_err(RateLimitError, 429), idempotent=True)


def test_wait_prefers_server_wait_over_backoff() -> None:
    policy = RetryPolicy()
    rng = random.Random(0)
    assert policy.wait_for(_err(RateLimitError, 429, retry_after=7.0), 0, rng) == 7.0
    unavailable = _err(ServerError, 503)
    unavailable.retry_after = 3.0  # the client sets it when a 503 carries Retry-After
    assert policy.wait_for(unavailable, 4, rng) == 3.0
    assert 0 <= policy.wait_for(_err(ServerError, 500), 0, rng) <= 0.5


async def test_retrying_sleeps_through_the_clock_and_reraises_last() -> None:
    clock = FakeClock()
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        raise _err(ServerError, 500 + len(calls))

    loop = retrying(RetryPolicy(max_attempts=3), clock=clock, rng=random.Random(0), idempotent=True)
    with pytest.raises(ServerError) as info:
        await loop(flaky)
    assert len(calls) == 3
    assert info.value.status == 503  # the last error, not a tenacity RetryError
    assert len(clock.sleeps) == 2
    assert clock.sleeps[0] <= 0.5
    assert clock.sleeps[1] <= 1.0


async def test_retrying_honours_server_wait_then_succeeds() -> None:
    clock = FakeClock()
    calls: list[int] = []

    async def once_limited() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise _err(RateLimitError, 429, retry_after=7.0)
        return "ok"

    loop = retrying(RetryPolicy(), clock=clock, rng=random.Random(0), idempotent=False)
    assert await loop(once_limited) == "ok"
    assert clock.sleeps == [7.0]


async def test_retrying_raises_at_once_past_max_retry_wait() -> None:
    clock = FakeClock()

    async def limited() -> str:
        raise _err(RateLimitError, 429, retry_after=3600.0)

    loop = retrying(RetryPolicy(), clock=clock, rng=random.Random(0), idempotent=True)
    with pytest.raises(RateLimitError) as info:
        await loop(limited)
    assert info.value.retry_after == 3600.0
    assert clock.sleeps == []
