"""Benchmark: sync Intercom conversations with their parts from the fake, in process and over real HTTP.

A first history sync: every conversation (search pages of 150), then `GET /conversations/{id}` for the
parts of each, 8 at a time, through `IntercomAdapter`; nothing is kept but counts. Reported:

- requests used vs the minimum (one search page per 150 conversations + one read per conversation);
- the achieved request rate vs the fake's 10-second window limit, and 429s seen. Measured on ~5,000
  conversations in process (httpx.MockTransport) with the fake and the adapter sharing an injected
  FakeClock: waits for rate windows advance that clock, so minutes of rate-limited traffic take seconds;
- peak traced memory (tracemalloc) at ~500 and ~5,000 conversations, in process: it should stay flat,
  because pages are streamed and nothing is kept (the fake's request log is trimmed per page);
- the same sync over real HTTP against the fake served by uvicorn in a child process (real clock injected
  into the fake so its windows turn over): ~500 conversations by default; `--full` syncs ~5,000 over HTTP,
  which takes minutes on a busy 2-CPU machine, so it is not the default.

Run: `python bench/intercom_sync.py [--full]` (about 35 s of CPU; ~60 s wall on a 2-CPU machine shared with
other jobs). Exits 1 if a sync misses or duplicates a conversation, uses
more than 1% extra requests, runs below 90% of the window limit in process, or memory grows over x2.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

SMALL, LARGE = 44, 435  # customers: about 500 and 5,000 conversations with the default history shape
IN_PROCESS_RATE = 1_000  # per minute: 167 per 10-second window (Intercom's documented example)
HTTP_RATE = 60_000  # per minute, not binding: the HTTP run measures the wire, not the limiter
CONCURRENCY = 8


class RealClock:
    """What FakeHelpdesk needs of a clock, on real time, so rate windows roll over while we run."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def advance(self, seconds: float) -> None:
        """Latency injection is off in this benchmark."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _history(customers: int) -> Any:
    from humansupport.testing import HistoryConfig, generate_history

    return generate_history(HistoryConfig(customers=customers))


async def sync(adapter: Any, clock: Any, on_page: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """A first sync: every conversation, then its parts; nothing is kept but counts (and the ids, to check)."""
    from humansupport.errors import NotFoundError

    seen: set[str] = set()
    duplicates = messages = pages = requests = limited = 0
    original = adapter.http._http.send  # count what goes on the wire, retries included

    async def counting_send(request: Any, **kw: Any) -> Any:
        nonlocal requests, limited
        requests += 1
        response = await original(request, **kw)
        limited += response.status_code == 429
        return response

    adapter.http._http.send = counting_send

    async def parts(conversation_id: str) -> int:
        try:
            return len([m async for m in adapter.iter_messages(conversation_id)])
        except NotFoundError:
            return 0

    started = clock.monotonic()
    async with adapter:
        async for page in adapter.iter_conversation_pages():
            pages += 1
            for conv in page.conversations:
                duplicates += conv.id in seen
                seen.add(conv.id)
            messages += sum(await asyncio.gather(*(parts(c.id) for c in page.conversations)))
            on_page()
        elapsed = clock.monotonic() - started
        window_limit = adapter.http.limiter.per_minute / 6
    return {
        "conversations": len(seen),
        "duplicates": duplicates,
        "messages": messages,
        "pages": pages,
        "requests": requests,
        "limited": limited,
        "seconds": elapsed,
        "window_limit": window_limit,
        # the id set checks the run; it is not part of a sync, so it is left out of the memory figure
        "seen_bytes": sum(sys.getsizeof(s) for s in seen) + sys.getsizeof(seen),
    }


def in_process(customers: int, *, trace: bool) -> dict[str, Any]:
    """MockTransport, fake and adapter on one FakeClock: virtual time, real rate-limit behaviour."""
    from humansupport_intercom import FakeIntercom, IntercomAdapter

    from humansupport.testing import FakeClock

    clock = FakeClock()
    fake = FakeIntercom(clock=clock, history=_history(customers), rate_limit_per_minute=IN_PROCESS_RATE)
    adapter = IntercomAdapter(
        access_token=SecretStr(FakeIntercom.token), transport=fake.transport(), clock=clock, max_concurrency=CONCURRENCY
    )
    if trace:
        tracemalloc.start()
    result = asyncio.run(sync(adapter, clock, on_page=fake.requests.clear))
    if trace:
        result["peak_bytes"] = tracemalloc.get_traced_memory()[1] - result["seen_bytes"]
        tracemalloc.stop()
    result["expected"] = len(fake.conversations)
    result["served_429"] = fake.rate_limited
    return result


def serve(port: int, customers: int) -> None:
    """Child process: the fake on uvicorn with a real clock, answering until terminated."""
    import uvicorn
    from humansupport_intercom import FakeIntercom

    fake = FakeIntercom(clock=RealClock(), history=_history(customers), rate_limit_per_minute=HTTP_RATE)  # type: ignore[arg-type]
    print(json.dumps({"conversations": len(fake.conversations)}), flush=True)

    async def trimmed(scope: Any, receive: Any, send: Any) -> None:
        await app(scope, receive, send)
        fake.requests.clear()  # the request log is test tooling; a long run should not grow it

    app = fake.asgi_app()
    uvicorn.run(trimmed, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the fake server did not start")


def over_http(customers: int) -> dict[str, Any]:
    from humansupport_intercom import FakeIntercom, IntercomAdapter

    port = _free_port()
    child = subprocess.Popen(  # noqa: S603 - this very script, fixed arguments
        [sys.executable, __file__, "--serve", str(port), str(customers)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        expected = json.loads(child.stdout.readline())["conversations"]
        _wait_for(port, time.monotonic() + 30)
        adapter = IntercomAdapter(
            access_token=SecretStr(FakeIntercom.token), base_url=f"http://127.0.0.1:{port}", max_concurrency=CONCURRENCY
        )
        result = asyncio.run(sync(adapter, RealClock()))
        result["expected"] = expected
        return result
    finally:
        child.terminate()
        child.wait(timeout=10)


def _minimum(conversations: int) -> int:
    return -(-conversations // 150) + conversations


def main(full: bool) -> int:
    wall = time.perf_counter()
    small = in_process(SMALL, trace=True)
    large = rate = in_process(LARGE, trace=True)  # fake time: tracing slows the run, not the measured rate
    http = over_http(LARGE if full else SMALL)
    failures = []
    for name, res in (("in process small", small), ("in process large", large), ("http", http)):
        if res["conversations"] != res["expected"] or res["duplicates"]:
            failures.append(f"{name}: synced {res['conversations']} of {res['expected']}, {res['duplicates']} twice")
        if res["requests"] > _minimum(res["expected"]) * 1.01:
            failures.append(f"{name}: {res['requests']} requests, minimum {_minimum(res['expected'])}")
    achieved = rate["requests"] / rate["seconds"] * 10
    share = achieved / rate["window_limit"]
    ratio = large["peak_bytes"] / small["peak_bytes"]
    growth = large["conversations"] / small["conversations"]
    print(f"in process, {rate['conversations']} conversations ({rate['messages']} messages), injected clock:")
    print(f"  requests used vs minimum: {rate['requests']} / {_minimum(rate['expected'])}")
    print(
        f"  achieved rate: {achieved:.1f} requests per 10 s window vs limit {rate['window_limit']:.0f} "
        f"= {share:.3f} of the limit ({rate['seconds']:.0f} s of fake time)"
    )
    print(f"  429s: {rate['limited']} seen by the client, {rate['served_429']} served")
    print(
        f"  peak traced memory: {small['peak_bytes'] / 1e6:.2f} MB at {small['conversations']} conversations, "
        f"{large['peak_bytes'] / 1e6:.2f} MB at {large['conversations']} -> x{ratio:.2f} for x{growth:.1f}"
    )
    print(f"over HTTP (uvicorn on 127.0.0.1), {http['conversations']} conversations ({http['messages']} messages):")
    print(f"  requests used vs minimum: {http['requests']} / {_minimum(http['expected'])}, 429s: {http['limited']}")
    print(f"  {http['seconds']:.1f} s, {http['requests'] / http['seconds']:.0f} requests/s (limit not binding here)")
    print(f"benchmark wall time: {time.perf_counter() - wall:.1f} s")
    if share < 0.9:
        failures.append(f"ran at {share:.2f} of the window limit")
    if ratio > 2:
        failures.append(f"memory grew x{ratio:.2f} for x{growth:.1f} conversations")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        os.environ.setdefault("HUMANSUPPORT_PLUGINS", "")
        serve(int(sys.argv[2]), int(sys.argv[3]))
    else:
        raise SystemExit(main(full="--full" in sys.argv[1:]))
