"""Benchmark: requests a first sync spends per 1,000 conversations, per vendor, against the fewest its API allows;
and the wall time of a sync that finds nothing changed.

For every installed vendor plugin, the vendor's fake (in process, its documented page sizes) is seeded with one
synthetic history of about 1,000 conversations and synced through the vendor's adapter into a fresh SQLite
store. `sync --json`'s per-stream request counts (counted in the HTTP layer) are compared with the minimum for
the conversations and their messages, computed from each vendor's page sizes (C conversations, M messages):

- Zendesk: the ticket export pages 1,000 tickets and the ticket-events export 1,000 events:
  ceil(C / 1000) + ceil(M / 1000).
- Help Scout: the conversation listing with `embed=threads` pages 25 conversations (size fixed by the server);
  chat threads are truncated in that listing and must be read again, one request per chat conversation (its
  threads fit one page of 25): ceil(C / 25) + chats.
- Freshdesk: the ticket list pages 100 (`include=description` carries the first message); replies and notes
  exist only per ticket (`/tickets/{id}/conversations`, 100 a page): ceil(C / 100) + C.
- Intercom: the conversation search pages 150; parts come only from `GET /conversations/{id}` (up to 500):
  ceil(C / 150) + C.

The other streams (agents, groups, customers, ratings) are reported beside it and not part of the ratio.

The no-change sync runs a second adapter on the real clock (a new process's budget: empty) against the same
fake: its wall time is our own overhead plus any rate-limit wait; the fakes answer in microseconds, so a real
vendor adds its own latency per request on top. Target: under 2 s for every vendor.

Run: `python bench/sync_requests.py` (about a minute on a 2-CPU machine). Exits 1 when a vendor spends more than
5% above its minimum on conversations and messages, or a no-change sync takes 2 s or more.
"""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

CUSTOMERS = 88  # about 1,000 conversations with the default history shape
OVERHEAD_LIMIT = 1.05
NO_CHANGE_LIMIT_S = 2.0


def _minimum(vendor: str, conversations: int, messages: int, chats: int) -> int | None:
    if vendor == "zendesk":
        return math.ceil(conversations / 1000) + math.ceil(messages / 1000)
    if vendor == "helpscout":
        return math.ceil(conversations / 25) + chats
    if vendor == "freshdesk":
        return math.ceil(conversations / 100) + conversations
    if vendor == "intercom":
        return math.ceil(conversations / 150) + conversations
    return None


def _run(vendor: str) -> dict[str, Any]:
    from humansupport.clock import SYSTEM_CLOCK
    from humansupport.plugins import get_registry
    from humansupport.store import Store
    from humansupport.sync import sync_helpdesk
    from humansupport.testing import FakeClock, HistoryConfig, generate_history

    registry = get_registry()
    history = generate_history(HistoryConfig(customers=CUSTOMERS, seed=7))
    clock = FakeClock(start=history.config.end + timedelta(hours=1))
    fake = registry.fakes()[vendor](history=history, clock=clock)
    cls = registry.helpdesk(vendor)
    settings = cls.settings_model.model_validate(fake.adapter_settings())
    conversations = len(fake.conversations)
    messages = sum(len(v) for v in fake.messages.values())
    chats = sum(1 for c in fake.conversations.values() if c.channel == "chat")
    with tempfile.TemporaryDirectory(prefix="hs-bench-sync-") as tmp, Store.open(Path(tmp) / "s.db") as store:

        async def first() -> Any:
            async with cls.from_settings(settings, transport=fake.transport(), clock=clock) as adapter:
                return await sync_helpdesk(adapter, store, clock=clock)

        report = asyncio.run(first())

        async def again() -> Any:
            async with cls.from_settings(settings, transport=fake.transport(), clock=SYSTEM_CLOCK) as adapter:
                return await sync_helpdesk(adapter, store, clock=SYSTEM_CLOCK)

        started = time.perf_counter()
        unchanged = asyncio.run(again())
        wall = time.perf_counter() - started
    bulk = sum(s.requests for name, s in report.streams.items() if name in ("conversations", "messages"))
    other = report.requests - bulk
    return {
        "vendor": vendor,
        "conversations": conversations,
        "messages": messages,
        "bulk": bulk,
        "other": other,
        "minimum": _minimum(vendor, conversations, messages, chats),
        "rate_limited": report.rate_limited,
        "no_change_requests": unchanged.requests,
        "no_change_s": wall,
    }


def main() -> int:
    from humansupport.plugins import get_registry

    vendors = sorted(get_registry().fakes())
    if not vendors:
        print("sync_requests: no vendor plugin installed")
        return 1
    failed = False
    for vendor in vendors:
        r = _run(vendor)
        per_k = 1000 / r["conversations"]
        minimum = r["minimum"]
        ratio = r["bulk"] / minimum if minimum else float("nan")
        if not minimum:
            print(f"sync_requests {vendor}: {r['bulk']} requests, {r['conversations']} conversations (no minimum)")
        else:
            print(
                f"sync_requests {vendor}: {r['conversations']} conversations, {r['messages']} messages; "
                f"conversations+messages {r['bulk'] * per_k:.0f} requests per 1,000 conversations "
                f"(minimum {minimum * per_k:.0f}, ratio {ratio:.2f}); other streams {r['other'] * per_k:.0f} "
                f"per 1,000; 429s {r['rate_limited']}; no-change sync {r['no_change_s']:.2f} s wall, "
                f"{r['no_change_requests']} requests"
            )
        if (minimum and ratio > OVERHEAD_LIMIT) or r["no_change_s"] >= NO_CHANGE_LIMIT_S:
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
