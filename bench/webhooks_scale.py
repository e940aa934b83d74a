"""Benchmark: events routed per second by 1, 2 and 3 `webhooks serve` instances on one PostgreSQL store.

Each run starts N real receivers (each with its worker process) on a fresh database of a throwaway PostgreSQL
server (tests/pgserver.py), seeded with a synthetic history; the helpdesk is the Intercom fake served over HTTP by
this process (tests/webhooks/cluster.py, which also watches capacity and double assignment). The load is signed
`conversation.created` deliveries for new conversations, spread over the instances, sent as fast as 8 client
threads go; the time runs from the first delivery until every event is finished in the queue. Startup is not
timed. Reported: events/s per N and the ratio to one instance, measured in this one run.

Run: `python bench/webhooks_scale.py` (300 events per run; `BENCH_FULL=1`: 2,000). Exits 1 if an event is lost,
answered other than 200, assigned twice, or not assigned.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the cluster harness and PostgreSQL live in tests/

from humansupport.store import Store
from humansupport.testing import generate_history
from humansupport.webhooks import WebhookQueue

EVENTS = 2_000 if os.environ.get("BENCH_FULL") else 300
VENDOR = "intercom"


def run(server: object, count: int, history: object, workdir: Path) -> tuple[float, list[str]]:
    from tests.webhooks.cluster import Cluster, post_all, served_account
    from tests.webhooks.support import wait_until

    problems: list[str] = []
    url = server.new_database()  # type: ignore[attr-defined]
    (workdir / "humansupport.toml").write_text("")
    with served_account(VENDOR, VENDOR, history=history, secret=secrets.token_hex(16)) as account:  # type: ignore[arg-type]
        account.seed(url)
        env = {
            **os.environ,
            "HUMANSUPPORT_CONFIG": str(workdir / "humansupport.toml"),
            "HUMANSUPPORT_PLUGINS": VENDOR,
            **account.env(),
        }
        cluster = Cluster(accounts=[account], store_url=url, env=env, workdir=workdir)
        template = next(c for c in history.conversations if c.customer_id and c.group_id)  # type: ignore[attr-defined]
        try:
            cluster.start(count, timeout=300)
            deliveries = []
            for i in range(EVENTS):
                cid = str(800_000 + i)
                account.new_conversation(cid, template)
                headers, body = account.fake.signed_webhook(secret=account.secret, conversation_id=cid)
                deliveries.append((cluster.endpoint(i % count, account), headers, body))
            with Store.open(url) as store:
                queue = WebhookQueue(store)
                started = time.monotonic()
                statuses = post_all(deliveries)

                def drained() -> bool:
                    rows = queue.rows()
                    return len(rows) == EVENTS and all(r["state"] in ("done", "skipped", "failed") for r in rows)

                wait_until(drained, what="the queue to drain", timeout=900)
                elapsed = time.monotonic() - started
                rows = queue.rows()
        finally:
            cluster.stop()
        if statuses != [200] * EVENTS:
            problems.append(f"answers other than 200: {sorted(set(statuses))}")
        outcomes = {str(r["outcome"]) for r in rows}
        if outcomes != {"assigned"}:
            problems.append(f"outcomes other than assigned: {outcomes}")
        twice = [c for c, n in account.monitor.first_assignments.items() if n > 1]
        if twice:
            problems.append(f"assigned twice: {twice[:5]}")
    return EVENTS / elapsed, problems


def main() -> int:
    from tests.pgserver import running_server

    history = generate_history(customers=300, agents=12, groups=2, seed=3)
    rates: dict[int, float] = {}
    failed = False
    with running_server() as server, tempfile.TemporaryDirectory() as tmp:
        for count in (1, 2, 3):
            workdir = Path(tmp) / f"n{count}"
            workdir.mkdir()
            rate, problems = run(server, count, history, workdir)
            rates[count] = rate
            for problem in problems:
                print(f"  {count} instance(s): {problem}")
                failed = True
            print(f"{count} instance(s): {EVENTS} events, {rate:.1f} events/s, {rate / rates[1]:.2f}x one instance")
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (the ratios are bounded by both)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
