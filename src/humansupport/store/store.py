"""`Store`: the relationship history on SQLite (default) or PostgreSQL, through SQLAlchemy Core.

Every row is keyed by (account, id), so several helpdesk accounts share one store. Writes are
idempotent upserts in batches; reads for routing and metrics stream rows rather than build objects.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigError, LockHeldError, NoHistoryError, StoreConflictError, StoreError
from ..http.ratelimit import LocalRateBudget, RateBudget
from ..models import Agent, AuthorRole, Conversation, Customer, Group, Message, SatisfactionRating
from .schema import EXCERPT_CHARS, MIGRATIONS, SCHEMA_VERSION, build_metadata

__all__ = ["STORE_ENV", "Reply", "Store", "StoredConversation", "default_store_url", "message_excerpt"]

STORE_ENV: Final = "HUMANSUPPORT_STORE"
_APP: Final = "humansupport"
T = TypeVar("T")
log = logging.getLogger("humansupport.store")
#: PostgreSQL advisory lock (two-key form: this class id) held while a migration step runs
_MIGRATION_LOCK: Final = 0x4853  # "HS"
#: how many busy timeouts a process opening a store waits while others migrate it (SQLite)
_MIGRATION_ATTEMPTS: Final = 12


def default_store_url(*, environ: Mapping[str, str] | None = None, config: Mapping[str, Any] | None = None) -> str:
    """$HUMANSUPPORT_STORE, else `[store] url` in humansupport.toml, else humansupport.db in the user data dir."""
    env = os.environ if environ is None else environ
    if env.get(STORE_ENV):
        return env[STORE_ENV]
    configured = ((config or {}).get("store") or {}).get("url")
    if configured:
        return str(configured)
    import platformdirs

    return f"sqlite:///{Path(platformdirs.user_data_dir(_APP)) / 'humansupport.db'}"


def _as_url(target: str | os.PathLike[str]) -> str:
    text = os.fspath(target)
    if "://" in text:
        if text.startswith("postgresql://") or text.startswith("postgres://"):
            # plain postgresql:// means psycopg 3, the driver we depend on
            return "postgresql+psycopg://" + text.split("://", 1)[1]
        return text
    return f"sqlite:///{text}"


@dataclass(frozen=True, slots=True)
class Reply:
    """One public agent message to a customer: the raw material of affinity."""

    customer_id: str
    agent_id: str
    conversation_id: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredConversation:
    """A conversation as the store has it, with what routing and metrics derive from its messages."""

    conversation: Conversation
    messages_synced_at: datetime | None


class Store:
    """The history store. Open with `Store.open(url_or_path)`; use as a context manager to dispose."""

    def __init__(self, engine: Engine, *, url: str) -> None:
        self.engine = engine
        self.url = url
        md = build_metadata()
        self.t = md.tables
        self.metadata = md
        self._rate_budgets: dict[int, RateBudget] = {}

    # -- opening -------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str] | None = None,
        *,
        lock_timeout: float = 5.0,
        create: bool = True,
    ) -> Store:
        """Opens (and creates or migrates) a store; a corrupt or newer store raises StoreError untouched."""
        url = _as_url(target if target is not None else default_store_url())
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise StoreError(f"not a store URL: {url!r} ({exc})") from None
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(parsed, lock_timeout=lock_timeout, create=create)
        else:
            try:
                engine = sa.create_engine(parsed, pool_pre_ping=True, future=True)
            except (ImportError, sa.exc.NoSuchModuleError) as exc:
                raise StoreError(
                    f"cannot use {parsed.get_backend_name()} store: {exc}; "
                    'install the driver: pip install "humansupport[postgres]"'
                ) from None
        store = cls(engine, url=parsed.render_as_string(hide_password=True))
        try:
            store.migrate()
        except BaseException:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        self.engine.dispose()

    def rate_budget(self, *, clock: Clock = SYSTEM_CLOCK) -> RateBudget:
        """The request budget every process using this store shares per account (pass it to `build_adapter`).

        PostgreSQL: rows in the store, on the database's clock, shared by every machine. SQLite: a locked file
        beside the store, shared by the processes of this host, on `clock`'s wall time. An in-memory store:
        this process only. One backend per store and clock, so `limiter_for` finds its limiters again.
        """
        budget = self._rate_budgets.get(id(clock))
        if budget is None:
            from .budget import BUDGET_FILE_SUFFIX, FileRateBudget, PostgresRateBudget

            database = self.engine.url.database
            if self.engine.dialect.name == "postgresql":
                budget = next(iter(self._rate_budgets.values()), None) or PostgresRateBudget(self)
            elif database and database != ":memory:":
                budget = FileRateBudget(f"{database}{BUDGET_FILE_SUFFIX}", clock=clock)
            else:
                budget = LocalRateBudget(clock=clock)
            self._rate_budgets[id(clock)] = budget
        return budget

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction, with driver errors turned into LockHeldError/StoreError.

        On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`): a deferred transaction that reads and
        then writes gets SQLITE_BUSY at once, without the busy timeout, when another process committed in
        between (WAL snapshot) - e.g. the webhook receiver's inserts while its worker records conversations.
        """
        with _translate(self.url), self.engine.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with _translate(self.url), self.engine.connect() as conn:
            yield conn

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def transaction(self, fn: Callable[[Connection], T], *, attempts: int = 8) -> T:
        """Runs `fn` in a write transaction, again when the database rolled it back to resolve a deadlock or a
        serialization failure (`StoreConflictError`: nothing was written); the last failure is raised."""
        for attempt in range(1, attempts + 1):
            try:
                with self.begin() as conn:
                    return fn(conn)
            except StoreConflictError as exc:
                if attempt >= attempts:
                    raise
                log.info("store transaction rolled back (%s); running it again (attempt %d)", exc, attempt + 1)
                time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))  # jitter: the two sides part ways
        raise AssertionError("unreachable")  # pragma: no cover

    # -- schema --------------------------------------------------------------------------------------

    def schema_version(self) -> int | None:
        with self.connect() as conn:
            return _read_version(conn)

    def migrate(self, *, target: int = SCHEMA_VERSION) -> int:
        """Creates or upgrades the schema to `target`, one transaction per step; refuses newer schemas."""
        # a read, but the first connections to a store switch it to WAL, which needs the lock for a moment: while
        # other processes open (and migrate) the same store, wait as the migration steps below do
        current = self._with_lock_patience(self._current_version)
        for step in range(current + 1, target + 1):
            # one process migrates at a time: SQLite's write lock (BEGIN IMMEDIATE), on PostgreSQL an advisory
            # lock held until the step commits; whoever waited re-reads the version and skips what is done
            self._with_lock_patience(lambda: self._migrate_step(step))  # noqa: B023 - called at once
        return target

    def _with_lock_patience(self, fn: Callable[[], T]) -> T:
        """`fn()`, again while SQLite's busy timeout runs out because other processes are migrating the store: an
        upgrade is worth waiting for (each attempt waits the busy timeout again), a normal write is not."""
        for attempt in range(_MIGRATION_ATTEMPTS):
            try:
                return fn()
            except LockHeldError:
                if attempt == _MIGRATION_ATTEMPTS - 1:
                    raise
                # a switch to WAL is refused at once, not after the busy timeout: part ways with a jitter
                time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _current_version(self) -> int:
        """The stored schema version (0 for an empty database); refuses a foreign or newer schema."""
        with self.connect() as conn:  # a read: no write lock unless there is something to migrate
            current = _read_version(conn)
            if current is None:
                existing = set(sa.inspect(conn).get_table_names())
                if existing:
                    raise StoreError(
                        f"{self.url} holds tables ({', '.join(sorted(existing)[:5])}) but no humansupport "
                        "schema version; refusing to touch it"
                    )
                current = 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.url} has schema version {current}, newer than this humansupport supports "
                    f"({SCHEMA_VERSION}); upgrade humansupport. Nothing was changed."
                )
        return current

    def _migrate_step(self, step: int) -> None:
        with self.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k, 0)"), {"k": _MIGRATION_LOCK})
            if (_read_version(conn) or 0) >= step:  # another process migrated while we waited for the lock
                return
            MIGRATIONS[step](conn)
            _write_version(conn, step)

    # -- writes --------------------------------------------------------------------------------------

    def _upsert(
        self, conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], *, newer: str | None = None
    ) -> None:
        """Inserts or updates by primary key; with `newer` (a column such as the vendor's `updated_at`), a stored
        row is only overwritten by one at least as new: an older snapshot never moves a row backwards."""
        if not rows:
            return
        keys = [c.name for c in table.primary_key.columns]
        stmt: Any
        if conn.dialect.name == "postgresql":
            stmt = pg_dialect.insert(table)
        elif conn.dialect.name == "sqlite":
            stmt = sqlite_dialect.insert(table)
        else:  # pragma: no cover - only the two dialects are supported
            raise StoreError(f"unsupported database {conn.dialect.name}")
        update = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
        where = None
        if newer is not None:
            stored, incoming = table.c[newer], stmt.excluded[newer]
            where = sa.or_(stored.is_(None), incoming.is_(None), incoming >= stored)
        stmt = (
            stmt.on_conflict_do_update(index_elements=keys, set_=update, where=where)
            if update
            else stmt.on_conflict_do_nothing()
        )
        conn.execute(stmt, list(rows))

    def upsert_agents(self, account: str, agents: Iterable[Agent], *, seen_at: datetime) -> int:
        rows = [
            {
                "account": account,
                "id": a.id,
                "name": a.name,
                "email": a.email,
                "active": a.active,
                "availability": str(a.availability),
                "capacity": a.capacity,
                "group_ids": list(a.group_ids),
                "synced_at": seen_at,
                "deleted_at": None,
            }
            for a in agents
        ]
        with self.begin() as conn:
            self._upsert(conn, self.t["agents"], rows)
        return len(rows)

    def mark_missing_agents(self, account: str, present: Iterable[str], *, at: datetime) -> list[str]:
        """Agents the helpdesk no longer lists are marked deleted (kept: their history still counts)."""
        keep = set(present)
        agents = self.t["agents"]
        with self.begin() as conn:
            stored = conn.execute(
                sa.select(agents.c.id).where(agents.c.account == account, agents.c.deleted_at.is_(None))
            ).scalars()
            gone = sorted(set(stored) - keep)
            if gone:
                conn.execute(
                    agents.update()
                    .where(agents.c.account == account, agents.c.id.in_(gone))
                    .values(deleted_at=at, active=False)
                )
        return gone

    def upsert_groups(self, account: str, groups: Iterable[Group]) -> int:
        rows = [{"account": account, "id": g.id, "name": g.name, "agent_ids": list(g.agent_ids)} for g in groups]
        with self.begin() as conn:
            self._upsert(conn, self.t["groups"], rows)
        return len(rows)

    def upsert_customers(self, account: str, customers: Iterable[Customer]) -> int:
        customers = list(customers)
        with self.begin() as conn:
            erased = _erased_customers(conn, self.t, account)
            self._upsert(conn, self.t["customers"], _customer_rows(account, customers, erased), newer="updated_at")
        return len(customers)

    def write_conversations(
        self,
        account: str,
        conversations: Sequence[tuple[Conversation, Sequence[Message] | None]],
    ) -> None:
        """Upserts conversations and, where given, their messages, in one transaction (a batch).

        Conversations of an erased customer are skipped (and remembered as erased, so their messages and
        ratings are skipped too); what an erased customer wrote elsewhere is kept without its excerpt.
        """
        with self.begin() as conn:
            erased = _erased_customers(conn, self.t, account)
            if erased:
                gone = _erased_conversations(conn, self.t, account, erased, [c for c, _ in conversations])
                conversations = [(c, m) for c, m in conversations if c.id not in gone]
            conv_rows: list[dict[str, Any]] = []
            msg_rows: list[dict[str, Any]] = []
            for conv, messages in conversations:
                row = _conversation_row(account, conv)
                if messages is not None:
                    row["messages_synced_at"] = conv.updated_at or conv.created_at
                    msg_rows.extend(_message_row(account, conv.id, m, erased=erased) for m in messages)
                conv_rows.append(row)
            _record_status_changes(conn, self.t, account, [conv for conv, _ in conversations])
            # rows with and without messages_synced_at differ in columns: upsert each shape separately
            table = self.t["conversations"]
            with_messages = [r for r in conv_rows if "messages_synced_at" in r]
            self._upsert(conn, table, with_messages, newer="updated_at")
            self._upsert(conn, table, [r for r in conv_rows if "messages_synced_at" not in r], newer="updated_at")
            for start in range(0, len(msg_rows), 5000):
                self._upsert(conn, self.t["messages"], msg_rows[start : start + 5000])

    def upsert_messages(self, account: str, messages: Iterable[Message]) -> int:
        """Upserts messages that came in bulk, apart from their conversations (vendor export endpoints);
        messages of an erased customer's conversations are skipped."""
        messages = list(messages)
        with self.begin() as conn:
            erased = _erased_customers(conn, self.t, account)
            if erased:
                gone = _erased_conversation_ids(conn, self.t, account, {m.conversation_id for m in messages})
                messages = [m for m in messages if m.conversation_id not in gone]
            rows = [_message_row(account, m.conversation_id, m, erased=erased) for m in messages]
            for start in range(0, len(rows), 5000):
                self._upsert(conn, self.t["messages"], rows[start : start + 5000])
        return len(rows)

    def upsert_ratings(self, account: str, ratings: Iterable[SatisfactionRating]) -> int:
        ratings = list(ratings)
        with self.begin() as conn:
            erased = _erased_customers(conn, self.t, account)
            if erased:
                ids = {r.conversation_id for r in ratings if r.conversation_id}
                gone = _erased_conversation_ids(conn, self.t, account, ids)
                ratings = [r for r in ratings if r.customer_id not in erased and r.conversation_id not in gone]
            self._upsert(conn, self.t["ratings"], _rating_rows(account, ratings))
        return len(ratings)

    def set_assignee(self, account: str, conversation: Conversation) -> None:
        """Records a conversation as the helpdesk returned it after an assignment (read-back); not one of an
        erased customer."""
        with self.begin() as conn:
            erased = _erased_customers(conn, self.t, account)
            if erased and _erased_conversations(conn, self.t, account, erased, [conversation]):
                return
            _record_status_changes(conn, self.t, account, [conversation])
            self._upsert(conn, self.t["conversations"], [_conversation_row(account, conversation)], newer="updated_at")

    # -- cursors -------------------------------------------------------------------------------------

    def get_cursor(self, account: str, stream: str) -> datetime | None:
        cur = self.t["sync_cursors"]
        with self.connect() as conn:
            value: datetime | None = conn.execute(
                sa.select(cur.c.cursor).where(cur.c.account == account, cur.c.stream == stream)
            ).scalar_one_or_none()
        return value

    def set_cursor(self, account: str, stream: str, cursor: datetime | None, *, items: int, at: datetime) -> None:
        with self.begin() as conn:
            self._upsert(
                conn,
                self.t["sync_cursors"],
                [{"account": account, "stream": stream, "cursor": cursor, "items": items, "finished_at": at}],
            )

    def cursors(self, account: str) -> dict[str, datetime | None]:
        cur = self.t["sync_cursors"]
        with self.connect() as conn:
            rows = conn.execute(sa.select(cur.c.stream, cur.c.cursor).where(cur.c.account == account)).all()
        return {r.stream: r.cursor for r in rows}

    def reset_cursors(self, account: str) -> None:
        cur = self.t["sync_cursors"]
        with self.begin() as conn:
            conn.execute(cur.delete().where(cur.c.account == account))

    # -- reads ---------------------------------------------------------------------------------------

    def messages_synced_at(self, account: str, ids: Sequence[str]) -> dict[str, datetime | None]:
        """For a page of conversation ids: the updated_at their messages were fetched at (resume skips those)."""
        conv = self.t["conversations"]
        if not ids:
            return {}
        with self.connect() as conn:
            rows = conn.execute(
                sa.select(conv.c.id, conv.c.messages_synced_at).where(conv.c.account == account, conv.c.id.in_(ids))
            ).all()
        return {r.id: r.messages_synced_at for r in rows}

    def agents(self, account: str, *, include_deleted: bool = True) -> list[tuple[Agent, datetime | None]]:
        """Every stored agent with the time it vanished from the helpdesk (None while it exists)."""
        t = self.t["agents"]
        query = sa.select(t).where(t.c.account == account).order_by(t.c.id)
        if not include_deleted:
            query = query.where(t.c.deleted_at.is_(None))
        with self.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            (
                Agent(
                    id=r["id"],
                    name=r["name"],
                    email=r["email"],
                    active=r["active"],
                    availability=r["availability"],
                    capacity=r["capacity"],
                    group_ids=r["group_ids"],
                ),
                r["deleted_at"],
            )
            for r in rows
        ]

    def groups(self, account: str) -> list[Group]:
        t = self.t["groups"]
        with self.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.account == account).order_by(t.c.id)).mappings().all()
        return [Group(id=r["id"], name=r["name"], agent_ids=r["agent_ids"]) for r in rows]

    def customer(self, account: str, customer_id: str) -> Customer | None:
        t = self.t["customers"]
        with self.connect() as conn:
            row = conn.execute(sa.select(t.c.data).where(t.c.account == account, t.c.id == customer_id)).first()
        return None if row is None else Customer.model_validate(row.data)

    def conversation(self, account: str, conversation_id: str) -> Conversation | None:
        t = self.t["conversations"]
        with self.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.account == account, t.c.id == conversation_id)).mappings().first()
        return None if row is None else _conversation_from(row)

    def iter_conversations(self, account: str, *, open_only: bool = False) -> Iterator[Conversation]:
        """Conversations in creation order, streamed."""
        t = self.t["conversations"]
        query = sa.select(t).where(t.c.account == account).order_by(t.c.created_at, t.c.id)
        if open_only:
            query = query.where(t.c.status.in_(["new", "open", "on_hold"]))
        with self.connect() as conn:
            for row in conn.execution_options(yield_per=2000).execute(query).mappings():
                yield _conversation_from(row)

    def conversations_of(self, account: str, customer_id: str) -> list[Conversation]:
        """One customer's conversations, oldest first (profiles and `route` explanations use it)."""
        t = self.t["conversations"]
        query = (
            sa.select(t).where(t.c.account == account, t.c.customer_id == customer_id).order_by(t.c.created_at, t.c.id)
        )
        with self.connect() as conn:
            return [_conversation_from(row) for row in conn.execute(query).mappings()]

    def conversation_facts(self, account: str) -> Iterator[tuple[str, str, list[str], str | None, str | None]]:
        """(id, status, tags, customer_id, assignee_id) of every conversation, without building models."""
        t = self.t["conversations"]
        query = sa.select(t.c.id, t.c.status, t.c.tags, t.c.customer_id, t.c.assignee_id).where(t.c.account == account)
        with self.connect() as conn:
            for row in conn.execution_options(yield_per=5000).execute(query):
                yield row[0], row[1], list(row[2] or []), row[3], row[4]

    def iter_replies(self, account: str, *, since: datetime | None = None) -> Iterator[Reply]:
        """Public agent messages joined to their conversation's customer, oldest first, streamed."""
        m, c = self.t["messages"], self.t["conversations"]
        query = (
            sa.select(c.c.customer_id, m.c.author_id, m.c.conversation_id, m.c.created_at)
            .join(c, sa.and_(c.c.account == m.c.account, c.c.id == m.c.conversation_id))
            .where(
                m.c.account == account,
                m.c.author_role == AuthorRole.AGENT.value,
                m.c.public.is_(True),
                m.c.author_id.is_not(None),
                c.c.customer_id.is_not(None),
                m.c.created_at.is_not(None),
            )
            .order_by(m.c.created_at)
        )
        if since is not None:
            query = query.where(m.c.created_at > since)
        with self.connect() as conn:
            for row in conn.execution_options(yield_per=5000).execute(query):
                yield Reply(customer_id=row[0], agent_id=row[1], conversation_id=row[2], created_at=row[3])

    def first_replies(self, account: str) -> dict[str, datetime]:
        """Each conversation's first public agent message time (for first-reply metrics)."""
        m = self.t["messages"]
        query = (
            sa.select(m.c.conversation_id, sa.func.min(m.c.created_at))
            .where(m.c.account == account, m.c.author_role == AuthorRole.AGENT.value, m.c.public.is_(True))
            .group_by(m.c.conversation_id)
        )
        with self.connect() as conn:
            return {row[0]: _aware(row[1]) for row in conn.execute(query) if row[1] is not None}

    def last_messages(self, account: str) -> dict[str, datetime]:
        """Each conversation's last message time (resolution time of solved conversations)."""
        m = self.t["messages"]
        query = (
            sa.select(m.c.conversation_id, sa.func.max(m.c.created_at))
            .where(m.c.account == account)
            .group_by(m.c.conversation_id)
        )
        with self.connect() as conn:
            return {row[0]: _aware(row[1]) for row in conn.execute(query) if row[1] is not None}

    def ratings(self, account: str) -> list[SatisfactionRating]:
        t = self.t["ratings"]
        with self.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.account == account).order_by(t.c.id)).mappings().all()
        return [
            SatisfactionRating(
                id=r["id"],
                conversation_id=r["conversation_id"],
                customer_id=r["customer_id"],
                agent_id=r["agent_id"],
                score=r["score"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    def accounts(self) -> list[str]:
        """Helpdesk accounts with synced conversations."""
        t = self.t["sync_cursors"]
        with self.connect() as conn:
            return sorted(set(conn.execute(sa.select(t.c.account)).scalars()))

    def require_account(self, account: str, *, vendor: str | None = None, before: str) -> None:
        """A command over an account the store never synced would report nothing and look fine: say what to run.

        `before` names what needs the history ("planning a rebalance"); raises `NoHistoryError` (exit 3).
        """
        accounts = self.accounts()
        if account not in accounts:
            command = vendor if vendor == account else f"{vendor or 'VENDOR'} --account {account}"
            raise NoHistoryError(
                f"no account {account!r} in the store {self.url} (have: {', '.join(accounts) or 'none'}): run "
                f"`humansupport sync {command}` before {before}"
            )

    def counts(self, account: str) -> dict[str, int]:
        out = {}
        with self.connect() as conn:
            for name in ("agents", "groups", "customers", "conversations", "messages", "ratings"):
                t = self.t[name]
                out[name] = int(
                    conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.account == account)).scalar_one()
                )
        return out

    def dump(self, account: str) -> dict[str, list[tuple[Any, ...]]]:
        """Every data row of an account, sorted (tests compare stores with it; cursors excluded)."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        with self.connect() as conn:
            for name in ("agents", "groups", "customers", "conversations", "messages", "ratings"):
                t = self.t[name]
                cols = [c for c in t.c if c.name not in ("synced_at",)]
                rows = conn.execute(sa.select(*cols).where(t.c.account == account)).all()
                out[name] = sorted((tuple(_hashable(v) for v in r) for r in rows), key=repr)
        return out

    # -- profile enrichment --------------------------------------------------------------------------

    def enrichment_writes(
        self, account: str, *, customer_ids: Iterable[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """What enrichment last wrote per customer: ``{customer_id: {attribute: value}}``; the note block is
        under the empty field name (`schema.NOTE_FIELD`)."""
        t = self.t["enrichment_writes"]
        query = sa.select(t.c.customer_id, t.c.field, t.c.value).where(t.c.account == account)
        if customer_ids is not None:
            query = query.where(t.c.customer_id.in_(list(customer_ids)))
        out: dict[str, dict[str, Any]] = {}
        with self.connect() as conn:
            for cid, name, value in conn.execution_options(yield_per=5000).execute(query):
                out.setdefault(cid, {})[name] = value
        return out

    def save_enrichment_writes(
        self, account: str, writes: Mapping[str, Mapping[str, Any]], *, at: datetime | None = None
    ) -> None:
        """Replaces each given customer's rows with `writes[customer_id]` (empty: the customer has none left)."""
        t = self.t["enrichment_writes"]
        ids = list(writes)
        rows = [
            {"account": account, "customer_id": cid, "field": name, "value": value, "written_at": at}
            for cid, fields in writes.items()
            for name, value in fields.items()
        ]
        with self.begin() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                conn.execute(t.delete().where(t.c.account == account, t.c.customer_id.in_(chunk)))
            for start in range(0, len(rows), 5000):
                conn.execute(t.insert(), rows[start : start + 5000])

    def customers(
        self, account: str, *, email: str | None = None, touched_since: datetime | None = None
    ) -> list[Customer]:
        """Stored customers, by id; `email` matches the primary address case-insensitively; `touched_since`
        keeps customers updated since then or with a conversation created or updated since then."""
        t, c = self.t["customers"], self.t["conversations"]
        query = sa.select(t.c.data).where(t.c.account == account).order_by(t.c.id)
        if email is not None:
            query = query.where(sa.func.lower(t.c.email) == email.strip().lower())
        if touched_since is not None:
            recent = sa.select(c.c.customer_id).where(
                c.c.account == account,
                c.c.customer_id.is_not(None),
                sa.or_(c.c.updated_at >= touched_since, c.c.created_at >= touched_since),
            )
            query = query.where(sa.or_(t.c.updated_at >= touched_since, t.c.id.in_(recent)))
        with self.connect() as conn:
            return [Customer.model_validate(row.data) for row in conn.execution_options(yield_per=2000).execute(query)]

    def erased_customers(self, account: str) -> dict[str, datetime]:
        """The customers erased in this account (`erase_customer`), with when: the store never stores them again."""
        t = self.t["erased_customers"]
        with self.connect() as conn:
            rows = conn.execute(sa.select(t.c.customer_id, t.c.erased_at).where(t.c.account == account))
            return {row.customer_id: row.erased_at for row in rows}

    def erase_customer(self, account: str, customer_id: str, *, at: datetime | None = None) -> dict[str, int]:
        """Right to erasure: deletes the customer, their conversations with messages (and so the excerpts of
        what they wrote), status history and ratings, what enrichment wrote for them, and the excerpts of
        their messages in other people's conversations, in one transaction; returns the rows touched per table.

        It leaves a tombstone (the customer and their conversation ids, schema `ERASURES_VERSION`): every later
        write skips them, so a sync (full or not, any stream) or an enrich never brings the customer back.
        """
        cust, conv, msg, rat = (self.t[n] for n in ("customers", "conversations", "messages", "ratings"))
        writes, changes = self.t["enrichment_writes"], self.t["conversation_status_changes"]
        theirs = sa.select(conv.c.id).where(conv.c.account == account, conv.c.customer_id == customer_id)
        deleted: dict[str, int] = {}
        tomb_customers, tomb_conversations = self.t["erased_customers"], self.t["erased_conversations"]
        with self.begin() as conn:
            ids = list(conn.execute(theirs).scalars())
            dialect: Any = pg_dialect if conn.dialect.name == "postgresql" else sqlite_dialect
            conn.execute(
                dialect.insert(tomb_customers).on_conflict_do_nothing(),
                [{"account": account, "customer_id": customer_id, "erased_at": at or datetime.now(UTC)}],
            )
            if ids:
                rows = [{"account": account, "conversation_id": i, "customer_id": customer_id} for i in ids]
                for start in range(0, len(rows), 5000):
                    conn.execute(
                        dialect.insert(tomb_conversations).on_conflict_do_nothing(), rows[start : start + 5000]
                    )
            steps = (
                ("messages", msg.delete().where(msg.c.account == account, msg.c.conversation_id.in_(theirs))),
                (
                    "message_excerpts",
                    msg.update()
                    .where(msg.c.account == account, msg.c.author_id == customer_id, msg.c.excerpt.is_not(None))
                    .values(excerpt=None),
                ),
                (
                    "conversation_status_changes",
                    changes.delete().where(changes.c.account == account, changes.c.conversation_id.in_(theirs)),
                ),
                (
                    "ratings",
                    rat.delete().where(
                        rat.c.account == account,
                        sa.or_(rat.c.customer_id == customer_id, rat.c.conversation_id.in_(theirs)),
                    ),
                ),
                ("conversations", conv.delete().where(conv.c.account == account, conv.c.customer_id == customer_id)),
                ("customers", cust.delete().where(cust.c.account == account, cust.c.id == customer_id)),
                (
                    "enrichment_writes",
                    writes.delete().where(writes.c.account == account, writes.c.customer_id == customer_id),
                ),
            )
            for name, stmt in steps:
                deleted[name] = int(conn.execute(stmt).rowcount or 0)
        return deleted


def _hashable(value: Any) -> Any:
    if isinstance(value, list | dict):
        return repr(value)
    return value


def _aware(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite aggregates return text
        value = datetime.fromisoformat(value)
    from ..models import to_utc

    out = to_utc(value)
    assert out is not None
    return out


def _conversation_row(account: str, conv: Conversation) -> dict[str, Any]:
    return {
        "account": account,
        "id": conv.id,
        "customer_id": conv.customer_id,
        "assignee_id": conv.assignee_id,
        "group_id": conv.group_id,
        "status": str(conv.status),
        "channel": conv.channel,
        "subject": conv.subject,
        "tags": list(conv.tags),
        "created_at": conv.created_at,
        "updated_at": conv.updated_at,
        "version": conv.version,
        "custom_fields": dict(conv.custom_fields),
    }


def _conversation_from(row: Mapping[Any, Any]) -> Conversation:
    return Conversation(
        id=row["id"],
        customer_id=row["customer_id"],
        assignee_id=row["assignee_id"],
        group_id=row["group_id"],
        status=row["status"],
        channel=row["channel"],
        subject=row["subject"],
        tags=row["tags"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
        custom_fields=row["custom_fields"],
    )


def _message_row(
    account: str, conversation_id: str, msg: Message, *, erased: frozenset[str] = frozenset()
) -> dict[str, Any]:
    return {
        "account": account,
        "id": msg.id,
        "conversation_id": conversation_id,
        "author_id": msg.author_id,
        "author_role": str(msg.author_role),
        "public": msg.public,
        "created_at": msg.created_at,
        # an erased customer's words in someone else's conversation: the message counts, its text is not kept
        "excerpt": None if msg.author_id in erased else message_excerpt(msg),
    }


def _customer_rows(account: str, customers: Iterable[Customer], erased: frozenset[str]) -> list[dict[str, Any]]:
    return [
        {
            "account": account,
            "id": c.id,
            "name": c.name,
            "email": c.email,
            "organization": c.organization,
            "data": c.model_dump(mode="json", exclude={"raw"}),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
        }
        for c in customers
        if c.id not in erased
    ]


def _rating_rows(account: str, ratings: Iterable[SatisfactionRating]) -> list[dict[str, Any]]:
    return [
        {
            "account": account,
            "id": r.id,
            "conversation_id": r.conversation_id,
            "customer_id": r.customer_id,
            "agent_id": r.agent_id,
            "score": str(r.score),
            "created_at": r.created_at,
        }
        for r in ratings
    ]


def _erased_customers(conn: Connection, t: Mapping[str, sa.Table], account: str) -> frozenset[str]:
    """The account's tombstoned customer ids (usually none: one indexed read per write batch)."""
    tomb = t["erased_customers"]
    return frozenset(conn.execute(sa.select(tomb.c.customer_id).where(tomb.c.account == account)).scalars())


def _erased_conversation_ids(conn: Connection, t: Mapping[str, sa.Table], account: str, ids: Iterable[str]) -> set[str]:
    tomb = t["erased_conversations"]
    wanted = sorted(ids)
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = sa.select(tomb.c.conversation_id).where(tomb.c.account == account, tomb.c.conversation_id.in_(chunk))
        found.update(conn.execute(query).scalars())
    return found


def _erased_conversations(
    conn: Connection,
    t: Mapping[str, sa.Table],
    account: str,
    erased: frozenset[str],
    conversations: Sequence[Conversation],
) -> set[str]:
    """Which of `conversations` are an erased customer's; new ones (started after the erasure) join the tombstone."""
    gone = _erased_conversation_ids(conn, t, account, [c.id for c in conversations])
    new = [c for c in conversations if c.customer_id in erased and c.id not in gone]
    if new:
        dialect: Any = pg_dialect if conn.dialect.name == "postgresql" else sqlite_dialect
        rows = [{"account": account, "conversation_id": c.id, "customer_id": c.customer_id} for c in new]
        conn.execute(dialect.insert(t["erased_conversations"]).on_conflict_do_nothing(), rows)
        gone.update(c.id for c in new)
    return gone


def message_excerpt(msg: Message) -> str | None:
    """What the store keeps of a message's text: the first `EXCERPT_CHARS` characters of a customer's message
    (for the digest's quotes); nothing of agents' replies, notes or system events."""
    if msg.author_role != AuthorRole.CUSTOMER or not msg.body:
        return None
    text = msg.body.strip()
    return text[:EXCERPT_CHARS] or None


def _record_status_changes(
    conn: Connection, t: Mapping[str, sa.Table], account: str, conversations: Sequence[Conversation]
) -> None:
    """Before an upsert: a row in `conversation_status_changes` for each conversation whose status differs from
    the stored one (first sightings are not changes). The time is the conversation's `updated_at`."""
    conv, changes = t["conversations"], t["conversation_status_changes"]
    latest = {c.id: c for c in conversations}
    ids = list(latest)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stored = conn.execute(
            sa.select(conv.c.id, conv.c.status, conv.c.updated_at).where(
                conv.c.account == account, conv.c.id.in_(chunk)
            )
        ).all()
        for cid, old, stored_at in stored:
            new = latest[cid]
            if new.updated_at is not None and stored_at is not None and new.updated_at < stored_at:
                continue  # an older snapshot: the upsert keeps the stored row, so nothing changed
            when = new.updated_at or new.created_at
            if old != str(new.status) and when is not None:
                rows.append(
                    {
                        "account": account,
                        "conversation_id": cid,
                        "changed_at": when,
                        "to_status": str(new.status),
                        "from_status": old,
                    }
                )
    if not rows:
        return
    insert: Any = (pg_dialect if conn.dialect.name == "postgresql" else sqlite_dialect).insert(changes)
    conn.execute(insert.on_conflict_do_nothing(), rows)


def _read_version(conn: Connection) -> int | None:
    if not sa.inspect(conn).has_table("meta"):
        return None
    value = conn.execute(sa.text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar_one_or_none()
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise StoreError(f"schema version {value!r} in the store is not a number; the store is corrupt") from None


def _write_version(conn: Connection, version: int) -> None:
    conn.execute(sa.text("DELETE FROM meta WHERE key = 'schema_version'"))
    conn.execute(sa.text("INSERT INTO meta (key, value) VALUES ('schema_version', :v)"), {"v": str(version)})


#: execution option marking a connection from `Store.begin()` (a write transaction)
_WRITE_OPTION: Final = "humansupport_write"


def _sqlite_engine(url: sa.engine.URL, *, lock_timeout: float, create: bool) -> Engine:
    path = url.database
    if path and path != ":memory:":
        file = Path(path).expanduser()
        if not file.exists():
            if not create:
                raise NoHistoryError(f"no store at {file}; run `humansupport sync VENDOR` first")
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the folder for the store {file}: {exc.strerror or exc}. {_CHOOSE_STORE}"
                ) from None
        url = url.set(database=str(file))
    engine = sa.create_engine(url, connect_args={"timeout": lock_timeout}, future=True)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # WAL: readers (the router) never block the writer (sync); busy timeout: wait briefly on a lock
        dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN manage transactions
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(lock_timeout * 1000)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE_OPTION) else "BEGIN")

    return engine


_CHOOSE_STORE: Final = (
    "Pass a writable path with --store, or set HUMANSUPPORT_STORE or [store] url in humansupport.toml"
)


def _sqlite_access_problem(url: str) -> str | None:
    """Why SQLite cannot open or write the store file at `url`, in words (None: not a file problem we can tell)."""
    try:
        path = sa.engine.make_url(url).database
    except sa.exc.ArgumentError:
        return None
    if not path or path == ":memory:":
        return None
    file = Path(path).expanduser()
    folder = file.parent
    if file.is_dir():
        return f"the store path {file} is a folder, not a file"
    if file.exists() and not os.access(file, os.R_OK | os.W_OK):
        return f"the store file {file} is not readable and writable by this user"
    if not os.access(folder, os.W_OK | os.X_OK):
        # WAL mode keeps two files beside the store (-wal, -shm): the folder must be writable too
        return f"the folder {folder} of the store {file} is not writable by this user (SQLite writes -wal/-shm there)"
    return None


#: SQLSTATEs of a transaction the server rolled back to resolve a conflict: running it again is safe
_CONFLICT_STATES: Final = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
#: SQLSTATE of a lock that could not be taken (NOWAIT, lock_timeout): held by another session
_LOCK_STATES: Final = frozenset({"55P03"})
#: SQLite's result codes for a lock another connection holds (SQLITE_BUSY, SQLITE_LOCKED)
_SQLITE_BUSY: Final = frozenset({5, 6})


def _classify(orig: BaseException | None) -> str | None:
    """ "conflict", "locked" or None, from the driver's error code, never from its message text (a deadlock's
    text says "blocked by process", which is not a lock another run holds)."""
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _CONFLICT_STATES:
        return "conflict"
    if sqlstate in _LOCK_STATES:
        return "locked"
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            return "locked" if code & 0xFF in _SQLITE_BUSY else None
        text = str(orig)  # Python built without error codes: SQLite's own two messages for a held lock
        return "locked" if "database is locked" in text or "database table is locked" in text else None
    return None


@contextmanager
def _translate(url: str) -> Iterator[None]:
    try:
        yield
    except sa.exc.DBAPIError as exc:
        orig = exc.orig
        text = str(orig if orig is not None else exc)
        if url.startswith("sqlite") and ("unable to open database file" in text or "readonly database" in text):
            problem = _sqlite_access_problem(url) or f"SQLite says: {text}"
            raise ConfigError(f"cannot open the store {url}: {problem}. {_CHOOSE_STORE}") from None
        kind = _classify(orig)
        if kind == "conflict":
            raise StoreConflictError(f"store {url}: transaction rolled back by the database ({text.strip()})") from None
        if kind == "locked":
            raise LockHeldError(
                f"the store {url} is locked by another process (another sync or rebalance); try again later"
            ) from None
        if isinstance(orig, sqlite3.DatabaseError) and "not a database" in text:
            raise StoreError(f"{url} is not a SQLite database (corrupt or another file); nothing was changed") from None
        raise StoreError(f"store {url}: {text}") from None
