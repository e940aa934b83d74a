"""One rate budget per account across processes: the store's backends (PostgreSQL rows, a locked file on SQLite)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from humansupport.http.ratelimit import LocalRateBudget, RateBudget, RateLimiter
from humansupport.plugins import PluginRegistry
from humansupport.store import Store
from humansupport.store.budget import FileRateBudget, PostgresRateBudget
from humansupport.testing import FakeClock

KEY = "zendesk:acme:exports"


def test_each_store_kind_gives_its_backend(store_url: str, tmp_path: Path) -> None:
    with Store.open(store_url) as store:
        budget = store.rate_budget()
        assert isinstance(budget, RateBudget)
        assert budget is store.rate_budget()  # one per store, so limiter_for finds the same limiter again
        expected = PostgresRateBudget if store.engine.dialect.name == "postgresql" else FileRateBudget
        assert isinstance(budget, expected)
    with Store.open("sqlite:///:memory:") as memory:
        assert isinstance(memory.rate_budget(), LocalRateBudget)


def test_two_processes_on_one_store_share_one_window(store_url: str) -> None:
    # two Store objects stand for two processes (replicas, a cron job): each has its own budget object
    with Store.open(store_url) as first, Store.open(store_url) as second:
        a, b = first.rate_budget(), second.rate_budget()
        assert a is not b
        for _ in range(5):
            assert a.spend(KEY, cost=1.0, limit=10.0, window=60.0) == 0.0
            assert b.spend(KEY, cost=1.0, limit=10.0, window=60.0) == 0.0
        assert a.spend("zendesk:beta:exports", cost=1.0, limit=10.0, window=60.0) == 0.0  # another account
        wait = b.spend(KEY, cost=1.0, limit=10.0, window=60.0)
        assert 55.0 < wait <= 60.0, "the eleventh request of the minute must wait for the window, in any process"
        assert a.spend(KEY, cost=1.0, limit=10.0, window=60.0) > 55.0


def test_a_block_and_a_drain_reach_every_process(store_url: str) -> None:
    with Store.open(store_url) as first, Store.open(store_url) as second:
        a, b = first.rate_budget(), second.rate_budget()
        assert b.blocked_for(KEY) == 0.0
        a.block(KEY, 30.0)
        assert 25.0 < b.blocked_for(KEY) <= 30.0
        assert 25.0 < b.spend(KEY, cost=1.0, limit=10.0, window=60.0) <= 30.0
        other = "helpscout:acme"
        a.drain(other, remaining=2.0, limit=10.0, window=60.0)  # the server says 2 left: 8 spent elsewhere
        assert b.spend(other, cost=2.0, limit=10.0, window=60.0) == 0.0
        assert b.spend(other, cost=1.0, limit=10.0, window=60.0) > 0.0
        a.drain("intercom:acme", remaining=0.0, limit=10.0, window=10.0, expires_in=3.0)
        assert 0.0 < b.spend("intercom:acme", cost=1.0, limit=10.0, window=10.0) <= 3.0  # ages out at the reset


async def test_limiters_of_two_stores_pace_as_one(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "store.db.ratebudget"
    first = RateLimiter(per_minute=10, clock=clock, budget=FileRateBudget(path, clock=clock), key=KEY)
    second = RateLimiter(per_minute=10, clock=clock, budget=FileRateBudget(path, clock=clock), key=KEY)
    for _ in range(5):
        await first.acquire()
        await second.acquire()
    assert clock.sleeps == []  # a window is spent at once
    await first.acquire()
    assert clock.sleeps == [pytest.approx(61.0)]


def test_a_torn_budget_file_starts_a_fresh_window(tmp_path: Path) -> None:
    path = tmp_path / "x.ratebudget"
    path.write_text("{not json")
    budget = FileRateBudget(path)
    assert budget.spend(KEY, cost=1.0, limit=1.0, window=60.0) == 0.0
    assert budget.spend(KEY, cost=1.0, limit=1.0, window=60.0) > 0.0


_WORKER = """
import asyncio, json, sys, time
from humansupport.http.ratelimit import RateLimiter
from humansupport.store import Store

url, start = sys.argv[1], float(sys.argv[2])

async def go():
    with Store.open(url) as store:
        limiter = RateLimiter(per_minute=240, window=1.0, budget=store.rate_budget(), key="zendesk:acme:exports")
        while time.time() < start:
            await asyncio.sleep(0.005)
        sent = []
        for _ in range(6):
            await limiter.acquire()
            sent.append(time.time())
        return sent

print(json.dumps(asyncio.run(go())))
"""


def test_processes_together_never_exceed_the_window(store_url: str) -> None:
    with Store.open(store_url):
        pass  # create the schema before the workers race to
    start = time.time() + 2.0
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, store_url, str(start)], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    sent: list[float] = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        sent.extend(json.loads(stdout))
    sent.sort()
    assert len(sent) == 18
    # any interval a little under the window (slack for the time between the grant and our stamp) holds <= 4
    for t in sent:
        assert sum(1 for u in sent if t <= u < t + 0.9) <= 4
    assert sent[-1] - sent[0] >= 3.5, "18 requests at 4 a second need at least four windows across the processes"


def test_every_first_party_adapter_spends_from_an_injected_budget(installed_registry: PluginRegistry) -> None:
    clock = FakeClock()
    budget = LocalRateBudget(clock=clock)
    fakes = installed_registry.fakes()
    assert set(fakes) >= {"zendesk", "helpscout", "freshdesk", "intercom"}
    for vendor, fake_cls in fakes.items():
        cls = installed_registry.helpdesk(vendor)
        settings = cls.settings_model.model_validate({**fake_cls.adapter_settings(), "account": f"{vendor}-a"})
        adapter = cls.from_settings(
            settings, transport=fake_cls(clock=clock).transport(), clock=clock, rate_budget=budget
        )
        limiter = adapter.http.limiter  # type: ignore[attr-defined]
        assert limiter.budget is budget, vendor
        assert limiter.key == f"{vendor}:{vendor}-a", "the account name keys the budget"
