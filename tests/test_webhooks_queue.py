"""The durable webhook queue on SQLite and PostgreSQL: dedupe, leases, retries, holds, stats, migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from humansupport.models import WebhookEvent, WebhookEventType
from humansupport.store import SCHEMA_VERSION, Store, build_metadata
from humansupport.store.schema import WEBHOOK_QUEUE_VERSION
from humansupport.webhooks import WebhookQueue, dedupe_key
from humansupport.webhooks.queue import NewEvent

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def _event(conversation_id: str, *, delivery: str | None = None, kind: str = "conversation.created") -> WebhookEvent:
    return WebhookEvent(vendor="zendesk", id=delivery, type=kind, conversation_id=conversation_id)


def test_dedupe_key_uses_the_delivery_id_else_the_content() -> None:
    assert dedupe_key(_event("1", delivery="d1")) == dedupe_key(_event("1", delivery="d1"))
    assert dedupe_key(_event("1", delivery="d1")) != dedupe_key(_event("2", delivery="d1"))
    assert dedupe_key(_event("1")) == dedupe_key(_event("1"))
    assert dedupe_key(_event("1")) != dedupe_key(_event("1", kind="conversation.assigned"))
    assert dedupe_key(_event("1")).startswith("sha256:") and dedupe_key(_event("1", delivery="x")).startswith("id:")


def test_enqueue_deduplicates_within_and_across_commits(store_url: str) -> None:
    with Store.open(store_url) as store:
        queue = WebhookQueue(store)
        one = NewEvent(account="a", event=_event("1", delivery="d1"))
        first, second = queue.enqueue([[one, one], [one, NewEvent(account="a", event=_event("2"))]], now=NOW)
        assert (first.inserted, first.duplicates) == (1, 1)
        assert (second.inserted, second.duplicates) == (1, 1)
        (again,) = queue.enqueue([[one]], now=NOW)
        assert again.inserted == 0
        # the same delivery for another account is another event
        (other,) = queue.enqueue([[NewEvent(account="b", event=one.event)]], now=NOW)
        assert other.inserted == 1
        assert queue.stats().depth == 3


def test_claim_lease_reschedule_and_finish(store_url: str) -> None:
    with Store.open(store_url) as store:
        queue = WebhookQueue(store, database_clock=False)  # the lease logic, on the injected clock
        queue.enqueue([[NewEvent(account="a", event=_event(str(i))) for i in range(5)]], now=NOW)
        taken = queue.claim(accounts=["a"], now=NOW, limit=3, lease=30)
        assert [t.event.conversation_id for t in taken] == ["0", "1", "2"]
        assert all(t.attempts == 1 for t in taken)
        # leased rows are not taken again until the lease ends (a crash): then they are
        assert [t.event.conversation_id for t in queue.claim(accounts=["a"], now=NOW, limit=10, lease=30)] == ["3", "4"]
        assert queue.claim(accounts=["a"], now=NOW + timedelta(seconds=10), limit=10, lease=30) == []
        retaken = queue.claim(accounts=["a"], now=NOW + timedelta(seconds=31), limit=2, lease=30)
        assert [(t.event.conversation_id, t.attempts) for t in retaken] == [("0", 2), ("1", 2)]
        queue.reschedule(retaken[0].id, at=NOW + timedelta(minutes=5), message="429")
        queue.finish(retaken[1].id, state="done", outcome="assigned", message="ok", now=NOW, assigned_agent_id="7")
        assert queue.we_assigned("a", "1") == "7" and queue.we_assigned("a", "0") is None
        later = NOW + timedelta(minutes=2)
        assert "0" not in [t.event.conversation_id for t in queue.claim(accounts=["a"], now=later, limit=10, lease=300)]
        assert [
            t.event.conversation_id
            for t in queue.claim(accounts=["a"], now=NOW + timedelta(minutes=6), limit=10, lease=30)
        ] == ["0"]
        assert queue.claim(accounts=["other"], now=NOW + timedelta(days=1), limit=10, lease=30) == []


def test_stats_depth_lag_and_holds(store_url: str) -> None:
    with Store.open(store_url) as store:
        queue = WebhookQueue(store, database_clock=False)
        assert queue.stats().depth == 0 and queue.stats().oldest_received_at is None
        queue.enqueue([[NewEvent(account="a", event=_event("1"))]], now=NOW)
        queue.enqueue([[NewEvent(account="a", event=_event("2"))]], now=NOW + timedelta(seconds=5))
        stats = queue.stats()
        assert stats.depth == 2 and stats.oldest_received_at == NOW and stats.by_state == {"queued": 2}
        first, second = queue.claim(accounts=["a"], now=NOW + timedelta(seconds=5), limit=10, lease=30)
        queue.finish(first.id, state="done", outcome="held", message="waiting", now=NOW, held_for="9")
        queue.finish(second.id, state="done", outcome="held", message="waiting", now=NOW, held_for="9")
        assert queue.stats().depth == 0
        assert [c for _, c in queue.held_for("a", "9", limit=1)] == ["1"]
        queue.release_hold(first.id, outcome="offered", message="back", assigned_agent_id="9")
        assert [c for _, c in queue.held_for("a", "9", limit=5)] == ["2"]


def test_migration_from_the_previous_version_adds_the_queue(tmp_path: object) -> None:
    path = f"sqlite:///{tmp_path}/old.db"
    engine = sa.create_engine(path)
    with engine.begin() as conn:
        build_metadata(WEBHOOK_QUEUE_VERSION - 1).create_all(conn)
        conn.execute(
            sa.text("INSERT INTO meta (key, value) VALUES ('schema_version', :v)"),
            {"v": str(WEBHOOK_QUEUE_VERSION - 1)},
        )
    engine.dispose()
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert WebhookQueue(store).stats().depth == 0


def test_event_type_round_trips(store_url: str) -> None:
    with Store.open(store_url) as store:
        queue = WebhookQueue(store)
        event = WebhookEvent(
            vendor="zendesk",
            type=WebhookEventType.CONVERSATION_ASSIGNED,
            conversation_id="5",
            agent_id="3",
            previous_agent_id="2",
            actor="human",
            occurred_at=NOW,
            raw={"big": "x" * 100},
        )
        queue.enqueue([[NewEvent(account="a", event=event)]], now=NOW)
        (taken,) = queue.claim(accounts=["a"], now=NOW, limit=1, lease=30)
        assert taken.event.model_dump(exclude={"raw"}) == event.model_dump(exclude={"raw"})
        assert taken.event.raw == {}  # the raw payload is not kept
