"""Incremental sync from a helpdesk adapter into the `Store`.

Each stream (agents, groups, customers, conversations with their messages, ratings) is read page by page
and written in batches of idempotent upserts. A stream's cursor advances only once the stream finished,
so a crash or Ctrl-C re-reads from the last good cursor: nothing is missed, and nothing is stored twice.
A conversation whose messages were already fetched at its current `updated_at` is not fetched again,
so a resumed run picks up about where the interrupted one stopped.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from .clock import SYSTEM_CLOCK, Clock
from .helpdesk import AsyncHelpdesk
from .http.stats import counting
from .models import Conversation, Message
from .store import Store

__all__ = ["STREAMS", "StreamReport", "SyncReport", "sync_helpdesk"]

STREAMS: Final = ("agents", "groups", "customers", "conversations", "ratings")
#: re-read this much before a saved cursor: vendors' updated_at and our clock are not perfectly in step
CURSOR_OVERLAP: Final = timedelta(minutes=1)

Progress = Callable[[str, int], None]


@dataclass(kw_only=True)
class StreamReport:
    """One stream of a sync: items written, requests made (retries included), 429s met, wall seconds."""

    items: int = 0
    requests: int = 0
    rate_limited: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "seconds": round(self.seconds, 3),
        }


@dataclass(kw_only=True)
class SyncReport:
    """What a sync did: items per stream, messages written, message fetches a resume could skip."""

    vendor: str
    account: str
    full: bool
    since: datetime | None
    started_at: datetime
    finished_at: datetime | None = None
    items: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    message_fetches_skipped: int = 0
    deleted_agents: list[str] = field(default_factory=list)
    cursors: dict[str, datetime | None] = field(default_factory=dict)
    streams: dict[str, StreamReport] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.streams.values())

    @property
    def rate_limited(self) -> int:
        return sum(s.rate_limited for s in self.streams.values())

    @property
    def seconds(self) -> float:
        if self.finished_at is None:
            return sum(s.seconds for s in self.streams.values())
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "account": self.account,
            "full": self.full,
            "since": self.since,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "items": dict(self.items),
            "messages": self.messages,
            "message_fetches_skipped": self.message_fetches_skipped,
            "deleted_agents": list(self.deleted_agents),
            "cursors": dict(self.cursors),
            "streams": {name: stream.to_dict() for name, stream in self.streams.items()},
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "seconds": round(self.seconds, 3),
        }


async def sync_helpdesk(
    adapter: AsyncHelpdesk,
    store: Store,
    *,
    account: str | None = None,
    since: datetime | None = None,
    full: bool = False,
    clock: Clock = SYSTEM_CLOCK,
    batch_size: int = 100,
    message_concurrency: int = 4,
    progress: Progress | None = None,
) -> SyncReport:
    """Pulls every stream through `adapter` into `store`; `full` ignores cursors, `since` overrides them."""
    acct = account or adapter.vendor
    if full:
        store.reset_cursors(acct)
    report = SyncReport(vendor=adapter.vendor, account=acct, full=full, since=since, started_at=clock.now())
    tick = progress or (lambda stream, n: None)

    async def agents() -> int:
        # agents and groups are small and have no updated_since: read all, every run
        seen_agents = []
        batch: list[Any] = []
        async for agent in adapter.iter_agents():
            batch.append(agent)
            seen_agents.append(agent.id)
            if len(batch) >= batch_size:
                store.upsert_agents(acct, batch, seen_at=clock.now())
                batch = []
            tick("agents", len(seen_agents))
        store.upsert_agents(acct, batch, seen_at=clock.now())
        report.deleted_agents = store.mark_missing_agents(acct, seen_agents, at=clock.now())
        store.set_cursor(acct, "agents", None, items=len(seen_agents), at=clock.now())
        return len(seen_agents)

    async def groups() -> int:
        found = [g async for g in adapter.iter_groups()]
        store.upsert_groups(acct, found)
        tick("groups", len(found))
        store.set_cursor(acct, "groups", None, items=len(found), at=clock.now())
        return len(found)

    run = _Run(store=store, account=acct, since=since, batch_size=batch_size, clock=clock, tick=tick)
    await _measured(report, clock, "agents", agents())
    await _measured(report, clock, "groups", groups())
    await _measured(
        report,
        clock,
        "customers",
        _sync_stream(
            run,
            "customers",
            lambda start: adapter.iter_customers(updated_since=start),
            lambda batch: store.upsert_customers(acct, batch),
            lambda c: c.updated_at or c.created_at,
        ),
    )
    await _measured(report, clock, "conversations", _sync_conversations(adapter, run, message_concurrency, report))
    if adapter.capabilities.bulk_messages:  # one request per page of messages, not one per conversation
        count = await _measured(
            report,
            clock,
            "messages",
            _sync_stream(
                run,
                "messages",
                lambda start: adapter.iter_all_messages(updated_since=start),
                lambda batch: store.upsert_messages(acct, batch),
                lambda m: m.created_at,
                batch_size=batch_size * 10,
            ),
        )
        report.messages += count
    await _measured(
        report,
        clock,
        "ratings",
        _sync_stream(
            run,
            "ratings",
            lambda start: adapter.iter_ratings(updated_since=start),
            lambda batch: store.upsert_ratings(acct, batch),
            lambda r: r.created_at,
        ),
    )
    report.finished_at = clock.now()
    report.cursors = store.cursors(acct)
    return report


async def _measured(report: SyncReport, clock: Clock, stream: str, work: Awaitable[int]) -> int:
    """Runs one stream, recording its items, requests, 429s and duration in the report."""
    started = clock.monotonic()
    with counting() as tally:
        count = await work
    report.items[stream] = count
    report.streams[stream] = StreamReport(
        items=count, requests=tally.requests, rate_limited=tally.rate_limited, seconds=clock.monotonic() - started
    )
    return count


def _start(store: Store, account: str, stream: str, since: datetime | None) -> datetime | None:
    if since is not None:
        return since
    return store.get_cursor(account, stream)


def _next_cursor(old: datetime | None, newest: datetime | None) -> datetime | None:
    if newest is None:
        return old
    candidate = newest - CURSOR_OVERLAP
    return candidate if old is None or candidate > old else old


T = TypeVar("T")


async def _maybe_await(value: Awaitable[object] | object) -> None:
    if inspect.isawaitable(value):
        await value


@dataclass(frozen=True)
class _Run:
    """What every stream of one sync run shares."""

    store: Store
    account: str
    since: datetime | None
    batch_size: int
    clock: Clock
    tick: Progress


async def _sync_stream(
    run: _Run,
    stream: str,
    items_since: Callable[[datetime | None], AsyncIterator[T]],
    write: Callable[[list[T]], Awaitable[object] | object],
    stamp: Callable[[T], datetime | None],
    *,
    batch_size: int | None = None,
) -> int:
    """One stream: batched writes, then the cursor saved only once the whole stream is in (no gaps on resume)."""
    store, account, clock, tick = run.store, run.account, run.clock, run.tick
    start = _start(store, account, stream, run.since)
    size = batch_size or run.batch_size
    items = items_since(start)
    newest: datetime | None = None
    count = 0
    batch: list[T] = []
    async for item in items:
        batch.append(item)
        count += 1
        when = stamp(item)
        if when is not None and (newest is None or when > newest):
            newest = when
        if len(batch) >= size:
            await _maybe_await(write(batch))
            batch = []
            tick(stream, count)
    if batch:
        await _maybe_await(write(batch))
    tick(stream, count)
    store.set_cursor(account, stream, _next_cursor(start, newest), items=count, at=clock.now())
    return count


async def _sync_conversations(adapter: AsyncHelpdesk, run: _Run, concurrency: int, report: SyncReport) -> int:
    store, account = run.store, run.account
    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def messages_of(conv: Conversation) -> list[Message]:
        async with semaphore:
            return [m async for m in adapter.iter_messages(conv.id)]

    if adapter.capabilities.embedded_messages and not adapter.capabilities.bulk_messages:
        return await _sync_with_embedded_messages(adapter, run, report)

    async def flush(batch: list[Conversation]) -> None:
        if not batch:
            return
        if adapter.capabilities.bulk_messages:  # messages come from their own bulk stream
            store.write_conversations(account, [(c, None) for c in batch])
            return
        synced = store.messages_synced_at(account, [c.id for c in batch])
        stale = [c for c in batch if synced.get(c.id) is None or synced[c.id] != (c.updated_at or c.created_at)]
        report.message_fetches_skipped += len(batch) - len(stale)
        fetched = dict(zip([c.id for c in stale], await asyncio.gather(*(messages_of(c) for c in stale)), strict=True))
        report.messages += sum(len(v) for v in fetched.values())
        store.write_conversations(account, [(c, fetched.get(c.id)) for c in batch])

    return await _sync_stream(
        run,
        "conversations",
        lambda start: adapter.iter_conversations(updated_since=start),
        flush,
        lambda c: c.updated_at or c.created_at,
    )


async def _sync_with_embedded_messages(adapter: AsyncHelpdesk, run: _Run, report: SyncReport) -> int:
    """Conversations and their messages from one listing (`capabilities.embedded_messages`): a request a page."""
    store, account = run.store, run.account

    def write(batch: list[tuple[Conversation, list[Message]]]) -> None:
        report.messages += sum(len(messages) for _, messages in batch)
        store.write_conversations(account, [(conv, messages) for conv, messages in batch])

    return await _sync_stream(
        run,
        "conversations",
        lambda start: adapter.iter_conversations_with_messages(updated_since=start),
        write,
        lambda pair: pair[0].updated_at or pair[0].created_at,
    )
