"""The durable webhook queue: one store row per accepted event, so the work survives a crash or a restart.

The receiver only inserts (deduplicated by a unique key per account) and answers; the worker claims rows with a
lease, processes them and records the outcome. A row whose lease ran out while `processing` (the process died)
is claimed again. Every method is synchronous (SQLAlchemy Core); the async callers run them in a thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from ..models import WebhookEvent
from ..store import Store

__all__ = [
    "ACTIVE_STATES",
    "FINISHED_STATES",
    "MIN_RETAIN_DAYS",
    "AccountDepth",
    "EnqueueResult",
    "Finish",
    "NewEvent",
    "OutcomeCount",
    "QueueStats",
    "QueuedEvent",
    "WebhookQueue",
    "dedupe_key",
]

T = TypeVar("T")
log = logging.getLogger("humansupport.webhooks")

QUEUED: Final = "queued"
PROCESSING: Final = "processing"
DONE: Final = "done"
SKIPPED: Final = "skipped"
FAILED: Final = "failed"
#: rows still to be (or being) processed: what queue depth counts
ACTIVE_STATES: Final = (QUEUED, PROCESSING)
FINISHED_STATES: Final = (DONE, SKIPPED, FAILED)
#: the dedupe horizon: finished rows are the memory that turns a vendor's redelivery into a no-op, and vendors
#: redeliver for up to a few days, so retention never prunes rows younger than this
MIN_RETAIN_DAYS: Final = 7


def dedupe_key(event: WebhookEvent) -> str:
    """The vendor's delivery id (scoped by kind and conversation) when it sends one, else a hash of the content.

    A redelivery carries the same id or the same bytes, so it maps to the same key and inserts nothing.
    """
    if event.id:
        basis = json.dumps(["id", event.id, str(event.type), event.conversation_id], sort_keys=True)
        return "id:" + hashlib.sha256(basis.encode()).hexdigest()[:40]
    canonical = json.dumps(event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class NewEvent:
    """An event the receiver accepted, ready to insert."""

    account: str
    event: WebhookEvent

    @property
    def key(self) -> str:
        return dedupe_key(self.event)

    def row(self, *, now: Any) -> dict[str, Any]:
        event = self.event
        return {
            "account": self.account,
            "vendor": event.vendor,
            "dedupe_key": self.key,
            "event_type": str(event.type),
            "conversation_id": event.conversation_id,
            # the vendor's raw payload is not kept: the parsed event is all the worker needs
            "event": event.model_dump(mode="json", exclude={"raw"}),
            "state": QUEUED,
            "attempts": 0,
            "received_at": now,
            "next_attempt_at": now,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class EnqueueResult:
    inserted: int
    duplicates: int


@dataclass(frozen=True, kw_only=True, slots=True)
class QueuedEvent:
    """A claimed row: the event, and how many times it has been taken (this one included)."""

    id: int
    account: str
    event: WebhookEvent
    attempts: int
    received_at: datetime
    assigned_agent_id: str | None
    #: this claim's token: outcomes are recorded only while the row is still ours (`apply`, `finish`)
    claim_token: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Finish:
    """The outcome of a claimed row: finished (done/skipped/failed), or `retry_at` for another attempt.

    `claim_token` (the claim's) makes it conditional: when the lease ran out and another worker took the row, the
    outcome is dropped (and logged) rather than overwriting the new owner's."""

    row_id: int
    state: str
    outcome: str | None
    message: str
    assigned_agent_id: str | None = None
    held_for: str | None = None
    retry_at: datetime | None = None
    claim_token: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class OutcomeCount:
    """Rows of one account in one state and outcome, and the retries they took."""

    vendor: str
    account: str
    state: str
    outcome: str | None
    rows: int
    retries: int


@dataclass(frozen=True, kw_only=True, slots=True)
class AccountDepth:
    """One account's share of the queue: what `--max-queue` and the lag gauge look at."""

    depth: int
    oldest_received_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueStats:
    depth: int
    oldest_received_at: datetime | None
    by_state: dict[str, int]
    outcomes: tuple[OutcomeCount, ...] = ()
    accounts: dict[str, AccountDepth] = field(default_factory=dict)
    #: the store's clock when these were read (lag is measured on it, like the receive times)
    as_of: datetime | None = None

    def depth_of(self, account: str) -> int:
        item = self.accounts.get(account)
        return 0 if item is None else item.depth

    def lag_of(self, account: str, now: datetime) -> float:
        item = self.accounts.get(account)
        if item is None or item.oldest_received_at is None:
            return 0.0
        return max(0.0, ((self.as_of or now) - item.oldest_received_at).total_seconds())


class WebhookQueue:
    """The `webhook_queue` table of a store (schema version `WEBHOOK_QUEUE_VERSION`).

    Times that decide who may work on a row (receive time, next attempt, lease, finish) come from the database's
    clock on PostgreSQL (`SELECT now()` in the same transaction), so workers on machines whose clocks disagree
    never take each other's rows; a SQLite store lives on one host, whose clock every process shares, and uses
    the caller's `now` (the injected clock). `database_clock` overrides the choice (tests of lease timing).
    """

    def __init__(self, store: Store, *, database_clock: bool | None = None) -> None:
        self.store = store
        self.table = store.t["webhook_queue"]
        self.database_clock = store.is_postgresql if database_clock is None else database_clock
        #: one writer at a time in this process: SQLite's busy handler backs off in sleeps of up to 100 ms,
        #: which is what the accept path's latency would pay; a lock hands over in microseconds
        self.write_lock = threading.Lock()

    def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs a store write (the worker's upserts too) under the process's write lock."""
        with self.write_lock:
            return fn(*args, **kwargs)

    def _now(self, conn: sa.engine.Connection, now: datetime | None) -> datetime:
        """The time this transaction decides with: the database's (PostgreSQL), else the caller's."""
        if not self.database_clock:
            return now if now is not None else datetime.now(UTC)
        value = conn.execute(sa.select(sa.func.now())).scalar_one()
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    def enqueue(self, batches: Sequence[Sequence[NewEvent]], *, now: datetime) -> list[EnqueueResult]:
        """Inserts several requests' events in one transaction (group commit); duplicates insert nothing.

        Rows go in one total order every receiver agrees on - account, conversation, the vendor's event time, dedupe
        key - so two receivers inserting overlapping deliveries take the unique index's locks in the same order and
        never deadlock, and one conversation's events get ids (the worker's order) in the order they happened. A
        transaction the database rolls back anyway (a serialization failure) runs again.
        """
        t = self.table
        ordered = sorted(
            ((_insert_order(item), index, item) for index, events in enumerate(batches) for item in events),
            key=lambda entry: entry[0],
        )

        def insert_all(conn: sa.engine.Connection) -> list[int]:
            at = self._now(conn, now)
            insert = _insert_ignoring_duplicates(conn, t)
            inserted = [0] * len(batches)
            for _order, index, item in ordered:
                # RETURNING rather than rowcount: psycopg reports -1 for an INSERT with implicit RETURNING
                inserted[index] += len(conn.execute(insert, item.row(now=at)).all())
            return inserted

        with self.write_lock:
            counts = self.store.transaction(insert_all)
        return [
            EnqueueResult(inserted=added, duplicates=len(events) - added)
            for added, events in zip(counts, batches, strict=True)
        ]

    def claim(self, *, accounts: Sequence[str], now: datetime, limit: int, lease: float) -> list[QueuedEvent]:
        """Takes up to `limit` due rows (oldest first) of these accounts, with a lease of `lease` seconds.

        On PostgreSQL the subquery skips rows another worker holds, and "due" and the lease are on the database's
        clock.
        """
        if not accounts or limit <= 0:
            return []
        t = self.table
        token = uuid.uuid4().hex

        def take(conn: sa.engine.Connection) -> list[Any]:
            at = self._now(conn, now)
            due = sa.or_(
                sa.and_(t.c.state == QUEUED, t.c.next_attempt_at <= at),
                sa.and_(t.c.state == PROCESSING, t.c.lease_until < at),
            )
            pick = (
                sa.select(t.c.id)
                .where(t.c.account.in_(list(accounts)), due)
                .order_by(t.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            conn.execute(
                t.update()
                .where(t.c.id.in_(pick.scalar_subquery()))
                .values(
                    state=PROCESSING,
                    lease_until=at + timedelta(seconds=lease),
                    attempts=t.c.attempts + 1,
                    claim_token=token,
                )
            )
            return list(
                conn.execute(
                    sa.select(t).where(t.c.state == PROCESSING, t.c.claim_token == token).order_by(t.c.id)
                ).all()
            )

        with self.write_lock:
            rows = self.store.transaction(take)
        return [
            QueuedEvent(
                id=int(r.id),
                account=r.account,
                event=WebhookEvent.model_validate(r.event),
                attempts=int(r.attempts),
                received_at=r.received_at,
                assigned_agent_id=r.assigned_agent_id,
                claim_token=token,
            )
            for r in rows
        ]

    def _owned(self, row_id: int, claim_token: str | None) -> Any:
        t = self.table
        clause = t.c.id == row_id
        if claim_token is not None:  # still ours: not re-taken by another worker after our lease ran out
            clause = sa.and_(clause, t.c.claim_token == claim_token, t.c.state == PROCESSING)
        return clause

    def finish(
        self,
        row_id: int,
        *,
        state: str,
        outcome: str,
        message: str,
        now: datetime,
        assigned_agent_id: str | None = None,
        held_for: str | None = None,
        claim_token: str | None = None,
    ) -> bool:
        """Records the outcome of a claimed row (done, skipped or failed); False when the claim was lost."""
        finish = Finish(
            row_id=row_id,
            state=state,
            outcome=outcome,
            message=message,
            assigned_agent_id=assigned_agent_id,
            held_for=held_for,
            claim_token=claim_token,
        )
        return self.apply([finish], now=now) == 1

    def apply(self, finished: Sequence[Finish], *, now: datetime) -> int:
        """Records a batch's outcomes in one transaction; returns how many were recorded.

        An outcome whose claim was lost (the lease ran out and another worker took the row) is dropped and
        logged: the new owner's outcome stands.
        """
        if not finished:
            return 0
        t = self.table

        def record(conn: sa.engine.Connection) -> list[Finish]:
            at = self._now(conn, now)
            lost: list[Finish] = []
            for item in finished:
                values: dict[str, Any] = {"message": item.message[:2000], "lease_until": None}
                if item.retry_at is not None:
                    values.update(state=QUEUED, next_attempt_at=at + max(item.retry_at - now, timedelta(0)))
                else:
                    values.update(state=item.state, outcome=item.outcome, finished_at=at, held_for=item.held_for)
                    if item.assigned_agent_id is not None:
                        values["assigned_agent_id"] = item.assigned_agent_id
                done = conn.execute(t.update().where(self._owned(item.row_id, item.claim_token)).values(**values))
                if done.rowcount == 0:
                    lost.append(item)
            return lost

        with self.write_lock:
            lost = self.store.transaction(record)
        for item in lost:
            log.warning(
                "webhook event %s: outcome %r dropped: its lease ran out and another worker took it (lease too short?)",
                item.row_id,
                item.outcome or "retry",
            )
        return len(finished) - len(lost)

    def reschedule(self, row_id: int, *, at: datetime, message: str, claim_token: str | None = None) -> None:
        """Puts a claimed row back for a later attempt (a retriable helpdesk error)."""
        with self.write_lock, self.store.begin() as conn:
            conn.execute(
                self.table.update()
                .where(self._owned(row_id, claim_token))
                .values(state=QUEUED, next_attempt_at=at, lease_until=None, message=message[:2000])
            )

    def held_for(self, account: str, agent_id: str, *, limit: int) -> list[tuple[int, str]]:
        """(row id, conversation id) of conversations the wait stage holds for this agent, oldest first."""
        t = self.table
        with self.store.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.id, t.c.conversation_id)
                .where(t.c.account == account, t.c.held_for == agent_id)
                .order_by(t.c.id)
                .limit(limit)
            ).all()
        return [(int(r.id), str(r.conversation_id)) for r in rows]

    def expired_holds(self, account: str, *, before: datetime, limit: int) -> list[tuple[int, str]]:
        """(row id, conversation id) of holds received before `before` (their wait is over), oldest first."""
        t = self.table
        with self.store.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.id, t.c.conversation_id)
                .where(t.c.account == account, t.c.held_for.is_not(None), t.c.received_at < before)
                .order_by(t.c.id)
                .limit(limit)
            ).all()
        return [(int(r.id), str(r.conversation_id)) for r in rows]

    def release_hold(self, row_id: int, *, outcome: str, message: str, assigned_agent_id: str | None = None) -> None:
        values: dict[str, Any] = {"held_for": None, "outcome": outcome, "message": message[:2000]}
        if assigned_agent_id is not None:
            values["assigned_agent_id"] = assigned_agent_id
        with self.write_lock, self.store.begin() as conn:
            conn.execute(self.table.update().where(self.table.c.id == row_id).values(**values))

    def we_assigned(self, account: str, conversation_id: str) -> str | None:
        """The agent our last applied assignment of this conversation went to, if any."""
        t = self.table
        with self.store.connect() as conn:
            value = conn.execute(
                sa.select(t.c.assigned_agent_id)
                .where(
                    t.c.account == account,
                    t.c.conversation_id == conversation_id,
                    t.c.assigned_agent_id.is_not(None),
                )
                .order_by(t.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        return None if value is None else str(value)

    def prune(self, *, retain_days: float, now: datetime, chunk: int = 5000) -> int:
        """Deletes finished rows (done, skipped, failed; no hold) finished more than `retain_days` ago, in chunks
        of `chunk` rows per transaction; never younger than `MIN_RETAIN_DAYS` (the dedupe horizon). Returns how
        many rows went."""
        t = self.table
        days = max(float(retain_days), float(MIN_RETAIN_DAYS))
        total = 0
        while True:

            def delete_some(conn: sa.engine.Connection) -> int:
                cutoff = self._now(conn, now) - timedelta(days=days)
                ids = [
                    int(i)
                    for i in conn.execute(
                        sa.select(t.c.id)
                        .where(t.c.finished_at < cutoff, t.c.state.in_(FINISHED_STATES), t.c.held_for.is_(None))
                        .order_by(t.c.finished_at)
                        .limit(chunk)
                    ).scalars()
                ]
                if not ids:
                    return 0
                self._fold_totals(conn, ids)
                return int(conn.execute(t.delete().where(t.c.id.in_(ids))).rowcount or 0)

            with self.write_lock:
                deleted = self.store.transaction(delete_some)
            total += deleted
            if deleted < chunk:
                return total

    def _fold_totals(self, conn: sa.engine.Connection, ids: Sequence[int]) -> None:
        """Adds the rows about to be deleted to `webhook_queue_totals`, so `/metrics` counters never go back."""
        t, totals = self.table, self.store.t["webhook_queue_totals"]
        retries = sa.func.sum(sa.case((t.c.attempts > 1, t.c.attempts - 1), else_=0))
        grouped = conn.execute(
            sa.select(t.c.vendor, t.c.account, t.c.state, t.c.outcome, sa.func.count(), retries)
            .where(t.c.id.in_(ids))
            .group_by(t.c.vendor, t.c.account, t.c.state, t.c.outcome)
        ).all()
        dialect: Any = pg_dialect if conn.dialect.name == "postgresql" else sqlite_dialect
        for vendor, account, state, outcome, rows, extra in grouped:
            insert = dialect.insert(totals).values(
                vendor=vendor, account=account, state=state, outcome=outcome or "", rows=rows, retries=extra or 0
            )
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["vendor", "account", "state", "outcome"],
                    set_={
                        "rows": totals.c.rows + insert.excluded.rows,
                        "retries": totals.c.retries + insert.excluded.retries,
                    },
                )
            )

    def stats(self, *, now: datetime | None = None, outcomes: bool = True) -> QueueStats:
        """Depth (queued + processing), the oldest active row's receive time, counts per state and outcome, and
        depth and oldest row per account (what `--max-queue` and the lag gauge use).

        The durable counts behind `/metrics`: whichever process did the work, the table has the result. Counting
        outcomes reads every row the retention keeps; `outcomes=False` reads only the active ones (indexed), for
        the back-pressure check that runs every second.
        """
        t = self.table
        totals = self.store.t["webhook_queue_totals"]
        retries = sa.func.sum(sa.case((t.c.attempts > 1, t.c.attempts - 1), else_=0))
        with self.store.connect() as conn:
            as_of = self._now(conn, now) if (self.database_clock or now is not None) else None
            query = sa.select(t.c.vendor, t.c.account, t.c.state, t.c.outcome, sa.func.count(), retries)
            if not outcomes:
                query = query.where(t.c.state.in_(ACTIVE_STATES))
            grouped = conn.execute(query.group_by(t.c.vendor, t.c.account, t.c.state, t.c.outcome)).all()
            pruned = conn.execute(sa.select(totals)).all() if outcomes else []
            oldest_rows = conn.execute(
                sa.select(t.c.account, sa.func.min(t.c.received_at))
                .where(t.c.state.in_(ACTIVE_STATES))
                .group_by(t.c.account)
            ).all()
        summed: dict[tuple[str, str, str, str | None], list[int]] = {}
        for v, a, st, o, n, r in [
            *grouped,
            *((p.vendor, p.account, p.state, p.outcome or None, p.rows, p.retries) for p in pruned),
        ]:
            bucket = summed.setdefault((str(v), str(a), str(st), o), [0, 0])
            bucket[0] += int(n)
            bucket[1] += int(r or 0)
        counted = tuple(
            OutcomeCount(vendor=v, account=a, state=st, outcome=o, rows=n, retries=r)
            for (v, a, st, o), (n, r) in summed.items()
        )
        counts: dict[str, int] = {}
        depths: dict[str, int] = {}
        for item in counted:
            counts[item.state] = counts.get(item.state, 0) + item.rows
            if item.state in ACTIVE_STATES:
                depths[item.account] = depths.get(item.account, 0) + item.rows
        oldest_by = {str(account): _utc(value) for account, value in oldest_rows}
        accounts = {
            name: AccountDepth(depth=depths.get(name, 0), oldest_received_at=oldest_by.get(name))
            for name in sorted(set(depths) | set(oldest_by))
        }
        oldest = min((v for v in oldest_by.values() if v is not None), default=None)
        return QueueStats(
            depth=sum(counts.get(s, 0) for s in ACTIVE_STATES),
            oldest_received_at=oldest,
            by_state=counts,
            outcomes=counted,
            accounts=accounts,
            as_of=as_of,
        )

    def rows(self, account: str | None = None) -> list[dict[str, Any]]:
        """Every row as a dict (tests and `--json` diagnostics)."""
        t = self.table
        query = sa.select(t).order_by(t.c.id)
        if account is not None:
            query = query.where(t.c.account == account)
        with self.store.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


def _insert_order(item: NewEvent) -> tuple[str, str, str, str]:
    event = item.event
    occurred = "" if event.occurred_at is None else event.occurred_at.astimezone(UTC).isoformat()
    return (item.account, event.conversation_id or "", occurred, item.key)


def _utc(value: Any) -> datetime | None:
    if isinstance(value, str):  # SQLite returns aggregates as text, bypassing the column type
        value = datetime.fromisoformat(value)
    if value is None:
        return None
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _insert_ignoring_duplicates(conn: sa.engine.Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return (
            postgresql.insert(table)
            .on_conflict_do_nothing(index_elements=["account", "dedupe_key"])
            .returning(table.c.id)
        )
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing(index_elements=["account", "dedupe_key"]).returning(table.c.id)
