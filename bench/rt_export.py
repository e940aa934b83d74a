"""Benchmark: export every ticket with its messages from a real Request Tracker, ours vs the `rt` package.

The RT is the plugin tests' throwaway instance (Debian's request-tracker5, SQLite) holding the synthetic history
(created through REST2, cached between runs; plugins/humansupport-rt/tests/live.py). Both clients read every
ticket and the text of every Create/Correspond/Comment transaction:

- ours: `RTAdapter.iter_conversations()` (one TicketSQL search with `fields=`, 100 a page) and
  `iter_all_messages()` (one transaction search and one attachment search for the whole account);
- the `rt` package (3.x, REST2), done the idiomatic way: `search()` for the tickets, then per ticket
  `get_ticket_history()` and `get_attachments()` listing its text parts, and `get_attachment()` for each text.

Requests are counted on each client's HTTP session, wall time with perf_counter, peak memory with tracemalloc
(Python allocations while exporting; both clients imported before). Both exports are checked against RT's own
totals (SQL on the database): every ticket and every message, nothing missed. Exits 1 when ours needs more
than 0.2x the requests or 0.5x the wall time of the `rt` package's export, or when either misses anything.

Run: `python bench/rt_export.py` (part of `make bench`; needs request-tracker5 + rt5-db-sqlite, `make rt`).
"""

from __future__ import annotations

import asyncio
import base64
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "humansupport-rt"))

import rt.rest2  # noqa: E402  (imported before measuring: module loading is no export's cost)
from humansupport_rt import RTAdapter  # noqa: E402
from tests.live import cache_dir, cache_key, load_history, loaded_to_json, user_field_names  # noqa: E402
from tests.rtserver import RTServer, running_rt  # noqa: E402

from humansupport.testing import generate_history  # noqa: E402
from tests.conftest import RT_HISTORY, RT_KIT  # noqa: E402

MESSAGE_TYPES = ("Create", "Correspond", "Comment")


def measure(fn: Callable[[], Any]) -> tuple[Any, float, int]:
    tracemalloc.start()
    start = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, wall, peak


def ours(server: RTServer) -> tuple[int, int, int]:
    count = {"requests": 0}

    async def hook(request: httpx.Request) -> None:
        count["requests"] += 1

    async def go() -> tuple[int, int]:
        async with RTAdapter(base_url=server.url, username="root", password="password") as adapter:
            adapter.http._http.event_hooks["request"].append(hook)
            tickets = messages = 0  # counted as they stream, as the rt package's loop keeps one ticket at a time
            async for _ in adapter.iter_conversations():
                tickets += 1
            async for message in adapter.iter_all_messages():
                messages += message.body is not None
            return tickets, messages

    tickets, messages = asyncio.run(go())
    return tickets, messages, count["requests"]


def theirs(server: RTServer) -> tuple[int, int, int]:
    tracker = rt.rest2.Rt(f"{server.api}/", http_auth=("root", "password"))
    count = {"requests": 0}
    tracker.session.event_hooks["request"].append(lambda request: count.__setitem__("requests", count["requests"] + 1))
    tickets = list(tracker.search(raw_query="id > 0", query_format="i"))
    messages = 0
    for ticket in tickets:
        history = tracker.get_ticket_history(ticket["id"])
        wanted = {str(t["id"]) for t in history if t.get("Type") in MESSAGE_TYPES}
        parts = tracker.get_attachments(
            ticket["id"],
            query_filter=[{"field": "ContentType", "operator": "LIKE", "value": "text/"}],
            query_format=["TransactionId", "ContentType"],
        )
        seen: set[str] = set()
        for part in parts:
            txn = str(part.get("TransactionId"))
            if txn in wanted and txn not in seen and part.get("ContentType") == "text/plain":
                seen.add(txn)
                body = tracker.get_attachment(part["id"])
                base64.b64decode(str(body.get("Content") or ""))
        messages += len(seen)
    tracker.session.close()
    return len(tickets), messages, count["requests"]


def main() -> int:
    history = generate_history(RT_HISTORY)
    fields = user_field_names(RT_KIT.profile_attributes)
    key = cache_key(history, ",".join(fields))
    cached = cache_dir() / f"{key}.db"
    with running_rt(cached if cached.exists() else None) as server:
        if not cached.exists():
            loaded = load_history(server, history, fields)
            cache_dir().mkdir(parents=True, exist_ok=True)
            server.snapshot(cached)
            (cache_dir() / f"{key}.json").write_text(loaded_to_json(loaded))
        tickets = int(server.sql("SELECT COUNT(*) FROM Tickets WHERE Status != 'deleted'")[0][0])
        messages = int(
            server.sql(
                "SELECT COUNT(*) FROM Transactions x JOIN Tickets t ON t.id = x.ObjectId"
                " AND x.ObjectType = 'RT::Ticket' WHERE t.Status != 'deleted'"
                " AND x.Type IN ('Create', 'Correspond', 'Comment')"
            )[0][0]
        )
        # a warm-up run each (lazy imports, RT's caches), then the measured one
        for _ in range(2):
            (our_t, our_m, our_req), our_wall, our_peak = measure(lambda: ours(server))
            (rt_t, rt_m, rt_req), rt_wall, rt_peak = measure(lambda: theirs(server))
    print(f"RT holds {tickets} tickets and {messages} messages (Create/Correspond/Comment)")
    print(f"{'':12} {'tickets':>8} {'messages':>9} {'requests':>9} {'wall s':>8} {'peak MiB':>9}")
    print(f"{'ours':12} {our_t:>8} {our_m:>9} {our_req:>9} {our_wall:>8.2f} {our_peak / 2**20:>9.2f}")
    print(f"{'rt package':12} {rt_t:>8} {rt_m:>9} {rt_req:>9} {rt_wall:>8.2f} {rt_peak / 2**20:>9.2f}")
    req_ratio, wall_ratio = our_req / rt_req, our_wall / rt_wall
    print(f"ratios ours/rt: requests {req_ratio:.3f}x, wall {wall_ratio:.3f}x, peak memory {our_peak / rt_peak:.2f}x")
    failed = []
    if (our_t, our_m) != (tickets, messages):
        failed.append(f"ours missed something: {our_t} tickets, {our_m} messages")
    if (rt_t, rt_m) != (tickets, messages):
        failed.append(f"the rt package's export missed something: {rt_t} tickets, {rt_m} messages")
    if req_ratio > 0.2:
        failed.append(f"requests {req_ratio:.3f}x > 0.2x")
    if wall_ratio > 0.5:
        failed.append(f"wall {wall_ratio:.3f}x > 0.5x")
    for line in failed:
        print("FAIL:", line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
