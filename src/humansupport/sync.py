"""Incremental sync from a helpdesk adapter into the `Store`.

Each stream (agents, groups, customers, conversations with their messages, ratings) is read page by page
and written in batches of idempotent upserts. A stream's cursor advances only once the stream finished,
so a crash or Ctrl-C re-reads from the last good cursor: nothing is missed, and nothing is stored twice.
A conversation whose messages were already fetched at its current `updated_at` is not fetched again,
so a resumed run picks up about where the interrupted one stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from .clock import SYSTEM_CLOCK, Clock
from .helpdesk import AsyncHelpdesk
from .models import Conversation, Customer, Message, SatisfactionRating
from .store import Store

__all__ = ["STREAMS", "SyncReport", "sync_helpdesk"]

STREAMS: Final = ("agents", "groups", "customers", "conversations", "ratings")
#: re-read this much before a saved cursor: vendors' updated_at and our clock are not perfectly in step
CURSOR_OVERLAP: Final = timedelta(minutes=1)

Progress = Callable[[str, int], None]


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
    report.items["agents"] = len(seen_agents)
    store.set_cursor(acct, "agents", None, items=len(seen_agents), at=clock.now())

    groups = [g async for g in adapter.iter_groups()]
    store.upsert_groups(acct, groups)
    report.items["groups"] = len(groups)
    tick("groups", len(groups))
    store.set_cursor(acct, "groups", None, items=len(groups), at=clock.now())

    report.items["customers"] = await _sync_customers(adapter, store, acct, since, batch_size, clock, tick)
    report.items["conversations"] = await _sync_conversations(
        adapter, store, acct, since, batch_size, message_concurrency, clock, tick, report
    )
    if adapter.capabilities.bulk_messages:
        report.items["messages"] = await _sync_bulk_messages(adapter, store, acct, since, batch_size, clock, tick)
        report.messages += report.items["messages"]
    report.items["ratings"] = await _sync_ratings(adapter, store, acct, since, batch_size, clock, tick)
    report.finished_at = clock.now()
    report.cursors = store.cursors(acct)
    return report


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


async def _sync_stream(
    items: AsyncIterator[T],
    *,
    stream: str,
    write: Callable[[list[T]], Awaitable[None]],
    stamp: Callable[[T], datetime | None],
    store: Store,
    account: str,
    start: datetime | None,
    batch_size: int,
    clock: Clock,
    tick: Progress,
) -> int:
    """One stream: batched writes, then the cursor saved only once the whole stream is in (no gaps on resume)."""
    newest: datetime | None = None
    count = 0
    batch: list[T] = []
    async for item in items:
        batch.append(item)
        count += 1
        when = stamp(item)
        if when is not None and (newest is None or when > newest):
            newest = when
        if len(batch) >= batch_size:
            await write(batch)
            batch = []
            tick(stream, count)
    if batch:
        await write(batch)
    tick(stream, count)
    store.set_cursor(account, stream, _next_cursor(start, newest), items=count, at=clock.now())
    return count


async def _sync_customers(
    adapter: AsyncHelpdesk,
    store: Store,
    account: str,
    since: datetime | None,
    batch_size: int,
    clock: Clock,
    tick: Progress,
) -> int:
    start = _start(store, account, "customers", since)

    async def write(batch: list[Customer]) -> None:
        store.upsert_customers(account, batch)

    return await _sync_stream(
        adapter.iter_customers(updated_since=start),
        stream="customers",
        write=write,
        stamp=lambda c: c.updated_at or c.created_at,
        store=store,
        account=account,
        start=start,
        batch_size=batch_size,
        clock=clock,
        tick=tick,
    )


async def _sync_conversations(
    adapter: AsyncHelpdesk,
    store: Store,
    account: str,
    since: datetime | None,
    batch_size: int,
    concurrency: int,
    clock: Clock,
    tick: Progress,
    report: SyncReport,
) -> int:
    start = _start(store, account, "conversations", since)
    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def messages_of(conv: Conversation) -> list[Message]:
        async with semaphore:
            return [m async for m in adapter.iter_messages(conv.id)]

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
        adapter.iter_conversations(updated_since=start),
        stream="conversations",
        write=flush,
        stamp=lambda c: c.updated_at or c.created_at,
        store=store,
        account=account,
        start=start,
        batch_size=batch_size,
        clock=clock,
        tick=tick,
    )


async def _sync_bulk_messages(
    adapter: AsyncHelpdesk,
    store: Store,
    account: str,
    since: datetime | None,
    batch_size: int,
    clock: Clock,
    tick: Progress,
) -> int:
    """Messages through the vendor's bulk export: about one request per page instead of one per conversation."""
    start = _start(store, account, "messages", since)

    async def write(batch: list[Message]) -> None:
        store.upsert_messages(account, batch)

    return await _sync_stream(
        adapter.iter_all_messages(updated_since=start),
        stream="messages",
        write=write,
        stamp=lambda m: m.created_at,
        store=store,
        account=account,
        start=start,
        batch_size=batch_size * 10,
        clock=clock,
        tick=tick,
    )


async def _sync_ratings(
    adapter: AsyncHelpdesk,
    store: Store,
    account: str,
    since: datetime | None,
    batch_size: int,
    clock: Clock,
    tick: Progress,
) -> int:
    start = _start(store, account, "ratings", since)

    async def write(batch: list[SatisfactionRating]) -> None:
        store.upsert_ratings(account, batch)

    return await _sync_stream(
        adapter.iter_ratings(updated_since=start),
        stream="ratings",
        write=write,
        stamp=lambda r: r.created_at,
        store=store,
        account=account,
        start=start,
        batch_size=batch_size,
        clock=clock,
        tick=tick,
    )
