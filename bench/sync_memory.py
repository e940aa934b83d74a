"""Benchmark: sync of 100k and 1M messages: is memory flat, and is our CPU small next to the rate limit?

The source is an in-process adapter that streams the synthetic history page by page (100 records per
"request", one request per conversation's messages), so the numbers are ours, not an HTTP fake's: peak RSS
while syncing into a SQLite store, and our CPU time compared with the wall time the vendor's rate limit
alone would impose (Zendesk: 700 requests/minute). Each size runs in its own process for a clean RSS.

Run: `python bench/sync_memory.py` (10k vs 100k messages, well under a minute; `BENCH_FULL=1` for the
issue's 100k vs 1M). Exits 1 if the RSS growth during the bigger sync exceeds 1.5x the smaller one's, or if
our CPU time is more than 5% of the rate-limited wall time.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from humansupport import Agent, AsyncHelpdesk, Conversation, ConversationStatus, Customer, Group, Message
from humansupport.store import Store
from humansupport.sync import sync_helpdesk
from humansupport.testing.synthetic import HistoryConfig, _Generator

RATE_LIMIT = 700  # requests per minute
PAGE = 100
# customers -> about 10k and 100k messages; BENCH_FULL=1 runs the 100k vs 1M (about 4 minutes here)
SIZES = {"100k": 2_000, "1M": 20_000} if os.environ.get("BENCH_FULL") else {"10k": 200, "100k": 2_000}


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StreamingDesk(AsyncHelpdesk):
    """Streams the synthetic history; holds only the messages of conversations not yet fetched."""

    vendor = "bench"

    def __init__(self, config: HistoryConfig) -> None:
        self.gen = _Generator(config)
        self.requests = 0
        self.messages = 0
        self._threads: dict[str, list[Message]] = {}

    def _page(self, n: int) -> None:
        if n % PAGE == 0:
            self.requests += 1

    async def iter_conversations(
        self, *, updated_since: datetime | None = None, status: Sequence[ConversationStatus] | None = None
    ) -> AsyncIterator[Conversation]:
        for n, (conv, thread, _rating) in enumerate(self.gen.conversations()):
            self._page(n)
            self._threads[conv.id] = thread
            yield conv

    async def iter_messages(self, conversation_id: str) -> AsyncIterator[Message]:
        self.requests += 1
        thread = self._threads.pop(conversation_id)
        self.messages += len(thread)
        for m in thread:
            yield m

    async def iter_agents(self) -> AsyncIterator[Agent]:
        for n, a in enumerate(self.gen.agents):
            self._page(n)
            yield a

    async def iter_groups(self) -> AsyncIterator[Group]:
        for g in self.gen.groups:
            yield g

    async def iter_customers(self, *, updated_since: datetime | None = None) -> AsyncIterator[Customer]:
        for n, c in enumerate(self.gen.customers):
            self._page(n)
            yield c

    async def get_conversation(self, conversation_id: str) -> Conversation:
        raise NotImplementedError

    async def get_customer(self, customer_id: str) -> Customer:
        raise NotImplementedError

    async def find_customer(self, *, email: str) -> Customer | None:
        return None

    async def assign(self, conversation_id: str, agent_id: str | None, **_: Any) -> Conversation:
        raise NotImplementedError

    async def update_customer(self, customer_id: str, patch: Any) -> Customer:
        raise NotImplementedError

    async def add_internal_note(self, conversation_id: str, body: str) -> Message:
        raise NotImplementedError


def one(customers: int) -> dict[str, Any]:
    desk = StreamingDesk(HistoryConfig(customers=customers, agents=200, groups=10))
    peak = base = rss_mb()

    def tick(stream: str, n: int) -> None:
        nonlocal peak
        peak = max(peak, rss_mb())

    with tempfile.TemporaryDirectory() as d, Store.open(Path(d) / "bench.db") as store:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        asyncio.run(sync_helpdesk(desk, store, progress=tick, batch_size=200))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        stored = store.counts("bench")["messages"]
    return {
        "messages": desk.messages,
        "stored": stored,
        "requests": desk.requests,
        "rss_start_mb": round(base, 1),
        "rss_peak_mb": round(peak, 1),
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "rate_limited_wall_s": round(desk.requests / (RATE_LIMIT / 60), 1),
    }


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--customers":
        print(json.dumps(one(int(sys.argv[2]))))
        return 0
    results = {}
    for label, customers in SIZES.items():
        out = subprocess.run(  # noqa: S603 - our own script, a fresh process per size for a clean RSS
            [sys.executable, __file__, "--customers", str(customers)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "HUMANSUPPORT_PLUGINS": ""},
        )
        results[label] = json.loads(out.stdout)
        r = results[label]
        print(
            f"{label:>5}: {r['messages']:>8} messages, {r['requests']:>6} requests, RSS {r['rss_start_mb']} -> "
            f"{r['rss_peak_mb']} MB peak, CPU {r['cpu_s']} s (wall {r['wall_s']} s); "
            f"the rate limit alone would take {r['rate_limited_wall_s']} s"
        )
    small, big = (results[k] for k in SIZES)
    rss_ratio = big["rss_peak_mb"] / small["rss_peak_mb"]
    growth_ratio = (big["rss_peak_mb"] - big["rss_start_mb"]) / max(1.0, small["rss_peak_mb"] - small["rss_start_mb"])
    cpu_share = big["cpu_s"] / big["rate_limited_wall_s"]
    small_label, big_label = SIZES
    print(
        f"peak RSS {big_label} / {small_label}: {rss_ratio:.2f}; growth during sync {big_label} / {small_label}: "
        f"{growth_ratio:.2f}, for 10x the messages (the source's own customer table grows too)"
    )
    print(f"our CPU time / rate-limited wall time at {RATE_LIMIT}/min: {cpu_share:.3%}")
    return 0 if growth_ratio <= 1.5 and cpu_share <= 0.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
