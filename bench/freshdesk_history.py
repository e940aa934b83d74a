"""Benchmark: read a two-year Freshdesk history larger than the ticket list's 300-page cap.

The fake Freshdesk holds a synthetic history of more than 30,000 tickets (over 300 pages of 100) and
enforces the Growth plan's ticket-list limit of 20 requests a minute with 429 + Retry-After. The adapter,
on the Growth plan, reads everything with `iter_conversations()`. Time is a FakeClock shared by the fake and
the adapter (its sleeps advance it), so twenty minutes of vendor time take seconds.

Printed, all measured in this run:
- tickets read vs tickets held, and duplicates (must be exactly once each);
- ticket-list requests used vs the minimum (one per page of 100, as if there were no cap);
- simulated time vs the floor the endpoint limit sets (minimum requests / 20 per minute), and 429s met;
- for contrast, what a reader without windows gets (it stops at the cap), and what the list gives with no
  `updated_since` (the 30-day default window).

Run: `python bench/freshdesk_history.py`. Exits 1 if a ticket is missing or repeated, if any 429 was met,
or if requests/minimum > 1.05 or time/floor > 1.2.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from datetime import timedelta

from humansupport_freshdesk import FakeFreshdesk, FreshdeskAdapter
from humansupport_freshdesk.adapter import ENDPOINT_LIMITS
from pydantic import SecretStr

from humansupport.errors import ValidationError
from humansupport.http import LinkHeaderPaginator, PageRequest, iter_pages
from humansupport.testing import FakeClock, HistoryConfig, generate_history

PLAN = "growth"
PER_PAGE = 100
HISTORY = HistoryConfig(customers=1450, agents=40, groups=6, months=24, seed=11)
MAX_REQUEST_RATIO = 1.05
MAX_TIME_RATIO = 1.2


async def _read_all(fake: FakeFreshdesk, clock: FakeClock) -> tuple[list[str], int, float]:
    adapter = FreshdeskAdapter(
        domain=fake.domain, api_key=SecretStr(fake.api_key), plan=PLAN, transport=fake.transport(), clock=clock
    )
    started = clock.monotonic()
    before = len(fake.requests)
    async with adapter:
        ids = [c.id async for c in adapter.iter_conversations()]
    requests = sum(1 for r in fake.requests[before:] if r.path == "/api/v2/tickets")
    return ids, requests, clock.monotonic() - started


async def _naive(fake: FakeFreshdesk, clock: FakeClock, *, since: bool) -> int:
    """What a reader gets with one pass over pages (no windows), with or without `updated_since`."""
    adapter = FreshdeskAdapter(
        domain=fake.domain, api_key=SecretStr(fake.api_key), plan=PLAN, transport=fake.transport(), clock=clock
    )
    params: dict[str, object] = {"per_page": PER_PAGE}
    if since:
        params.update(updated_since="2000-01-01T00:00:00Z", order_by="updated_at", order_type="asc")
    seen = 0
    first = PageRequest(url="/api/v2/tickets", params=params)
    async with adapter:
        try:
            async for page in iter_pages(adapter.http, first, LinkHeaderPaginator()):
                seen += len(page.items)
        except ValidationError as exc:  # the page-cap 400: a naive reader stops here
            if "page" not in exc.field_errors:
                raise
    return seen


def main() -> int:
    t0 = time.perf_counter()
    history = generate_history(HISTORY)
    clock = FakeClock(start=history.config.end + timedelta(hours=1))
    limit = ENDPOINT_LIMITS[PLAN]["tickets_list"]
    fake = FakeFreshdesk(clock=clock, history=history, endpoint_limits={"tickets_list": limit})
    held = len(fake.conversations)
    pages_min = math.ceil(held / PER_PAGE)
    t_seed = time.perf_counter() - t0

    t1 = time.perf_counter()
    ids, requests, simulated = asyncio.run(_read_all(fake, clock))
    t_read = time.perf_counter() - t1
    duplicates = len(ids) - len(set(ids))
    missing = held - len(set(ids) & set(fake.conversations))
    limited = fake.endpoint_limited.get("tickets_list", 0)
    capped = sum(1 for r in fake.requests if r.path == "/api/v2/tickets" and r.status == 400)
    floor = pages_min / limit * 60.0

    naive_clock = FakeClock(start=clock.now())
    fake.clock = naive_clock
    fake.endpoint_limits = {}
    naive_windowless = asyncio.run(_naive(fake, naive_clock, since=True))
    naive_default = asyncio.run(_naive(fake, naive_clock, since=False))

    print(f"history: {held} tickets over {HISTORY.months} months = {pages_min} pages of {PER_PAGE} "
          f"(page cap {fake.page_cap}); seeded in {t_seed:.1f}s")  # fmt: skip
    print(f"read: {len(ids)} tickets, {len(set(ids))} distinct, {duplicates} duplicates, {missing} missing")
    print(f"requests: {requests} ticket-list requests vs minimum {pages_min} = {requests / pages_min:.3f} "
          f"({capped} page-cap 400s opened {capped} new windows)")  # fmt: skip
    print(f"time: {simulated / 60:.1f} simulated min vs floor {floor / 60:.1f} min at {limit}/min "
          f"= {simulated / floor:.3f}; 429s met: {limited}; real time {t_read:.1f}s")  # fmt: skip
    print(f"contrast: one pass without windows reads {naive_windowless} of {held} "
          f"({naive_windowless / held:.1%}); without updated_since the list gives {naive_default} "
          f"(30-day default window)")  # fmt: skip

    failures = []
    if pages_min <= fake.page_cap:
        failures.append("history too small to pass the page cap")
    if duplicates or missing:
        failures.append("not every ticket exactly once")
    if limited:
        failures.append("the adapter met 429s on the ticket list")
    if requests / pages_min > MAX_REQUEST_RATIO:
        failures.append(f"requests/minimum above {MAX_REQUEST_RATIO}")
    if simulated / floor > MAX_TIME_RATIO:
        failures.append(f"time/floor above {MAX_TIME_RATIO}")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
