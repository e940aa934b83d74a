"""The store's part of the insights (schema 5), on SQLite and PostgreSQL: customer excerpts only, status
changes recorded on every write path, erasure covers both, and the upgrade keeps rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from humansupport.models import Conversation, Message
from humansupport.store import SCHEMA_VERSION, Store, build_metadata
from humansupport.store.schema import EXCERPT_CHARS, INSIGHTS_VERSION, MIGRATIONS

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _conv(cid: str, status: str, *, customer: str = "u1", at: datetime = T0) -> Conversation:
    return Conversation(id=cid, status=status, customer_id=customer, tags=["billing"], created_at=T0, updated_at=at)


def _excerpts(store: Store) -> dict[str, str | None]:
    m = store.t["messages"]
    with store.connect() as conn:
        return dict(conn.execute(sa.select(m.c.id, m.c.excerpt)).all())  # type: ignore[arg-type]


def _changes(store: Store) -> list[tuple[str, str, str, datetime]]:
    s = store.t["conversation_status_changes"]
    with store.connect() as conn:
        rows = conn.execute(sa.select(s.c.conversation_id, s.c.from_status, s.c.to_status, s.c.changed_at)).all()
    return sorted((r[0], r[1], r[2], r[3]) for r in rows)


def test_upgrade_to_the_insights_version_keeps_rows(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    previous = INSIGHTS_VERSION - 1
    old = build_metadata(previous)
    with engine.begin() as conn:
        for step in range(1, previous + 1):
            MIGRATIONS[step](conn)
        conn.execute(sa.text("INSERT INTO meta (key, value) VALUES ('schema_version', :v)"), {"v": str(previous)})
        conn.execute(
            old.tables["conversations"].insert(),
            [{"account": "a", "id": "c1", "status": "solved", "tags": ["x"], "created_at": T0, "updated_at": T0}],
        )
        conn.execute(
            old.tables["messages"].insert(),
            [{"account": "a", "id": "m1", "conversation_id": "c1", "author_role": "customer", "public": True}],
        )
        assert "excerpt" not in {c["name"] for c in sa.inspect(conn).get_columns("messages")}
    engine.dispose()
    with Store.open(store_url) as store:
        assert store.schema_version() == SCHEMA_VERSION >= INSIGHTS_VERSION
        assert store.counts("a")["conversations"] == 1 and _excerpts(store) == {"m1": None}
        # the new table works on the upgraded store: a reopen of the kept conversation is recorded
        store.write_conversations("a", [(_conv("c1", "open", at=T0 + timedelta(hours=1)), None)])
        assert _changes(store) == [("c1", "solved", "open", T0 + timedelta(hours=1))]


def test_only_customer_messages_keep_an_excerpt_clipped(store_url: str) -> None:
    long = "x" * (EXCERPT_CHARS + 50)
    msgs = [
        Message(id="m1", conversation_id="c1", author_id="u1", author_role="customer", body=f"  {long}  "),
        Message(id="m2", conversation_id="c1", author_id="7", author_role="agent", body="agent text"),
        Message(id="m3", conversation_id="c1", author_id="7", author_role="agent", public=False, body="note"),
        Message(id="m4", conversation_id="c1", author_role="system", body="Status changed"),
        Message(id="m5", conversation_id="c1", author_id="u1", author_role="customer", body="   "),
    ]
    with Store.open(store_url) as store:
        store.write_conversations("a", [(_conv("c1", "open"), msgs)])
        store.upsert_messages("a", [Message(id="m6", conversation_id="c1", author_role="customer", body="bulk")])
        assert _excerpts(store) == {
            "m1": long[:EXCERPT_CHARS],
            "m2": None,
            "m3": None,
            "m4": None,
            "m5": None,
            "m6": "bulk",
        }


def test_status_changes_are_recorded_once_on_sync_and_read_back(store_url: str) -> None:
    t1, t2, t3 = (T0 + timedelta(hours=h) for h in (1, 2, 3))
    with Store.open(store_url) as store:
        store.write_conversations("a", [(_conv("c1", "solved"), None), (_conv("c2", "open"), None)])
        assert _changes(store) == []  # a first sighting is not a change
        store.write_conversations("a", [(_conv("c1", "open", at=t1), None), (_conv("c2", "open", at=t1), None)])
        store.write_conversations("a", [(_conv("c1", "open", at=t1), None)])  # the same again: nothing new
        store.set_assignee("a", _conv("c1", "pending", at=t2))
        store.write_conversations("other", [(_conv("c1", "closed", at=t3), None)])  # another account's first sight
        assert _changes(store) == [("c1", "open", "pending", t2), ("c1", "solved", "open", t1)]


def test_erasure_removes_excerpts_and_status_history(store_url: str) -> None:
    with Store.open(store_url) as store:
        theirs = _conv("c1", "solved", customer="u1")
        others = _conv("c2", "open", customer="u2")
        cc = Message(id="m9", conversation_id="c2", author_id="u1", author_role="customer", body="I'm CC'd here")
        mine = Message(id="m8", conversation_id="c2", author_id="u2", author_role="customer", body="mine")
        store.write_conversations("a", [(theirs, []), (others, [cc, mine])])
        store.write_conversations(
            "a", [(theirs.model_copy(update={"status": "open", "updated_at": T0 + timedelta(1)}), None)]
        )
        erased = store.erase_customer("a", "u1")
        assert erased["message_excerpts"] == 1 and erased["conversation_status_changes"] == 1
        assert _excerpts(store) == {"m8": "mine", "m9": None} and _changes(store) == []
