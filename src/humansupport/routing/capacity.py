"""Agents' loads held in the store, so capacity holds across every process that assigns.

A router counts open conversations per agent to respect capacity; counted in each process's memory, two webhook
receivers (or one with several events in flight, or `route --apply` and `rebalance --apply` beside them) each see
room for the same last slot. Here the decision's last step is a reservation: in one store transaction, under a
per-agent lock (a PostgreSQL transaction advisory lock on (account, agent); SQLite's write lock), the agent's
load is counted - open conversations assigned to them in the store plus reservations for them not yet seen there - and a
reservation row is added only when the load is under capacity. The reservation is removed once the assignment's
read-back is stored (it then counts as a conversation) or the assignment failed; one left by a crash stops
counting at `expires_at`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from ..store import Store

__all__ = ["OPEN_STATUSES", "CapacityLedger", "Reservation"]

OPEN_STATUSES: Final = ("new", "open", "on_hold")
#: seconds a reservation counts without its read-back (a crash between assign and store write)
DEFAULT_TTL: Final = 600.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Reservation:
    """The answer to `reserve`: taken or not, and the agent's load as counted (including this one when taken)."""

    agent_id: str
    taken: bool
    load: int
    capacity: int | None

    def describe(self) -> str:
        cap = "no limit" if self.capacity is None else f"capacity {self.capacity}"
        return f"{self.agent_id} has {self.load} open ({cap}, counted in the store)"


class CapacityLedger:
    """`reserve()` before an assignment, `release()` after its read-back is stored (or it failed)."""

    def __init__(self, store: Store, *, ttl: float = DEFAULT_TTL, database_clock: bool | None = None) -> None:
        self.store = store
        self.ttl = ttl
        self.database_clock = store.is_postgresql if database_clock is None else database_clock
        self.reservations = store.t["agent_reservations"]
        self.conversations = store.t["conversations"]

    def _now(self, conn: Connection, now: datetime | None) -> datetime:
        """The database's clock on PostgreSQL (processes on several machines agree), else the caller's."""
        if self.database_clock:
            value = conn.execute(sa.select(sa.func.now())).scalar_one()
            assert isinstance(value, datetime)
            return value.astimezone(UTC)
        return now if now is not None else datetime.now(UTC)

    def _load(self, conn: Connection, account: str, agent_id: str, *, at: datetime, excluding: str) -> int:
        """Open conversations the store has with the agent, plus reservations for the agent (one conversation
        counted once). A conversation reserved for someone else still counts for its current agent until the
        move lands and is released: a rebalance's move out never makes room before it happens."""
        c, r = self.conversations, self.reservations
        reserved_here = sa.exists().where(
            r.c.account == c.c.account, r.c.conversation_id == c.c.id, r.c.agent_id == agent_id, r.c.expires_at > at
        )
        open_count = conn.execute(
            sa.select(sa.func.count())
            .select_from(c)
            .where(
                c.c.account == account,
                c.c.assignee_id == agent_id,
                c.c.status.in_(OPEN_STATUSES),
                c.c.id != excluding,
                ~reserved_here,
            )
        ).scalar_one()
        reserved = conn.execute(
            sa.select(sa.func.count())
            .select_from(r)
            .where(
                r.c.account == account,
                r.c.agent_id == agent_id,
                r.c.expires_at > at,
                r.c.conversation_id != excluding,
            )
        ).scalar_one()
        return int(open_count) + int(reserved)

    def reserve(
        self,
        account: str,
        conversation_id: str,
        agent_id: str,
        *,
        capacity: int | None,
        now: datetime | None = None,
    ) -> Reservation:
        """Takes a slot of `agent_id` for `conversation_id` when their load is under `capacity` (None: no limit,
        but the reservation still counts for least-loaded choices elsewhere). Atomic across processes."""

        def take(conn: Connection) -> Reservation:
            if conn.dialect.name == "postgresql":  # one decision per agent at a time; SQLite's write lock does this
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(hashtext(:account), hashtext(:agent))"),
                    {"account": account, "agent": agent_id},
                )
            at = self._now(conn, now)
            load = self._load(conn, account, agent_id, at=at, excluding=conversation_id)
            if capacity is not None and load >= capacity:
                return Reservation(agent_id=agent_id, taken=False, load=load, capacity=capacity)
            row = {
                "account": account,
                "conversation_id": conversation_id,
                "agent_id": agent_id,
                "created_at": at,
                "expires_at": at + timedelta(seconds=self.ttl),
            }
            insert: Any = (pg_dialect if conn.dialect.name == "postgresql" else sqlite_dialect).insert(
                self.reservations
            )
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["account", "conversation_id"],
                    set_={k: insert.excluded[k] for k in ("agent_id", "created_at", "expires_at")},
                ),
                row,
            )
            return Reservation(agent_id=agent_id, taken=True, load=load + 1, capacity=capacity)

        return self.store.transaction(take)

    def release(self, account: str, conversation_ids: Iterable[str]) -> int:
        """Removes reservations: the read-back is stored (the conversation now counts), or the assign failed."""
        ids = sorted(set(conversation_ids))
        if not ids:
            return 0
        r = self.reservations

        def delete(conn: Connection) -> int:
            total = 0
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                done = conn.execute(r.delete().where(r.c.account == account, r.c.conversation_id.in_(chunk)))
                total += int(done.rowcount or 0)
            return total

        return self.store.transaction(delete)

    def loads(self, account: str, *, now: datetime | None = None) -> dict[str, int]:
        """Every agent's load as `reserve` counts it (what a router starts from)."""
        c, r = self.conversations, self.reservations
        with self.store.connect() as conn:
            at = self._now(conn, now)
            reserved_here = sa.exists().where(
                r.c.account == c.c.account,
                r.c.conversation_id == c.c.id,
                r.c.agent_id == c.c.assignee_id,
                r.c.expires_at > at,
            )
            out: dict[str, int] = {}
            rows = conn.execute(
                sa.select(c.c.assignee_id, sa.func.count())
                .where(
                    c.c.account == account,
                    c.c.assignee_id.is_not(None),
                    c.c.status.in_(OPEN_STATUSES),
                    ~reserved_here,
                )
                .group_by(c.c.assignee_id)
            ).all()
            for agent, count in rows:
                out[str(agent)] = out.get(str(agent), 0) + int(count)
            for agent, count in conn.execute(
                sa.select(r.c.agent_id, sa.func.count())
                .where(r.c.account == account, r.c.expires_at > at)
                .group_by(r.c.agent_id)
            ).all():
                out[str(agent)] = out.get(str(agent), 0) + int(count)
        return out

    def active(self, account: str) -> dict[str, str]:
        """conversation id -> agent id of reservations (tests and diagnostics)."""
        r = self.reservations
        with self.store.connect() as conn:
            return {
                str(cid): str(agent)
                for cid, agent in conn.execute(
                    sa.select(r.c.conversation_id, r.c.agent_id).where(r.c.account == account)
                ).all()
            }
