"""The adaptive token bucket, on a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from humansupport.http.ratelimit import (
    RateHeadroom,
    RateLimiter,
    RateLimitHeaders,
    limiter_for,
    reset_limiters,
)
from humansupport.testing import FakeClock


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    reset_limiters()
    yield
    reset_limiters()


async def test_burst_then_steady_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, clock=clock, burst=2)
    await limiter.acquire()
    await limiter.acquire()
    assert clock.sleeps == []
    await limiter.acquire()
    assert clock.sleeps == [pytest.approx(1.0)]
    for _ in range(10):
        await limiter.acquire()
    assert clock.monotonic() == pytest.approx(11.0)


async def test_default_burst_is_six_seconds_of_traffic() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=600, clock=clock)
    for _ in range(60):
        await limiter.acquire()
    assert clock.sleeps == []
    await limiter.acquire()
    assert clock.sleeps == [pytest.approx(0.1)]


async def test_concurrent_acquires_queue_and_keep_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=120, clock=clock, burst=1)
    await asyncio.gather(*(limiter.acquire() for _ in range(21)))
    assert clock.monotonic() == pytest.approx(10.0)  # 1 free, then 20 at 2/s


async def test_cost_counts_double_and_may_exceed_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, clock=clock, burst=2)
    await limiter.acquire(2.0)
    await limiter.acquire(2.0)
    assert sum(clock.sleeps) == pytest.approx(2.0)
    await limiter.acquire(5.0)  # above burst: waits for a full bucket, then goes into debt
    await limiter.acquire(1.0)
    assert sum(clock.sleeps) == pytest.approx(2.0 + 2.0 + 4.0)
    await limiter.acquire(0.0)


async def test_observe_remaining_drains_tokens() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, clock=clock, burst=10)
    limiter.observe({"X-Rate-Limit-Remaining": "1"})
    await limiter.acquire()
    assert clock.sleeps == []
    await limiter.acquire()
    assert clock.sleeps == [pytest.approx(1.0)]


async def test_observe_higher_remaining_does_not_add_tokens() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, clock=clock, burst=1)
    await limiter.acquire()
    limiter.observe({"X-Rate-Limit-Remaining": "500"})
    await limiter.acquire()
    assert clock.sleeps == [pytest.approx(1.0)]


def test_observe_adopts_server_limit_both_ways() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=1400, clock=clock)
    limiter.observe({"x-rate-limit": "700"})  # header names are case-insensitive
    assert limiter.per_minute == 700
    assert limiter.headroom().limit_per_minute == 700
    limiter.observe({"X-Rate-Limit": "2500"})
    assert limiter.per_minute == 2500
    limiter.observe({"X-Rate-Limit": "junk", "X-Rate-Limit-Remaining": "nan"})
    assert limiter.per_minute == 2500
    assert limiter.headroom().remaining is None


async def test_observe_shrinks_a_seeded_too_high_bucket() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=1200, clock=clock)  # burst 120
    limiter.observe({"X-Rate-Limit": "60"})  # burst 6
    for _ in range(6):
        await limiter.acquire()
    assert clock.sleeps == []
    await limiter.acquire()
    assert clock.sleeps == [pytest.approx(1.0)]


async def test_vendor_headers_and_reset_block_until_window_ends() -> None:
    clock = FakeClock()
    headers = RateLimitHeaders(
        limit="X-RateLimit-Limit-Minute", remaining="X-RateLimit-Remaining-Minute", reset="X-RateLimit-Reset"
    )
    limiter = RateLimiter(per_minute=400, clock=clock, headers=headers)
    limiter.observe({"X-RateLimit-Limit-Minute": "200", "X-RateLimit-Remaining-Minute": "0", "X-RateLimit-Reset": "12"})
    assert limiter.per_minute == 200
    assert limiter.blocked_for() == pytest.approx(12.0)
    await limiter.acquire()
    assert sum(clock.sleeps) >= 12.0


async def test_epoch_reset() -> None:
    clock = FakeClock()
    epoch = clock.now().timestamp() + 30
    headers = RateLimitHeaders(limit=None, remaining="X-Remaining", reset="X-Reset", reset_kind="epoch")
    limiter = RateLimiter(per_minute=100, clock=clock, headers=headers)
    limiter.observe({"X-Remaining": "0", "X-Reset": str(epoch)})
    assert limiter.blocked_for() == pytest.approx(30.0)


async def test_penalize_blocks_everyone_then_one_may_go() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, clock=clock, burst=5)
    limiter.penalize(7.0)
    assert limiter.headroom().blocked_for == pytest.approx(7.0)
    await limiter.acquire()
    assert clock.sleeps == [pytest.approx(7.0)]
    await limiter.acquire()
    assert clock.sleeps[1:] == [pytest.approx(1.0)]
    limiter.penalize(float("nan"))  # garbage is ignored, never a crash
    limiter.penalize(-1)
    assert limiter.blocked_for() == 0.0


def test_headroom_snapshot() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=700, clock=clock)
    assert limiter.headroom() == RateHeadroom(limit_per_minute=700, remaining=None, observed_at=None)
    limiter.observe({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "640"})
    room = limiter.headroom()
    assert room.remaining == 640
    assert room.observed_at == clock.now()


def test_constructor_is_keyword_only_and_validates() -> None:
    with pytest.raises(TypeError):
        RateLimiter(700)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(per_minute=0)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(per_minute=10, burst=0.5)
    assert "per_minute=700" in repr(RateLimiter(per_minute=700))


def test_limiter_for_shares_one_bucket_per_account() -> None:
    clock = FakeClock()
    a = limiter_for("zendesk:acme", per_minute=700, clock=clock, headers=RateLimitHeaders())
    b = limiter_for("zendesk:acme", per_minute=999, clock=clock, headers=RateLimitHeaders())
    c = limiter_for("zendesk:other", per_minute=700, clock=clock, headers=RateLimitHeaders())
    assert a is b
    assert a is not c
    assert b.per_minute == 700
    other_clock = FakeClock()
    assert limiter_for("zendesk:acme", per_minute=700, clock=other_clock, headers=RateLimitHeaders()) is not a
    reset_limiters()
    assert limiter_for("zendesk:other", per_minute=700, clock=clock, headers=RateLimitHeaders()) is not c


def test_shared_limiter_works_across_event_loops() -> None:
    clock = FakeClock()
    limiter = limiter_for("freshdesk:acme", per_minute=60, clock=clock, headers=RateLimitHeaders())

    async def burst() -> None:
        await asyncio.gather(*(limiter.acquire() for _ in range(8)))

    asyncio.run(burst())
    asyncio.run(burst())
    assert sum(clock.sleeps) > 0
