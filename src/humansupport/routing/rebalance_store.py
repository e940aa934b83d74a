"""Planning a rebalance from the history store (what `humansupport rebalance VENDOR` does before applying)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..models import Agent
from ..store import Store
from .affinity import AffinityConfig, AffinityIndex
from .rebalance import RebalanceConfig, RebalancePlan, plan_rebalance

__all__ = ["IndexAffinity", "plan_from_store", "require_history"]


class IndexAffinity:
    """The planner's `AffinityLookup` over the router's `AffinityIndex`, scored at one `now`."""

    def __init__(self, index: AffinityIndex, *, now: datetime) -> None:
        self.index = index
        self.now = now

    def score(self, customer_id: str, agent_id: str) -> float:
        scored = self.index.score(customer_id, agent_id, now=self.now)
        return 0.0 if scored is None else scored.score

    def top_agents(self, customer_id: str, k: int) -> list[tuple[str, float]]:
        return [(s.agent_id, s.score) for s in self.index.scores(customer_id, now=self.now, limit=k)]


def require_history(store: Store, account: str, *, vendor: str | None = None) -> None:
    """Planning from an empty store would plan nothing and look fine: say what to run instead."""
    store.require_account(account, vendor=vendor, before="planning a rebalance")


def plan_from_store(
    store: Store,
    account: str,
    *,
    now: datetime,
    config: RebalanceConfig | None = None,
    affinity: AffinityConfig | None = None,
    agents: Sequence[Agent] | None = None,
) -> RebalancePlan:
    """Plans from the open conversations and affinity in the store; `agents` (read live) win over stored ones.

    Agents the last sync found gone from the helpdesk count as deactivated, so their conversations move.
    """
    require_history(store, account)
    stored = store.agents(account)
    gone = {a.id for a, deleted in stored if deleted is not None}
    team = list(agents) if agents is not None else [a for a, _ in stored]
    if agents is not None:
        gone |= {a.id for a, _ in stored} - {a.id for a in agents}
    team = [a.model_copy(update={"active": False}) if a.id in gone else a for a in team]
    conversations = list(store.iter_conversations(account, open_only=True))
    index = AffinityIndex.build(store, account, now=now, config=affinity)
    return plan_rebalance(conversations, team, IndexAffinity(index, now=now), now=now, config=config)
