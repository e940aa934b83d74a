"""Request counts for whoever is listening: sync reads them per stream, a cron job watches its budget.

Counting follows the async context, not the client: an adapter may hold several clients (an export bucket,
a second API version) and sync cannot see them, but every request runs inside the caller's context. Tasks
started inside `counting()` (gather, TaskGroup) copy the context and so count into the same tally.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["RequestTally", "counting", "record_response"]


@dataclass(kw_only=True)
class RequestTally:
    """Requests sent (every attempt, retries included) and how many the vendor answered with 429."""

    requests: int = 0
    rate_limited: int = 0

    def __add__(self, other: RequestTally) -> RequestTally:
        return RequestTally(
            requests=self.requests + other.requests, rate_limited=self.rate_limited + other.rate_limited
        )


_TALLIES: ContextVar[tuple[RequestTally, ...]] = ContextVar("humansupport_request_tallies", default=())


@contextmanager
def counting() -> Iterator[RequestTally]:
    """Counts the requests made in this context (nested counters all count) until the block ends."""
    tally = RequestTally()
    token = _TALLIES.set((*_TALLIES.get(), tally))
    try:
        yield tally
    finally:
        _TALLIES.reset(token)


def record_response(status: int | None) -> None:
    """Called by `HttpClient` once per attempt: `status` None when no response came (transport error)."""
    for tally in _TALLIES.get():
        tally.requests += 1
        if status == 429:
            tally.rate_limited += 1
