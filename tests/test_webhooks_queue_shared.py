"""The webhook queue shared by several receivers and workers: intake order and retries, leases on the database's
clock, claim tokens, depth per account, indexes, retention."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from humansupport.models import WebhookEvent
from humansupport.store import Store
from humansupport.testing import FakeClock
from humansupport.webhooks import WebhookQueue
from humansupport.webhooks.intake import Intake
from humansupport.webhooks.metrics import WebhookMetrics
from humansupport.webhooks.queue import MIN_RETAIN_DAYS, EnqueueResult, Finish, NewEvent

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def _event(conversation_id: str, delivery: str | None = None) -> WebhookEvent:
    return WebhookEvent(
        vendor="zendesk",
        id=delivery or f"d-{conversation_id}",
        type="conversation.created",
        conversation_id=conversation_id,
    )


def _new(account: str, conversation_id: str) -> NewEvent:
    return NewEvent(account=account, event=_event(conversation_id))


# -- intake ---------------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_two_receivers_inserting_overlapping_deliveries_never_deadlock(pg_server: Any) -> None:
    """Each receiver's group commit holds the same deliveries in the opposite order (as two load-balanced
    instances see a vendor's redeliveries): the inserts take the unique index's locks in one order."""
    url = pg_server.new_database()
    events = [_new("zd", f"{i:04d}") for i in range(300)]
    with Store.open(url) as one, Store.open(url) as two:
        queues = (WebhookQueue(one), WebhookQueue(two))
        results: list[list[EnqueueResult]] = [[], []]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def receive(n: int) -> None:
            mine = events if n == 0 else events[::-1]
            try:
                for start in range(0, len(mine), 100):
                    barrier.wait(timeout=30)
                    results[n].extend(queues[n].enqueue([mine[start : start + 100]], now=NOW))
            except BaseException as exc:
                errors.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=receive, args=(n,)) for n in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        assert sum(r.inserted for rs in results for r in rs) == 300
        assert len(queues[0].rows()) == 300


class _Poisoned(WebhookQueue):
    """A group commit fails when it holds the poisoned account's events (like a row the database refuses)."""

    def enqueue(self, batches: Sequence[Sequence[NewEvent]], *, now: datetime) -> list[EnqueueResult]:
        if any(item.account == "bad" for events in batches for item in events):
            raise RuntimeError("the database refused a row")
        return super().enqueue(batches, now=now)


def test_a_failed_group_commit_is_retried_per_request(store_url: str) -> None:
    """A request that fails the shared transaction gets its error; the others in it are still accepted."""
    with Store.open(store_url) as store:
        intake = Intake(_Poisoned(store), clock=FakeClock(start=NOW))

        async def run() -> list[Any]:
            flusher = asyncio.create_task(intake.run())
            answers = await asyncio.gather(
                intake.submit([_new("good", "1")]),
                intake.submit([_new("bad", "2")]),
                intake.submit([_new("good", "3"), _new("good", "4")]),
                return_exceptions=True,
            )
            intake.stop()
            await flusher
            return answers

        first, second, third = asyncio.run(run())
        assert isinstance(first, EnqueueResult) and first.inserted == 1
        assert isinstance(second, RuntimeError)
        assert isinstance(third, EnqueueResult) and third.inserted == 2
        assert intake.group_failures == 1
        assert len(WebhookQueue(store).rows("good")) == 3


@pytest.mark.postgres
def test_an_event_the_database_refuses_fails_only_its_own_request(pg_server: Any) -> None:
    with Store.open(pg_server.new_database()) as store:
        intake = Intake(WebhookQueue(store), clock=FakeClock(start=NOW))

        async def run() -> list[Any]:
            flusher = asyncio.create_task(intake.run())
            answers = await asyncio.gather(
                intake.submit([_new("zd", "ok-1")]),
                intake.submit([_new("zd", "x" * 300)]),  # longer than the column: PostgreSQL refuses it
                intake.submit([_new("zd", "ok-2")]),
                return_exceptions=True,
            )
            intake.stop()
            await flusher
            return answers

        answers = asyncio.run(run())
        assert [type(a).__name__ for a in answers] == ["EnqueueResult", "StoreError", "EnqueueResult"]
        assert [r["conversation_id"] for r in WebhookQueue(store).rows()] == ["ok-1", "ok-2"]


# -- leases and claims ----------------------------------------------------------------------------------


@pytest.mark.postgres
def test_leases_are_on_the_databases_clock(pg_server: Any) -> None:
    """A worker whose clock runs 61 s ahead does not take rows another worker leased for 60 s."""
    with Store.open(pg_server.new_database()) as store:
        queue = WebhookQueue(store)
        real = datetime.now(UTC)
        queue.enqueue([[_new("zd", str(i)) for i in range(3)]], now=real)
        mine = queue.claim(accounts=["zd"], now=real, limit=10, lease=60)
        assert len(mine) == 3
        assert queue.claim(accounts=["zd"], now=real + timedelta(seconds=61), limit=10, lease=60) == []
        # and one whose clock runs behind still sees the rows as due: "due" is the database's now
        queue.enqueue([[_new("zd", "late")]], now=real)
        assert [
            t.event.conversation_id
            for t in queue.claim(accounts=["zd"], now=real - timedelta(hours=1), limit=10, lease=60)
        ] == ["late"]


def test_a_late_outcome_from_a_lost_lease_is_dropped(store_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with Store.open(store_url) as store:
        queue = WebhookQueue(store, database_clock=False)
        queue.enqueue([[_new("zd", "1")]], now=NOW)
        (first,) = queue.claim(accounts=["zd"], now=NOW, limit=1, lease=30)
        (second,) = queue.claim(accounts=["zd"], now=NOW + timedelta(seconds=31), limit=1, lease=30)  # lease ran out
        assert first.claim_token != second.claim_token
        assert (
            queue.apply(
                [
                    Finish(
                        row_id=second.id,
                        state="done",
                        outcome="assigned",
                        message="new owner",
                        assigned_agent_id="7",
                        claim_token=second.claim_token,
                    )
                ],
                now=NOW,
            )
            == 1
        )
        late = Finish(
            row_id=first.id,
            state="failed",
            outcome="helpdesk_error",
            message="old owner",
            claim_token=first.claim_token,
        )
        assert queue.apply([late], now=NOW) == 0
        assert not queue.finish(
            first.id, state="skipped", outcome="ignored", message="old", now=NOW, claim_token=first.claim_token
        )
        retry = Finish(
            row_id=first.id, state="queued", outcome=None, message="old", retry_at=NOW, claim_token=first.claim_token
        )
        assert queue.apply([retry], now=NOW) == 0
        (row,) = queue.rows()
        assert (row["state"], row["outcome"], row["message"], row["assigned_agent_id"]) == (
            "done",
            "assigned",
            "new owner",
            "7",
        )
        assert "dropped" in caplog.text


# -- per account ---------------------------------------------------------------------------------------


def test_depth_and_lag_are_per_account(store_url: str) -> None:
    with Store.open(store_url) as store:
        queue = WebhookQueue(store, database_clock=False)
        queue.enqueue([[_new("zd-a", str(i)) for i in range(10)]], now=NOW)
        queue.enqueue([[_new("zd-b", "b1")]], now=NOW + timedelta(seconds=30))
        stats = queue.stats(now=NOW + timedelta(seconds=40))
        assert (stats.depth_of("zd-a"), stats.depth_of("zd-b"), stats.depth_of("zd-c")) == (10, 1, 0)
        assert stats.lag_of("zd-a", NOW) == 40 and stats.lag_of("zd-b", NOW) == 10
        light = queue.stats(now=NOW + timedelta(seconds=40), outcomes=False)  # the every-second read: active rows
        assert light.accounts == stats.accounts and light.depth == stats.depth
        metrics = WebhookMetrics(now=lambda: NOW)
        metrics.served = ("zd-a", "zd-b", "zd-c")
        metrics.stats = stats
        metrics.queued("zd-b", 2)
        text = metrics.render().decode()
        assert 'humansupport_webhook_queue_depth{account="zd-b"} 3.0' in text
        assert 'humansupport_webhook_queue_depth{account="zd-c"} 0.0' in text


def _plan(store: Store, query: sa.Select[Any]) -> str:
    with store.connect() as conn:
        if store.is_postgresql:
            conn.execute(sa.text("SET enable_seqscan = off"))  # a tiny table: ask whether an index can serve it
            compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
            return "\n".join(r[0] for r in conn.execute(sa.text(f"EXPLAIN {compiled}")))
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        return "\n".join(str(r[-1]) for r in conn.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")))


def test_the_per_event_queries_use_an_index(store_url: str) -> None:
    with Store.open(store_url) as store:
        t, c = store.t["webhook_queue"], store.t["conversations"]
        # a queue of one account with many conversations and states: on an empty table several indexes tie, and
        # the planner may take any of them; with statistics it must take the one made for this query
        now = datetime(2026, 1, 1, tzinfo=UTC)
        rows = [
            {
                "account": "zd",
                "vendor": "zendesk",
                "dedupe_key": f"k{i}",
                "event_type": "conversation.created",
                "conversation_id": str(i),
                "event": {},
                "state": "done",
                "attempts": 1,
                "received_at": now,
                "next_attempt_at": now,
                "assigned_agent_id": "7" if i % 2 else None,
            }
            for i in range(3000)
        ]
        with store.begin() as conn:
            conn.execute(t.insert(), rows)
        if store.is_postgresql:
            with store.connect() as conn:
                conn.execute(sa.text("ANALYZE webhook_queue"))
        we_assigned = (
            sa.select(t.c.assigned_agent_id)
            .where(t.c.account == "zd", t.c.conversation_id == "42", t.c.assigned_agent_id.is_not(None))
            .order_by(t.c.id.desc())
            .limit(1)
        )
        assert "ix_webhook_queue_conversation" in _plan(store, we_assigned)
        load = sa.select(sa.func.count()).select_from(c).where(c.c.account == "zd", c.c.assignee_id == "7")
        assert "ix_conversations_assignee" in _plan(store, load)


# -- retention -----------------------------------------------------------------------------------------


def test_retention_prunes_finished_rows_past_the_horizon_and_keeps_the_counters(store_url: str) -> None:
    with Store.open(store_url) as store:
        queue = WebhookQueue(store, database_clock=False)
        old, recent = NOW - timedelta(days=40), NOW - timedelta(days=3)
        queue.enqueue([[_new("zd", str(i)) for i in range(6)]], now=old)
        rows = queue.claim(accounts=["zd"], now=old, limit=10, lease=30)
        for item in rows[:3]:  # finished long ago
            queue.finish(item.id, state="done", outcome="assigned", message="", now=old, assigned_agent_id="7")
        queue.finish(rows[3].id, state="done", outcome="held", message="", now=old, held_for="9")  # a hold: kept
        queue.finish(rows[4].id, state="skipped", outcome="ignored", message="", now=recent)  # inside the horizon
        # rows[5] still processing: never pruned
        before = queue.stats()
        # 1 day is below the dedupe horizon: clamped to it, so the one finished 3 days ago stays
        assert queue.prune(retain_days=1, now=NOW, chunk=2) == 3
        left = {r["conversation_id"] for r in queue.rows()}
        assert left == {"3", "4", "5"}
        after = queue.stats()
        assert sorted((o.account, o.state, o.outcome, o.rows) for o in after.outcomes) == sorted(
            (o.account, o.state, o.outcome, o.rows) for o in before.outcomes
        )
        assert MIN_RETAIN_DAYS >= 7
        assert queue.prune(retain_days=MIN_RETAIN_DAYS, now=NOW + timedelta(days=5)) == 1  # the skipped one
