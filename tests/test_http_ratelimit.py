"""The account budget: sliding windows on a fake clock, learned from headers, shared through a backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from humansupport.http.ratelimit import (
    BudgetBlocked,
    LocalRateBudget,
    RateBudget,
    RateHeadroom,
    RateLimiter,
    RateLimitHeaders,
    Spend,
    limiter_for,
    plan_spend,
    reset_limiters,
)
from humansupport.testing import FakeClock


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    reset_limiters()
    yield
    reset_limiters()


async def test_a_window_limit_is_spent_at_once_then_waits_for_the_window() -> None:
    # 10 a minute: the 10 go at once (no trickle of one every 6 s), the 11th waits for the first to age out
    clock = FakeClock()
    limiter = RateLimiter(per_minute=10, clock=clock)
    for _ in range(10):
        await limiter.acquire()
    assert clock.sleeps == []
    await limiter.acquire()
    assert clock.sleeps == [pytest.approx(61.0)]
    for _ in range(9):
        await limiter.acquire()
    assert len(clock.sleeps) == 1  # the second window is spent at once too


async def test_no_sixty_second_interval_ever_holds_more_than_the_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=7, clock=clock)
    sent: list[float] = []
    for i in range(40):
        if i % 3 == 0:
            await clock.sleep(4.0)  # irregular traffic
        await limiter.acquire()
        sent.append(clock.monotonic())
    for start in sent:
        assert sum(1 for t in sent if start <= t < start + 60.0) <= 7


async def test_concurrent_acquires_keep_the_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=120, clock=clock, window=10.0)  # 20 per 10 s
    await asyncio.gather(*(limiter.acquire() for _ in range(41)))
    assert clock.monotonic() == pytest.approx(21.0)  # 20 now, 20 at 10.5 s, 1 at 21 s (windows + transit margin)


async def test_cost_counts_double_and_a_cost_above_the_limit_goes_into_debt() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=4, clock=clock)
    await limiter.acquire(2.0)
    await limiter.acquire(2.0)
    assert clock.sleeps == []
    await limiter.acquire(5.0)  # above the whole limit: waits for an empty window, then goes through
    assert sum(clock.sleeps) == pytest.approx(61.0)
    await limiter.acquire(1.0)
    assert sum(clock.sleeps) == pytest.approx(122.0)
    await limiter.acquire(0.0)


def test_plan_spend_waits_until_enough_ages_out() -> None:
    spends = [Spend(0.0, 1.0), Spend(10.0, 1.0), Spend(20.0, 1.0)]
    live, wait = plan_spend(spends, now=30.0, cost=2.0, limit=3.0, window=60.0)
    assert len(live) == 3 and wait == pytest.approx(40.0)  # the first two must age out: at 70 s
    live, wait = plan_spend(spends, now=65.0, cost=1.0, limit=3.0, window=60.0)
    assert len(live) == 2 and wait == 0.0


async def test_observe_remaining_is_spent_as_ours() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=10, clock=clock)
    limiter.observe({"X-Rate-Limit-Remaining": "1"})  # other integrations spent 9 of the window
    await limiter.acquire()
    assert clock.sleeps == []
    await limiter.acquire()
    assert clock.sleeps == [pytest.approx(61.0)]


async def test_observe_higher_remaining_does_not_add_budget() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=1, clock=clock)
    await limiter.acquire()
    limiter.observe({"X-Rate-Limit-Remaining": "500"})
    await limiter.acquire()
    assert clock.sleeps == [pytest.approx(61.0)]


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


async def test_observe_shrinks_a_seeded_too_high_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=1200, clock=clock)
    limiter.observe({"X-Rate-Limit": "6"})
    for _ in range(6):
        await limiter.acquire()
    assert clock.sleeps == []
    await limiter.acquire()
    assert clock.sleeps == [pytest.approx(61.0)]


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


async def test_penalize_blocks_everyone_then_the_window_decides() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, clock=clock)
    limiter.penalize(7.0)
    assert limiter.headroom().blocked_for == pytest.approx(7.0)
    await limiter.acquire()
    assert clock.sleeps == [pytest.approx(7.0)]
    await limiter.acquire()
    assert clock.sleeps[1:] == []
    limiter.penalize(float("nan"))  # garbage is ignored, never a crash
    limiter.penalize(-1)
    assert limiter.blocked_for() == 0.0


async def test_a_block_longer_than_the_caller_may_wait_raises_at_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, clock=clock)
    limiter.penalize(120.0)
    with pytest.raises(BudgetBlocked) as info:
        await limiter.acquire(max_block=60.0)
    assert info.value.seconds == pytest.approx(120.0)
    assert clock.sleeps == []


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
    with pytest.raises(ValueError, match="window"):
        RateLimiter(per_minute=10, window=0)
    assert "per_minute=700" in repr(RateLimiter(per_minute=700))
    assert RateLimiter(per_minute=1000, window=10).limit == pytest.approx(1000 / 6)


def test_limiter_for_shares_one_limiter_per_account_and_budget() -> None:
    clock = FakeClock()
    a = limiter_for("zendesk:acme", per_minute=700, clock=clock, headers=RateLimitHeaders())
    b = limiter_for("zendesk:acme", per_minute=999, clock=clock, headers=RateLimitHeaders())
    c = limiter_for("zendesk:other", per_minute=700, clock=clock, headers=RateLimitHeaders())
    assert a is b
    assert a is not c
    assert b.per_minute == 700
    other_clock = FakeClock()
    assert limiter_for("zendesk:acme", per_minute=700, clock=other_clock, headers=RateLimitHeaders()) is not a
    budget = LocalRateBudget(clock=clock)
    shared = limiter_for("zendesk:acme", per_minute=700, clock=clock, budget=budget)
    assert shared.budget is budget and shared.key == "zendesk:acme"
    assert limiter_for("zendesk:acme", per_minute=700, clock=clock, budget=budget) is shared
    reset_limiters()
    assert limiter_for("zendesk:other", per_minute=700, clock=clock, headers=RateLimitHeaders()) is not c


async def test_limiters_on_one_budget_share_the_window() -> None:
    # two limiters (two adapters, or two processes on a store's backend) on one key: one window between them
    clock = FakeClock()
    budget = LocalRateBudget(clock=clock)
    assert isinstance(budget, RateBudget)
    first = RateLimiter(per_minute=10, clock=clock, budget=budget, key="zendesk:acme:exports")
    second = RateLimiter(per_minute=10, clock=clock, budget=budget, key="zendesk:acme:exports")
    other = RateLimiter(per_minute=10, clock=clock, budget=budget, key="zendesk:beta:exports")
    for _ in range(5):
        await first.acquire()
        await second.acquire()
    await other.acquire()
    assert clock.sleeps == []
    await second.acquire()
    assert clock.sleeps == [pytest.approx(61.0)]


def test_shared_limiter_works_across_event_loops() -> None:
    clock = FakeClock()
    limiter = limiter_for("freshdesk:acme", per_minute=6, clock=clock, headers=RateLimitHeaders())

    async def burst() -> None:
        await asyncio.gather(*(limiter.acquire() for _ in range(4)))

    asyncio.run(burst())
    asyncio.run(burst())
    assert sum(clock.sleeps) > 0
