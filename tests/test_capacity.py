"""Capacity held in the store: webhook workers in several processes, `route --apply` and rebalance beside them,
never put an agent over capacity (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest

from humansupport.models import WebhookEvent, WebhookEventType
from humansupport.plugins import PluginRegistry
from humansupport.routing import RouterConfig
from humansupport.routing.capacity import CapacityLedger
from humansupport.routing.service import route_conversations
from humansupport.store import Store
from humansupport.testing import FakeClock, FakeHelpdesk
from humansupport.webhooks import RoutingOptions, WebhookQueue, WorkerConfig
from humansupport.webhooks.queue import NewEvent
from humansupport.webhooks.worker import Worker

from .webhooks.support import HISTORY, first_party_registry, make_fake, make_runtime, new_conversation

VENDOR = "intercom"
CAPACITY = 4
OPEN = ("new", "open", "on_hold")


@pytest.fixture(scope="module")
def registry() -> PluginRegistry:
    return first_party_registry()


@dataclass
class Team:
    fake: FakeHelpdesk
    clock: FakeClock
    url: str
    options: RoutingOptions


@pytest.fixture
def team(registry: PluginRegistry, store_url: str) -> Team:
    clock = FakeClock(start=HISTORY.config.end)
    fake = make_fake(registry, VENDOR, clock)
    with Store.open(store_url) as store:  # the history the nightly sync would have stored
        store.upsert_agents(VENDOR, HISTORY.agents, seen_at=clock.now())
        store.upsert_customers(VENDOR, HISTORY.customers)
        store.write_conversations(VENDOR, [(c, HISTORY.messages.get(c.id, [])) for c in HISTORY.conversations])
        store.set_cursor(VENDOR, "conversations", clock.now(), items=0, at=clock.now())
    return Team(
        fake=fake, clock=clock, url=store_url, options=RoutingOptions(router=RouterConfig(default_capacity=CAPACITY))
    )


def _open_loads(fake: FakeHelpdesk) -> Counter[str]:
    return Counter(c.assignee_id for c in fake.conversations.values() if c.assignee_id and str(c.status) in OPEN)


def _free_slots(fake: FakeHelpdesk, group: str) -> int:
    loads = _open_loads(fake)
    ready = [
        a for a in fake.agents.values() if a.active and str(a.availability) == "available" and group in a.group_ids
    ]
    return sum(max(0, CAPACITY - loads[a.id]) for a in ready)


def _worker(registry: PluginRegistry, team: Team, store: Store, secret: str) -> Worker:
    runtime = make_runtime(registry, team.fake, store, secret=secret, options=team.options)
    return Worker(queue=WebhookQueue(store), accounts={VENDOR: runtime}, clock=team.clock, config=WorkerConfig(batch=3))


def test_two_workers_on_one_store_never_exceed_an_agents_capacity(registry: PluginRegistry, team: Team) -> None:
    """Two receivers' workers (each its own store connection, router and in-memory loads, as two processes have)
    route a burst bigger than the free capacity: every agent ends at or under capacity, none double-booked."""
    ids = [f"cap-{i}" for i in range(24)]
    convs = [new_conversation(team.fake, cid) for cid in ids]
    group = convs[0].group_id
    assert group is not None
    free = _free_slots(team.fake, group)
    assert 0 < free < len(ids)
    secret = secrets.token_hex(8)
    with Store.open(team.url) as one, Store.open(team.url) as two:
        a, b = _worker(registry, team, one, secret), _worker(registry, team, two, secret)

        async def run() -> None:
            await a.warm_up()
            await b.warm_up()  # both routers counted the same free slots before either assigned anything
            events = [
                NewEvent(
                    account=VENDOR,
                    event=WebhookEvent(
                        vendor=VENDOR, type=WebhookEventType.CONVERSATION_CREATED, id=cid, conversation_id=cid
                    ),
                )
                for cid in ids
            ]
            a.queue.enqueue([events], now=team.clock.now())
            for _ in range(20):
                taken = await asyncio.gather(a.run_once(), b.run_once())
                if not any(taken):
                    break

        asyncio.run(run())
        rows = WebhookQueue(one).rows(VENDOR)
    loads = _open_loads(team.fake)
    over = {
        agent: n
        for agent, n in loads.items()
        if n > CAPACITY and agent in {a.id for a in team.fake.agents.values() if a.active}
    }
    assert not over, f"agents over capacity {CAPACITY}: {over}"
    outcomes = Counter(str(r["outcome"]) for r in rows)
    assert outcomes["assigned"] == free, outcomes  # every free slot used, and no more
    assert outcomes["assigned"] + outcomes["unrouted"] == len(ids), outcomes
    with Store.open(team.url) as store:
        assert CapacityLedger(store).active(VENDOR) == {}  # every reservation released once its read-back was stored


def test_route_apply_respects_slots_a_worker_holds(registry: PluginRegistry, team: Team) -> None:
    """`route --apply` beside a webhook worker: a slot the worker reserved (assign in flight) is not free."""
    ids = [f"route-{i}" for i in range(12)]
    convs = [new_conversation(team.fake, cid) for cid in ids]
    group = convs[0].group_id
    assert group is not None
    free = _free_slots(team.fake, group)
    with Store.open(team.url) as store:
        store.write_conversations(VENDOR, [(c, None) for c in convs])
        ledger = CapacityLedger(store)
        # a worker elsewhere holds one slot of every ready agent of the group
        ready = [
            a
            for a in team.fake.agents.values()
            if a.active and str(a.availability) == "available" and group in a.group_ids
        ]
        for n, agent in enumerate(ready):
            assert ledger.reserve(VENDOR, f"elsewhere-{n}", agent.id, capacity=CAPACITY).taken
        adapter = make_runtime(registry, team.fake, store, secret="x", options=team.options).adapter
        result = asyncio.run(
            route_conversations(
                adapter, store, account=VENDOR, apply=True, config=team.options.router, clock=team.clock
            )
        )
    verified = [r for r in result.applied if r.outcome == "verified"]
    assert len(verified) == free - len(ready)
    loads = _open_loads(team.fake)
    for agent in ready:  # with the worker's in-flight assignment each still fits
        assert loads[agent.id] + 1 <= CAPACITY, (agent.id, loads[agent.id])


def test_reservations_from_many_threads_stop_at_capacity(team: Team) -> None:
    """The ledger alone, raced from 8 threads each with its own engine: exactly `capacity` slots are taken."""
    barrier = threading.Barrier(8)
    taken: list[str] = []
    lock = threading.Lock()

    def racer(n: int) -> None:
        with Store.open(team.url) as store:
            ledger = CapacityLedger(store)
            barrier.wait()
            for i in range(5):
                if ledger.reserve(VENDOR, f"t{n}-{i}", "2001", capacity=7).taken:
                    with lock:
                        taken.append(f"t{n}-{i}")

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 7  # agent 2001 has no open conversation in the history: 7 free
    with Store.open(team.url) as store:
        ledger = CapacityLedger(store)
        assert ledger.loads(VENDOR)["2001"] == 7
        ledger.release(VENDOR, taken[:2])
        assert ledger.loads(VENDOR)["2001"] == 5


def test_an_expired_reservation_stops_counting(team: Team) -> None:
    with Store.open(team.url) as store:
        ledger = CapacityLedger(store, ttl=60, database_clock=False)
        now = team.clock.now()
        assert ledger.reserve(VENDOR, "c1", "2001", capacity=1, now=now).taken
        assert not ledger.reserve(VENDOR, "c2", "2001", capacity=1, now=now).taken
        later = now + timedelta(seconds=61)  # the process that reserved died before its read-back
        assert ledger.reserve(VENDOR, "c2", "2001", capacity=1, now=later).taken


def test_a_move_out_makes_room_only_once_it_landed(team: Team) -> None:
    """A rebalance reserving conversation X away from agent A does not free A's slot before the move lands."""
    with Store.open(team.url) as store:
        ledger = CapacityLedger(store)
        held = {c.id for c in store.iter_conversations(VENDOR, open_only=True) if c.assignee_id == "2004"}
        load = len(held)
        assert load >= 1
        moving = sorted(held)[0]
        assert ledger.reserve(VENDOR, moving, "2006", capacity=None).taken  # the move out, in flight
        assert not ledger.reserve(VENDOR, "into-2004", "2004", capacity=load).taken  # still full
        assert ledger.loads(VENDOR)["2004"] == load
        conv = store.conversation(VENDOR, moving)
        assert conv is not None
        store.set_assignee(VENDOR, conv.model_copy(update={"assignee_id": "2006", "updated_at": team.clock.now()}))
        ledger.release(VENDOR, [moving])  # landed and read back: now the slot is free
        assert ledger.reserve(VENDOR, "into-2004", "2004", capacity=load).taken
