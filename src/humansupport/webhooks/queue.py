"""The durable webhook queue: one store row per accepted event, so the work survives a crash or a restart.

The receiver only inserts (deduplicated by a unique key per account) and answers; the worker claims rows with a
lease, processes them and records the outcome. A row whose lease ran out while `processing` (the process died)
is claimed again. Every method is synchronous (SQLAlchemy Core); the async callers run them in a thread.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

import sqlalchemy as sa

from ..models import WebhookEvent
from ..store import Store

__all__ = [
    "ACTIVE_STATES",
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

QUEUED: Final = "queued"
PROCESSING: Final = "processing"
DONE: Final = "done"
SKIPPED: Final = "skipped"
FAILED: Final = "failed"
#: rows still to be (or being) processed: what queue depth counts
ACTIVE_STATES: Final = (QUEUED, PROCESSING)


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

    def row(self, *, now: datetime) -> dict[str, Any]:
        event = self.event
        return {
            "account": self.account,
            "vendor": event.vendor,
            "dedupe_key": dedupe_key(event),
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


@dataclass(frozen=True, kw_only=True, slots=True)
class Finish:
    """The outcome of a claimed row: finished (done/skipped/failed), or `retry_at` for another attempt."""

    row_id: int
    state: str
    outcome: str | None
    message: str
    assigned_agent_id: str | None = None
    held_for: str | None = None
    retry_at: datetime | None = None


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
class QueueStats:
    depth: int
    oldest_received_at: datetime | None
    by_state: dict[str, int]
    outcomes: tuple[OutcomeCount, ...] = ()


class WebhookQueue:
    """The `webhook_queue` table of a store (schema version `WEBHOOK_QUEUE_VERSION`)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.table = store.t["webhook_queue"]
        #: one writer at a time in this process: SQLite's busy handler backs off in sleeps of up to 100 ms,
        #: which is what the accept path's latency would pay; a lock hands over in microseconds
        self.write_lock = threading.Lock()

    def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs a store write (the worker's upserts too) under the process's write lock."""
        with self.write_lock:
            return fn(*args, **kwargs)

    def enqueue(self, batches: Sequence[Sequence[NewEvent]], *, now: datetime) -> list[EnqueueResult]:
        """Inserts several requests' events in one transaction (group commit); duplicates insert nothing."""
        t = self.table
        out: list[EnqueueResult] = []
        with self.write_lock, self.store.begin() as conn:
            insert = _insert_ignoring_duplicates(conn, t)
            for events in batches:
                inserted = 0
                for item in events:
                    # RETURNING rather than rowcount: psycopg reports -1 for an INSERT with implicit RETURNING
                    inserted += len(conn.execute(insert, item.row(now=now)).all())
                out.append(EnqueueResult(inserted=inserted, duplicates=len(events) - inserted))
        return out

    def claim(self, *, accounts: Sequence[str], now: datetime, limit: int, lease: float) -> list[QueuedEvent]:
        """Takes up to `limit` due rows (oldest first) of these accounts, with a lease of `lease` seconds.

        The UPDATE comes first, so on SQLite the transaction takes the write lock at once; on PostgreSQL the
        subquery skips rows another worker holds.
        """
        if not accounts or limit <= 0:
            return []
        t = self.table
        token = uuid.uuid4().hex
        due = sa.or_(
            sa.and_(t.c.state == QUEUED, t.c.next_attempt_at <= now),
            sa.and_(t.c.state == PROCESSING, t.c.lease_until < now),
        )
        pick = (
            sa.select(t.c.id)
            .where(t.c.account.in_(list(accounts)), due)
            .order_by(t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.write_lock, self.store.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.id.in_(pick.scalar_subquery()))
                .values(
                    state=PROCESSING,
                    lease_until=now + timedelta(seconds=lease),
                    attempts=t.c.attempts + 1,
                    claim_token=token,
                )
            )
            rows = conn.execute(
                sa.select(t).where(t.c.state == PROCESSING, t.c.claim_token == token).order_by(t.c.id)
            ).all()
        return [
            QueuedEvent(
                id=int(r.id),
                account=r.account,
                event=WebhookEvent.model_validate(r.event),
                attempts=int(r.attempts),
                received_at=r.received_at,
                assigned_agent_id=r.assigned_agent_id,
            )
            for r in rows
        ]

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
    ) -> None:
        """Records the outcome of a claimed row (done, skipped or failed)."""
        values: dict[str, Any] = {
            "state": state,
            "outcome": outcome,
            "message": message[:2000],
            "finished_at": now,
            "lease_until": None,
            "held_for": held_for,
        }
        if assigned_agent_id is not None:
            values["assigned_agent_id"] = assigned_agent_id
        with self.write_lock, self.store.begin() as conn:
            conn.execute(self.table.update().where(self.table.c.id == row_id).values(**values))

    def apply(self, finished: Sequence[Finish], *, now: datetime) -> None:
        """Records a batch's outcomes in one transaction."""
        if not finished:
            return
        t = self.table
        with self.write_lock, self.store.begin() as conn:
            for item in finished:
                values: dict[str, Any] = {"message": item.message[:2000], "lease_until": None}
                if item.retry_at is not None:
                    values.update(state=QUEUED, next_attempt_at=item.retry_at)
                else:
                    values.update(state=item.state, outcome=item.outcome, finished_at=now, held_for=item.held_for)
                    if item.assigned_agent_id is not None:
                        values["assigned_agent_id"] = item.assigned_agent_id
                conn.execute(t.update().where(t.c.id == item.row_id).values(**values))

    def reschedule(self, row_id: int, *, at: datetime, message: str) -> None:
        """Puts a claimed row back for a later attempt (a retriable helpdesk error)."""
        with self.write_lock, self.store.begin() as conn:
            conn.execute(
                self.table.update()
                .where(self.table.c.id == row_id)
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

    def stats(self) -> QueueStats:
        """Depth (queued + processing), the oldest active row's receive time, counts per state and outcome.

        The durable counts behind `/metrics`: whichever process did the work, the table has the result.
        """
        t = self.table
        retries = sa.func.sum(sa.case((t.c.attempts > 1, t.c.attempts - 1), else_=0))
        with self.store.connect() as conn:
            grouped = conn.execute(
                sa.select(t.c.vendor, t.c.account, t.c.state, t.c.outcome, sa.func.count(), retries).group_by(
                    t.c.vendor, t.c.account, t.c.state, t.c.outcome
                )
            ).all()
            oldest = conn.execute(sa.select(sa.func.min(t.c.received_at)).where(t.c.state.in_(ACTIVE_STATES))).scalar()
        outcomes = tuple(
            OutcomeCount(vendor=str(v), account=str(a), state=str(st), outcome=o, rows=int(n), retries=int(r or 0))
            for v, a, st, o, n, r in grouped
        )
        counts: dict[str, int] = {}
        for item in outcomes:
            counts[item.state] = counts.get(item.state, 0) + item.rows
        if isinstance(oldest, str):  # SQLite returns the aggregate as text, bypassing the column type
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return QueueStats(
            depth=sum(counts.get(s, 0) for s in ACTIVE_STATES),
            oldest_received_at=oldest,
            by_state=counts,
            outcomes=outcomes,
        )

    def rows(self, account: str | None = None) -> list[dict[str, Any]]:
        """Every row as a dict (tests and `--json` diagnostics)."""
        t = self.table
        query = sa.select(t).order_by(t.c.id)
        if account is not None:
            query = query.where(t.c.account == account)
        with self.store.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


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
