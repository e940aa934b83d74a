"""The discrete-event replay on SimPy: arrivals, shifts, holds and waits as events; a policy decides.

One `Replay` runs one policy over one `SimHistory`. Events are the historical arrivals (one process), each
agent's shifts (one process per agent), the end of each conversation's hold (a timeout that frees the agent's
slot) and the end of each wait for a preferred agent (a timeout that decides again). Whenever an agent comes
on shift or frees a slot, the conversations waiting for them are offered first, then the oldest queued ones
of their groups. Ties at one instant keep SimPy's scheduling order, so a replay is deterministic.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import simpy

from .history import SimAgent, SimConversation, SimHistory

if TYPE_CHECKING:
    from .policies import ReplayPolicy

__all__ = ["Decision", "Outcome", "Replay", "ReplayResult"]

Action = Literal["assign", "wait", "queue", "never"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What a policy decided for one conversation at one instant."""

    action: Action
    agent_id: str | None = None
    #: for "wait": the deadline (epoch seconds) after which the policy is asked again
    until: float | None = None
    stage: str = ""
    #: the router saw nobody who knows the customer (no affinity at or above the threshold)
    no_history: bool = False


@dataclass(slots=True)
class Outcome:
    """What happened to one conversation in the replay."""

    conversation: SimConversation
    agent_id: str | None = None
    assigned_at: float | None = None
    stage: str = ""
    waited_for: str | None = None
    wait_expired: bool = False
    no_history: bool = False
    #: the customer's preferred agent (most of their earlier conversations) when it was decided, and their state
    preferred: str | None = None
    preferred_state: str | None = None  # "eligible", "away", "full"

    @property
    def wait(self) -> float | None:
        return None if self.assigned_at is None else self.assigned_at - self.conversation.arrival


@dataclass(kw_only=True)
class ReplayResult:
    """A policy's replay: every conversation's outcome and each agent's peak open load."""

    policy: str
    outcomes: list[Outcome]
    peak_load: dict[str, int]
    assignments: Counter[str]
    respects_capacity: bool
    respects_presence: bool
    #: how many times the policy was asked (arrivals, offers to waiting or queued conversations, expired waits)
    decisions: int = 0


class Replay:
    """State of one replay (who is on shift, loads, waits, queues) and the SimPy processes that drive it."""

    def __init__(self, history: SimHistory, policy: ReplayPolicy) -> None:
        self.history = history
        self.policy = policy
        self.env = simpy.Environment(initial_time=history.start_ts)
        self.agents: dict[str, SimAgent] = {a.id: a for a in history.agents}
        #: agents on shift -> when the shift ends (an event at that very instant may come before the end's own)
        self.on_duty: dict[str, float] = {}
        self.loads: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.assigned: Counter[str] = Counter()
        self.outcomes: dict[str, Outcome] = {}
        self.decisions = 0
        self._waiting: dict[str, list[SimConversation]] = {}
        self._waits: dict[str, str] = {}  # conversation -> the agent it waits for
        self._queues: dict[str | None, deque[SimConversation]] = {}
        self._queued: set[str] = set()
        self._members: dict[str, list[str]] = {}
        for agent in history.agents:
            for gid in agent.group_ids:
                self._members.setdefault(gid, []).append(agent.id)
        # who handled each customer's earlier conversations (history first, then the replay's own assignments)
        self.earlier: dict[str, Counter[str]] = {}
        self._best: dict[str, str] = {}  # customer -> their preferred agent, kept as `earlier` grows
        start = history.start
        for fact in history.facts:
            if fact.customer_id and fact.assignee_id and fact.created_at is not None and fact.created_at < start:
                self._count(fact.customer_id, fact.assignee_id)

    # -- what policies read ---------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return float(self.env.now)

    def capacity(self, agent_id: str) -> int | None:
        return self.agents[agent_id].capacity

    def on_shift(self, agent_id: str) -> bool:
        off = self.on_duty.get(agent_id)
        return off is not None and self.env.now < off

    def has_room(self, agent_id: str) -> bool:
        cap = self.agents[agent_id].capacity
        return cap is None or self.loads.get(agent_id, 0) < cap

    def state(self, agent_id: str) -> str:
        """ "eligible", "away" (off shift or gone) or "full" (group membership aside)."""
        if not self.on_shift(agent_id):
            return "away"
        return "eligible" if self.has_room(agent_id) else "full"

    def preferred(self, customer_id: str | None) -> str | None:
        """The agent who handled most of the customer's earlier conversations (ties: lowest id), as metrics say."""
        return self._best.get(customer_id) if customer_id else None

    def _count(self, customer_id: str, agent_id: str) -> None:
        counts = self.earlier.get(customer_id)
        if counts is None:
            counts = self.earlier[customer_id] = Counter()
        n = counts[agent_id] = counts[agent_id] + 1
        best = self._best.get(customer_id)
        if best is None or n > counts[best] or (n == counts[best] and agent_id < best):
            self._best[customer_id] = agent_id

    def members(self, group_id: str) -> list[str]:
        return self._members.get(group_id, [])

    # -- running --------------------------------------------------------------------------------------

    def run(self) -> ReplayResult:
        self.policy.start(self)
        self.env.process(self._arrivals())
        for agent in self.history.agents:
            if agent.shifts:
                self.env.process(self._shifts(agent))
        self.env.run(until=self.history.end_ts)
        for conv in self.history.conversations:
            self.outcomes.setdefault(conv.id, Outcome(conversation=conv))
        for conv_id, agent_id in self._waits.items():  # still waiting at the end
            out = self.outcomes[conv_id]
            out.waited_for = agent_id
        return ReplayResult(
            policy=self.policy.name,
            outcomes=[self.outcomes[c.id] for c in self.history.conversations],
            peak_load=dict(self.peak),
            assignments=self.assigned,
            respects_capacity=self.policy.respects_capacity,
            respects_presence=self.policy.respects_presence,
            decisions=self.decisions,
        )

    def _arrivals(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        for conv in self.history.conversations:
            delay = conv.arrival - env.now
            if delay > 0:
                yield env.timeout(delay)
            self._decide(conv)

    def _shifts(self, agent: SimAgent) -> Generator[simpy.Event, Any, None]:
        env = self.env
        end = self.history.end_ts
        gone = agent.gone_at if agent.gone_at is not None else end
        first = bisect.bisect_right([b for _, b in agent.shifts], env.now)
        for on, off in agent.shifts[first:]:
            off = min(off, gone)
            if on >= off:
                continue
            if on > env.now:
                yield env.timeout(on - env.now)
            self.on_duty[agent.id] = off
            self._offer(agent.id)
            yield env.timeout(off - env.now)
            self.on_duty.pop(agent.id, None)

    # -- decisions ------------------------------------------------------------------------------------

    def _decide(self, conv: SimConversation) -> bool:
        """Asks the policy and acts; True when the conversation got an agent."""
        self.decisions += 1
        decision = self.policy.decide(conv, self.now)
        out = self.outcomes.get(conv.id)
        if out is None:
            out = self.outcomes[conv.id] = Outcome(conversation=conv)
        out.no_history = decision.no_history
        out.stage = decision.stage
        if decision.action == "assign" and decision.agent_id is not None:
            self._assign(conv, decision.agent_id, decision.stage)
            return True
        if decision.action == "wait" and decision.agent_id is not None and decision.until is not None:
            agent_id = decision.agent_id
            before = self._waits.get(conv.id)
            if before != agent_id:
                if before is not None:  # the customer's preferred agent changed while they waited
                    self._unwait(conv, before)
                self._waits[conv.id] = agent_id
                self._waiting.setdefault(agent_id, []).append(conv)
                out.waited_for = agent_id
                timer = self.env.timeout(max(0.0, decision.until - self.now))
                timer.callbacks.append(_Call(self._expire, conv, agent_id))
            return False
        if decision.action == "queue" and conv.id not in self._queued:
            self._queued.add(conv.id)
            self._queues.setdefault(conv.group_id, deque()).append(conv)
        return False

    def _expire(self, conv: SimConversation, agent_id: str) -> None:
        if self._waits.get(conv.id) != agent_id:
            return  # served meanwhile
        self._unwait(conv, agent_id)
        self.outcomes[conv.id].wait_expired = True
        self._decide(conv)

    def _unwait(self, conv: SimConversation, agent_id: str) -> None:
        del self._waits[conv.id]
        self._waiting[agent_id].remove(conv)

    def _assign(self, conv: SimConversation, agent_id: str, stage: str) -> None:
        out = self.outcomes[conv.id]
        now = self.now
        preferred = self.preferred(conv.customer_id)
        out.preferred = preferred
        out.preferred_state = None if preferred is None else self.state(preferred)
        out.agent_id, out.assigned_at, out.stage = agent_id, now, stage
        waited = self._waits.get(conv.id)
        if waited is not None:
            self._unwait(conv, waited)
        load = self.loads.get(agent_id, 0) + 1
        self.loads[agent_id] = load
        if load > self.peak.get(agent_id, 0):
            self.peak[agent_id] = load
        self.assigned[agent_id] += 1
        if conv.customer_id:
            self._count(conv.customer_id, agent_id)
        self.policy.assigned(conv, agent_id, now)
        release = self.env.timeout(conv.hold)
        release.callbacks.append(_Call(self._release, agent_id))

    def _release(self, agent_id: str) -> None:
        self.loads[agent_id] -= 1
        if self.on_shift(agent_id):
            self._offer(agent_id)

    def _offer(self, agent_id: str) -> None:
        """An agent came on shift or freed a slot: those waiting for them first, then the oldest queued."""
        waiting = self._waiting.get(agent_id)
        if waiting:
            for conv in list(waiting):
                if not self.has_room(agent_id) and self.policy.respects_capacity:
                    break
                if self._waits.get(conv.id) == agent_id:  # still waiting for this agent
                    self._decide(conv)
        agent = self.agents[agent_id]
        keys: list[str | None] = [*agent.group_ids, None]
        while self.has_room(agent_id) and self.on_shift(agent_id):
            oldest: deque[SimConversation] | None = None
            for key in keys:
                queue = self._queues.get(key)
                if queue and (oldest is None or queue[0].arrival < oldest[0].arrival):
                    oldest = queue
            if oldest is None:
                return
            conv = oldest.popleft()
            self._queued.discard(conv.id)
            self._decide(conv)
            if conv.id in self._queued:
                # nobody eligible for it after all (a group this agent is not in): back to the front, stop here
                oldest.pop()
                oldest.appendleft(conv)
                return


class _Call:
    """A SimPy callback calling `fn(*args)` (the event itself is not needed)."""

    __slots__ = ("args", "fn")

    def __init__(self, fn: Callable[..., None], *args: Any) -> None:
        self.fn = fn
        self.args = args

    def __call__(self, _event: simpy.Event) -> None:
        self.fn(*self.args)
