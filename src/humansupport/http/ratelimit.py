"""An adaptive token bucket per helpdesk account, so a long job runs near the limit without 429 storms.

Seeded from the vendor's documented limit, then corrected from what the server says: its limit header
becomes our rate, a lower remaining count drains our tokens, a 429 blocks the bucket until the server's wait
is over. Two adapters on one account share one bucket through `limiter_for`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from humansupport.clock import SYSTEM_CLOCK, Clock
from humansupport.http.retry import parse_reset

__all__ = [
    "RateHeadroom",
    "RateLimitHeaders",
    "RateLimiter",
    "limiter_for",
    "reset_limiters",
]

_EPSILON = 1e-9  # float slack so a sleep computed to refill exactly one token is enough
_DEFAULT_BURST_SECONDS = 6.0  # default burst: six seconds' worth of requests


@dataclass(frozen=True, kw_only=True)
class RateLimitHeaders:
    """Which response headers carry a vendor's rate-limit state; each adapter names its own."""

    limit: str | None = "X-Rate-Limit"
    remaining: str | None = "X-Rate-Limit-Remaining"
    reset: str | None = None
    reset_kind: Literal["seconds", "epoch"] = "seconds"
    retry_after: str = "Retry-After"


@dataclass(frozen=True, kw_only=True)
class RateHeadroom:
    """What `humansupport check` shows: the learned limit and what the server last said remains."""

    limit_per_minute: float
    remaining: float | None
    observed_at: datetime | None
    blocked_for: float = 0.0


def _number(headers: Mapping[str, str], name: str | None) -> float | None:
    if name is None:
        return None
    raw = headers.get(name)
    if raw is None:
        raw = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


class RateLimiter:
    """Token bucket: `per_minute` tokens a minute, at most `burst` saved up; waits go through the clock."""

    def __init__(
        self,
        *,
        per_minute: float,
        clock: Clock = SYSTEM_CLOCK,
        burst: float | None = None,
        headers: RateLimitHeaders = RateLimitHeaders(),
    ) -> None:
        if not (per_minute > 0 and math.isfinite(per_minute)):
            raise ValueError(f"per_minute must be a finite number > 0, got {per_minute!r}")
        if burst is not None and not (burst >= 1 and math.isfinite(burst)):
            raise ValueError(f"burst must be a finite number >= 1, got {burst!r}")
        self._clock = clock
        self._headers = headers
        self._explicit_burst = burst
        self._per_minute = per_minute
        self._burst = self._burst_for(per_minute)
        self._tokens = self._burst
        self._updated = clock.monotonic()
        self._blocked_until = -math.inf
        self._remaining: float | None = None
        self._observed_at: datetime | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"RateLimiter(per_minute={self._per_minute:g}, burst={self._burst:g})"

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def per_minute(self) -> float:
        """The rate in use: the seed until the server states its own limit."""
        return self._per_minute

    @property
    def headers(self) -> RateLimitHeaders:
        return self._headers

    def _burst_for(self, per_minute: float) -> float:
        if self._explicit_burst is not None:
            return self._explicit_burst
        return max(1.0, per_minute * _DEFAULT_BURST_SECONDS / 60.0)

    def _refill(self, now: float) -> None:
        # No refill while blocked: after a 429 the server's window restarts when the block ends.
        start = max(self._updated, self._blocked_until)
        if now > start:
            self._tokens = min(self._burst, self._tokens + (now - start) * self._per_minute / 60.0)
        self._updated = max(self._updated, now)

    def _get_lock(self) -> asyncio.Lock:
        # A shared limiter may outlive one event loop (tests, repeated asyncio.run); a Lock must not.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock

    async def acquire(self, cost: float = 1.0) -> None:
        """Waits until `cost` tokens are there and takes them; callers queue in order."""
        if cost <= 0:
            return
        async with self._get_lock():
            while True:
                now = self._clock.monotonic()
                self._refill(now)
                if now < self._blocked_until:
                    await self._clock.sleep(self._blocked_until - now)
                    continue
                need = min(cost, self._burst)  # a cost above burst would never fit; let it go into debt
                if self._tokens + _EPSILON >= need:
                    self._tokens -= cost
                    return
                await self._clock.sleep((need - self._tokens) * 60.0 / self._per_minute)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learns from a response: the server's limit becomes the rate, a lower remaining drains tokens."""
        now = self._clock.monotonic()
        self._refill(now)
        limit = _number(headers, self._headers.limit)
        if limit is not None and limit > 0 and limit != self._per_minute:
            self._per_minute = limit
            self._burst = self._burst_for(limit)
            self._tokens = min(self._tokens, self._burst)
        remaining = _number(headers, self._headers.remaining)
        if remaining is None:
            return
        self._remaining = remaining
        self._observed_at = self._clock.now()
        if remaining < self._tokens:
            self._tokens = max(0.0, remaining)
        if remaining <= 0 and self._headers.reset is not None:
            wait = parse_reset(headers, self._observed_at, header=self._headers.reset, kind=self._headers.reset_kind)
            if wait is not None and wait > 0:
                self._blocked_until = max(self._blocked_until, now + wait)

    def penalize(self, seconds: float) -> None:
        """After a 429: nobody on this account sends until `seconds` have passed, then one request may go.

        Retry-After says when the server will take a request again; the rest refill at the normal rate.
        """
        now = self._clock.monotonic()
        self._refill(now)
        self._tokens = min(self._burst, 1.0)
        if seconds > 0 and math.isfinite(seconds):
            self._blocked_until = max(self._blocked_until, now + seconds)

    def blocked_for(self) -> float:
        """Seconds left on a 429 penalty (0.0 when none)."""
        return max(0.0, self._blocked_until - self._clock.monotonic())

    def headroom(self) -> RateHeadroom:
        """Snapshot for `humansupport check`."""
        return RateHeadroom(
            limit_per_minute=self._per_minute,
            remaining=self._remaining,
            observed_at=self._observed_at,
            blocked_for=self.blocked_for(),
        )


_REGISTRY: dict[str, RateLimiter] = {}


def limiter_for(
    key: str,
    *,
    per_minute: float,
    clock: Clock = SYSTEM_CLOCK,
    headers: RateLimitHeaders = RateLimitHeaders(),
) -> RateLimiter:
    """The one bucket for a helpdesk account (`key`, e.g. "zendesk:acme"); created on first use.

    A later call with the same key and clock gets the same limiter (its learned rate, not `per_minute`). A
    different clock object (a test's fake) gets a fresh bucket, so tests never share fake time.
    """
    existing = _REGISTRY.get(key)
    if existing is not None and existing.clock is clock:
        return existing
    limiter = RateLimiter(per_minute=per_minute, clock=clock, headers=headers)
    _REGISTRY[key] = limiter
    return limiter


def reset_limiters() -> None:
    """Forgets every shared bucket; for tests."""
    _REGISTRY.clear()
