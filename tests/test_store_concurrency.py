"""The store shared by several processes: migrations under a lock, conflicts told apart from held locks, and
upserts that never move a row backwards."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from humansupport.errors import LockHeldError, StoreConflictError, StoreError
from humansupport.models import Conversation, Customer
from humansupport.store import SCHEMA_VERSION, Store, build_metadata
from humansupport.store.store import _translate

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _race(count: int, fn: Any) -> list[BaseException | None]:
    """Runs `fn(n)` in `count` threads released together; returns each one's exception (None: it succeeded)."""
    barrier = threading.Barrier(count)
    errors: list[BaseException | None] = [None] * count

    def run(n: int) -> None:
        barrier.wait()
        try:
            fn(n)
        except BaseException as exc:
            errors[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_several_processes_opening_a_fresh_store_at_once_all_succeed(store_url: str) -> None:
    def open_it(_: int) -> None:
        with Store.open(store_url) as store:
            assert store.schema_version() == SCHEMA_VERSION

    assert _race(6, open_it) == [None] * 6


def test_several_processes_upgrading_an_older_store_at_once_all_succeed(store_url: str) -> None:
    engine = sa.create_engine(Store.open.__globals__["_as_url"](store_url))
    with engine.begin() as conn:
        build_metadata(1).create_all(conn)
        conn.execute(sa.text("INSERT INTO meta (key, value) VALUES ('schema_version', '1')"))
    engine.dispose()

    def open_it(_: int) -> None:
        with Store.open(store_url) as store:
            assert store.schema_version() == SCHEMA_VERSION

    assert _race(5, open_it) == [None] * 5


class _PgError(Exception):
    def __init__(self, sqlstate: str, text: str) -> None:
        super().__init__(text)
        self.sqlstate = sqlstate


def _translated(orig: BaseException) -> BaseException:
    try:
        with _translate("store-url"):
            raise sa.exc.OperationalError("stmt", {}, orig)
    except BaseException as exc:
        return exc
    raise AssertionError("nothing raised")


def test_errors_are_classified_by_code_not_by_text() -> None:
    deadlock = _translated(_PgError("40P01", "deadlock detected\nProcess 1 waits; blocked by process 2 (locked)"))
    assert isinstance(deadlock, StoreConflictError)
    assert isinstance(_translated(_PgError("40001", "could not serialize access")), StoreConflictError)
    assert isinstance(_translated(_PgError("55P03", "could not obtain lock on row")), LockHeldError)
    other = _translated(_PgError("23505", "duplicate key; the row is locked in another sense"))
    assert type(other) is StoreError
    assert isinstance(_translated(sqlite3.OperationalError("database is locked")), LockHeldError)


@pytest.mark.postgres
def test_a_real_deadlock_is_a_conflict_and_the_transaction_runs_again(pg_server: Any) -> None:
    url = pg_server.new_database()
    with Store.open(url) as one, Store.open(url) as two:
        for store in (one,):
            with store.begin() as conn:
                conn.execute(sa.text("CREATE TABLE t (k int primary key, v int)"))
                conn.execute(sa.text("INSERT INTO t VALUES (1, 0), (2, 0)"))
        crossed = threading.Barrier(2)
        attempts = [0, 0]

        def update(n: int) -> None:
            store, order = (one, (1, 2)) if n == 0 else (two, (2, 1))

            def body(conn: sa.engine.Connection) -> None:
                attempts[n] += 1
                conn.execute(sa.text("UPDATE t SET v = v + 1 WHERE k = :k"), {"k": order[0]})
                if attempts[n] == 1:
                    crossed.wait(timeout=10)  # both hold their first row: each now waits for the other's
                conn.execute(sa.text("UPDATE t SET v = v + 1 WHERE k = :k"), {"k": order[1]})

            store.transaction(body)

        assert _race(2, update) == [None, None]
        assert sorted(attempts) == [1, 2]  # the deadlock's victim ran again, and was not reported as a held lock
        with one.connect() as conn:
            assert conn.execute(sa.text("SELECT sum(v) FROM t")).scalar_one() == 4


def _conv(assignee: str | None, updated: datetime, status: str = "open") -> Conversation:
    return Conversation(
        id="c1", customer_id="u1", assignee_id=assignee, status=status, created_at=T0, updated_at=updated, version="v"
    )


def test_an_older_snapshot_never_overwrites_a_newer_row(store_url: str) -> None:
    with Store.open(store_url) as store:
        sync_snapshot = _conv(None, T0)  # what a sync read before the assignment
        store.write_conversations("a", [(_conv(None, T0 - timedelta(minutes=5)), None)])
        store.set_assignee("a", _conv("7", T0 + timedelta(seconds=1)))  # the worker's read-back
        store.write_conversations("a", [(sync_snapshot, [])])  # the sync's batch lands late
        stored = store.conversation("a", "c1")
        assert stored is not None and stored.assignee_id == "7"
        store.set_assignee("a", _conv(None, T0 - timedelta(minutes=1), status="solved"))
        stored = store.conversation("a", "c1")
        assert stored is not None and stored.assignee_id == "7" and str(stored.status) == "open"
        # a newer one does win, and an equal time is the same moment: written
        store.write_conversations("a", [(_conv("8", T0 + timedelta(seconds=1)), None)])
        stored = store.conversation("a", "c1")
        assert stored is not None and stored.assignee_id == "8"
        # the older snapshot's status is not recorded as a change either
        with store.connect() as conn:
            changes = conn.execute(sa.select(store.t["conversation_status_changes"])).all()
        assert [r.to_status for r in changes] == []
        old, new = (
            Customer(id="u1", name=name, updated_at=T0 + timedelta(minutes=m)) for name, m in (("Old", 0), ("New", 5))
        )
        store.upsert_customers("a", [new])
        store.upsert_customers("a", [old])
        customer = store.customer("a", "u1")
        assert customer is not None and customer.name == "New"
