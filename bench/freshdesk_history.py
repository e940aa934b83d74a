"""Benchmark: read a two-year Freshdesk history larger than the ticket list's 300-page cap.

The fake Freshdesk holds a synthetic history of more than 30,000 tickets (over 300 pages of 100) and
enforces the Growth plan's ticket-list limit of 20 requests a minute with 429 + Retry-After. The adapter,
on the Growth plan, reads everything with `iter_conversations()`, once per paging strategy (`keyset`, the
default, and `windows`). Time is a FakeClock shared by the fake and the adapter (its sleeps advance it), so
twenty minutes of vendor time take seconds.

Printed, all measured in this run, per strategy:
- tickets read vs tickets held, and duplicates (must be exactly once each);
- ticket-list requests used vs the minimum (one per page of 100, as if there were no cap);
- simulated time vs the floor the endpoint limit sets (minimum requests / 20 per minute), and 429s met;
- tickets missed when a person edits one already-read ticket after every page (the page-shift hazard).
For contrast: what one pass without windows reads (it stops at the cap), and what the list gives without
`updated_since` (the 30-day default window).

Run: `python bench/freshdesk_history.py`. Exits 1 if a ticket is missing or repeated, if a 429 was met, if
requests/minimum > 1.05 or time/floor > 1.2, or if the default strategy misses an edited-around ticket.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
from humansupport_freshdesk import FakeFreshdesk, FreshdeskAdapter
from humansupport_freshdesk.adapter import ENDPOINT_LIMITS, TicketPaging
from pydantic import SecretStr

from humansupport.errors import ValidationError
from humansupport.http import LinkHeaderPaginator, PageRequest, iter_pages, reset_limiters
from humansupport.testing import FakeClock, HistoryConfig, generate_history

PLAN = "growth"
PER_PAGE = 100
HISTORY = HistoryConfig(customers=1450, agents=40, groups=6, months=24, seed=11)
EDITS_HISTORY = HistoryConfig(customers=150, agents=10, groups=3, months=24, seed=11)
MAX_REQUEST_RATIO = 1.05
MAX_TIME_RATIO = 1.2


@dataclass
class Run:
    ids: list[str]
    requests: int
    capped: int
    limited: int
    simulated: float
    real: float


def _adapter(
    fake: FakeFreshdesk, clock: FakeClock, paging: TicketPaging, transport: httpx.AsyncBaseTransport
) -> FreshdeskAdapter:
    return FreshdeskAdapter(
        domain=fake.domain, api_key=SecretStr(fake.api_key), plan=PLAN, ticket_paging=paging, transport=transport,
        clock=clock,
    )  # fmt: skip


async def _read_all(fake: FakeFreshdesk, clock: FakeClock, paging: TicketPaging) -> Run:
    reset_limiters()
    started, real = clock.monotonic(), time.perf_counter()
    before, limited = len(fake.requests), fake.endpoint_limited.get("tickets_list", 0)
    async with _adapter(fake, clock, paging, fake.transport()) as adapter:
        ids = [c.id async for c in adapter.iter_conversations()]
    mine = [r for r in fake.requests[before:] if r.path == "/api/v2/tickets"]
    return Run(
        ids=ids,
        requests=len(mine),
        capped=sum(1 for r in mine if r.status == 400),
        limited=fake.endpoint_limited.get("tickets_list", 0) - limited,
        simulated=clock.monotonic() - started,
        real=time.perf_counter() - real,
    )


async def _missed_under_edits(paging: TicketPaging) -> tuple[int, int]:
    """A person edits one already-read ticket after every list page; returns (missed, held)."""
    history = generate_history(EDITS_HISTORY)
    clock = FakeClock(start=history.config.end + timedelta(hours=1))
    fake = FakeFreshdesk(clock=clock, history=history)
    oldest_first = [c.id for c in sorted(fake.conversations.values(), key=lambda c: (c.updated_at, int(c.id)))]
    edits = iter(oldest_first)

    def handler(request: httpx.Request) -> httpx.Response:
        response = fake(request)
        if request.url.path == "/api/v2/tickets" and response.status_code == 200:
            clock.advance(1)
            fake.touch_conversation(next(edits))
        return response

    reset_limiters()
    async with _adapter(fake, clock, paging, httpx.MockTransport(handler)) as adapter:
        got = {c.id async for c in adapter.iter_conversations()}
    return len(set(fake.conversations) - got), len(fake.conversations)


async def _naive(fake: FakeFreshdesk, clock: FakeClock, *, since: bool) -> int:
    """What a reader gets with one pass over pages (no windows), with or without `updated_since`."""
    params: dict[str, object] = {"per_page": PER_PAGE}
    if since:
        params.update(updated_since="2000-01-01T00:00:00Z", order_by="updated_at", order_type="asc")
    seen = 0
    first = PageRequest(url="/api/v2/tickets", params=params)
    async with _adapter(fake, clock, "windows", fake.transport()) as adapter:
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
    floor = pages_min / limit * 60.0
    print(f"history: {held} tickets over {HISTORY.months} months = {pages_min} pages of {PER_PAGE} "
          f"(page cap {fake.page_cap}); seeded in {time.perf_counter() - t0:.1f}s")  # fmt: skip

    failures = []
    if pages_min <= fake.page_cap:
        failures.append("history too small to pass the page cap")
    for paging in ("keyset", "windows"):
        run = asyncio.run(_read_all(fake, clock, paging))
        duplicates = len(run.ids) - len(set(run.ids))
        missing = held - len(set(run.ids) & set(fake.conversations))
        missed, edited_held = asyncio.run(_missed_under_edits(paging))
        print(f"[{paging}] read {len(run.ids)} tickets: {len(set(run.ids))} distinct, {duplicates} duplicates, "
              f"{missing} missing")  # fmt: skip
        print(f"[{paging}] requests: {run.requests} vs minimum {pages_min} = {run.requests / pages_min:.3f} "
              f"({run.capped} page-cap 400s)")  # fmt: skip
        print(f"[{paging}] time: {run.simulated / 60:.1f} simulated min vs floor {floor / 60:.1f} min at {limit}/min "
              f"= {run.simulated / floor:.3f}; 429s met: {run.limited}; real {run.real:.1f}s")  # fmt: skip
        print(f"[{paging}] with one edit per page: missed {missed} of {edited_held} tickets")
        if duplicates or missing:
            failures.append(f"{paging}: not every ticket exactly once")
        if run.limited:
            failures.append(f"{paging}: met 429s on the ticket list")
        if run.requests / pages_min > MAX_REQUEST_RATIO:
            failures.append(f"{paging}: requests/minimum above {MAX_REQUEST_RATIO}")
        if run.simulated / floor > MAX_TIME_RATIO:
            failures.append(f"{paging}: time/floor above {MAX_TIME_RATIO}")
        if paging == "keyset" and missed:
            failures.append("keyset: missed tickets while people edited")

    naive_clock = FakeClock(start=clock.now())
    fake.clock = naive_clock
    fake.endpoint_limits = {}
    reset_limiters()
    windowless = asyncio.run(_naive(fake, naive_clock, since=True))
    default = asyncio.run(_naive(fake, naive_clock, since=False))
    print(f"contrast: one pass without windows reads {windowless} of {held} ({windowless / held:.1%}); "
          f"without updated_since the list gives {default} (30-day default window)")  # fmt: skip
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
