"""When to retry and how long to wait: one pure Retry-After parser, one policy, one tenacity loop.

Retriable vs fatal is decided here and nowhere else (STYLE.md 4.2 and 5.3): 429 always (the vendor did not
process it), 5xx, `extra_retry_statuses` and transport errors only for idempotent requests. A server-requested
wait longer than `max_retry_wait` is never slept out; the error is raised at once so a cron job can
checkpoint and exit instead of sleeping for an hour.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from humansupport.clock import Clock
from humansupport.errors import HelpdeskError, HumansupportError

__all__ = [
    "RetryPolicy",
    "is_retriable",
    "parse_reset",
    "parse_retry_after",
    "retrying",
]

_MAX_EXPONENT = 60  # 2**60 * base_delay is far past any max_delay; avoids float overflow


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _finite(text: str) -> float | None:
    """A finite float or None; never raises (header text is untrusted)."""
    try:
        value = float(text.strip())
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def parse_retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, then `Retry-After` as seconds or HTTP date.

    Garbage and negative values give None (the caller then backs off on its own); a date in the past gives
    0.0. Never raises: header text comes from the network.
    """
    h = _lower(headers)
    ms = h.get("retry-after-ms")
    if ms is not None:
        value = _finite(ms)
        if value is not None and value >= 0:
            return value / 1000.0
    raw = h.get("retry-after")
    if raw is None:
        return None
    seconds = _finite(raw)
    if seconds is not None:
        return seconds if seconds >= 0 else None
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # older Pythons returned None on garbage
        return None
    try:
        delta = (_aware(when) - _aware(now)).total_seconds()
    except (OverflowError, ValueError):
        return None
    return max(0.0, delta) if math.isfinite(delta) else None


def parse_reset(
    headers: Mapping[str, str],
    now: datetime,
    *,
    header: str,
    kind: Literal["seconds", "epoch"],
) -> float | None:
    """Seconds until a vendor's rate-limit window resets, from its own reset header.

    `kind="seconds"` reads seconds-until-reset (a countdown); `kind="epoch"` reads a Unix
    timestamp and subtracts now. Garbage or negative seconds give None; an epoch in the past gives 0.0.
    """
    raw = _lower(headers).get(header.lower())
    if raw is None:
        return None
    value = _finite(raw)
    if value is None:
        return None
    if kind == "seconds":
        return value if value >= 0 else None
    return max(0.0, value - _aware(now).timestamp())


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How many times and how long to retry; one per adapter, changed by `with_options`."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_wait: float = 60.0
    extra_retry_statuses: frozenset[int] = field(default_factory=frozenset)
    default_429_wait: float = 10.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1 (1 means no retries), got {self.max_attempts}")
        for name in ("base_delay", "max_delay", "max_retry_wait", "default_429_wait"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff for the `attempt`-th retry (0-based), capped at max_delay."""
        cap = min(self.max_delay, self.base_delay * 2.0 ** min(max(attempt, 0), _MAX_EXPONENT))
        return rng.uniform(0.0, cap)

    def requested_wait(self, exc: BaseException | None) -> float | None:
        """The wait the server asked for, or `default_429_wait` for a 429 that said nothing; else None."""
        if not isinstance(exc, HelpdeskError):
            return None
        if exc.retry_after is not None:
            return exc.retry_after
        if exc.status == 429:
            return self.default_429_wait
        return None

    def should_retry(self, exc: BaseException, *, idempotent: bool) -> bool:
        """The one retriable-vs-fatal decision.

        A wait above `max_retry_wait` is never retried: the error (a RateLimitError for 429) goes to the
        caller at once.
        """
        if not isinstance(exc, HelpdeskError):
            return False
        wait = self.requested_wait(exc)
        if wait is not None and wait > self.max_retry_wait:
            return False
        if exc.status == 429:
            return True
        if not idempotent:
            return False
        return is_retriable(exc) or (exc.status is not None and exc.status in self.extra_retry_statuses)

    def wait_for(self, exc: BaseException | None, attempt: int, rng: random.Random) -> float:
        """Server-requested wait if there is one, else jittered backoff for the 0-based `attempt`."""
        wait = self.requested_wait(exc)
        return wait if wait is not None else self.backoff(attempt, rng)


def is_retriable(exc: BaseException) -> bool:
    """Reads `HumansupportError.retriable`, walking `__cause__`/`__context__`: wrapped errors retry too."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, HumansupportError):
            return current.retriable
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def retrying(
    policy: RetryPolicy,
    *,
    clock: Clock,
    rng: random.Random,
    idempotent: bool,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> AsyncRetrying:
    """A tenacity loop for one request: sleeps through `clock`, waits what the server asked, reraises."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return policy.wait_for(exc, state.attempt_number - 1, rng)

    return AsyncRetrying(
        sleep=clock.sleep,
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait,
        retry=retry_if_exception(lambda exc: policy.should_retry(exc, idempotent=idempotent)),
        before_sleep=before_sleep,
        reraise=True,
    )
