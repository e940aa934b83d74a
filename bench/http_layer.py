"""Benchmark: does the HTTP layer run near a vendor's rate limit without failures or 429 storms?

A fake vendor (an httpx.MockTransport handler) allows L requests per fixed one-minute window and answers 429
with Retry-After when over. The client does N requests with concurrency. Time is virtual: the event loop's
clock only moves when every task is waiting, and it jumps straight to the next timer, so minutes of vendor
time take about a second of real time while concurrent sleeps still overlap as they would for real. The
limiter, the retry sleeps and the fake vendor all read that one clock.

Run: `python bench/http_layer.py`. Exits 1 if throughput/limit < 0.95 or any request failed, in any scenario:
seeded at L, seeded at 2L with full headers, seeded at 2L with only X-Rate-Limit-Remaining and 429s to learn
from.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from humansupport.errors import HumansupportError
from humansupport.http import HttpClient, RateLimiter, RateLimitHeaders

LIMIT = 700  # requests per minute (Zendesk Enterprise)
REQUESTS = 5000
WORKERS = 16
WINDOW = 60.0
WINDOW_OFFSET = 17.3  # the job starts partway into the vendor's window
TARGET = 0.95
EPOCH = datetime(2026, 3, 1, tzinfo=UTC)


class _VirtualSelector:
    """Wraps the real selector: never blocks; a wait of `timeout` seconds advances virtual time instead."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = self._real.select(0)
        if events:
            return events
        if timeout is None:
            raise RuntimeError("deadlock: every task waits and no timer is set")
        self._loop.virtual_time += max(0.0, timeout)
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose time() is virtual: idle waits are skipped, not slept."""

    def __init__(self) -> None:
        self.virtual_time = 0.0
        super().__init__(selector=_VirtualSelector(self))  # type: ignore[arg-type]

    def time(self) -> float:
        return self.virtual_time


class LoopClock:
    """The injected Clock: reads and sleeps on the virtual loop time."""

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


@dataclass
class FakeVendor:
    """Fixed-window limiter: `limit` requests per window, 429 + Retry-After (whole seconds) when over."""

    clock: LoopClock
    limit: int
    send_limit_header: bool = True
    window_index: int = -1
    used: int = 0
    served: int = 0
    rejected: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        t = self.clock.monotonic() + WINDOW_OFFSET
        index = math.floor(t / WINDOW)
        if index != self.window_index:
            self.window_index, self.used = index, 0
        headers = {"X-Rate-Limit": str(self.limit)} if self.send_limit_header else {}
        if self.used >= self.limit:
            self.rejected += 1
            wait = math.ceil((index + 1) * WINDOW - t)
            headers.update({"Retry-After": str(wait), "X-Rate-Limit-Remaining": "0"})
            return httpx.Response(429, json={"error": "APIRateLimitExceeded"}, headers=headers)
        self.used += 1
        self.served += 1
        headers["X-Rate-Limit-Remaining"] = str(self.limit - self.used)
        return httpx.Response(200, json={"ticket": {"id": self.served}}, headers=headers)


@dataclass
class Result:
    name: str
    ratio: float
    failed: int
    rejected: int
    learned: float
    seconds: float

    @property
    def ok(self) -> bool:
        return self.ratio >= TARGET and self.failed == 0


async def _scenario(name: str, *, seed: float, send_limit_header: bool) -> Result:
    started = time.perf_counter()
    clock = LoopClock()
    vendor = FakeVendor(clock=clock, limit=LIMIT, send_limit_header=send_limit_header)
    limiter = RateLimiter(per_minute=seed, clock=clock, headers=RateLimitHeaders())
    client = HttpClient(
        vendor="benchdesk",
        base_url="https://acme.benchdesk.test/api",
        transport=httpx.MockTransport(vendor),
        clock=clock,
        limiter=limiter,
        max_concurrency=8,
    )
    failed = 0
    next_id = 0

    async def worker() -> None:
        nonlocal failed, next_id
        while next_id < REQUESTS:
            next_id += 1
            try:
                await client.get_json(f"/tickets/{next_id}.json")
            except HumansupportError:
                failed += 1

    begin = clock.monotonic()
    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    elapsed = clock.monotonic() - begin
    await client.aclose()
    ratio = (REQUESTS - failed) / (elapsed / 60.0) / LIMIT
    return Result(name, ratio, failed, vendor.rejected, limiter.per_minute, time.perf_counter() - started)


def run(name: str, *, seed: float, send_limit_header: bool = True) -> Result:
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(_scenario(name, seed=seed, send_limit_header=send_limit_header))


def main() -> int:
    results = [
        run("seeded at L", seed=LIMIT),
        run("seeded at 2L, learns X-Rate-Limit", seed=2 * LIMIT),
        run("seeded at 2L, learns from Remaining and 429s only", seed=2 * LIMIT, send_limit_header=False),
    ]
    for r in results:
        print(
            f"http_layer: throughput/limit = {r.ratio:.2f} (L={LIMIT}/min, N={REQUESTS}, failed={r.failed}, "
            f"429s={r.rejected}) [{r.name}; bucket rate {r.learned:g}/min; {r.seconds:.1f}s real]"
        )
    missed = [r.name for r in results if not r.ok]
    if missed:
        print(f"http_layer: FAILED target (>= {TARGET}, 0 failures): {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
