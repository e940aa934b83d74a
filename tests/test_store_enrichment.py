"""The store's part of profile enrichment, on SQLite and PostgreSQL: the write record, erasure, selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from humansupport.enrichment.persist import load_write_record, save_write_record
from humansupport.enrichment.writeback import NOTE_BEGIN, NOTE_END, WriteRecord
from humansupport.models import Conversation, Customer, ProfilePatch
from humansupport.store import SCHEMA_VERSION, Store, build_metadata
from humansupport.store.schema import ENRICHMENT_WRITES_VERSION, MIGRATIONS
from humansupport.testing.synthetic import SyntheticHistory

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BLOCK = f"{NOTE_BEGIN}\nConversations: 3\n{NOTE_END}"


def _load(store: Store, history: SyntheticHistory, account: str = "acct") -> None:
    store.upsert_agents(account, history.agents, seen_at=T0)
    store.upsert_customers(account, history.customers)
    store.write_conversations(account, [(c, history.messages[c.id]) for c in history.conversations])
    store.upsert_ratings(account, history.ratings)


def test_upgrade_to_the_enrichment_writes_version_keeps_rows(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    previous = ENRICHMENT_WRITES_VERSION - 1
    with engine.begin() as conn:
        for step in range(1, previous + 1):
            MIGRATIONS[step](conn)
        conn.execute(sa.text("INSERT INTO meta (key, value) VALUES ('schema_version', :v)"), {"v": str(previous)})
        conn.execute(
            build_metadata(previous).tables["customers"].insert(),
            [{"account": "a", "id": "1", "name": "Ann", "data": {"id": "1", "name": "Ann"}}],
        )
        assert "enrichment_writes" not in sa.inspect(conn).get_table_names()
    engine.dispose()
    with Store.open(store_url) as store:
        assert store.schema_version() == SCHEMA_VERSION >= ENRICHMENT_WRITES_VERSION
        customer = store.customer("a", "1")
        assert customer is not None and customer.name == "Ann"
        store.save_enrichment_writes("a", {"1": {"humansupport_conversations": 3}}, at=T0)
        assert store.enrichment_writes("a") == {"1": {"humansupport_conversations": 3}}


def test_write_record_round_trips_and_saves_only_what_changed(store_url: str) -> None:
    with Store.open(store_url) as store:
        record = WriteRecord()
        record.remember("1", ProfilePatch(custom_attributes={"humansupport_conversations": 3, "x": "é"}, note=BLOCK))
        record.remember("2", ProfilePatch(custom_attributes={"humansupport_top_tags": "billing"}))
        assert save_write_record(store, "acct", record, at=T0) == 2
        loaded = load_write_record(store, "acct")
        assert loaded.attributes == record.attributes and loaded.notes == {"1": BLOCK}
        assert load_write_record(store, "other").attributes == {}  # accounts are separate

        # a later run changes customer 1 only: customer 2's rows are not rewritten, removed values go
        loaded.remember("1", ProfilePatch(custom_attributes={"x": None}, note=""))
        assert loaded.dirty == {"1"}
        assert save_write_record(store, "acct", loaded, at=T0 + timedelta(days=1)) == 1
        again = load_write_record(store, "acct")
        assert again.attributes == {"1": {"humansupport_conversations": 3}, "2": {"humansupport_top_tags": "billing"}}
        assert again.notes == {}
        assert save_write_record(store, "acct", again, at=T0) == 0  # nothing changed, nothing written
        again.forget("2")
        save_write_record(store, "acct", again, at=T0)
        assert set(store.enrichment_writes("acct")) == {"1"}


def test_erase_customer_removes_only_that_customers_data(store_url: str, synthetic_history: SyntheticHistory) -> None:
    with Store.open(store_url) as store:
        _load(store, synthetic_history)
        _load(store, synthetic_history, account="other")
        rated = next(r.customer_id for r in synthetic_history.ratings if r.customer_id)
        assert rated is not None
        store.save_enrichment_writes("acct", {rated: {"humansupport_conversations": 1}, "zz": {"a": 1}}, at=T0)
        before = store.counts("acct")
        theirs = [c for c in synthetic_history.conversations if c.customer_id == rated]
        their_messages = sum(len(synthetic_history.messages[c.id]) for c in theirs)
        their_ratings = [
            r
            for r in synthetic_history.ratings
            if r.customer_id == rated or r.conversation_id in {c.id for c in theirs}
        ]
        erased = store.erase_customer("acct", rated)
        assert erased == {
            "messages": their_messages,
            "message_excerpts": 0,  # they wrote only in their own conversations
            "conversation_status_changes": 0,
            "ratings": len(their_ratings),
            "conversations": len(theirs),
            "customers": 1,
            "enrichment_writes": 1,
        }
        after = store.counts("acct")
        assert after["conversations"] == before["conversations"] - len(theirs)
        assert after["messages"] == before["messages"] - their_messages
        assert store.customer("acct", rated) is None and store.conversations_of("acct", rated) == []
        assert not any(r.customer_id == rated for r in store.ratings("acct"))
        assert all(reply.customer_id != rated for reply in store.iter_replies("acct"))  # affinity forgets too
        assert set(store.enrichment_writes("acct")) == {"zz"}
        assert store.customer("other", rated) is not None  # another account is another helpdesk
        assert store.erase_customer("acct", rated) == dict.fromkeys(erased, 0)


def test_customers_by_email_and_touched_since(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.upsert_customers(
            "a",
            [
                Customer(id="1", email="Ann@Example.test", updated_at=T0),
                Customer(id="2", email="ann@example.test", updated_at=T0),
                Customer(id="3", email="bob@example.test", updated_at=T0 + timedelta(days=5)),
                Customer(id="4", email="cy@example.test", updated_at=T0),
            ],
        )
        store.write_conversations(
            "a", [(Conversation(id="c1", customer_id="4", created_at=T0, updated_at=T0 + timedelta(days=6)), None)]
        )
        assert [c.id for c in store.customers("a", email=" ANN@example.test")] == ["1", "2"]
        assert [c.id for c in store.customers("a", touched_since=T0 + timedelta(days=1))] == ["3", "4"]
        assert [c.id for c in store.customers("a")] == ["1", "2", "3", "4"]
        assert store.customers("b") == []
