"""The preferred-agent router: send a conversation to the agent who knows the customer, with a reason.

Eligible = in the helpdesk (not deleted), active, in the conversation's group (or the configured groups),
available, and under capacity. The policy widens in stages, as contact-center engines do:

0. already assigned to an existing, active agent (a human's choice): leave it, and say so;
1. the preferred agent (top affinity above the threshold) when eligible; when away or full, wait for them
   up to `wait_for_preferred_hours` (leave unassigned and say so); email-style channels in
   `keep_owner_channels` stay with their owner even while the owner is away;
2. the next of the top-k affine agents who is eligible;
3. anyone eligible in the group, picked by the fallback strategy (least loaded, round robin, or a plugin's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..errors import ConfigError
from ..extensions import RoutingStrategy
from ..models import Agent, AgentAvailability, Conversation
from ..store import Store
from .affinity import AffinityConfig, AffinityIndex, AffinityScore
from .strategies import LeastLoaded, RoundRobin

__all__ = ["Candidate", "Router", "RouterConfig", "RoutingDecision", "open_loads"]

Action = Literal["assign", "wait", "leave", "none"]


@dataclass(frozen=True, kw_only=True)
class RouterConfig:
    """Routing policy; docs/routing.md explains each knob."""

    threshold: float = 0.5
    wait_for_preferred_hours: float = 0.0
    top_k: int = 3
    groups: tuple[str, ...] = ()
    keep_owner_channels: tuple[str, ...] = ()
    fallback: str = "least_loaded"
    default_capacity: int | None = None

    def __post_init__(self) -> None:
        if self.threshold < 0 or self.top_k < 1 or self.wait_for_preferred_hours < 0:
            raise ConfigError("router: threshold and wait_for_preferred_hours must be >= 0 and top_k >= 1")


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """An agent the router considered, with their affinity and why they were (not) picked."""

    agent_id: str
    name: str | None
    score: float
    explanation: str
    eligible: bool
    why_not: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "score": round(self.score, 4),
            "explanation": self.explanation,
            "eligible": self.eligible,
            "why_not": self.why_not,
        }


@dataclass(frozen=True, kw_only=True)
class RoutingDecision:
    """What the router decided for one conversation, and why, in words a team lead can check."""

    conversation_id: str
    customer_id: str | None
    action: Action
    stage: str
    reason: str
    agent_id: str | None = None
    agent_name: str | None = None
    score: float | None = None
    candidates: list[Candidate] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "customer_id": self.customer_id,
            "action": self.action,
            "stage": self.stage,
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "score": None if self.score is None else round(self.score, 4),
            "reason": self.reason,
            "candidates": [c.to_dict() for c in self.candidates],
        }


def open_loads(conversations: Iterable[tuple[str, str, Any, Any, str | None]]) -> dict[str, int]:
    """Open conversations per assignee, from `Store.conversation_facts` rows."""
    loads: dict[str, int] = {}
    for _id, status, _tags, _customer, assignee in conversations:
        if assignee and status in ("new", "open", "on_hold"):
            loads[assignee] = loads.get(assignee, 0) + 1
    return loads


class Router:
    """Decides one conversation at a time; `record()` keeps loads true across a batch (`route --new`)."""

    def __init__(
        self,
        *,
        index: AffinityIndex,
        agents: Sequence[Agent],
        loads: Mapping[str, int] | None = None,
        deleted: Iterable[str] = (),
        config: RouterConfig | None = None,
        strategies: Mapping[str, type[RoutingStrategy]] | None = None,
    ) -> None:
        self.index = index
        self.config = config or RouterConfig()
        self.agents = {a.id: a for a in agents}
        self.deleted = set(deleted)
        self.loads: dict[str, int] = dict(loads or {})
        available = dict(strategies or {"least_loaded": LeastLoaded, "round_robin": RoundRobin})
        if self.config.fallback not in available:
            raise ConfigError(
                f"unknown routing strategy {self.config.fallback!r} (available: {', '.join(sorted(available))})"
            )
        self.strategy: RoutingStrategy = available[self.config.fallback]()
        # present, active and not away: what changes only when the team is re-read
        self._ready = {
            a.id
            for a in agents
            if a.active
            and a.id not in self.deleted
            and a.availability not in (AgentAvailability.AWAY, AgentAvailability.OFFLINE)
        }
        # per group, the ready agents with their capacity: a decision then only compares loads
        self._ready_members: dict[str, list[tuple[str, int | None, Agent]]] = {}
        self._ungrouped: list[tuple[str, int | None, Agent]] = []
        for agent in agents:
            if agent.id not in self._ready:
                continue
            member = (agent.id, self._capacity(agent), agent)
            for gid in agent.group_ids:
                self._ready_members.setdefault(gid, []).append(member)
            if not agent.group_ids:
                self._ungrouped.append(member)

    @classmethod
    def from_store(
        cls,
        store: Store,
        account: str,
        *,
        now: datetime,
        config: RouterConfig | None = None,
        affinity: AffinityConfig | None = None,
        agents: Sequence[Agent] | None = None,
        strategies: Mapping[str, type[RoutingStrategy]] | None = None,
    ) -> Router:
        """Builds the affinity index and the team from the store; `agents` (fresh from the helpdesk) win."""
        index = AffinityIndex.build(store, account, now=now, config=affinity)
        stored = store.agents(account)
        deleted = {a.id for a, gone in stored if gone is not None}
        team = list(agents) if agents is not None else [a for a, gone in stored if gone is None]
        if agents is not None:
            deleted |= {a.id for a, _ in stored} - {a.id for a in agents}
        from .capacity import CapacityLedger

        return cls(
            index=index,
            agents=team,
            # open conversations plus assignments other processes have in flight (reservations)
            loads=CapacityLedger(store).loads(account),
            deleted=deleted,
            config=config,
            strategies=strategies,
        )

    # -- eligibility ---------------------------------------------------------------------------------

    def _groups_for(self, conversation: Conversation) -> tuple[str, ...]:
        if conversation.group_id:
            return (conversation.group_id,)
        return self.config.groups

    def _capacity(self, agent: Agent) -> int | None:
        return agent.capacity if agent.capacity is not None else self.config.default_capacity

    def capacity_of(self, agent_id: str) -> int | None:
        """The agent's capacity (theirs, else the configured default; None: no limit)."""
        agent = self.agents.get(agent_id)
        return self.config.default_capacity if agent is None else self._capacity(agent)

    def why_not(self, agent_id: str, groups: tuple[str, ...]) -> str | None:
        """None when eligible, else the reason in a few words."""
        agent = self.agents.get(agent_id)
        if agent is None or agent_id in self.deleted:
            return "no longer in the helpdesk"
        if not agent.active:
            return "deactivated"
        if groups and not set(groups) & set(agent.group_ids):
            return f"not in group {', '.join(groups)}"
        if agent.availability in (AgentAvailability.AWAY, AgentAvailability.OFFLINE):
            return str(agent.availability)
        cap = self._capacity(agent)
        load = self.loads.get(agent_id, 0)
        if cap is not None and load >= cap:
            return f"full ({load} of {cap} open)"
        return None

    def _present(self, agent_id: str) -> bool:
        agent = self.agents.get(agent_id)
        return agent is not None and agent.active and agent_id not in self.deleted

    def _pool(self, groups: tuple[str, ...]) -> list[Agent]:
        """Eligible agents of the groups; the hot path of cold-start routing, so only a load check per agent."""
        if len(groups) == 1:
            members = self._ready_members.get(groups[0], [])
        else:
            seen: dict[str, tuple[str, int | None, Agent]] = {}
            for gid in groups or tuple(self._ready_members):
                for member in self._ready_members.get(gid, []):
                    seen[member[0]] = member
            members = list(seen.values())
            if not groups:  # no group: the whole team, including agents in no group
                members += [m for m in self._ungrouped if m[0] not in seen]
        loads = self.loads
        return [agent for aid, cap, agent in members if cap is None or loads.get(aid, 0) < cap]

    def _name(self, agent_id: str | None) -> str | None:
        if agent_id is None:
            return None
        agent = self.agents.get(agent_id)
        return (agent.name or agent_id) if agent else agent_id

    # -- the decision --------------------------------------------------------------------------------

    def route(self, conversation: Conversation, *, now: datetime) -> RoutingDecision:
        """The decision for one conversation (never writes anything)."""
        cfg = self.config
        base: dict[str, Any] = {"conversation_id": conversation.id, "customer_id": conversation.customer_id}
        current = conversation.assignee_id
        note = ""
        if current:
            if self._present(current):
                return RoutingDecision(
                    **base,
                    action="leave",
                    stage="assigned",
                    agent_id=current,
                    agent_name=self._name(current),
                    reason=f"already assigned to {self._name(current)}; a person's assignment is left as is",
                )
            note = f"assignee {self._name(current)} is {self.why_not(current, ())}; "
        if not conversation.status.is_open:
            return RoutingDecision(
                **base, action="leave", stage="closed", reason=f"conversation is {conversation.status}"
            )
        groups = self._groups_for(conversation)
        scores: list[AffinityScore] = (
            self.index.scores(conversation.customer_id, now=now) if conversation.customer_id else []
        )
        affine = [s for s in scores if s.score >= cfg.threshold]
        candidates = [
            Candidate(
                agent_id=s.agent_id,
                name=self._name(s.agent_id),
                score=s.score,
                explanation=s.explanation,
                eligible=(why := self.why_not(s.agent_id, groups)) is None,
                why_not=why,
            )
            for s in affine[: max(cfg.top_k, 1) + 2]
        ]
        if candidates:
            preferred = candidates[0]
            if preferred.eligible:
                return self._assign(
                    base, preferred, "preferred", f"{note}knows them best: {preferred.explanation}", candidates
                )
            present = self._present(preferred.agent_id) and not (
                groups and preferred.why_not and preferred.why_not.startswith("not in group")
            )
            if present and conversation.channel and conversation.channel in cfg.keep_owner_channels:
                return self._assign(
                    base,
                    preferred,
                    "owner",
                    f"{note}{conversation.channel} stays with {preferred.name}, who knows them best "
                    f"({preferred.explanation}), although {preferred.why_not}",
                    candidates,
                )
            if present and cfg.wait_for_preferred_hours > 0 and conversation.created_at is not None:
                waited = (now - conversation.created_at).total_seconds() / 3600
                if waited < cfg.wait_for_preferred_hours:
                    left = cfg.wait_for_preferred_hours - waited
                    return RoutingDecision(
                        **base,
                        action="wait",
                        stage="wait",
                        agent_id=preferred.agent_id,
                        agent_name=preferred.name,
                        score=preferred.score,
                        reason=(
                            f"{note}waiting for {preferred.name} ({preferred.why_not}), who knows them best: "
                            f"left unassigned for up to {cfg.wait_for_preferred_hours:g} h, {left:.1f} h to go"
                        ),
                        candidates=candidates,
                    )
            for runner_up in candidates[1 : cfg.top_k]:
                if runner_up.eligible:
                    return self._assign(
                        base,
                        runner_up,
                        "top_k",
                        f"{note}{preferred.name} knows them best but is {preferred.why_not}; "
                        f"{runner_up.name} knows them too: {runner_up.explanation}",
                        candidates,
                    )
            lead = f"{note}nobody who knows them is eligible ({preferred.name}: {preferred.why_not}); "
        elif scores:
            lead = f"{note}their history is too thin (best affinity {scores[0].score:.2f} < {cfg.threshold:g}); "
        else:
            lead = f"{note}no history with this customer; "
        pool = self._pool(groups)
        chosen = self.strategy.choose(conversation, pool, self.loads)
        where = f"group {', '.join(groups)}" if groups else "the team"
        if chosen is None:
            return RoutingDecision(
                **base,
                action="none",
                stage="none",
                reason=f"{lead}no eligible agent in {where} (everyone away, full or deactivated)",
                candidates=candidates,
            )
        known = self.index.score(conversation.customer_id, chosen.id, now=now) if conversation.customer_id else None
        pick = Candidate(
            agent_id=chosen.id,
            name=self._name(chosen.id),
            score=known.score if known else 0.0,
            explanation=known.explanation if known else "no history",
            eligible=True,
        )
        load = self.loads.get(chosen.id, 0)
        return self._assign(
            base,
            pick,
            f"fallback:{self.strategy.name}",
            f"{lead}{self.strategy.name.replace('_', ' ')} in {where}: {pick.name} ({load} open)",
            candidates,
        )

    def _assign(
        self, base: dict[str, Any], who: Candidate, stage: str, reason: str, candidates: list[Candidate]
    ) -> RoutingDecision:
        return RoutingDecision(
            **base,
            action="assign",
            stage=stage,
            agent_id=who.agent_id,
            agent_name=who.name,
            score=who.score,
            reason=reason,
            candidates=[c for c in candidates if c.agent_id != who.agent_id],
        )

    def record(self, decision: RoutingDecision) -> None:
        """Counts an assignment toward the agent's load, so the next decision in a batch sees it."""
        if decision.action == "assign" and decision.agent_id:
            self.loads[decision.agent_id] = self.loads.get(decision.agent_id, 0) + 1

    def route_many(self, conversations: Iterable[Conversation], *, now: datetime) -> list[RoutingDecision]:
        out = []
        for conv in conversations:
            decision = self.route(conv, now=now)
            self.record(decision)
            out.append(decision)
        return out
