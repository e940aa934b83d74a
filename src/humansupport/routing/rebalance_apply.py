"""Applying a rebalance plan safely from cron: journal, lock, optimistic concurrency, resume, time budget.

The journal (table `rebalance_journal`, one row per move) is written before the first assignment, and each
chunk's outcomes are written before the next chunk is sent, so a crash loses at most one chunk's
bookkeeping. `--resume` continues the last unfinished run: its moves still `planned` (or `failed`) are
sent again with the plan's guard (`expected_version`/`expected_updated_at`); a move whose write had landed
before the crash now conflicts, is read back, and counts as applied when the conversation is with its
target. A move is therefore written at most once and never over a human's change.

The lock (a file lock next to a SQLite store, `pg_try_advisory_lock` on PostgreSQL) makes a second run
refuse with `LockHeldError` (exit 7) instead of racing the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigError, HelpdeskError, LockHeldError, NotFoundError
from ..helpdesk import AsyncHelpdesk
from ..models import Agent, Assignment, AssignmentOutcome, AssignmentResult, Conversation
from ..store import Store
from .capacity import CapacityLedger
from .rebalance import RebalancePlan

__all__ = [
    "DEFAULT_JOURNAL_RETENTION",
    "JournalEntry",
    "JournalState",
    "RebalanceApplyReport",
    "apply_rebalance",
    "rebalance_lock",
    "unfinished_accounts",
]

DEFAULT_CHUNK: Final = 50


class JournalState(StrEnum):
    """Where a planned move stands; only `planned` and `failed` are sent again by `--resume`."""

    PLANNED = "planned"
    APPLIED = "applied"
    SKIPPED_STALE = "skipped_stale"  # changed (reassigned, closed, agent deactivated) since planning
    SKIPPED_GONE = "skipped_gone"  # deleted in the helpdesk since planning
    FAILED = "failed"  # an error after retries; retried if the run is resumed


_PENDING: Final = (JournalState.PLANNED.value, JournalState.FAILED.value)


@dataclass(frozen=True, kw_only=True)
class JournalEntry:
    """One journal row."""

    run_id: str
    seq: int
    conversation_id: str
    from_agent_id: str | None
    to_agent_id: str
    expected_updated_at: datetime | None
    expected_version: str | None
    state: JournalState
    message: str | None = None

    def assignment(self) -> Assignment:
        return Assignment(
            conversation_id=self.conversation_id,
            agent_id=self.to_agent_id,
            expected_updated_at=self.expected_updated_at,
            expected_version=self.expected_version,
            expected_assignee_id=self.from_agent_id,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "from_agent_id": self.from_agent_id,
            "to_agent_id": self.to_agent_id,
            "state": self.state.value,
            "message": self.message,
        }


# --- the lock -----------------------------------------------------------------------------------------


def _lock_key(account: str) -> int:
    digest = hashlib.blake2b(f"humansupport.rebalance:{account}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_path(store: Store, account: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", account)
    database = store.engine.url.database
    if not database or database == ":memory:":
        return Path(tempfile.gettempdir()) / f"humansupport-memory-{os.getpid()}-{id(store)}.rebalance-{safe}.lock"
    return Path(f"{database}.rebalance-{safe}.lock")


@contextlib.contextmanager
def rebalance_lock(store: Store, account: str) -> Iterator[None]:
    """Held for a whole apply; a second holder gets `LockHeldError` at once (no waiting: cron retries)."""
    if store.engine.dialect.name == "postgresql":
        with _pg_lock(store, account):
            yield
        return
    path = _lock_path(store, account)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise LockHeldError(
                f"another rebalance of {account!r} is running (lock {path} held by pid {holder}); "
                "nothing was changed, try again later"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _pg_lock(store: Store, account: str) -> Iterator[None]:
    key = _lock_key(account)
    with store.connect() as conn:
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        conn.commit()
        if not got:
            raise LockHeldError(
                f"another rebalance of {account!r} is running (PostgreSQL advisory lock {key} held); "
                "nothing was changed, try again later"
            )
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


# --- the journal ----------------------------------------------------------------------------------------


class _Journal:
    """The journal table through the store's engine (one transaction per write).

    A run is unfinished while it has `planned` moves; its `failed` moves are retried when it is resumed.
    A run left with only `failed` moves is finished (exit 1 told cron): the next plan, made from fresh
    data, covers those conversations again, so one move that keeps failing never blocks later nights.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.t = store.t["rebalance_journal"]

    def unfinished_run(self, account: str) -> str | None:
        t = self.t
        query = (
            sa.select(t.c.run_id, sa.func.min(t.c.created_at).label("started"))
            .where(t.c.account == account, t.c.state == JournalState.PLANNED.value)
            .group_by(t.c.run_id)
            .order_by(sa.desc("started"), sa.desc(t.c.run_id))
            .limit(1)
        )
        with self.store.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else str(row.run_id)

    def unfinished_accounts(self) -> list[str]:
        t = self.t
        query = sa.select(t.c.account).where(t.c.state == JournalState.PLANNED.value).distinct()
        with self.store.connect() as conn:
            return sorted(str(a) for a in conn.execute(query).scalars())

    def start(self, run_id: str, account: str, plan: RebalancePlan, *, now: datetime) -> None:
        rows = [
            {
                "run_id": run_id,
                "seq": i,
                "account": account,
                "conversation_id": m.conversation_id,
                "from_agent_id": m.from_agent_id,
                "to_agent_id": m.to_agent_id,
                "expected_updated_at": m.expected_updated_at,
                "expected_version": m.expected_version,
                "state": JournalState.PLANNED.value,
                "message": None,
                "created_at": now,
                "updated_at": now,
            }
            for i, m in enumerate(plan.moves)
        ]
        with self.store.begin() as conn:
            for start in range(0, len(rows), 1000):
                conn.execute(sa.insert(self.t), rows[start : start + 1000])

    def entries(self, run_id: str, *, pending_only: bool = False) -> list[JournalEntry]:
        t = self.t
        query = sa.select(t).where(t.c.run_id == run_id).order_by(t.c.seq)
        if pending_only:
            query = query.where(t.c.state.in_(_PENDING))
        with self.store.connect() as conn:
            return [
                JournalEntry(
                    run_id=r.run_id,
                    seq=r.seq,
                    conversation_id=r.conversation_id,
                    from_agent_id=r.from_agent_id,
                    to_agent_id=r.to_agent_id,
                    expected_updated_at=r.expected_updated_at,
                    expected_version=r.expected_version,
                    state=JournalState(r.state),
                    message=r.message,
                )
                for r in conn.execute(query)
            ]

    def prune(self, account: str, *, before: datetime) -> int:
        """Deletes finished runs (no `planned` move left) whose last write is older than `before`; returns runs."""
        t = self.t
        last = sa.func.max(t.c.updated_at)
        unfinished = sa.func.sum(sa.case((t.c.state == JournalState.PLANNED.value, 1), else_=0))
        old = (
            sa.select(t.c.run_id)
            .where(t.c.account == account)
            .group_by(t.c.run_id)
            .having(sa.and_(last < before, unfinished == 0))
        )
        with self.store.begin() as conn:
            runs = [r.run_id for r in conn.execute(old)]
            for start in range(0, len(runs), 500):
                conn.execute(sa.delete(t).where(t.c.run_id.in_(runs[start : start + 500])))
        return len(runs)

    def mark(self, run_id: str, updates: Sequence[tuple[int, JournalState, str]], *, now: datetime) -> None:
        if not updates:
            return
        t = self.t
        stmt = (
            sa.update(t)
            .where(t.c.run_id == run_id, t.c.seq == sa.bindparam("b_seq"))
            .values(state=sa.bindparam("b_state"), message=sa.bindparam("b_message"), updated_at=now)
        )
        with self.store.begin() as conn:
            conn.execute(stmt, [{"b_seq": s, "b_state": st.value, "b_message": msg} for s, st, msg in updates])


# --- the report -------------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class RebalanceApplyReport:
    """What an apply did; `summary()` is the cron-mail line, `exit_code` the documented mapping."""

    run_id: str | None
    resumed: bool = False
    entries: list[JournalEntry] = field(default_factory=list)
    stopped_early: bool = False
    requests_seconds: float = 0.0
    pruned_runs: int = 0

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(e.state.value for e in self.entries)
        return {s.value: counted.get(s.value, 0) for s in JournalState}

    @property
    def outcome(self) -> str:
        """`ok`, `partial` (skipped as stale/gone, or stopped by --max-runtime) or `error` (failed writes)."""
        c = self.counts
        if c[JournalState.FAILED]:
            return "error"
        if c[JournalState.PLANNED] or c[JournalState.SKIPPED_STALE] or c[JournalState.SKIPPED_GONE]:
            return "partial"
        return "ok"

    def summary(self) -> str:
        c = self.counts
        if self.run_id is None:
            return "rebalance apply: nothing to do (no moves, no unfinished run)"
        parts = [
            f"{c['applied']} applied",
            f"{c['skipped_stale']} skipped (changed since planning)",
            f"{c['skipped_gone']} skipped (deleted)",
            f"{c['failed']} failed",
        ]
        if c["planned"]:
            parts.append(f"{c['planned']} left (--resume to continue)")
        verb = "resumed run" if self.resumed else "run"
        stop = ", stopped at --max-runtime" if self.stopped_early else ""
        return f"rebalance apply ({verb} {self.run_id}{stop}): {', '.join(parts)} of {len(self.entries)} moves"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "resumed": self.resumed,
            "stopped_early": self.stopped_early,
            "pruned_runs": self.pruned_runs,
            "outcome": self.outcome,
            "counts": self.counts,
            "summary": self.summary(),
            "moves": [e.to_dict() for e in self.entries],
        }


# --- applying -------------------------------------------------------------------------------------------


def _chunks(items: Sequence[JournalEntry], size: int) -> Iterator[Sequence[JournalEntry]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _agents(adapter: AsyncHelpdesk) -> dict[str, Agent]:
    return {a.id: a async for a in adapter.iter_agents()}


#: how long finished runs stay in the journal (for "what did last week's rebalance move?")
DEFAULT_JOURNAL_RETENTION: Final = timedelta(days=90)


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def unfinished_accounts(store: Store) -> list[str]:
    """Accounts with a rebalance run that did not finish: what `rebalance apply --resume` without a plan continues."""
    return _Journal(store).unfinished_accounts()


async def apply_rebalance(
    adapter: AsyncHelpdesk,
    store: Store,
    plan: RebalancePlan | None,
    *,
    account: str,
    resume: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    max_runtime: float | None = None,
    agents_refresh_seconds: float = 300.0,
    journal_retention: timedelta | None = DEFAULT_JOURNAL_RETENTION,
    clock: Clock = SYSTEM_CLOCK,
    after_chunk: Callable[[int], None] | None = None,
    default_capacity: int | None = None,
) -> RebalanceApplyReport:
    """Applies `plan` (or, with `resume`, the last unfinished run) under the lock; the adapter must be open.

    Without `resume`, an unfinished earlier run is refused (ConfigError): it may hold writes that landed
    before a crash. With `resume` and no unfinished run, `plan` starts a new run (so cron can always pass
    `--resume`). `max_runtime` (seconds on `clock`) stops between chunks; the rest stays `planned`.
    The team is read once and again every `agents_refresh_seconds` between chunks (a move to an agent
    deactivated meanwhile is skipped); on vendors that list agents one request each, keep it long.
    `after_chunk` is called with the number of chunks done (tests kill the process there).
    Finished runs whose last write is older than `journal_retention` are deleted at the end (None keeps all).
    Each move first reserves a slot of its target in the store (`Agent.capacity`, else `default_capacity`), so
    webhook workers assigning meanwhile and this run never put an agent over capacity together.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    with rebalance_lock(store, account):
        journal = _Journal(store)
        started = clock.monotonic()
        unfinished = journal.unfinished_run(account)
        resumed = False
        if unfinished is not None:
            if not resume:
                left = len(journal.entries(unfinished, pending_only=True))
                raise ConfigError(
                    f"rebalance run {unfinished} of {account!r} did not finish ({left} moves not applied); "
                    "continue it with --resume before applying a new plan"
                )
            run_id, resumed = unfinished, True
        elif plan is None or not plan.moves:
            report = RebalanceApplyReport(run_id=None, resumed=resume)
            report.pruned_runs = _prune(journal, account, journal_retention, now=clock.now())
            return report
        else:
            run_id = new_run_id(clock.now())
            journal.start(run_id, account, plan, now=clock.now())
        pending = journal.entries(run_id, pending_only=True)
        ledger = CapacityLedger(store)
        agents = await _agents(adapter)
        refreshed = clock.monotonic()
        stopped = False
        for done, chunk in enumerate(_chunks(pending, chunk_size)):
            if max_runtime is not None and clock.monotonic() - started >= max_runtime:
                stopped = True
                break
            if clock.monotonic() - refreshed >= agents_refresh_seconds:
                agents, refreshed = await _agents(adapter), clock.monotonic()
            updates = await _apply_chunk(
                adapter,
                chunk,
                agents,
                resumed=resumed,
                ledger=ledger,
                account=account,
                default_capacity=default_capacity,
            )
            journal.mark(run_id, [(seq, state, msg) for seq, state, msg, _ in updates], now=clock.now())
            for _, state, _, conv in updates:
                if state is JournalState.APPLIED and conv is not None:
                    store.set_assignee(account, conv)
            # stored (the move now counts as a conversation) or not made; a failed one may have landed and keeps
            # its reservation until it expires
            by_seq = {e.seq: e.conversation_id for e in chunk}
            ledger.release(account, [by_seq[seq] for seq, state, _, _ in updates if state is not JournalState.FAILED])
            if after_chunk is not None:
                after_chunk(done + 1)
        report = RebalanceApplyReport(run_id=run_id, resumed=resumed, entries=journal.entries(run_id))
        report.stopped_early = stopped
        report.requests_seconds = clock.monotonic() - started
        report.pruned_runs = _prune(journal, account, journal_retention, now=clock.now())
        return report


def _prune(journal: _Journal, account: str, retention: timedelta | None, *, now: datetime) -> int:
    return 0 if retention is None else journal.prune(account, before=now - retention)


_Update = tuple[int, JournalState, str, Conversation | None]


async def _apply_chunk(
    adapter: AsyncHelpdesk,
    chunk: Sequence[JournalEntry],
    agents: dict[str, Agent],
    *,
    resumed: bool,
    ledger: CapacityLedger,
    account: str,
    default_capacity: int | None = None,
) -> list[_Update]:
    updates: list[_Update] = []
    todo: list[JournalEntry] = []
    for entry in chunk:
        agent = agents.get(entry.to_agent_id)
        if agent is None or not agent.active:
            why = "removed from" if agent is None else "deactivated in"
            updates.append((entry.seq, JournalState.SKIPPED_STALE, f"target agent {why} the helpdesk", None))
            continue
        # the target's load as the store counts it now (webhook workers assign meanwhile): no move past capacity
        reservation = await asyncio.to_thread(
            ledger.reserve,
            account,
            entry.conversation_id,
            agent.id,
            capacity=agent.capacity if agent.capacity is not None else default_capacity,
        )
        if not reservation.taken:
            why = f"target agent is full since planning: {reservation.describe()}"
            updates.append((entry.seq, JournalState.SKIPPED_STALE, why, None))
        else:
            todo.append(entry)
    if not todo:
        return updates
    results = await adapter.assign_many([e.assignment() for e in todo])
    pairs = zip(todo, results, strict=True)
    updates.extend(await asyncio.gather(*(_settle(adapter, e, r, resumed=resumed) for e, r in pairs)))
    return updates


async def _settle(adapter: AsyncHelpdesk, entry: JournalEntry, result: AssignmentResult, *, resumed: bool) -> _Update:
    """One result to a journal state, reading back where the answer alone cannot prove the outcome."""
    target = entry.to_agent_id
    if result.outcome in (AssignmentOutcome.APPLIED, AssignmentOutcome.UNCHANGED):
        conv = result.conversation
        if conv is None:
            try:
                conv = await adapter.get_conversation(entry.conversation_id)
            except HelpdeskError as exc:
                return (entry.seq, JournalState.FAILED, f"written, read-back failed: {exc}", None)
        if conv.assignee_id != target:
            why = f"read back assignee {conv.assignee_id!r}, expected {target!r}"
            return (entry.seq, JournalState.FAILED, why, None)
        return (entry.seq, JournalState.APPLIED, "assigned and read back", conv)
    if result.outcome is AssignmentOutcome.NOT_FOUND:
        return (entry.seq, JournalState.SKIPPED_GONE, "deleted in the helpdesk since planning", None)
    if result.outcome is AssignmentOutcome.CONFLICT:
        if resumed:  # our own write before a crash also looks like a change: read it back
            try:
                conv = await adapter.get_conversation(entry.conversation_id)
            except NotFoundError:
                return (entry.seq, JournalState.SKIPPED_GONE, "deleted in the helpdesk since planning", None)
            except HelpdeskError as exc:
                return (entry.seq, JournalState.FAILED, f"conflict, read-back failed: {exc}", None)
            if conv.assignee_id == target:
                return (entry.seq, JournalState.APPLIED, "already with the target (written before the crash)", conv)
        return (
            entry.seq,
            JournalState.SKIPPED_STALE,
            "changed in the helpdesk since planning (reassigned, closed or edited); left untouched",
            None,
        )
    return (entry.seq, JournalState.FAILED, result.message or "failed", None)
