"""Group commit for the receiver: requests wait for a durable insert, many requests share one transaction.

A SQLite commit costs about a millisecond of fsync-free WAL work, but run from the event loop it would block
every other request; one commit per request in a thread would queue behind each other. Here each request adds
its events to a pending list and awaits a future; one flusher task writes everything pending in a single
transaction in a thread, then answers all of them. Under load a batch grows by itself, so throughput rises
while each request still gets its answer only after its events are on disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from ..clock import Clock
from .queue import EnqueueResult, NewEvent, WebhookQueue

__all__ = ["Intake"]


class Intake:
    """`await intake.submit(events)` returns once the events are committed (or raises the store's error)."""

    def __init__(
        self,
        queue: WebhookQueue,
        *,
        clock: Clock,
        on_commit: Callable[[int], None] | None = None,
        max_batch: int = 1000,
    ) -> None:
        self.queue = queue
        self.clock = clock
        self.on_commit = on_commit
        self.max_batch = max_batch
        self._pending: list[tuple[Sequence[NewEvent], asyncio.Future[EnqueueResult]]] = []
        self._ready = asyncio.Event()
        self._stopping = False
        # its own thread: a commit never waits behind the worker's store calls in the shared pool
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-intake")
        self.commits = 0
        #: events inserted since start (the receiver's view of queue growth between worker stats)
        self.inserted = 0
        #: group commits that failed and were retried one request per transaction
        self.group_failures = 0

    async def submit(self, events: Sequence[NewEvent]) -> EnqueueResult:
        if self._stopping:
            raise RuntimeError("the webhook service is shutting down")
        future: asyncio.Future[EnqueueResult] = asyncio.get_running_loop().create_future()
        self._pending.append((events, future))
        self._ready.set()
        return await future

    async def run(self) -> None:
        """The flusher; ends after `stop()` once nothing is pending."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                loop = asyncio.get_running_loop()
                outcomes: list[EnqueueResult | BaseException]
                try:
                    outcomes = list(await loop.run_in_executor(self._thread, self._enqueue, [b for b, _ in batch]))
                except Exception as exc:
                    if len(batch) == 1:
                        outcomes = [exc]
                    else:
                        # one request's events may be what failed the group: each request on its own, so a valid
                        # delivery is never refused because another one in its transaction was not
                        self.group_failures += 1
                        outcomes = await loop.run_in_executor(self._thread, self._enqueue_each, [b for b, _ in batch])
                self.commits += 1
                added = 0
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):  # the store is down, or this request's events: a 503
                        future.set_exception(outcome)
                    else:
                        added += outcome.inserted
                        future.set_result(outcome)
                self.inserted += added
                if self.on_commit is not None and added:
                    self.on_commit(added)
            if self._stopping and not self._pending:
                self._thread.shutdown(wait=False)
                return

    def _enqueue(self, batches: list[Sequence[NewEvent]]) -> list[EnqueueResult]:
        return self.queue.enqueue(batches, now=self.clock.now())

    def _enqueue_each(self, batches: list[Sequence[NewEvent]]) -> list[EnqueueResult | BaseException]:
        out: list[EnqueueResult | BaseException] = []
        for events in batches:
            try:
                out.extend(self.queue.enqueue([events], now=self.clock.now()))
            except Exception as exc:
                out.append(exc)
        return out

    def stop(self) -> None:
        self._stopping = True
        self._ready.set()
