"""A request budget per helpdesk account, paced as the vendor's windows, shared through a budget backend.

Vendors state their limits as windows ("700 a minute", "167 per 10 seconds"), so the budget is a sliding
window: at most `limit` request costs in any `window` seconds. A vendor that allows 10 a minute gets 10 at
once, then waits until the first of them is a minute old; no server window, however aligned, sees more than
the limit. The limit is seeded from the vendor's documented figure and corrected from what the server says:
its limit header becomes ours, a lower remaining count is spent as if we had spent it, and a 429 blocks the
account until the server's wait is over.

Where the spends are recorded is a `RateBudget` backend. `LocalRateBudget` (the default) keeps them in this
process; the store provides backends that every process on the account shares (`humansupport.store.budget`),
so webhook replicas and cron jobs together stay within one limit. The HTTP layer never imports the store:
the backend is injected.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Mapping, MutableSequence, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from humansupport.clock import SYSTEM_CLOCK, Clock
from humansupport.http.retry import parse_reset

__all__ = [
    "BudgetBlocked",
    "LocalRateBudget",
    "RateBudget",
    "RateHeadroom",
    "RateLimitHeaders",
    "RateLimiter",
    "Spend",
    "drain_spend",
    "limiter_for",
    "plan_spend",
    "reset_limiters",
    "transit_margin",
]

_EPSILON = 1e-9  # float slack so a wait computed to free exactly enough is enough
_MIN_WAIT = 0.001  # never ask a caller to sleep for nothing and spin


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


@dataclass(frozen=True, slots=True)
class Spend:
    """One recorded spend: when (seconds on the backend's clock) and how much."""

    at: float
    cost: float


def plan_spend(
    spends: Sequence[Spend], *, now: float, cost: float, limit: float, window: float
) -> tuple[list[Spend], float]:
    """The sliding-window decision every backend makes: (the spends still in the window, seconds to wait).

    A wait of 0.0 means `cost` fits: the caller records `Spend(now, cost)`. A cost above the whole limit
    goes through once the window is empty (into debt) rather than never.
    """
    live = [s for s in spends if s.at > now - window]
    used = sum(s.cost for s in live)
    if not live or used + cost <= limit + _EPSILON:
        return live, 0.0
    need = used + cost - limit
    freed = 0.0
    for spend in sorted(live, key=lambda s: s.at):
        freed += spend.cost
        if freed + _EPSILON >= need:
            return live, max(_MIN_WAIT, spend.at + window - now)
    return live, max(_MIN_WAIT, max(s.at for s in live) + window - now)  # pragma: no cover - debt case above


@runtime_checkable
class RateBudget(Protocol):
    """Where an account's spends live. One backend may hold many accounts, each under its own `key`.

    Calls are short and synchronous (a lock, a few rows); the waiting is the limiter's, on its clock.
    """

    def spend(self, key: str, *, cost: float, limit: float, window: float) -> float:
        """Records `cost` and returns 0.0 when it fits the last `window` seconds; else records nothing and
        returns the seconds until it may fit (or until a block ends)."""
        ...

    def drain(
        self, key: str, *, remaining: float, limit: float, window: float, expires_in: float | None = None
    ) -> None:
        """The server says only `remaining` is left: records the difference to ours as spent, aging out when
        the server's window resets (`expires_in` seconds from now) or a full window from now."""
        ...

    def block(self, key: str, seconds: float) -> None:
        """Nobody spends on `key` for `seconds` (a 429's wait, a spent window's reset)."""
        ...

    def blocked_for(self, key: str) -> float:
        """Seconds left on a block (0.0 when none)."""
        ...


def drain_spend(
    spends: Sequence[Spend], *, now: float, remaining: float, limit: float, window: float, expires_in: float | None
) -> Spend | None:
    """The spend to record so our remaining matches the server's lower one (None when ours is not higher).

    It is dated so it ages out when the server's window resets, never later than a window from now.
    """
    used = sum(s.cost for s in spends if s.at > now - window)
    extra = (limit - used) - max(0.0, remaining)
    if extra <= _EPSILON:
        return None
    life = window if expires_in is None or not math.isfinite(expires_in) else min(window, max(0.0, expires_in))
    if life <= 0:
        return None
    return Spend(now - window + life, extra)


class LocalRateBudget:
    """The in-process backend: spends in memory, on the clock's monotonic time. Thread-safe.

    The default for library users without a store; every limiter of one process that names the same key and
    this backend shares the budget. Other processes do not see it: use a store's backend for that.
    """

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._spends: dict[str, list[Spend]] = {}
        self._blocked: dict[str, float] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalRateBudget(keys={len(self._spends)})"

    @property
    def clock(self) -> Clock:
        return self._clock

    def spend(self, key: str, *, cost: float, limit: float, window: float) -> float:
        with self._lock:
            now = self._clock.monotonic()
            blocked = self._blocked.get(key, -math.inf) - now
            if blocked > 0:
                return blocked
            live, wait = plan_spend(self._spends.get(key, ()), now=now, cost=cost, limit=limit, window=window)
            if wait == 0.0:
                live.append(Spend(now, cost))
            self._spends[key] = live
            return wait

    def drain(
        self, key: str, *, remaining: float, limit: float, window: float, expires_in: float | None = None
    ) -> None:
        with self._lock:
            now = self._clock.monotonic()
            spends: MutableSequence[Spend] = self._spends.setdefault(key, [])
            extra = drain_spend(spends, now=now, remaining=remaining, limit=limit, window=window, expires_in=expires_in)
            if extra is not None:
                spends.append(extra)

    def block(self, key: str, seconds: float) -> None:
        if not (seconds > 0 and math.isfinite(seconds)):
            return
        with self._lock:
            until = self._clock.monotonic() + seconds
            self._blocked[key] = max(self._blocked.get(key, -math.inf), until)

    def blocked_for(self, key: str) -> float:
        with self._lock:
            return max(0.0, self._blocked.get(key, -math.inf) - self._clock.monotonic())


class BudgetBlocked(Exception):
    """`acquire(max_block=...)` found the account blocked for longer than the caller may wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the account is rate limited for {seconds:.1f}s")
        self.seconds = seconds


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


def transit_margin(window: float) -> float:
    """Seconds a spend stays counted beyond the vendor's window: we count a request when it is sent, the vendor
    when it arrives, so one sent at the very end of a full window could land in the next one. 5 % of the window,
    at most a second (10 s windows: 0.5 s; a minute: 1 s)."""
    return min(1.0, window * 0.05)


class RateLimiter:
    """One account's budget: `per_minute` request costs a minute, counted over sliding `window`-second windows.

    `per_minute` and the limit header are per minute; a vendor counting in 10-second windows gets
    `window=10` and `per_minute / 6` per window. `key` names the account in `budget` (the in-process
    `LocalRateBudget` when none is given, private to this limiter).
    """

    def __init__(
        self,
        *,
        per_minute: float,
        clock: Clock = SYSTEM_CLOCK,
        headers: RateLimitHeaders = RateLimitHeaders(),
        window: float = 60.0,
        budget: RateBudget | None = None,
        key: str = "default",
    ) -> None:
        if not (per_minute > 0 and math.isfinite(per_minute)):
            raise ValueError(f"per_minute must be a finite number > 0, got {per_minute!r}")
        if not (window > 0 and math.isfinite(window)):
            raise ValueError(f"window must be a finite number of seconds > 0, got {window!r}")
        self._clock = clock
        self._headers = headers
        self._per_minute = per_minute
        self._window = window
        self._budget: RateBudget = budget if budget is not None else LocalRateBudget(clock=clock)
        self._key = key
        self._remaining: float | None = None
        self._observed_at: datetime | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"RateLimiter(key={self._key!r}, per_minute={self._per_minute:g}, window={self._window:g})"

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def budget(self) -> RateBudget:
        return self._budget

    @property
    def key(self) -> str:
        return self._key

    @property
    def per_minute(self) -> float:
        """The rate in use: the seed until the server states its own limit."""
        return self._per_minute

    @property
    def window(self) -> float:
        return self._window

    @property
    def pace_window(self) -> float:
        """The window spends are counted over: the vendor's, plus the transit margin (`transit_margin`)."""
        return self._window + transit_margin(self._window)

    @property
    def limit(self) -> float:
        """Request costs allowed in one window."""
        return self._per_minute * self._window / 60.0

    @property
    def headers(self) -> RateLimitHeaders:
        return self._headers

    def _get_lock(self) -> asyncio.Lock:
        # A shared limiter may outlive one event loop (tests, repeated asyncio.run); a Lock must not.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock

    async def acquire(self, cost: float = 1.0, *, max_block: float = math.inf) -> None:
        """Waits until `cost` fits the account's window and spends it; callers of this limiter queue in order.

        A block (after a 429) longer than `max_block` raises `BudgetBlocked` at once instead of sleeping.
        """
        if cost <= 0:
            return
        async with self._get_lock():
            while True:
                blocked = self._budget.blocked_for(self._key) if math.isfinite(max_block) else 0.0
                if blocked > max_block:
                    raise BudgetBlocked(blocked)
                wait = self._budget.spend(self._key, cost=cost, limit=self.limit, window=self.pace_window)
                if wait <= 0:
                    return
                await self._clock.sleep(wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learns from a response: the server's limit becomes ours, a lower remaining is spent as ours."""
        limit = _number(headers, self._headers.limit)
        if limit is not None and limit > 0:
            self._per_minute = limit
        remaining = _number(headers, self._headers.remaining)
        if remaining is None:
            return
        self._remaining = remaining
        self._observed_at = self._clock.now()
        reset = None
        if self._headers.reset is not None:
            reset = parse_reset(headers, self._observed_at, header=self._headers.reset, kind=self._headers.reset_kind)
        if remaining <= 0 and reset is not None:
            if reset > 0:
                self._budget.block(self._key, reset)
            return
        self._budget.drain(self._key, remaining=remaining, limit=self.limit, window=self._window, expires_in=reset)

    def penalize(self, seconds: float) -> None:
        """After a 429: nobody on this account sends until `seconds` have passed (Retry-After)."""
        if seconds > 0 and math.isfinite(seconds):
            self._budget.block(self._key, seconds)

    def blocked_for(self) -> float:
        """Seconds left on a 429 penalty (0.0 when none)."""
        return self._budget.blocked_for(self._key)

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
    window: float = 60.0,
    budget: RateBudget | None = None,
) -> RateLimiter:
    """The one limiter for a helpdesk account (`key`, e.g. "acmedesk:acme") in this process; created on first use.

    With `budget` (a store's backend) the spends are shared with every process on that backend; without it
    they stay in this process. A later call with the same key, clock and budget gets the same limiter (its
    learned rate, not `per_minute`). A different clock object (a test's fake) or budget gets a fresh limiter,
    so tests never share fake time.
    """
    existing = _REGISTRY.get(key)
    if existing is not None and existing.clock is clock:
        same = existing.budget is budget if budget is not None else isinstance(existing.budget, LocalRateBudget)
        if same:
            return existing
    limiter = RateLimiter(per_minute=per_minute, clock=clock, headers=headers, window=window, budget=budget, key=key)
    _REGISTRY[key] = limiter
    return limiter


def reset_limiters() -> None:
    """Forgets every shared limiter; for tests."""
    _REGISTRY.clear()
