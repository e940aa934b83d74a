"""The webhook receiver as a plain ASGI app: verify, parse, queue durably, answer; the worker does the rest.

Routes: `POST /webhooks/{vendor}/{account}`, `GET /healthz`, `GET /metrics`. Plain ASGI rather than Starlette:
three fixed routes need no router, the hot path stays a few function calls, and there is no new dependency
(docs/architecture.md). Answers: 200 accepted (or duplicate), 400 malformed, 401 bad or missing signature
(logged with vendor, account, remote address and reason, never the body), 404 unknown vendor/account, 405 wrong
method, 413 body over the limit, 503 + Retry-After when the queue is over its maximum depth or the store fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ..clock import Clock
from ..store import Store
from .intake import Intake
from .metrics import CONTENT_TYPE, WebhookMetrics
from .queue import NewEvent, WebhookQueue
from .worker import AccountRuntime, Worker, WorkerConfig

__all__ = ["ReadySignal", "ServiceConfig", "WebhookApp", "WorkerMode", "WorkerTarget"]

log = logging.getLogger("humansupport.webhooks")

#: where the worker runs: a thread of this process, its own process (the CLI), or nowhere (tests drive it)
WorkerMode = Literal["thread", "process", "none"]
#: what a worker process runs: called with the receiver's pid and a `ReadySignal` to set once warmed up
WorkerTarget = Callable[[int, Any], None]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """Limits of the receiver (docs/webhooks.md)."""

    #: largest accepted request body in bytes (bigger: 413); vendors' deliveries are a few KB
    max_body: int = 1_000_000
    #: queued + processing events of one account past which its deliveries get 503 + Retry-After (vendor retries)
    max_queue_depth: int = 50_000
    #: seconds the 503 asks the vendor to wait
    retry_after: int = 30
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    #: `sys.setswitchinterval` for the service's process (None: leave Python's 5 ms); not under tests
    switch_interval: float | None = None
    #: seconds between re-reads of the queue's depth per account for back-pressure and `/metrics`
    stats_every: float = 1.0
    #: seconds between re-counts of the outcome counters (a scan of every row the retention keeps)
    counters_every: float = 15.0


class ReadySignal:
    """Given to a worker process: `set()` tells the receiver the worker has warmed up (picklable)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def set(self) -> None:
        with contextlib.suppress(OSError):
            self._connection.send(True)


class _Reject(Exception):
    def __init__(self, status: int, reason: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


class WebhookApp:
    """The ASGI callable; starts the queue writer and the worker in its lifespan."""

    def __init__(
        self,
        *,
        store: Store,
        accounts: Sequence[AccountRuntime],
        clock: Clock,
        config: ServiceConfig | None = None,
        worker: WorkerMode = "thread",
        worker_process: WorkerTarget | None = None,
    ) -> None:
        if worker == "process" and worker_process is None:
            raise ValueError("worker='process' needs worker_process (a picklable callable)")
        self.store = store
        self.clock = clock
        self.config = config or ServiceConfig()
        self.endpoints = {(rt.vendor, rt.account): rt for rt in accounts}
        self.queue = WebhookQueue(store)
        self.metrics = WebhookMetrics(now=clock.now)
        self.metrics.served = tuple(rt.account for rt in accounts)
        self.worker = Worker(
            queue=self.queue, accounts={rt.account: rt for rt in accounts}, clock=clock, config=self.config.worker
        )
        self.worker_mode: WorkerMode = worker
        self.worker_process = worker_process
        self.intake: Intake | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._worker_thread: threading.Thread | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._process_ready: Any = None
        self._ready_seen = False
        self._stopping = False
        self.worker_restarts = 0

    # -- lifespan ------------------------------------------------------------------------------------

    async def startup(self) -> None:
        self.intake = Intake(self.queue, clock=self.clock, on_commit=self._committed)
        self._tasks = [
            asyncio.create_task(self.intake.run(), name="webhook-intake"),
            asyncio.create_task(self._refresh_loop(), name="webhook-stats"),
        ]
        await self.refresh_stats()
        if self.config.switch_interval is not None:
            sys.setswitchinterval(self.config.switch_interval)
        if self.worker_mode == "thread":
            # its own thread and event loop: routing never queues the accept path's callbacks behind its own
            self._worker_thread = threading.Thread(target=self._run_worker, name="webhook-worker", daemon=True)
            self._worker_thread.start()
        elif self.worker_mode == "process":
            # its own process: no shared GIL either (bench/webhooks.py: p99 accept 53 ms with a thread, see
            # docs/architecture.md); the queue table is the only thing the two share
            self._start_process()
            self._tasks.append(asyncio.create_task(self._supervise(), name="webhook-supervisor"))

    def _start_process(self) -> None:
        assert self.worker_process is not None
        context = multiprocessing.get_context("spawn")
        # a pipe rather than an Event: no named semaphores left behind when the receiver is killed
        receiver, sender = context.Pipe(duplex=False)
        self._process_ready = receiver
        self._ready_seen = False
        self._process = context.Process(
            target=self.worker_process, args=(os.getpid(), ReadySignal(sender)), name="webhook-worker", daemon=True
        )
        self._process.start()
        sender.close()

    async def _supervise(self) -> None:
        """Restarts a worker process that died (its leased events are taken again when the lease ends)."""
        while not self._stopping:
            await asyncio.sleep(1.0)
            if self._process is not None and not self._process.is_alive() and not self._stopping:
                log.error("webhook worker process exited with %s; starting another", self._process.exitcode)
                self.worker_restarts += 1
                self._start_process()

    def _run_worker(self) -> None:
        async def run() -> None:
            try:
                await self.worker.run()
            finally:
                for rt in self.endpoints.values():  # their HTTP clients live on this loop
                    with contextlib.suppress(Exception):
                        await rt.adapter.aclose()

        asyncio.run(run())

    async def refresh_stats(self, *, outcomes: bool = True) -> None:
        """Re-reads depth, lag and (unless `outcomes` is False) outcome counts from the queue table (what
        `/metrics` shows and back-pressure uses)."""
        fresh = await asyncio.to_thread(self.queue.stats, now=self.clock.now(), outcomes=outcomes)
        if not outcomes:  # depth and lag only: the counters stay as last counted (they lag, never go back)
            old = self.metrics.stats
            fresh = replace(fresh, outcomes=old.outcomes, by_state=old.by_state)
        self.metrics.stats = fresh

    async def _refresh_loop(self) -> None:
        next_counts = self.clock.monotonic() + self.config.counters_every
        while not self._stopping:
            await asyncio.sleep(self.config.stats_every)
            counts = self.clock.monotonic() >= next_counts
            try:
                await self.refresh_stats(outcomes=counts)
            except Exception as exc:  # the store is away for a moment: keep the last figures
                log.warning("webhook stats: %s", exc)
            if counts:
                next_counts = self.clock.monotonic() + self.config.counters_every

    async def shutdown(self) -> None:
        self._stopping = True
        self.worker.stop()
        if self.intake is not None:
            self.intake.stop()
        if self._process is not None and self._process.is_alive():
            self._process.terminate()  # SIGTERM: the worker finishes its batch and stops
        for task in self._tasks:
            if task.get_name() in ("webhook-stats", "webhook-supervisor"):
                task.cancel()
        _, pending = await asyncio.wait(self._tasks, timeout=10) if self._tasks else (set(), set())
        for task in pending:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._worker_thread is not None:
            # a batch in flight finishes (or its lease runs out and it is taken again after the restart)
            await asyncio.to_thread(self._worker_thread.join, 15)
        elif self._process is not None:
            await asyncio.to_thread(self._process.join, 15)
            if self._process.is_alive():
                self._process.kill()
        if self.worker_mode != "thread":
            for rt in self.endpoints.values():
                await rt.adapter.aclose()

    def _committed(self, added: int) -> None:
        stats = self.metrics.stats
        self.metrics.stats = replace(stats, depth=stats.depth + added)
        self.worker.wake()

    def worker_ready(self) -> bool:
        if self.worker_mode == "process":
            if not self._ready_seen and self._process_ready is not None:
                with contextlib.suppress(EOFError, OSError):
                    self._ready_seen = bool(self._process_ready.poll() and self._process_ready.recv())
            return self._ready_seen
        return self.worker.ready

    def healthy(self) -> bool:
        if self.worker_mode == "thread":
            worker_ok = self._worker_thread is not None and self._worker_thread.is_alive()
        elif self.worker_mode == "process":
            worker_ok = self._process is not None and self._process.is_alive()
        else:
            worker_ok = True
        return bool(self._tasks) and all(not t.done() for t in self._tasks) and worker_ok

    # -- ASGI ----------------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/webhooks/"):
            await self._webhook(scope, receive, send)
        elif path == "/healthz":
            ok = self.healthy()
            body = {
                "status": "ok" if ok else "down",
                "worker_ready": self.worker_ready(),
                "queue_depth": self.metrics.stats.depth,
            }
            await _json(send, 200 if ok else 503, body)
        elif path == "/metrics" and method == "GET":
            await _send(send, 200, self.metrics.render(), CONTENT_TYPE)
        else:
            await _json(send, 404, {"error": "not found"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("webhook service failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _webhook(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        started = self.clock.monotonic()
        parts = scope["path"].split("/")
        vendor, account = (parts[2], parts[3]) if len(parts) == 4 else ("", "")
        remote = (scope.get("client") or ("?", 0))[0]
        try:
            rt = self.endpoints.get((vendor, account))
            if rt is None:
                raise _Reject(404, "unknown_account", f"no webhook endpoint for {vendor}/{account}")
            if scope["method"] != "POST":
                raise _Reject(405, "method", "POST only", {"Allow": "POST"})
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            body = await self._read_body(headers, receive)
            if not rt.adapter.verify_webhook(headers, body, rt.secret):
                raise _Reject(401, "unsigned", "signature missing, wrong, or timestamp outside the tolerance")
            try:
                json.loads(body)
                events = rt.adapter.parse_webhook(headers, body)
            except Exception:  # whatever the parser trips on, the sender gets a 400
                raise _Reject(400, "malformed", "body is not a valid webhook payload") from None
            if not events:
                raise _Reject(400, "malformed", "no events in the payload")
            wanted = [e for e in events if str(e.type) != "other"]
            ignored = len(events) - len(wanted)
            if self.metrics.stats.depth_of(rt.account) >= self.config.max_queue_depth:  # this account's backlog
                raise _Reject(
                    503,
                    "overloaded",
                    "queue full; retry later",
                    {"Retry-After": str(self.config.retry_after)},
                )
            assert self.intake is not None
            try:
                result = await self.intake.submit([NewEvent(account=rt.account, event=e) for e in wanted])
            except Exception:
                log.exception("webhook %s/%s: queueing failed", vendor, account)
                raise _Reject(503, "store", "could not queue the event; retry later", {"Retry-After": "5"}) from None
        except _Reject as rej:
            self.metrics.rejected.labels(reason=rej.reason).inc()
            if rej.status in (401, 413):
                log.warning(
                    "webhook rejected: vendor=%s account=%s remote=%s status=%d reason=%s",
                    vendor,
                    account,
                    remote,
                    rej.status,
                    rej,
                )
            await _json(send, rej.status, {"error": str(rej)}, rej.headers)
            return
        labels = {"vendor": rt.vendor, "account": rt.account}
        self.metrics.queued(rt.account, result.inserted)
        if result.inserted:
            self.metrics.received.labels(**labels).inc(result.inserted)
        if result.duplicates:
            self.metrics.duplicates.labels(**labels).inc(result.duplicates)
        await _json(send, 200, {"accepted": result.inserted, "duplicates": result.duplicates, "ignored": ignored})
        self.metrics.accept_seconds.observe(self.clock.monotonic() - started)

    async def _read_body(self, headers: Mapping[str, str], receive: Receive) -> bytes:
        limit = self.config.max_body
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _Reject(413, "too_large", f"body over {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Reject(400, "malformed", "client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Reject(413, "too_large", f"body over {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


async def _json(send: Send, status: int, data: Any, headers: Mapping[str, str] | None = None) -> None:
    await _send(send, status, json.dumps(data).encode(), "application/json", headers)


async def _send(
    send: Send, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
) -> None:
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
