"""Benchmark: how much the store grows per 1M messages, and the webhook queue per 1M events (docs/operations.md).

Writes a synthetic history (about 100k messages; `BENCH_FULL=1`: about 1M) into a fresh PostgreSQL database (a
throwaway server, tests/pgserver.py) and a SQLite file through the store's own writes, then finished webhook
queue rows (20k; full: 100k), each updated once as the worker does, and reports bytes on disk (PostgreSQL:
`pg_total_relation_size` per table after VACUUM, indexes and TOAST included; SQLite: the file after a
checkpoint) scaled to 1M messages and 1M events.

Run: `python bench/store_growth.py`. Exits 1 if the store needs more than 1 GB per 1M messages on either backend.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/pgserver.py starts the throwaway server

import sqlalchemy as sa

from humansupport.models import WebhookEvent
from humansupport.store import Store
from humansupport.testing import generate_history
from humansupport.webhooks import WebhookQueue
from humansupport.webhooks.queue import NewEvent

CUSTOMERS = 20_000 if os.environ.get("BENCH_FULL") else 2_000
QUEUE_ROWS = 100_000 if os.environ.get("BENCH_FULL") else 20_000
BUDGET_MB_PER_1M = 1024.0
HISTORY_TABLES = (
    "agents",
    "groups",
    "customers",
    "conversations",
    "messages",
    "ratings",
    "conversation_status_changes",
)


def _fill(store: Store, history: object) -> int:
    h: Any = history
    account = "acme"
    store.upsert_agents(account, h.agents, seen_at=datetime.now(UTC))
    store.upsert_groups(account, h.groups)
    store.upsert_customers(account, h.customers)
    batch: list[tuple[object, list[object]]] = []
    for conv in h.conversations:
        batch.append((conv, h.messages.get(conv.id, [])))
        if len(batch) == 500:
            store.write_conversations(account, batch)  # type: ignore[arg-type]
            batch = []
    if batch:
        store.write_conversations(account, batch)  # type: ignore[arg-type]
    store.upsert_ratings(account, h.ratings)
    return sum(len(v) for v in h.messages.values())


def _queue(store: Store) -> None:
    queue = WebhookQueue(store, database_clock=False)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for chunk in range(0, QUEUE_ROWS, 2_000):
        events = [
            NewEvent(
                account="acme",
                event=WebhookEvent(
                    vendor="zendesk",
                    id=f"evt-{n}",
                    type="conversation.created",
                    conversation_id=str(100_000 + n),
                    occurred_at=start + timedelta(seconds=n),
                ),
            )
            for n in range(chunk, chunk + 2_000)
        ]
        queue.enqueue([events], now=start)
    table = store.t["webhook_queue"]
    with store.begin() as conn:  # as the worker leaves them: finished, with an outcome and message
        conn.execute(
            table.update().values(
                state="done",
                outcome="assigned",
                message="knows them best: 7 replies over 4 conversations, last 12 days ago",
                assigned_agent_id="2001",
                finished_at=start,
                attempts=1,
            )
        )


def _pg_sizes(store: Store, tables: tuple[str, ...]) -> int:
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
        return sum(
            int(conn.execute(sa.text("SELECT pg_total_relation_size(:t)"), {"t": name}).scalar_one()) for name in tables
        )


def _sqlite_size(path: Path, store: Store) -> int:
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def main() -> int:
    from tests.pgserver import running_server

    started = time.monotonic()
    history = generate_history(customers=CUSTOMERS, agents=max(20, CUSTOMERS // 100), groups=4, seed=5)
    messages = sum(len(v) for v in history.messages.values())
    print(
        f"history: {len(history.conversations)} conversations, {messages} messages ({time.monotonic() - started:.0f} s)"
    )
    failed = False
    with running_server() as server, tempfile.TemporaryDirectory() as tmp:
        url = server.new_database()
        path = Path(tmp) / "store.db"
        for name, target in (("PostgreSQL", url), ("SQLite", str(path))):
            with Store.open(target) as store:
                _fill(store, history)
                pg = store.is_postgresql
                history_bytes = _pg_sizes(store, HISTORY_TABLES) if pg else _sqlite_size(path, store)
                _queue(store)
                if store.is_postgresql:
                    queue_bytes = _pg_sizes(store, ("webhook_queue",))
                else:
                    queue_bytes = _sqlite_size(path, store) - history_bytes
            per_message = history_bytes / messages * 1_000_000 / 2**20
            per_event = queue_bytes / QUEUE_ROWS * 1_000_000 / 2**20
            print(
                f"{name}: history {per_message:.0f} MB per 1M messages; webhook queue {per_event:.0f} MB per 1M events"
            )
            failed |= per_message > BUDGET_MB_PER_1M
    print(f"done in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
