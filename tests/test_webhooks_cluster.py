"""Three `webhooks serve` processes, a sync and a rebalance on one PostgreSQL store, while signed events arrive
(each delivered to two or three instances): every conversation assigned at most once (exactly once when routed),
no agent over capacity at any moment, every valid delivery answered 2xx.

Real processes and HTTP throughout: the services and the cron jobs are `humansupport` subprocesses; the helpdesk
is a vendor fake served on 127.0.0.1 by this process, which watches every request it gets. `ACCOUNTS` lists the
helpdesk accounts served; each gets its own fake, events and checks.
"""

from __future__ import annotations

import os
import random
import secrets
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from humansupport.cli import ExitCode
from humansupport.store import Store
from humansupport.webhooks import WebhookQueue

from .webhooks.cluster import Cluster, ServedAccount, cli, post_all, served_account
from .webhooks.support import HISTORY, wait_until

pytestmark = pytest.mark.postgres

#: (vendor, account label) of each helpdesk account the services receive for
ACCOUNTS = (("intercom", "intercom"),)
RECEIVERS = 3
CONVERSATIONS = 16  # per account: more than the free capacity, so some stay unrouted
CAPACITY = 4
FINISHED = ("done", "skipped", "failed")


@pytest.fixture
def accounts() -> Iterator[list[ServedAccount]]:
    with ExitStack() as stack:
        yield [
            stack.enter_context(served_account(vendor, label, history=HISTORY, secret=secrets.token_hex(16)))
            for vendor, label in ACCOUNTS
        ]


def _env(accounts: list[ServedAccount], tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "humansupport.toml"
    config.write_text(f"[routing]\ndefault_capacity = {CAPACITY}\n")
    env = {
        **os.environ,
        "HUMANSUPPORT_CONFIG": str(config),
        "HUMANSUPPORT_PLUGINS": ",".join(sorted({a.vendor for a in accounts})),
    }
    for account in accounts:
        env.update(account.env())
    return env


def _run(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return cli(args, env=env, log=log)


def test_three_receivers_a_sync_and_a_rebalance_on_one_postgresql_store(
    pg_server: Any, accounts: list[ServedAccount], tmp_path: Path
) -> None:
    url = pg_server.new_database()
    env = _env(accounts, tmp_path)
    for account in accounts:  # the nightly sync that comes before any routing
        account.seed(url)
    rng = random.Random(7)
    templates = [c for c in HISTORY.conversations if c.customer_id and c.group_id]
    groups = sorted({c.group_id for c in templates if c.group_id})
    deliveries: list[tuple[str, dict[str, str], bytes]] = []
    cluster = Cluster(accounts=accounts, store_url=url, env=env, workdir=tmp_path, extra=["--lease", "5"])
    try:
        cluster.start(RECEIVERS)
        for account in accounts:
            for i in range(CONVERSATIONS):
                template = next(t for t in templates if t.group_id == groups[i % len(groups)])
                account.new_conversation(str(96000 + i), template)
                headers, body = account.fake.signed_webhook(secret=account.secret, conversation_id=str(96000 + i))
                targets = rng.sample(range(RECEIVERS), k=3 if i % 4 == 0 else 2)  # duplicates to several instances
                deliveries.extend((cluster.endpoint(n, account), headers, body) for n in targets)
        rng.shuffle(deliveries)
        jobs = []
        for account in accounts:  # the cron jobs, running while the events arrive
            where = ["--account", account.label, "--store", url]
            jobs.append(_run(["sync", account.vendor, *where], env, tmp_path / f"sync-{account.label}.log"))
            jobs.append(
                _run(
                    ["rebalance", "plan", account.vendor, "--apply", *where],
                    env,
                    tmp_path / f"rebalance-{account.label}.log",
                )
            )
        statuses = post_all(deliveries)
        assert statuses == [200] * len(deliveries), Counter(statuses)
        codes = [job.wait(timeout=120) for job in jobs]
        assert all(code in (0, int(ExitCode.PARTIAL)) for code in codes), (codes, cluster.logs())
        with Store.open(url) as store:
            queue = WebhookQueue(store)

            def drained() -> bool:
                rows = queue.rows()
                return len(rows) == CONVERSATIONS * len(accounts) and all(r["state"] in FINISHED for r in rows)

            wait_until(drained, what="every event to be processed", timeout=90)
            rows = queue.rows()
    finally:
        cluster.stop()
    for account in accounts:
        mine = [r for r in rows if r["account"] == account.label]
        outcomes = Counter(str(r["outcome"]) for r in mine)
        assert len(mine) == CONVERSATIONS, "one row per conversation: duplicates across instances deduplicated"
        assert set(outcomes) <= {"assigned", "unrouted", "already_assigned"}, (outcomes, [r["message"] for r in mine])
        monitor = account.monitor
        assert all(n == 1 for n in monitor.first_assignments.values()), monitor.first_assignments  # never twice
        for row in mine:
            if row["outcome"] == "assigned":
                assert monitor.first_assignments[row["conversation_id"]] == 1
        routed = sum(1 for cid in monitor.first_assignments if int(cid) >= 96000)
        assert routed > 0
        active = {a.id for a in account.fake.agents.values() if a.active}
        over = {a: n for a, n in monitor.peak.items() if a in active and n > CAPACITY}
        assert not over, f"{account.label}: agents over capacity {CAPACITY} at some moment: {over}"
    assert "Traceback" not in cluster.logs()
