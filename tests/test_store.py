"""The store on SQLite and on a real PostgreSQL server: schema, migrations, upserts, bad files."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from humansupport import Agent, Conversation, LockHeldError, Message, StoreError
from humansupport.store import SCHEMA_VERSION, Store, build_metadata, default_store_url
from humansupport.store.schema import MIGRATIONS
from humansupport.testing.synthetic import SyntheticHistory

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _load(store: Store, history: SyntheticHistory, account: str = "acct") -> None:
    store.upsert_agents(account, history.agents, seen_at=T0)
    store.upsert_groups(account, history.groups)
    store.upsert_customers(account, history.customers)
    store.write_conversations(account, [(c, history.messages[c.id]) for c in history.conversations])
    store.upsert_ratings(account, history.ratings)


def test_fresh_store_is_at_the_current_schema(store_url: str) -> None:
    with Store.open(store_url) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.counts("acct") == dict.fromkeys(
            ["agents", "groups", "customers", "conversations", "messages", "ratings"], 0
        )


def test_upserts_are_idempotent_and_round_trip(store_url: str, synthetic_history: SyntheticHistory) -> None:
    with Store.open(store_url) as store:
        _load(store, synthetic_history)
        first = store.dump("acct")
        _load(store, synthetic_history)
        assert store.dump("acct") == first
        counts = store.counts("acct")
        assert counts["messages"] == synthetic_history.message_count()
        assert counts["conversations"] == len(synthetic_history.conversations)
        assert counts["ratings"] == len(synthetic_history.ratings)
        conv = synthetic_history.conversations[3]
        stored = store.conversation("acct", conv.id)
        assert stored is not None
        assert (stored.assignee_id, stored.customer_id, stored.created_at) == (
            conv.assignee_id,
            conv.customer_id,
            conv.created_at,
        )
        assert stored.created_at is not None and stored.created_at.tzinfo is not None
        someone = conv.customer_id or ""
        mine = store.conversations_of("acct", someone)
        assert [c.id for c in mine] == [
            c.id
            for c in sorted(synthetic_history.conversations, key=lambda c: (c.created_at, c.id))
            if c.customer_id == someone
        ]
        customer = store.customer("acct", synthetic_history.customers[0].id)
        assert customer is not None and customer.email == synthetic_history.customers[0].email


def test_accounts_do_not_mix(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.upsert_agents("a", [Agent(id="1", name="Ann")], seen_at=T0)
        store.upsert_agents("b", [Agent(id="1", name="Bob")], seen_at=T0)
        assert [a.name for a, _ in store.agents("a")] == ["Ann"]
        assert [a.name for a, _ in store.agents("b")] == ["Bob"]


def test_an_update_replaces_the_row(store_url: str) -> None:
    conv = Conversation(id="c1", status="open", customer_id="u1", created_at=T0, updated_at=T0)
    with Store.open(store_url) as store:
        store.write_conversations("a", [(conv, [])])
        moved = conv.model_copy(update={"assignee_id": "9", "updated_at": T0 + timedelta(hours=1), "status": "solved"})
        store.write_conversations("a", [(moved, None)])
        got = store.conversation("a", "c1")
        assert got is not None and got.assignee_id == "9" and got.status == "solved"
        # messages_synced_at still says which updated_at the messages belong to
        assert store.messages_synced_at("a", ["c1"]) == {"c1": T0}


def test_agents_missing_from_the_helpdesk_are_marked_deleted(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.upsert_agents("a", [Agent(id="1"), Agent(id="2")], seen_at=T0)
        assert store.mark_missing_agents("a", ["1"], at=T0) == ["2"]
        rows = {a.id: (a.active, gone) for a, gone in store.agents("a")}
        assert rows["2"] == (False, T0) and rows["1"] == (True, None)


def test_replies_join_messages_to_the_customer(store_url: str) -> None:
    conv = Conversation(id="c1", status="solved", customer_id="u1", created_at=T0)
    msgs = [
        Message(id="m1", conversation_id="c1", author_id="u1", author_role="customer", created_at=T0),
        Message(id="m2", conversation_id="c1", author_id="7", author_role="agent", created_at=T0 + timedelta(hours=1)),
        Message(
            id="m3", conversation_id="c1", author_id="7", author_role="agent", public=False, created_at=T0
        ),  # a private note is not a reply
    ]
    with Store.open(store_url) as store:
        store.write_conversations("a", [(conv, msgs)])
        replies = list(store.iter_replies("a"))
        assert [(r.customer_id, r.agent_id, r.conversation_id) for r in replies] == [("u1", "7", "c1")]
        assert store.first_replies("a") == {"c1": T0 + timedelta(hours=1)}


def test_upgrade_from_the_first_schema_keeps_rows(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        MIGRATIONS[1](conn)
        conn.execute(sa.text("INSERT INTO meta (key, value) VALUES ('schema_version', '1')"))
        v1 = build_metadata(1)
        conn.execute(
            v1.tables["agents"].insert(),
            [{"account": "a", "id": "1", "name": "Ann", "active": True, "availability": "available", "group_ids": []}],
        )
        conn.execute(
            v1.tables["conversations"].insert(),
            [{"account": "a", "id": "c1", "status": "open", "tags": ["x"], "subject": "Hi", "created_at": T0}],
        )
    engine.dispose()
    with Store.open(store_url) as store:
        assert store.schema_version() == SCHEMA_VERSION
        [(agent, deleted_at)] = store.agents("a")
        assert agent.name == "Ann" and deleted_at is None
        store.mark_missing_agents("a", [], at=T0)  # the column version 2 added works
        assert store.agents("a")[0][1] == T0
        kept = store.conversation("a", "c1")  # a version-1 row reads back, with no custom fields (version 7)
        assert kept is not None and (kept.subject, kept.tags, kept.custom_fields) == ("Hi", ["x"], {})


def test_future_schema_is_refused_and_left_alone(store_url: str) -> None:
    with Store.open(store_url) as store, store.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(StoreError, match="schema version 99, newer"):
        Store.open(store_url)
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT value FROM meta")).scalar_one() == "99"
    engine.dispose()


def test_foreign_tables_without_a_version_are_refused(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(StoreError, match="no humansupport schema version"):
        Store.open(store_url)


def test_corrupt_sqlite_file_is_a_clear_error_and_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "humansupport.db"
    junk = b"this is not a database\n" * 100
    path.write_bytes(junk)
    with pytest.raises(StoreError, match="not a SQLite database"):
        Store.open(path)
    assert path.read_bytes() == junk


def test_store_locked_by_another_process_raises_lock_held(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store.open(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with Store.open(path, lock_timeout=0.05) as store, pytest.raises(LockHeldError, match="locked"):
            store.upsert_agents("a", [Agent(id="1")], seen_at=T0)
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store, store.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_default_location_follows_env_then_config_then_data_dir(tmp_path: Path) -> None:
    assert default_store_url(environ={"HUMANSUPPORT_STORE": "postgresql://x/y"}) == "postgresql://x/y"
    assert default_store_url(environ={}, config={"store": {"url": "sqlite:///a.db"}}) == "sqlite:///a.db"
    url = default_store_url(environ={}, config={})
    assert url.startswith("sqlite:///") and url.endswith("humansupport.db")


def test_missing_store_without_create_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="run `humansupport sync"):
        Store.open(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()


def test_postgres_urls_use_psycopg() -> None:
    from humansupport.store.store import _as_url

    assert _as_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _as_url("/tmp/x.db") == "sqlite:////tmp/x.db"


def test_unreachable_postgres_is_a_store_error() -> None:
    with pytest.raises(StoreError, match=r"127\.0\.0\.1"):
        Store.open("postgresql://postgres@127.0.0.1:1/nothing")


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match=r"not a store URL|cannot use"):
        Store.open("nosuchdb+driver://x/y")


def test_a_write_that_reads_first_is_not_refused_when_another_process_committed_meanwhile(tmp_path: Path) -> None:
    """Writes take SQLite's write lock up front (BEGIN IMMEDIATE). A deferred transaction that reads (as the
    status-change check does) and then writes failed at once with 'database is locked' when another process
    committed in between: the webhook worker's writes lost to the receiver's inserts."""
    path = tmp_path / "s.db"
    Store.open(path).close()
    other = sqlite3.connect(path, isolation_level=None, timeout=0.05)
    with Store.open(path) as store:
        with store.begin() as conn:
            conn.execute(store.t["agents"].select()).all()  # the snapshot a deferred transaction would read in
            with pytest.raises(sqlite3.OperationalError, match="locked"):  # the write lock is already ours
                other.execute("INSERT INTO meta (key, value) VALUES ('x', '1')")
            store._upsert(conn, store.t["agents"], [])
            conn.execute(store.t["meta"].insert().values(key="y", value="2"))
        with store.connect() as reader:  # a read does not take the write lock
            reader.execute(store.t["agents"].select()).all()
            other.execute("INSERT INTO meta (key, value) VALUES ('z', '3')")
    other.close()
