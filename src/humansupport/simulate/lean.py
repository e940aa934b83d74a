"""The staged router's decisions for the built-in strategies, without its per-decision objects.

A replay asks the router ~200k times a year; `Router.route` builds a pydantic conversation, an `AffinityScore`
with its explanation for every ranked agent, a `Candidate` each and a `RoutingDecision` with its reason, of
which the replay reads four things: the action, the agent, the stage and whether anyone knew the customer.
`LeanRouter` decides from the replay's state and the affinity index's running sums directly, stage for stage as
`Router.route` does (preferred, owner channels, wait, top-k, fallback), and `LeanChooser` is `least_loaded` and
`round_robin` over agent ids instead of `Agent` models.

Only the built-in strategies have a lean form (`lean_strategy`): a plugin's strategy is its own code, so
policies that use one go through the real `Router` and the plugin's `choose`. tests/test_simulate_lean.py
proves on random histories that every decision is the real router's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from ..extensions import RoutingStrategy
from ..routing.router import RouterConfig
from ..routing.strategies import LeastLoaded, RoundRobin
from .engine import Decision
from .history import SimConversation

if TYPE_CHECKING:
    from .engine import Replay
    from .policies import ReplayIndex

__all__ = ["LeanChooser", "LeanRouter", "lean_strategy"]

#: why an agent is not eligible, in `Router.why_not`'s order of checks (0: eligible)
_ELIGIBLE: Final = 0
_GONE: Final = 1
_NOT_IN_GROUP: Final = 2
_AWAY: Final = 3
_FULL: Final = 4


def lean_strategy(strategy: type[RoutingStrategy]) -> str | None:
    """The built-in strategy's name when `strategy` is one (the lean path can decide for it), else None."""
    if strategy is LeastLoaded:
        return LeastLoaded.name
    if strategy is RoundRobin:
        return RoundRobin.name
    return None


class LeanChooser:
    """A built-in strategy's choice among the eligible agents (the router's pool), by agent id.

    Eligible: in the conversation's groups (or the configured ones; none: everyone), on shift and under
    capacity, as `_Eligibility.pool` says; the choice is `LeastLoaded.choose` or `RoundRobin.choose` on them.
    """

    def __init__(self, replay: Replay, config: RouterConfig, strategy: str) -> None:
        if strategy not in (LeastLoaded.name, RoundRobin.name):
            raise ValueError(f"no lean form of routing strategy {strategy!r}")
        self.name = strategy
        self.replay = replay
        self.config = config
        self.caps = {a.id: a.capacity for a in replay.history.agents}
        self._everyone = sorted(self.caps)
        self._last: dict[str | None, str] = {}  # round robin: the last agent chosen per conversation group
        self._least = strategy == LeastLoaded.name

    def groups_for(self, conv: SimConversation) -> tuple[str, ...]:
        return (conv.group_id,) if conv.group_id else self.config.groups

    def ids(self, groups: tuple[str, ...]) -> Iterable[str]:
        """The agents of the groups (eligible or not): the pool before shifts and loads."""
        if not groups:
            return self._everyone
        if len(groups) == 1:
            return self.replay.members(groups[0])
        return {a for g in groups for a in self.replay.members(g)}

    def choose(self, conv: SimConversation, groups: tuple[str, ...], now: float) -> str | None:
        ids = self.ids(groups)
        return self._least_loaded(ids, now) if self._least else self._round_robin(conv.group_id, ids, now)

    def _least_loaded(self, ids: Iterable[str], now: float) -> str | None:
        """`LeastLoaded`: the lowest load / capacity, then fewest open, then id."""
        on_duty, loads, caps = self.replay.on_duty, self.replay.loads, self.caps
        best: str | None = None
        best_key: tuple[float, int, str] | None = None
        for agent_id in ids:
            off = on_duty.get(agent_id)
            if off is None or not now < off:
                continue
            cap = caps[agent_id]
            load = loads.get(agent_id, 0)
            if cap is not None and load >= cap:
                continue
            key = (load / cap if cap else float(load), load, agent_id)
            if best_key is None or key < best_key:
                best, best_key = agent_id, key
        return best

    def _round_robin(self, group_id: str | None, ids: Iterable[str], now: float) -> str | None:
        """`RoundRobin`: the next id after the group's last choice, in id order, wrapping around."""
        on_duty, loads, caps = self.replay.on_duty, self.replay.loads, self.caps
        last = self._last.get(group_id)
        first: str | None = None
        after: str | None = None
        for agent_id in ids:
            off = on_duty.get(agent_id)
            if off is None or not now < off:
                continue
            cap = caps[agent_id]
            if cap is not None and loads.get(agent_id, 0) >= cap:
                continue
            if first is None or agent_id < first:
                first = agent_id
            if last is not None and agent_id > last and (after is None or agent_id < after):
                after = agent_id
        if first is None:
            return None
        chosen = after if after is not None else first
        self._last[group_id] = chosen
        return chosen


class LeanRouter:
    """`_ReplayRouter.route` as `PreferredRouting` reads it, for a built-in fallback strategy."""

    def __init__(self, *, replay: Replay, index: ReplayIndex, config: RouterConfig, chooser: LeanChooser) -> None:
        self.replay = replay
        self.index = index
        self.config = config
        self.chooser = chooser
        self.stage = f"fallback:{chooser.name}"
        self.groups_of = {a.id: frozenset(a.group_ids) for a in replay.history.agents}
        self.wait_seconds = config.wait_for_preferred_hours * 3600.0
        self._keep_owner = frozenset(config.keep_owner_channels)

    def _why(self, agent_id: str, groups: tuple[str, ...], now: float) -> int:
        """`_ReplayRouter.why_not`, as a code."""
        replay = self.replay
        agent = replay.agents.get(agent_id)
        if agent is None or (agent.gone_at is not None and not now < agent.gone_at):
            return _GONE
        if groups and self.groups_of[agent_id].isdisjoint(groups):
            return _NOT_IN_GROUP
        off = replay.on_duty.get(agent_id)
        if off is None or not now < off:
            return _AWAY
        cap = agent.capacity
        if cap is not None and replay.loads.get(agent_id, 0) >= cap:
            return _FULL
        return _ELIGIBLE

    def decide(self, conv: SimConversation, now: float) -> Decision:
        cfg = self.config
        groups = (conv.group_id,) if conv.group_id else cfg.groups
        affine: list[tuple[str, float]] = []
        if conv.customer_id:
            threshold = cfg.threshold
            # what the router reads of `now`: its datetime's timestamp (microsecond-rounded; whole seconds stay)
            now_ts = now if now.is_integer() else datetime.fromtimestamp(now, UTC).timestamp()
            ranked = self.index.ranked(conv.customer_id, now_ts)
            affine = [pair for pair in ranked if pair[1] >= threshold][: max(cfg.top_k, 1) + 2]
        if affine:
            preferred = affine[0][0]
            why = self._why(preferred, groups, now)
            if why == _ELIGIBLE:
                return Decision("assign", preferred, stage="preferred")
            present = why in (_AWAY, _FULL)
            if present and conv.channel and conv.channel in self._keep_owner:
                return Decision("assign", preferred, stage="owner")
            if present and cfg.wait_for_preferred_hours > 0:
                waited = (datetime.fromtimestamp(now, UTC) - datetime.fromtimestamp(conv.arrival, UTC)).total_seconds()
                if waited / 3600 < cfg.wait_for_preferred_hours:
                    return Decision("wait", preferred, until=conv.arrival + self.wait_seconds, stage="wait")
            for agent_id, _ in affine[1 : cfg.top_k]:
                if self._why(agent_id, groups, now) == _ELIGIBLE:
                    return Decision("assign", agent_id, stage="top_k")
        chosen = self.chooser.choose(conv, groups, now)
        if chosen is None:
            return Decision("queue", stage="queued")
        return Decision("assign", chosen, stage=self.stage, no_history=not affine)
