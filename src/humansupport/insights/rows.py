"""The store reads behind the reports, each one streamed (server-side cursors, `yield_per`) in an order that
lets the reports count distinct customers without holding a set of every customer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from ..models import AuthorRole
from ..store import Store

__all__ = [
    "REOPENED_FROM",
    "REOPENED_TO",
    "ConversationRow",
    "Participation",
    "Reopen",
    "first_customer_excerpts",
    "iter_conversation_rows",
    "iter_participation",
    "iter_reopens",
]

_BATCH: Final = 5000
REOPENED_FROM: Final = ("solved", "closed")
REOPENED_TO: Final = ("new", "open", "pending", "on_hold")


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """What the reports need of one conversation; `rating` is its latest rating's score, if any."""

    id: str
    customer_id: str | None
    assignee_id: str | None
    status: str
    tags: list[str]
    created_at: datetime
    rating: str | None
    custom_fields: dict[str, Any]


def iter_conversation_rows(store: Store, account: str, *, start: datetime, end: datetime) -> Iterator[ConversationRow]:
    """Conversations created in [start, end), ordered by customer then time (no customer: first or last)."""
    c, r = store.t["conversations"], store.t["ratings"]
    rating = (
        sa.select(r.c.score)
        .where(r.c.account == c.c.account, r.c.conversation_id == c.c.id)
        .order_by(r.c.created_at.desc(), r.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        sa.select(
            c.c.id, c.c.customer_id, c.c.assignee_id, c.c.status, c.c.tags, c.c.created_at, rating, c.c.custom_fields
        )
        .where(c.c.account == account, c.c.created_at >= start, c.c.created_at < end)
        .order_by(c.c.customer_id, c.c.created_at, c.c.id)
    )
    with store.connect() as conn:
        for row in conn.execution_options(yield_per=_BATCH).execute(query):
            yield ConversationRow(
                id=row[0],
                customer_id=row[1],
                assignee_id=row[2],
                status=row[3],
                tags=list(row[4] or []),
                created_at=row[5],
                rating=row[6],
                custom_fields=dict(row[7] or {}),
            )


@dataclass(frozen=True, slots=True)
class Participation:
    """The agents involved in one conversation: its assignee and every agent with a public reply."""

    conversation_id: str
    tags: list[str]
    agent_ids: frozenset[str]
    custom_fields: dict[str, Any]


def iter_participation(store: Store, account: str, *, start: datetime, end: datetime) -> Iterator[Participation]:
    """One item per conversation created in [start, end), streamed in conversation-id order."""
    c, m = store.t["conversations"], store.t["messages"]
    joined = c.outerjoin(
        m,
        sa.and_(
            m.c.account == c.c.account,
            m.c.conversation_id == c.c.id,
            m.c.author_role == AuthorRole.AGENT.value,
            m.c.public.is_(True),
            m.c.author_id.is_not(None),
        ),
    )
    query = (
        sa.select(c.c.id, c.c.tags, c.c.assignee_id, m.c.author_id, c.c.custom_fields)
        .select_from(joined)
        .where(c.c.account == account, c.c.created_at >= start, c.c.created_at < end)
        .order_by(c.c.id)
    )
    current: str | None = None
    tags: list[str] = []
    fields: dict[str, Any] = {}
    agents: set[str] = set()
    with store.connect() as conn:
        for cid, row_tags, assignee, author, row_fields in conn.execution_options(yield_per=_BATCH).execute(query):
            if cid != current:
                if current is not None:
                    yield Participation(
                        conversation_id=current, tags=tags, agent_ids=frozenset(agents), custom_fields=fields
                    )
                current, tags, fields, agents = cid, list(row_tags or []), dict(row_fields or {}), set()
                if assignee:
                    agents.add(assignee)
            if author:
                agents.add(author)
    if current is not None:
        yield Participation(conversation_id=current, tags=tags, agent_ids=frozenset(agents), custom_fields=fields)


@dataclass(frozen=True, slots=True)
class Reopen:
    """A status change from solved/closed back to a working status."""

    conversation_id: str
    customer_id: str | None
    tags: list[str]
    changed_at: datetime
    from_status: str
    to_status: str
    custom_fields: dict[str, Any]


def iter_reopens(store: Store, account: str, *, start: datetime, end: datetime) -> Iterator[Reopen]:
    """Reopenings seen in [start, end), ordered by customer, conversation and time."""
    s, c = store.t["conversation_status_changes"], store.t["conversations"]
    query = (
        sa.select(
            s.c.conversation_id,
            c.c.customer_id,
            c.c.tags,
            s.c.changed_at,
            s.c.from_status,
            s.c.to_status,
            c.c.custom_fields,
        )
        .select_from(s.join(c, sa.and_(c.c.account == s.c.account, c.c.id == s.c.conversation_id)))
        .where(
            s.c.account == account,
            s.c.changed_at >= start,
            s.c.changed_at < end,
            s.c.from_status.in_(REOPENED_FROM),
            s.c.to_status.in_(REOPENED_TO),
        )
        .order_by(c.c.customer_id, s.c.conversation_id, s.c.changed_at)
    )
    with store.connect() as conn:
        for row in conn.execution_options(yield_per=_BATCH).execute(query):
            yield Reopen(
                conversation_id=row[0],
                customer_id=row[1],
                tags=list(row[2] or []),
                changed_at=row[3],
                from_status=row[4],
                to_status=row[5],
                custom_fields=dict(row[6] or {}),
            )


def first_customer_excerpts(store: Store, account: str, conversation_ids: Iterable[str]) -> dict[str, str]:
    """Each given conversation's first stored customer excerpt (the digest's quotes); a few ids at a time."""
    m = store.t["messages"]
    ids = sorted(set(conversation_ids))
    out: dict[str, str] = {}
    with store.connect() as conn:
        for start in range(0, len(ids), 500):
            query = (
                sa.select(m.c.conversation_id, m.c.excerpt)
                .where(
                    m.c.account == account,
                    m.c.conversation_id.in_(ids[start : start + 500]),
                    m.c.author_role == AuthorRole.CUSTOMER.value,
                    m.c.excerpt.is_not(None),
                )
                .order_by(m.c.conversation_id, m.c.created_at, m.c.id)
            )
            for cid, excerpt in conn.execute(query):
                out.setdefault(cid, excerpt)
    return out
