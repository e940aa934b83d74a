"""The store's tables, one `MetaData` per schema version, and the migrations between versions.

Each migration is a function of a connection that brings the schema from version N-1 to N inside one
transaction. Version 1 is the first released schema; tests build it with `build_metadata(1)` and check the
upgrade keeps every row. Later work (the rebalance journal, profile fields) adds a version here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

__all__ = [
    "CAPACITY_VERSION",
    "CUSTOM_FIELDS_VERSION",
    "ERASURES_VERSION",
    "EXCERPT_CHARS",
    "INSIGHTS_VERSION",
    "MIGRATIONS",
    "RATE_BUDGET_VERSION",
    "SCHEMA_VERSION",
    "UtcDateTime",
    "build_metadata",
    "status_changes_table",
    "tables",
]

SCHEMA_VERSION: Final = 10


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on SQLite (which keeps naive text) and PostgreSQL (timestamptz) alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def build_metadata(version: int = SCHEMA_VERSION) -> sa.MetaData:
    """The tables as they are at `version` (so the migration test can build version 1 exactly)."""
    md = sa.MetaData()

    def k() -> list[sa.Column[Any]]:
        return [
            sa.Column("account", sa.String(200), primary_key=True),
            sa.Column("id", sa.String(200), primary_key=True),
        ]

    sa.Table("meta", md, sa.Column("key", sa.String(100), primary_key=True), sa.Column("value", sa.Text))
    agent_cols: list[Any] = [
        *k(),
        sa.Column("name", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("active", sa.Boolean, nullable=False, default=True),
        sa.Column("availability", sa.String(20), nullable=False),
        sa.Column("capacity", sa.Integer),
        sa.Column("group_ids", sa.JSON, nullable=False),
        sa.Column("synced_at", UtcDateTime),
    ]
    if version >= 2:
        agent_cols.append(sa.Column("deleted_at", UtcDateTime))
    sa.Table("agents", md, *agent_cols)
    sa.Table("groups", md, *k(), sa.Column("name", sa.Text), sa.Column("agent_ids", sa.JSON, nullable=False))
    sa.Table(
        "customers",
        md,
        *k(),
        sa.Column("name", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("organization", sa.Text),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime),
        sa.Column("updated_at", UtcDateTime),
    )
    conversations = sa.Table(
        "conversations",
        md,
        *k(),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("assignee_id", sa.String(200)),
        sa.Column("group_id", sa.String(200)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(50)),
        sa.Column("subject", sa.Text),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime),
        sa.Column("updated_at", UtcDateTime),
        sa.Column("version", sa.String(100)),
        # the conversation's updated_at when its messages were last fetched: a resumed sync skips it
        sa.Column("messages_synced_at", UtcDateTime),
        *([_custom_fields_column()] if version >= CUSTOM_FIELDS_VERSION else []),
    )
    message_cols: list[Any] = [
        *k(),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("author_id", sa.String(200)),
        sa.Column("author_role", sa.String(20), nullable=False),
        sa.Column("public", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime),
    ]
    if version >= INSIGHTS_VERSION:
        message_cols.append(_excerpt_column())
    messages = sa.Table("messages", md, *message_cols)
    ratings = sa.Table(
        "ratings",
        md,
        *k(),
        sa.Column("conversation_id", sa.String(200)),
        sa.Column("customer_id", sa.String(200)),
        sa.Column("agent_id", sa.String(200)),
        sa.Column("score", sa.String(20), nullable=False),
        sa.Column("created_at", UtcDateTime),
    )
    sa.Table(
        "sync_cursors",
        md,
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("stream", sa.String(50), primary_key=True),
        sa.Column("cursor", UtcDateTime),
        sa.Column("items", sa.Integer, nullable=False, default=0),
        sa.Column("finished_at", UtcDateTime),
    )
    if version >= 2:
        _v2_indexes(conversations, messages, ratings)  # an Index on a table's columns attaches to it
    if version >= 3:
        rebalance_journal_table(md)
    if version >= ENRICHMENT_WRITES_VERSION:
        _enrichment_writes_table(md)
    if version >= INSIGHTS_VERSION:
        status_changes_table(md)
        _insights_indexes(conversations)
    if version >= WEBHOOK_QUEUE_VERSION:
        queue = webhook_queue_table(md)
        if version >= CAPACITY_VERSION:
            _capacity_indexes(conversations, queue)
    if version >= RATE_BUDGET_VERSION:
        rate_budget_tables(md)
    if version >= ERASURES_VERSION:
        _erasure_tables(md)
    if version >= CAPACITY_VERSION:
        reservations_table(md)
        queue_totals_table(md)
    return md


# --- rebalance journal (self-contained so a merge can renumber it) -------------------------------------


def rebalance_journal_table(md: sa.MetaData) -> sa.Table:
    """One row per planned move of a rebalance run: the applier's memory across crashes and `--resume`."""
    table = sa.Table(
        "rebalance_journal",
        md,
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("from_agent_id", sa.String(200)),
        sa.Column("to_agent_id", sa.String(200), nullable=False),
        sa.Column("expected_updated_at", UtcDateTime),
        sa.Column("expected_version", sa.String(100)),
        # planned -> applied | skipped_stale | skipped_gone | failed (failed is retried by --resume)
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    sa.Index("ix_rebalance_journal_state", table.c.account, table.c.state)
    return table


def _migrate_rebalance_journal(conn: Connection) -> None:
    """Version 3: the rebalance journal (one row per move, states survive a crash)."""
    md = sa.MetaData()
    rebalance_journal_table(md).create(conn, checkfirst=True)


# -- profile enrichment: what we last wrote (self-contained: the lead may renumber this migration) -------

#: the schema version that adds `enrichment_writes` (renumber here only when merging other migrations)
ENRICHMENT_WRITES_VERSION: Final = 4
NOTE_FIELD: Final = ""
"""The `field` of the row holding our note block (attribute names are never empty)."""


def _enrichment_writes_table(md: sa.MetaData) -> sa.Table:
    """One row per (customer, attribute we wrote) plus one for our note block, so a value that differs from
    it is a human's and is not overwritten across runs (the human-edit protection)."""
    return sa.Table(
        "enrichment_writes",
        md,
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("field", sa.String(200), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("written_at", UtcDateTime),
    )


def _migrate_enrichment_writes(conn: Connection) -> None:
    """Adds `enrichment_writes`: the profile fields and note block we last wrote per customer."""
    _enrichment_writes_table(sa.MetaData()).create(conn, checkfirst=True)


# -- insights: message excerpts and status history (self-contained: the lead may renumber it) -------------

#: the schema version that adds `messages.excerpt` and `conversation_status_changes` (renumber only at merges)
INSIGHTS_VERSION: Final = 5
EXCERPT_CHARS: Final = 1000
"""How much of a customer message the store keeps for quotes (data minimisation: agents' text is not kept)."""


def _excerpt_column() -> sa.Column[Any]:
    # the first EXCERPT_CHARS characters of a *customer* message; NULL for agents, notes and system events
    return sa.Column("excerpt", sa.Text)


def status_changes_table(md: sa.MetaData) -> sa.Table:
    """One row per status change the store saw (sync or read-back): how `avoidable` finds reopened conversations.

    Keyed by (account, conversation, when, new status) so re-writing the same change is a no-op."""
    table = sa.Table(
        "conversation_status_changes",
        md,
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("conversation_id", sa.String(200), primary_key=True),
        sa.Column("changed_at", UtcDateTime, primary_key=True),
        sa.Column("to_status", sa.String(20), primary_key=True),
        sa.Column("from_status", sa.String(20), nullable=False),
    )
    sa.Index("ix_status_changes_time", table.c.account, table.c.changed_at)
    return table


def _insights_indexes(conversations: sa.Table) -> list[sa.Index]:
    return [sa.Index("ix_conversations_created", conversations.c.account, conversations.c.created_at)]


def _migrate_insights(conn: Connection) -> None:
    """Adds `messages.excerpt`, `conversation_status_changes` and an index for reports over a time range."""
    conn.execute(sa.text("ALTER TABLE messages ADD COLUMN excerpt TEXT"))
    status_changes_table(sa.MetaData()).create(conn, checkfirst=True)
    for index in build_metadata(INSIGHTS_VERSION).tables["conversations"].indexes:
        index.create(conn, checkfirst=True)


# -- webhook queue (self-contained: the lead may renumber this migration) --------------------------------

#: the schema version that adds `webhook_queue` (renumber here only when merging other migrations)
WEBHOOK_QUEUE_VERSION: Final = 6


def webhook_queue_table(md: sa.MetaData) -> sa.Table:
    """One row per webhook event accepted by `humansupport webhooks serve`: the durable queue the worker drains.

    `dedupe_key` is unique per account (a vendor redelivery inserts nothing); `state` is queued -> processing ->
    done | skipped | failed; a `processing` row whose `lease_until` passed is taken again (a crash mid-work);
    `assigned_agent_id` remembers an assignment we applied (at most once); `held_for` marks a conversation the
    router's wait stage keeps for an away agent, offered to them when they come back.
    """
    table = sa.Table(
        "webhook_queue",
        md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("vendor", sa.String(50), nullable=False),
        sa.Column("dedupe_key", sa.String(100), nullable=False),
        sa.Column("event_type", sa.String(50), nullable=False),
        sa.Column("conversation_id", sa.String(200)),
        sa.Column("event", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime, nullable=False),
        sa.Column("lease_until", UtcDateTime),
        sa.Column("claim_token", sa.String(32)),
        sa.Column("finished_at", UtcDateTime),
        sa.Column("outcome", sa.String(50)),
        sa.Column("message", sa.Text),
        sa.Column("assigned_agent_id", sa.String(200)),
        sa.Column("held_for", sa.String(200)),
        sa.UniqueConstraint("account", "dedupe_key", name="uq_webhook_queue_dedupe"),
    )
    sa.Index("ix_webhook_queue_ready", table.c.state, table.c.next_attempt_at)
    sa.Index("ix_webhook_queue_held", table.c.account, table.c.held_for)
    return table


def _migrate_webhook_queue(conn: Connection) -> None:
    """Adds `webhook_queue`: accepted webhook events, drained by the worker, surviving a restart."""
    webhook_queue_table(sa.MetaData()).create(conn, checkfirst=True)


# -- conversation custom fields for themes (self-contained: the lead may renumber this migration) ---------

#: the schema version that adds `conversations.custom_fields` (renumber here only when merging other migrations)
CUSTOM_FIELDS_VERSION: Final = 7


def _custom_fields_column() -> sa.Column[Any]:
    # the vendor's conversation custom fields by the vendor's key ({} when none): the digest's `[insights] fields`
    return sa.Column("custom_fields", sa.JSON, nullable=False, server_default=sa.text("'{}'"))


def _migrate_custom_fields(conn: Connection) -> None:
    """Adds `conversations.custom_fields`; rows stored before read as `{}` until the next sync rewrites them."""
    coltype = sa.JSON().compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE conversations ADD COLUMN custom_fields {coltype} NOT NULL DEFAULT '{{}}'"))


# -- rate budget per account (self-contained: the lead may renumber this migration) -------------------------

#: the schema version that adds `rate_budgets` and `rate_budget_spends` (renumber only when merging migrations)
RATE_BUDGET_VERSION: Final = 8


def rate_budget_tables(md: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """The request budget every process of an account shares on PostgreSQL (`store.budget`).

    `rate_budgets` has one row per budget key, locked `FOR UPDATE` while a process decides, with the block a 429
    set; `rate_budget_spends` holds the spends of the current window. Times are seconds since the epoch on the
    database's clock, so machines whose clocks disagree still share one window.
    """
    budgets = sa.Table(
        "rate_budgets",
        md,
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("blocked_until", sa.Float),
    )
    spends = sa.Table(
        "rate_budget_spends",
        md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
    )
    sa.Index("ix_rate_budget_spends_key_at", spends.c.key, spends.c.at)
    return budgets, spends


def _migrate_rate_budget(conn: Connection) -> None:
    """Adds the shared rate budget tables (used on PostgreSQL; a SQLite store keeps its budget in a file)."""
    md = sa.MetaData()
    for table in rate_budget_tables(md):
        table.create(conn, checkfirst=True)


# -- erasure tombstones (self-contained: the lead may renumber this migration) ------------------------------

#: the schema version that adds the erasure tombstones (renumber here only when merging other migrations)
ERASURES_VERSION: Final = 9


def _erasure_tables(md: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Who was erased (`profile --forget`), and their conversations: every later write of the store skips them,
    so no sync (incremental or full, any stream) or enrich brings an erased customer back."""
    customers = sa.Table(
        "erased_customers",
        md,
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("erased_at", UtcDateTime, nullable=False),
    )
    conversations = sa.Table(
        "erased_conversations",
        md,
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("conversation_id", sa.String(200), primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=False),
    )
    return customers, conversations


def _migrate_erasures(conn: Connection) -> None:
    """Adds `erased_customers` and `erased_conversations`: the tombstones erasure leaves."""
    for table in _erasure_tables(sa.MetaData()):
        table.create(conn, checkfirst=True)


# -- capacity across processes and queue scale (self-contained: the lead may renumber this migration) ------

#: the schema version that adds `agent_reservations`, `webhook_queue_totals` and the indexes of the hot queries
CAPACITY_VERSION: Final = 10


def reservations_table(md: sa.MetaData) -> sa.Table:
    """One row per assignment decided but not yet seen in `conversations` (assign + read-back in flight).

    An agent's load is their open conversations in the store plus these rows, counted under a per-agent lock in
    the transaction that adds one, so any number of processes never put an agent over capacity. A row is removed
    once the read-back is stored (or the assign failed); one left by a crash stops counting at `expires_at`.
    """
    table = sa.Table(
        "agent_reservations",
        md,
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("conversation_id", sa.String(200), primary_key=True),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
    )
    sa.Index("ix_agent_reservations_agent", table.c.account, table.c.agent_id)
    return table


def queue_totals_table(md: sa.MetaData) -> sa.Table:
    """What retention deleted from `webhook_queue`, summed per (vendor, account, state, outcome): `/metrics`
    counters add these, so they never go back when old rows are pruned."""
    return sa.Table(
        "webhook_queue_totals",
        md,
        sa.Column("vendor", sa.String(50), primary_key=True),
        sa.Column("account", sa.String(200), primary_key=True),
        sa.Column("state", sa.String(20), primary_key=True),
        sa.Column("outcome", sa.String(50), primary_key=True),  # "" for none
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("retries", sa.BigInteger, nullable=False),
    )


def _capacity_indexes(conversations: sa.Table, queue: sa.Table) -> list[sa.Index]:
    return [
        # an agent's open load (counted per reservation) and `open_loads`
        sa.Index("ix_conversations_assignee", conversations.c.account, conversations.c.assignee_id),
        # `we_assigned()` per event: was this conversation's last assignment ours?
        sa.Index("ix_webhook_queue_conversation", queue.c.account, queue.c.conversation_id),
        # retention: finished rows older than the horizon
        sa.Index("ix_webhook_queue_finished", queue.c.finished_at),
        # depth and lag per account
        sa.Index("ix_webhook_queue_account_state", queue.c.account, queue.c.state),
    ]


def _migrate_capacity(conn: Connection) -> None:
    """Adds `agent_reservations`, `webhook_queue_totals` and the indexes of the per-event queries (loads,
    we_assigned, retention, depth per account)."""
    md = build_metadata(CAPACITY_VERSION)
    md.tables["agent_reservations"].create(conn, checkfirst=True)
    md.tables["webhook_queue_totals"].create(conn, checkfirst=True)
    for name in ("conversations", "webhook_queue"):
        for index in md.tables[name].indexes:
            index.create(conn, checkfirst=True)


def _v2_indexes(conversations: sa.Table, messages: sa.Table, ratings: sa.Table) -> list[sa.Index]:
    return [
        sa.Index("ix_messages_conversation", messages.c.account, messages.c.conversation_id),
        sa.Index("ix_conversations_customer", conversations.c.account, conversations.c.customer_id),
        sa.Index("ix_ratings_conversation", ratings.c.account, ratings.c.conversation_id),
    ]


def tables(md: sa.MetaData) -> dict[str, sa.Table]:
    return dict(md.tables)


def _migrate_1(conn: Connection) -> None:
    build_metadata(1).create_all(conn)


def _migrate_2(conn: Connection) -> None:
    """Version 2: remember when an agent vanished from the helpdesk (deleted), and index the routing joins."""
    coltype = UtcDateTime().compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE agents ADD COLUMN deleted_at {coltype}"))
    md = build_metadata(2)
    for name in ("messages", "conversations", "ratings"):
        for index in md.tables[name].indexes:
            index.create(conn, checkfirst=True)


#: MIGRATIONS[n] upgrades version n-1 to n
MIGRATIONS: Final[dict[int, Callable[[Connection], None]]] = {
    1: _migrate_1,
    2: _migrate_2,
    3: _migrate_rebalance_journal,
    ENRICHMENT_WRITES_VERSION: _migrate_enrichment_writes,
    INSIGHTS_VERSION: _migrate_insights,
    WEBHOOK_QUEUE_VERSION: _migrate_webhook_queue,
    CUSTOM_FIELDS_VERSION: _migrate_custom_fields,
    RATE_BUDGET_VERSION: _migrate_rate_budget,
    ERASURES_VERSION: _migrate_erasures,
    CAPACITY_VERSION: _migrate_capacity,
}
