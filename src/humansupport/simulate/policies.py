"""Routing policies a replay can run, through the router's own code and strategies.

- `as_it_happened`: the agent history assigned, at arrival (it happened, so neither capacity nor shifts apply);
- a strategy by name (`least_loaded`, `round_robin`, or a plugin's, from `PluginRegistry.routing_strategies()`):
  every conversation to whom the strategy picks among the eligible agents;
- `preferred`: the staged `Router` (preferred agent, wait, top-k, fallback strategy) with the current settings,
  its affinity index warmed on the history before the period and fed with the replay's own assignments;
- `upper_bound`: each returning customer's preferred agent whenever that agent is on shift at arrival or comes
  on within the wait the settings allow, capacity ignored; everyone else least loaded. Not a policy anyone can
  run (it knows the future and ignores capacity): the ceiling "reaches N % of what was possible" divides by.

Eligibility is the router's: in the helpdesk, in the conversation's group (or the configured groups), on shift
(the replay's stand-in for available) and under capacity.

With a built-in strategy (`least_loaded`, `round_robin`) the decisions are made by lean.py's `LeanRouter` and
`LeanChooser`: the router's stages and the strategies' choices on the replay's state, without the per-decision
models, scores and reasons, and proven the same decisions on random histories. A plugin's strategy always goes
through the real `Router` and its own `choose`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..errors import ConfigError
from ..extensions import RoutingStrategy
from ..models import Agent, AgentAvailability, Conversation, ConversationStatus, RatingScore
from ..routing.affinity import AffinityConfig, AffinityIndex, AffinityScore
from ..routing.router import Router, RouterConfig
from ..routing.strategies import LeastLoaded
from .engine import Decision
from .history import SimConversation, SimHistory
from .lean import LeanChooser, LeanRouter, lean_strategy

if TYPE_CHECKING:
    from .engine import Replay

__all__ = [
    "AS_IT_HAPPENED",
    "BUILTIN_POLICIES",
    "PREFERRED",
    "UPPER_BOUND",
    "AsItHappened",
    "PreferredRouting",
    "ReplayIndex",
    "ReplayPolicy",
    "ReplaySettings",
    "StrategyPolicy",
    "UpperBound",
    "make_policy",
    "policy_names",
    "warm_index",
]

AS_IT_HAPPENED: Final = "as_it_happened"
PREFERRED: Final = "preferred"
UPPER_BOUND: Final = "upper_bound"
#: what `humansupport simulate` runs when no --policy is given, in report order
BUILTIN_POLICIES: Final = (AS_IT_HAPPENED, "round_robin", "least_loaded", PREFERRED, UPPER_BOUND)


@dataclass(frozen=True, kw_only=True)
class ReplaySettings:
    """The routing settings a replay runs with (the current ones, or a sweep's point)."""

    router: RouterConfig = field(default_factory=RouterConfig)
    affinity: AffinityConfig = field(default_factory=AffinityConfig)

    @property
    def wait_seconds(self) -> float:
        return self.router.wait_for_preferred_hours * 3600.0


class ReplayPolicy(Protocol):
    """Decides conversations inside a `Replay`."""

    name: str
    respects_capacity: bool
    respects_presence: bool

    def start(self, replay: Replay) -> None: ...

    def decide(self, conv: SimConversation, now: float) -> Decision: ...

    def assigned(self, conv: SimConversation, agent_id: str, now: float) -> None: ...


_TEMPLATE: Final = Conversation.model_construct(id="", status=ConversationStatus.NEW, assignee_id=None, tags=[])
_TEMPLATE_FIELDS: Final = dict(_TEMPLATE.__dict__)
_FIELDS_SET: Final = frozenset({"id", "customer_id", "group_id", "channel", "status", "created_at"})
_NEW: Final = object.__new__
_SET: Final = object.__setattr__


def _model(conv: SimConversation, now: float) -> Conversation:
    """The conversation as the router and strategies read it: unassigned and new at its arrival.

    One template's fields with these set (what pydantic's `__copy__` does), not `model_construct`, which costs
    ~0.3 ms a call in pydantic's default-factory inspection, more than the routing decision itself; the store's
    data was validated already.
    """
    model = _NEW(Conversation)
    fields = dict(_TEMPLATE_FIELDS)
    fields.update(
        id=conv.id,
        customer_id=conv.customer_id,
        group_id=conv.group_id,
        channel=conv.channel,
        created_at=datetime.fromtimestamp(conv.arrival, UTC),
    )
    _SET(model, "__dict__", fields)
    _SET(model, "__pydantic_fields_set__", set(_FIELDS_SET))
    _SET(model, "__pydantic_extra__", _TEMPLATE.__pydantic_extra__)
    _SET(model, "__pydantic_private__", _TEMPLATE.__pydantic_private__)
    return model


def _team(replay: Replay) -> list[Agent]:
    return [
        Agent.model_construct(
            id=a.id,
            name=a.name,
            active=True,
            availability=AgentAvailability.AVAILABLE,
            capacity=a.capacity,
            group_ids=list(a.group_ids),
        )
        for a in replay.history.agents
    ]


class _Eligibility:
    """The router's eligibility over the replay's state: groups, in the helpdesk, on shift, under capacity."""

    def __init__(self, replay: Replay, config: RouterConfig) -> None:
        self.replay = replay
        self.config = config
        self.models = {a.id: a for a in _team(replay)}
        self._everyone = sorted(self.models)

    def groups_for(self, conv: SimConversation) -> tuple[str, ...]:
        return (conv.group_id,) if conv.group_id else self.config.groups

    def pool(self, groups: tuple[str, ...]) -> list[Agent]:
        replay = self.replay
        if not groups:
            ids: Iterable[str] = self._everyone
        elif len(groups) == 1:
            ids = replay.members(groups[0])
        else:
            ids = sorted({a for g in groups for a in replay.members(g)})
        return [self.models[a] for a in ids if replay.on_shift(a) and replay.has_room(a)]


class _ReplayRouter(Router):
    """The staged router, reading presence and load from the replay instead of the helpdesk's snapshot."""

    def __init__(self, *, replay: Replay, index: AffinityIndex, config: RouterConfig, strategy: type[RoutingStrategy]):
        super().__init__(
            index=index, agents=[], config=config, strategies={config.fallback: strategy, "least_loaded": LeastLoaded}
        )
        self.replay = replay
        self.eligibility = _Eligibility(replay, config)
        self.agents = self.eligibility.models
        self.loads = replay.loads  # shared: strategies and capacity checks see the replay's loads

    def why_not(self, agent_id: str, groups: tuple[str, ...]) -> str | None:
        agent = self.agents.get(agent_id)
        replay = self.replay
        if agent is None or not replay.agents[agent_id].in_helpdesk(replay.now):
            return "no longer in the helpdesk"
        if groups and not set(groups) & set(agent.group_ids):
            return f"not in group {', '.join(groups)}"
        if not replay.on_shift(agent_id):
            return "away"
        if not replay.has_room(agent_id):
            return f"full ({replay.loads.get(agent_id, 0)} of {agent.capacity} open)"
        return None

    def _present(self, agent_id: str) -> bool:
        sim = self.replay.agents.get(agent_id)
        return sim is not None and sim.in_helpdesk(self.replay.now)

    def _pool(self, groups: tuple[str, ...]) -> list[Agent]:
        return self.eligibility.pool(groups)


class AsItHappened:
    """The historical assignee at arrival: the replay's check against `humansupport metrics`."""

    name = AS_IT_HAPPENED
    respects_capacity = False
    respects_presence = False

    def start(self, replay: Replay) -> None:
        self.replay = replay

    def decide(self, conv: SimConversation, now: float) -> Decision:
        if conv.assignee_id is None:  # an agent the store no longer lists still counts: it happened
            return Decision("never", stage="unassigned")
        return Decision("assign", conv.assignee_id, stage="history")

    def assigned(self, conv: SimConversation, agent_id: str, now: float) -> None:
        return None


class StrategyPolicy:
    """Every conversation to the agent a routing strategy picks among the eligible (history not used)."""

    respects_capacity = True
    respects_presence = True

    def __init__(
        self, *, name: str, strategy: type[RoutingStrategy], settings: ReplaySettings, lean: bool = True
    ) -> None:
        self.name = name
        self.strategy_cls = strategy
        self.settings = settings
        #: a built-in strategy decides on agent ids (`LeanChooser`); a plugin's gets the models
        self.lean = lean_strategy(strategy) if lean else None

    def start(self, replay: Replay) -> None:
        self.replay = replay
        self.strategy = self.strategy_cls()
        self.eligibility = _Eligibility(replay, self.settings.router)
        self.chooser = LeanChooser(replay, self.settings.router, self.lean) if self.lean else None

    def decide(self, conv: SimConversation, now: float) -> Decision:
        if self.chooser is None:
            return self.route(conv, now)
        picked = self.chooser.choose(conv, self.chooser.groups_for(conv), now)
        if picked is None:
            return Decision("queue", stage="queued")
        return Decision("assign", picked, stage=f"fallback:{self.name}")

    def route(self, conv: SimConversation, now: float) -> Decision:
        """The decision through the strategy's own `choose` on the agents' models (a plugin's; the reference)."""
        pool = self.eligibility.pool(self.eligibility.groups_for(conv))
        chosen = self.strategy.choose(_model(conv, now), pool, self.replay.loads) if pool else None
        if chosen is None:
            return Decision("queue", stage="queued")
        if chosen.id not in {a.id for a in pool}:
            raise ConfigError(f"routing strategy {self.name!r} chose {chosen.id!r}, who is not among the candidates")
        return Decision("assign", chosen.id, stage=f"fallback:{self.name}")

    def assigned(self, conv: SimConversation, agent_id: str, now: float) -> None:
        return None


class PreferredRouting:
    """The staged router with the given settings; its affinity learns from the replay's own assignments."""

    name = PREFERRED
    respects_capacity = True
    respects_presence = True

    def __init__(
        self,
        *,
        settings: ReplaySettings,
        strategies: Mapping[str, type[RoutingStrategy]],
        name: str = PREFERRED,
        lean: bool = True,
    ) -> None:
        fallback = settings.router.fallback
        if fallback not in strategies:
            raise ConfigError(f"unknown routing strategy {fallback!r} (available: {', '.join(sorted(strategies))})")
        self.name = name
        self.settings = settings
        self.strategy = strategies[fallback]
        #: with a built-in fallback, `LeanRouter` makes the router's decisions; a plugin's goes through `Router`
        self.lean = lean_strategy(self.strategy) if lean else None

    def start(self, replay: Replay) -> None:
        self.replay = replay
        self.index: ReplayIndex = warm_index(replay.history, self.settings.affinity)
        self.index.keep = self.settings.router.top_k + 2  # all the router reads of the ranking
        self.router = _ReplayRouter(
            replay=replay, index=self.index, config=self.settings.router, strategy=self.strategy
        )
        self.lean_router = (
            LeanRouter(
                replay=replay,
                index=self.index,
                config=self.settings.router,
                chooser=LeanChooser(replay, self.settings.router, self.lean),
            )
            if self.lean
            else None
        )

    def decide(self, conv: SimConversation, now: float) -> Decision:
        if self.lean_router is not None:
            return self.lean_router.decide(conv, now)
        return self.route(conv, now)

    def route(self, conv: SimConversation, now: float) -> Decision:
        """The decision through the real `Router` (a plugin's fallback; the lean path's reference)."""
        at = datetime.fromtimestamp(now, UTC)
        decision = self.router.route(_model(conv, now), now=at)
        no_history = not decision.candidates and decision.stage.startswith("fallback")
        if decision.action == "assign" and decision.agent_id:
            return Decision("assign", decision.agent_id, stage=decision.stage, no_history=no_history)
        if decision.action == "wait" and decision.agent_id:
            until = conv.arrival + self.settings.wait_seconds
            return Decision("wait", decision.agent_id, until=until, stage="wait")
        return Decision("queue", stage="queued", no_history=no_history)

    def assigned(self, conv: SimConversation, agent_id: str, now: float) -> None:
        if conv.customer_id and conv.replies:
            self.index.add_replies_at(
                conv.customer_id, agent_id, conv.id, datetime.fromtimestamp(now, UTC), conv.replies
            )


class UpperBound:
    """Returning customers get their preferred agent whenever on shift within the allowed wait (capacity ignored)."""

    name = UPPER_BOUND
    respects_capacity = False
    respects_presence = True

    def __init__(self, *, settings: ReplaySettings, lean: bool = True) -> None:
        self.settings = settings
        self.lean = lean

    def start(self, replay: Replay) -> None:
        self.replay = replay
        self.eligibility = _Eligibility(replay, self.settings.router)
        self.fallback = LeanChooser(replay, self.settings.router, LeastLoaded.name)
        self.least_loaded = LeastLoaded()  # the reference the lean chooser is tested against

    def decide(self, conv: SimConversation, now: float) -> Decision:
        replay = self.replay
        preferred = replay.preferred(conv.customer_id)
        known = replay.agents.get(preferred) if preferred is not None else None
        groups = self.eligibility.groups_for(conv)
        if (
            preferred is not None
            and known is not None
            and known.in_helpdesk(now)
            and (not groups or set(groups) & set(known.group_ids))
        ):
            if replay.on_shift(preferred):
                return Decision("assign", preferred, stage="preferred")
            deadline = conv.arrival + self.settings.wait_seconds
            nxt = _next_on(replay, preferred, now)
            if nxt is not None and nxt < deadline and now < deadline:
                return Decision("wait", preferred, until=deadline, stage="wait")
        if self.lean:
            chosen = self.fallback.choose(conv, groups, now)
        else:
            pool = self.eligibility.pool(groups)
            model = self.least_loaded.choose(_model(conv, now), pool, replay.loads) if pool else None
            chosen = None if model is None else model.id
        if chosen is None:
            return Decision("queue", stage="queued")
        return Decision("assign", chosen, stage="fallback:least_loaded", no_history=preferred is None)

    def assigned(self, conv: SimConversation, agent_id: str, now: float) -> None:
        return None


def _next_on(replay: Replay, agent_id: str, now: float) -> float | None:
    """When the agent is next on shift at or after `now` (None: not again in the period)."""
    agent = replay.agents[agent_id]
    for on, off in agent.shifts:
        if off > now:
            start = max(on, now)
            return start if agent.in_helpdesk(start) else None
    return None


class ReplayIndex(AffinityIndex):
    """The affinity index with running sums per (customer, agent), so a score costs the same however long the
    customer's history: the replay adds every conversation's replies, and a heavy customer has hundreds.

    Exact for a replay: outcomes are all set before the first reply is added and never change after, and
    without a stickiness window every thread counts. With a window the sums depend on `now`, so the index's
    own loop over threads is used.
    """

    def __init__(self, *, config: AffinityConfig | None = None, reference: datetime) -> None:
        super().__init__(config=config, reference=reference)
        #: customer -> agent -> [decayed total at the reference, replies, conversations, reopened, last reply,
        #: rating factor]: every thread's sums, kept as replies and ratings are added
        self._running: dict[str, dict[str, list[float]]] = {}
        #: with no `limit`, `scores` builds only this many (the router reads the top `top_k + 2`); None: all
        self.keep: int | None = None

    def scores(self, customer_id: str, *, now: datetime, limit: int | None = None) -> list[AffinityScore]:
        """The best `limit` (or `keep`) scores, ranked on the running sums before any score object is built.

        Decay at `now` multiplies every agent's score alike, so the ranking is that of sum * rating factor.
        """
        keep = limit if limit is not None else self.keep
        agents = self._pairs.get(customer_id)
        if keep is None or not agents or self.config.stickiness_days is not None:
            return super().scores(customer_id, now=now, limit=limit)
        running = self._running.get(customer_id, {})
        ranked = sorted((-sums[0] * sums[5], agent_id) for agent_id, sums in running.items() if sums[2])
        out = []
        for _, agent_id in ranked[:keep]:
            scored = self._score(customer_id, agent_id, agents[agent_id], now)
            if scored is not None:
                out.append(scored)
        return out

    def ranked(self, customer_id: str, now_ts: float) -> list[tuple[str, float]]:
        """(agent, score) of `scores(customer_id, now=...)` (no limit), in its order, with no score objects;
        `now_ts` is that `now`'s timestamp. The same arithmetic, so the same floats: the lean router's input."""
        agents = self._pairs.get(customer_id)
        if not agents:
            return []
        decay_now = math.exp((self._ref - now_ts) * self._rate)
        ratings = self._ratings
        if self.keep is None or self.config.stickiness_days is not None:
            out = []
            for agent_id, threads in agents.items():
                window = self._sums(customer_id, agent_id, threads, now_ts)
                if window is not None:
                    good, bad = ratings.get((customer_id, agent_id), (0, 0))
                    out.append((agent_id, window[0] * decay_now * self._rating_factor(good, bad)))
            out.sort(key=lambda s: (-s[1], s[0]))
            return out
        running = self._running.get(customer_id)
        if not running:
            return []
        if len(running) == 1:  # most customers know one agent
            ((agent_id, sums),) = running.items()
            return [(agent_id, sums[0] * decay_now * sums[5])] if sums[2] else []
        ranked = sorted((-sums[0] * sums[5], agent_id, sums) for agent_id, sums in running.items() if sums[2])
        return [(agent_id, sums[0] * decay_now * sums[5]) for _, agent_id, sums in ranked[: self.keep]]

    def add_reply(self, customer_id: str, agent_id: str, conversation_id: str, at: datetime) -> None:
        self.add_replies_at(customer_id, agent_id, conversation_id, at, 1)

    def add_replies_at(self, customer_id: str, agent_id: str, conversation_id: str, at: datetime, n: int) -> None:
        """`n` replies at one instant (a replayed conversation's), as `n` calls of `add_reply` would add them."""
        if n <= 0:
            return
        threads = self._pairs.get(customer_id, {}).get(agent_id, {})
        new = conversation_id not in threads
        super().add_reply(customer_id, agent_id, conversation_id, at)
        ts = at.timestamp()
        weight = math.exp((ts - self._ref) * self._rate)
        if n > 1:
            thread = self._pairs[customer_id][agent_id][conversation_id]
            thread.decayed += weight * (n - 1)
            thread.replies += n - 1
        running = self._running.get(customer_id)
        if running is None:
            running = self._running[customer_id] = {}
        sums = running.get(agent_id)
        if sums is None:
            good, bad = self._ratings.get((customer_id, agent_id), (0, 0))
            sums = running[agent_id] = [0.0, 0.0, 0.0, 0.0, -math.inf, self._rating_factor(good, bad)]
        sums[0] += weight * n * self._outcome.get(conversation_id, 1.0)
        sums[1] += n
        if new:
            sums[2] += 1
            sums[3] += conversation_id in self._reopened
        sums[4] = max(sums[4], ts)

    def _sums(
        self, customer_id: str, agent_id: str, threads: dict[str, Any], now_ts: float
    ) -> tuple[float, int, int, int, float] | None:
        if self.config.stickiness_days is not None:
            return super()._sums(customer_id, agent_id, threads, now_ts)
        sums = self._running.get(customer_id, {}).get(agent_id)
        if sums is None or not sums[2]:
            return None
        return sums[0], int(sums[1]), int(sums[2]), int(sums[3]), sums[4]

    def add_rating(self, rating_id: str, customer_id: str, agent_id: str, score: RatingScore | str) -> None:
        super().add_rating(rating_id, customer_id, agent_id, score)
        sums = self._running.get(customer_id, {}).get(agent_id)
        if sums is not None:
            good, bad = self._ratings.get((customer_id, agent_id), (0, 0))
            sums[5] = self._rating_factor(good, bad)


def warm_index(history: SimHistory, config: AffinityConfig) -> ReplayIndex:
    """The affinity index as it stood when the period began: outcomes, replies and ratings before it."""
    index = ReplayIndex(config=config, reference=history.start)
    for conv_id, status, tags in history.outcomes:
        index.set_outcome(conv_id, status=status, tags=tags)
    for customer, agent, conv_id, ts in history.warmup_replies:
        index.add_reply(customer, agent, conv_id, datetime.fromtimestamp(ts, UTC))
    for rating_id, customer, agent, score in history.warmup_ratings:
        index.add_rating(rating_id, customer, agent, score)
    return index


def make_policy(
    name: str, *, settings: ReplaySettings, strategies: Mapping[str, type[RoutingStrategy]], lean: bool = True
) -> ReplayPolicy:
    """A policy by name: the built-in ones, or any routing strategy the registry knows.

    `lean=False` decides through the router's and strategies' own objects even for the built-in strategies
    (the reference the lean path is tested against; the same decisions, slower).
    """
    if name == AS_IT_HAPPENED:
        return AsItHappened()
    if name == PREFERRED:
        return PreferredRouting(settings=settings, strategies=strategies, lean=lean)
    if name == UPPER_BOUND:
        return UpperBound(settings=settings, lean=lean)
    if name in strategies:
        return StrategyPolicy(name=name, strategy=strategies[name], settings=settings, lean=lean)
    known = sorted({*BUILTIN_POLICIES, *strategies})
    raise ConfigError(f"unknown policy {name!r} (known: {', '.join(known)})")


def policy_names(strategies: Mapping[str, type[RoutingStrategy]]) -> Sequence[str]:
    """Every policy name a replay accepts, built-in first."""
    return [*BUILTIN_POLICIES, *sorted(set(strategies) - set(BUILTIN_POLICIES))]
