"""Benchmark: read ~10,000 Zendesk tickets with their comments from the fake served over HTTP, ours vs zenpy.

Ours: the incremental cursor export (1,000 tickets a request) plus the ticket-events export with
`include=comment_events` (about 1,000 comments a request). zenpy, the established client, done the idiomatic
way: `tickets.incremental(...)` then `tickets.comments(ticket=id)` for every ticket.

The fake runs in a child process (uvicorn on 127.0.0.1) and our client in another, so the client's memory
is measured alone: its peak RSS growth while reading (ru_maxrss after minus before). Our adapter paces the
exports at 10 requests a minute on an injected fake clock: no real sleeping, and the time a real account
would spend pacing is reported separately. zenpy needs one request per ticket, so it is timed on the first
ZENPY_SAMPLE tickets and its full time is extrapolated linearly; its full request count is exact (from the
fake's comment counts, checked against the requests zenpy made on the sample).

Run: `python bench/zendesk_export.py` (part of `make bench`). Exits 1 if we need more than 1 request per
500 tickets-and-comments, or if our peak memory grows more than 3x when the ticket count grows 10x.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import resource
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

SMALL_CUSTOMERS = 90  # about 1,000 tickets
LARGE_CUSTOMERS = 900  # about 10,000 tickets
ZENPY_SAMPLE = 300
PLAN_LIMIT = 700  # requests a minute (Suite Enterprise)
EXPORT_LIMIT = 10  # incremental export requests a minute


def _serve(customers: int, port: int, ready: Any, counts: Any) -> None:
    """Child process: the Zendesk fake with a synthetic history, exports at their real 1,000 a page.

    Sends the comment count of every ticket to the parent first (zenpy's exact request count needs it).
    """
    import uvicorn
    from humansupport_zendesk import FakeZendesk

    from humansupport.testing import HistoryConfig, generate_history

    fake = FakeZendesk(history=generate_history(HistoryConfig(customers=customers, seed=11)))
    fake.page_size = 1000
    counts.send({tid: len(fake.messages.get(tid, [])) for tid in fake.conversations})
    fake._events()  # build the fake's own caches now: server-side setup is no client's cost
    fake._ticket_rows()
    counts.close()
    server = uvicorn.Server(uvicorn.Config(fake.asgi_app(), host="127.0.0.1", port=port, log_level="warning"))

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        ready.set()
        await task

    asyncio.run(run())


class _Server:
    def __init__(self, customers: int) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        ctx = multiprocessing.get_context("fork")
        ready = ctx.Event()
        receiver, sender = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_serve, args=(customers, self.port, ready, sender), daemon=True)
        self.process.start()
        self.comments_per_ticket: dict[str, int] = receiver.recv()
        if not ready.wait(60):
            self.process.kill()
            raise SystemExit("the fake did not start within 60 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)


class _Counting(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await super().handle_async_request(request)


@dataclass
class OurRun:
    tickets: int
    comments: int
    requests: int
    seconds: float
    paced_seconds: float
    peak_mib: float


async def _ours(base_url: str) -> tuple[int, int, int, float, float]:
    """Reads every ticket and comment once, keeping nothing: (tickets, comments, requests, seconds, paced)."""
    from humansupport_zendesk import FakeZendesk, ZendeskAdapter

    from humansupport.testing import FakeClock

    clock = FakeClock()
    transport = _Counting()
    adapter = ZendeskAdapter(
        subdomain="bench",
        email=FakeZendesk.email,
        api_token=FakeZendesk.token,
        base_url=base_url,
        transport=transport,
        clock=clock,
        export_rate_per_minute=EXPORT_LIMIT,
    )
    tickets = comments = 0
    started = time.perf_counter()
    async with adapter:
        async for page in adapter.iter_export_pages():
            tickets += len(page.conversations)
        async for _ in adapter.iter_all_messages():
            comments += 1
    return tickets, comments, transport.requests, time.perf_counter() - started, clock.slept


def _client(base_url: str, conn: Any) -> None:
    """Child process: our read, with peak RSS growth over the process's size before it (Linux: KiB)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tickets, comments, requests, seconds, paced = asyncio.run(_ours(base_url))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    conn.send(OurRun(tickets, comments, requests, seconds, paced, (after - before) / 1024))
    conn.close()


def _run_ours(base_url: str) -> OurRun:
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_client, args=(base_url, sender), daemon=True)
    process.start()
    run: OurRun = receiver.recv()
    process.join(30)
    return run


def _zenpy(base_url: str, sample: int) -> tuple[list[str], int, int, float]:
    """The idiomatic zenpy export on the first `sample` tickets: (ticket ids, comments, requests, seconds)."""
    from humansupport_zendesk import FakeZendesk
    from zenpy import Zenpy

    host, port = base_url.removeprefix("http://").split(":")
    head, last = host.rsplit(".", 1)
    # zenpy builds https://{subdomain}.{domain}; point it at the loopback fake over plain HTTP
    client = Zenpy(subdomain=head, domain=f"{last}:{port}", email=FakeZendesk.email, token=FakeZendesk.token)
    for api in vars(client).values():
        if hasattr(api, "protocol"):
            api.protocol = "http"
    requests = 0

    def count(response: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal requests
        requests += 1

    client.users.session.hooks["response"].append(count)
    ids: list[str] = []
    comments = 0
    started = time.perf_counter()
    for ticket in client.tickets.incremental(start_time=0, paginate_by_time=False):
        ids.append(str(ticket.id))
        for _ in client.tickets.comments(ticket=ticket.id):
            comments += 1
        if len(ids) >= sample:
            break
    return ids, comments, requests, time.perf_counter() - started


def _comment_requests(ticket_ids: list[str], per_ticket: dict[str, int]) -> int:
    """zenpy's comment requests: one page of up to 100 comments at a time, at least one per ticket."""
    return sum(max(1, math.ceil(per_ticket.get(t, 0) / 100)) for t in ticket_ids)


def main() -> int:
    started = time.perf_counter()
    runs: dict[int, OurRun] = {}
    for customers in (SMALL_CUSTOMERS, LARGE_CUSTOMERS):
        server = _Server(customers)
        try:
            runs[customers] = _run_ours(server.url)
            if customers == LARGE_CUSTOMERS:
                per_ticket = server.comments_per_ticket
                z_ids, z_comments, z_requests, z_seconds = _zenpy(server.url, ZENPY_SAMPLE)
        finally:
            server.stop()
    small, timed = runs[SMALL_CUSTOMERS], runs[LARGE_CUSTOMERS]
    large = timed
    z_predicted_sample = 1 + _comment_requests(z_ids, per_ticket)
    z_full_requests = math.ceil(len(per_ticket) / 1000) + _comment_requests(list(per_ticket), per_ticket)
    z_full_seconds = z_seconds / len(z_ids) * timed.tickets
    ours_min_at_limits = timed.requests / EXPORT_LIMIT  # all but two requests are export requests
    zenpy_min_at_limits = math.ceil(timed.tickets / 1000) / EXPORT_LIMIT + z_full_requests / PLAN_LIMIT
    per_request = (timed.tickets + timed.comments) / timed.requests
    growth = large.peak_mib / small.peak_mib

    print(f"data: {timed.tickets} tickets, {timed.comments} comments (small run: {small.tickets} / {small.comments})")
    print(f"ours:  {timed.requests} requests, {timed.seconds:.2f} s ({per_request:.0f} tickets+comments a request)")
    print(f"       export pacing on the injected clock: {timed.paced_seconds:.0f} s a real account would wait")
    print(f"zenpy: {z_requests} requests, {z_seconds:.2f} s for its first {len(z_ids)} tickets ({z_comments} comments)")
    print(
        f"       all {timed.tickets} tickets: {z_full_requests} requests (exact), "
        f"~{z_full_seconds:.1f} s (extrapolated)"
    )
    print(f"ratio our time / zenpy time:         {timed.seconds / z_full_seconds:.3f}")
    print(f"ratio our requests / zenpy requests: {timed.requests / z_full_requests:.4f}")
    print(
        f"at real limits ({PLAN_LIMIT}/min, exports {EXPORT_LIMIT}/min): ours ~{ours_min_at_limits:.1f} min, "
        f"zenpy ~{zenpy_min_at_limits:.1f} min"
    )
    print(
        f"our peak memory (max RSS growth while reading): {small.peak_mib:.1f} MiB at {small.tickets} tickets, "
        f"{large.peak_mib:.1f} MiB at "
        f"{large.tickets} tickets (x{growth:.2f} for x{large.tickets / small.tickets:.1f} tickets)"
    )
    print(f"bench took {time.perf_counter() - started:.1f} s")
    failed = []
    if z_requests != z_predicted_sample:
        failed.append(f"zenpy sample made {z_requests} requests, the model predicts {z_predicted_sample}")
    if per_request < 500:
        failed.append(f"only {per_request:.0f} tickets+comments a request (want >= 500)")
    if growth > 3:
        failed.append(f"peak memory grew x{growth:.2f} for 10x the tickets (want flat, <= x3)")
    for reason in failed:
        print(f"FAIL: {reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
