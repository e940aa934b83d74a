"""The worker's event handlers against a vendor fake (no HTTP): reassignments, replies, holds, crashes, give-ups."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from humansupport.models import AgentAvailability, ConversationStatus, WebhookEvent, WebhookEventType
from humansupport.plugins import PluginRegistry
from humansupport.routing import AffinityIndex, RouterConfig
from humansupport.store import Store
from humansupport.testing import FakeClock, FakeHelpdesk
from humansupport.webhooks import RoutingOptions, WebhookApp, WorkerConfig
from humansupport.webhooks.queue import NewEvent

from .webhooks.support import HISTORY, app_for, first_party_registry, make_fake, make_runtime, new_conversation

VENDOR = "intercom"


@pytest.fixture(scope="module")
def registry() -> PluginRegistry:
    return first_party_registry()


@dataclass
class Setup:
    app: WebhookApp
    fake: FakeHelpdesk
    clock: FakeClock
    store: Store

    def send(self, kind: WebhookEventType, **fields: Any) -> None:
        event = WebhookEvent(vendor=VENDOR, type=kind, id=secrets.token_hex(6), **fields)
        self.app.queue.enqueue([[NewEvent(account=VENDOR, event=event)]], now=self.clock.now())

    def drain(self, *, advance: float = 0.0) -> None:
        async def go() -> None:
            for _ in range(20):
                if advance:
                    self.clock.advance(advance)
                if not await self.app.worker.run_once() and not advance:
                    return

        asyncio.run(go())

    def last(self) -> dict[str, Any]:
        return self.app.queue.rows()[-1]

    def writes(self, conversation_id: str) -> int:
        return sum(1 for r in self.fake.requests if r.method != "GET" and conversation_id in r.path)


def _setup(registry: PluginRegistry, tmp_path: Path, **options: Any) -> Iterator[Setup]:
    clock = FakeClock(start=HISTORY.config.end)
    fake = make_fake(registry, VENDOR, clock)
    with Store.open(tmp_path / "store.db") as store:
        # the history the nightly sync would have stored
        store.upsert_agents(VENDOR, HISTORY.agents, seen_at=clock.now())
        store.upsert_customers(VENDOR, HISTORY.customers)
        store.write_conversations(VENDOR, [(c, HISTORY.messages.get(c.id, [])) for c in HISTORY.conversations])
        runtime = make_runtime(
            registry, fake, store, secret="whsec-" + secrets.token_hex(4), options=RoutingOptions(**options)
        )
        app = app_for([runtime], store, clock, worker=WorkerConfig(offer_cap=2, max_attempts=3))
        yield Setup(app=app, fake=fake, clock=clock, store=store)


@pytest.fixture
def setup(registry: PluginRegistry, tmp_path: Path) -> Iterator[Setup]:
    yield from _setup(registry, tmp_path)


def _known_pair(store: Store, now: Any) -> tuple[str, str, str]:
    """(customer, their preferred agent, another active agent in the same group)."""
    index = AffinityIndex.build(store, VENDOR, now=now)
    active = {a.id: a for a in HISTORY.agents if a.active}
    for customer in index.customers():
        scores = [s for s in index.scores(customer, now=now) if s.agent_id in active]
        if scores and scores[0].score >= 0.5:
            best = active[scores[0].agent_id]
            others = [a for a in active.values() if a.id != best.id and set(a.group_ids) & set(best.group_ids)]
            if others and best.group_ids:
                return customer, best.id, others[0].id
    raise AssertionError("the synthetic history has no customer with a clear preferred agent")


def test_a_person_reassigning_is_recorded_never_reverted(setup: Setup) -> None:
    new_conversation(setup.fake, "c-1")
    setup.send(WebhookEventType.CONVERSATION_CREATED, conversation_id="c-1")
    setup.drain()
    ours = setup.last()["assigned_agent_id"]
    assert ours is not None and setup.fake.conversations["c-1"].assignee_id == ours
    other = next(a.id for a in HISTORY.agents if a.active and a.id != ours)
    setup.fake.touch_conversation("c-1", assignee_id=other)  # a person moves it in the helpdesk
    writes = setup.writes("c-1")
    setup.send(
        WebhookEventType.CONVERSATION_ASSIGNED,
        conversation_id="c-1",
        agent_id=other,
        previous_agent_id=ours,
        actor="human",
    )
    setup.drain()
    row = setup.last()
    assert row["outcome"] == "recorded" and "left as is" in row["message"]
    assert setup.fake.conversations["c-1"].assignee_id == other
    assert setup.writes("c-1") == writes  # nothing written back
    assert setup.store.conversation(VENDOR, "c-1").assignee_id == other


def test_echo_of_our_own_assignment_is_recognised(setup: Setup) -> None:
    new_conversation(setup.fake, "c-2")
    setup.send(WebhookEventType.CONVERSATION_CREATED, conversation_id="c-2")
    setup.drain()
    ours = setup.last()["assigned_agent_id"]
    setup.send(WebhookEventType.CONVERSATION_ASSIGNED, conversation_id="c-2", agent_id=ours, actor="system")
    setup.drain()
    assert setup.last()["outcome"] == "own_assignment"


def test_customer_reply_on_a_closed_conversation_goes_back_to_the_previous_agent(setup: Setup) -> None:
    customer, preferred, previous = _known_pair(setup.store, setup.clock.now())
    group = next(a for a in HISTORY.agents if a.id == previous).group_ids[0]
    # reopened by the reply, unassigned by the helpdesk; the router alone would pick `preferred`
    new_conversation(setup.fake, "c-3", customer_id=customer, group_id=group, status=ConversationStatus.OPEN)
    setup.send(
        WebhookEventType.CUSTOMER_REPLIED, conversation_id="c-3", customer_id=customer, previous_agent_id=previous
    )
    setup.drain()
    row = setup.last()
    assert row["outcome"] == "assigned" and row["assigned_agent_id"] == previous, row
    assert setup.fake.conversations["c-3"].assignee_id == previous
    assert previous != preferred


def test_customer_reply_on_a_conversation_still_closed_assigns_nothing(setup: Setup) -> None:
    new_conversation(setup.fake, "c-4", status=ConversationStatus.CLOSED)
    setup.send(WebhookEventType.CUSTOMER_REPLIED, conversation_id="c-4")
    setup.drain()
    assert setup.last()["outcome"] == "closed"
    assert setup.writes("c-4") == 0


def test_agent_back_from_away_is_offered_held_conversations_capped(registry: PluginRegistry, tmp_path: Path) -> None:
    for s in _setup(registry, tmp_path, router=RouterConfig(wait_for_preferred_hours=4)):
        customer, preferred, _ = _known_pair(s.store, s.clock.now())
        agent = s.fake.agents[preferred]
        s.fake.agents[preferred] = agent.model_copy(update={"availability": AgentAvailability.AWAY})
        for cid in ("h-1", "h-2", "h-3"):
            new_conversation(s.fake, cid, customer_id=customer, group_id=agent.group_ids[0])
            s.send(WebhookEventType.CONVERSATION_CREATED, conversation_id=cid, customer_id=customer)
        s.drain()
        rows = s.app.queue.rows()
        assert [r["outcome"] for r in rows] == ["held"] * 3, [r["message"] for r in rows]
        assert {r["held_for"] for r in rows} == {preferred}
        assert all(s.fake.conversations[c].assignee_id is None for c in ("h-1", "h-2", "h-3"))
        # still away: nothing offered
        s.send(WebhookEventType.AGENT_AVAILABILITY_CHANGED, agent_id=preferred)
        s.drain()
        assert s.last()["outcome"] == "agent_away"
        s.fake.agents[preferred] = agent.model_copy(update={"availability": AgentAvailability.AVAILABLE})
        s.send(WebhookEventType.AGENT_AVAILABILITY_CHANGED, agent_id=preferred)
        s.drain()
        assert s.last()["outcome"] == "offers_made"
        assigned = [c for c in ("h-1", "h-2", "h-3") if s.fake.conversations[c].assignee_id == preferred]
        assert assigned == ["h-1", "h-2"]  # oldest first, capped at offer_cap=2
        assert [r["held_for"] for r in s.app.queue.rows()[:3]] == [None, None, preferred]


def test_retaken_after_a_crash_that_followed_the_assignment_assigns_nothing_more(setup: Setup) -> None:
    new_conversation(setup.fake, "c-5")
    setup.send(WebhookEventType.CONVERSATION_CREATED, conversation_id="c-5")
    queue = setup.app.queue
    (claimed,) = queue.claim(accounts=[VENDOR], now=setup.clock.now(), limit=10, lease=60)
    agent = next(a.id for a in HISTORY.agents if a.active)

    async def assign_then_crash() -> None:  # the worker assigned, then died before recording anything
        await setup.app.worker.accounts[VENDOR].adapter.assign("c-5", agent)

    asyncio.run(assign_then_crash())
    writes = setup.writes("c-5")
    setup.drain()  # lease still running: not taken
    assert queue.rows()[0]["state"] == "processing"
    setup.clock.advance(61)
    setup.drain()
    row = queue.rows()[0]
    assert row["state"] == "done" and row["outcome"] == "already_assigned" and row["attempts"] == 2  # stage 0
    assert row["assigned_agent_id"] is None
    assert setup.writes("c-5") == writes
    assert setup.fake.conversations["c-5"].assignee_id == agent
    assert claimed.attempts == 1


def test_deleted_conversation_is_skipped(setup: Setup) -> None:
    setup.send(WebhookEventType.CONVERSATION_CREATED, conversation_id="no-such-conversation")
    setup.drain()
    row = setup.last()
    assert row["state"] == "skipped" and row["outcome"] == "not_found"


def test_gives_up_after_max_attempts(setup: Setup) -> None:
    new_conversation(setup.fake, "c-6")
    setup.fake.fail_next(500, times=1000, match=r"c-6")
    setup.send(WebhookEventType.CONVERSATION_CREATED, conversation_id="c-6")
    setup.drain(advance=30)
    row = setup.last()
    assert row["state"] == "failed" and row["outcome"] == "gave_up" and row["attempts"] == 3, row
    assert "500" in row["message"]


def test_updated_event_refreshes_the_store(setup: Setup) -> None:
    conv = next(c for c in HISTORY.conversations if HISTORY.messages.get(c.id) and c.status.is_open)
    setup.fake.touch_conversation(conv.id, status=ConversationStatus.CLOSED)
    setup.send(WebhookEventType.CONVERSATION_UPDATED, conversation_id=conv.id)
    setup.drain()
    assert setup.last()["outcome"] == "stored"
    assert setup.store.conversation(VENDOR, conv.id).status == ConversationStatus.CLOSED


def test_other_events_without_a_conversation_are_ignored(setup: Setup) -> None:
    setup.send(WebhookEventType.CONVERSATION_CREATED)
    setup.drain()
    assert setup.last()["state"] == "skipped"


def test_a_hold_whose_wait_is_over_goes_to_the_next_best_agent(registry: PluginRegistry, tmp_path: Path) -> None:
    for s in _setup(registry, tmp_path, router=RouterConfig(wait_for_preferred_hours=4)):
        customer, preferred, _ = _known_pair(s.store, s.clock.now())
        agent = s.fake.agents[preferred]
        s.fake.agents[preferred] = agent.model_copy(update={"availability": AgentAvailability.AWAY})
        for cid in ("w-1", "w-2"):
            new_conversation(s.fake, cid, customer_id=customer, group_id=agent.group_ids[0])
            s.send(WebhookEventType.CONVERSATION_CREATED, conversation_id=cid, customer_id=customer)
        s.drain()
        assert [r["outcome"] for r in s.app.queue.rows()] == ["held", "held"]
        s.fake.conversations["w-2"] = s.fake.conversations["w-2"].model_copy(update={"assignee_id": preferred})
        sweep = s.app.worker.sweep_expired_holds
        assert asyncio.run(sweep()) == 0  # still inside the 4 h wait: nothing moves
        s.clock.advance(4 * 3600 + 1)
        assert asyncio.run(sweep()) == 2
        first, second = s.app.queue.rows()
        assert first["outcome"] == "hold_expired_assigned" and first["held_for"] is None
        moved_to = s.fake.conversations["w-1"].assignee_id
        assert moved_to not in (None, preferred) and first["assigned_agent_id"] == moved_to
        assert second["outcome"] == "hold_ended"  # a person assigned it meanwhile: left as is
        assert s.fake.conversations["w-2"].assignee_id == preferred
        stored = s.store.conversation(VENDOR, "w-1")
        assert stored is not None and stored.assignee_id == moved_to  # the store saw the assignment
        assert asyncio.run(sweep()) == 0  # each hold ends once
