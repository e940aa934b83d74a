"""The lean path decides exactly as the real router and strategies do, on random small histories.

Every decision of a replay is asked of both the lean path (`LeanRouter`, `LeanChooser`) and the reference
(`Router.route` on a conversation model, the strategy's own `choose` on agent models) at the same instant and
state; they must be equal (agent, action, stage, deadline, "no history"). Then whole replays with the lean path
on and off must give the same outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humansupport.extensions import RoutingStrategy
from humansupport.metrics import ConversationFact
from humansupport.models import Agent, Conversation
from humansupport.plugins import PluginRegistry, new_plugin_manager
from humansupport.routing.affinity import AffinityConfig
from humansupport.routing.router import RouterConfig
from humansupport.simulate import Replay, ReplaySettings, SimAgent, SimConversation, SimHistory, make_policy
from humansupport.simulate.engine import Decision
from humansupport.simulate.lean import lean_strategy
from humansupport.simulate.policies import PreferredRouting, StrategyPolicy, UpperBound

START = datetime(2026, 3, 2, tzinfo=UTC)
T0 = START.timestamp()
H = 3600.0
STRATEGIES = PluginRegistry(new_plugin_manager()).routing_strategies()
AGENTS = ("a0", "a1", "a2", "a3", "a4")


@st.composite
def _cases(draw: st.DrawFn) -> tuple[SimHistory, ReplaySettings]:
    n_agents = draw(st.integers(1, len(AGENTS)))
    agents = []
    for agent_id in AGENTS[:n_agents]:
        # random shifts, or on for the whole period (so loads, capacities and queues meet)
        bounds = draw(st.one_of(st.just([0, 48]), st.lists(st.integers(0, 47), max_size=6, unique=True).map(sorted)))
        gone = draw(st.one_of(st.none(), st.integers(1, 47)))
        agents.append(
            SimAgent(
                id=agent_id,
                name=agent_id.upper(),
                group_ids=tuple(sorted(draw(st.sets(st.sampled_from(["g", "h"]), max_size=2)))),
                capacity=draw(st.sampled_from([None, 1, 2, 3, 5])),
                shifts=tuple((T0 + bounds[j] * H, T0 + bounds[j + 1] * H) for j in range(0, len(bounds) - 1, 2)),
                gone_at=None if gone is None else T0 + gone * H + draw(st.sampled_from([0.0, 0.25])),
            )
        )
    # history before the period: several conversations per customer, by agents on the team or gone ("zz")
    facts: list[ConversationFact] = []
    warmup: list[tuple[str, str, str, float]] = []
    outcomes: list[tuple[str, str, tuple[str, ...]]] = []
    ratings: list[tuple[str, str, str, str]] = []
    past = draw(
        st.lists(
            st.tuples(
                st.integers(0, 3),  # customer (u4 and u5 are new)
                st.sampled_from([*AGENTS[:n_agents], "zz"]),
                st.integers(1, 24 * 60),  # hours before the period
                st.integers(0, 4),  # replies
                st.sampled_from(["solved", "open", "reopened"]),
            ),
            min_size=2,
            max_size=20,
        )
    )
    for n, (customer, agent, hours_before, replies, outcome) in enumerate(past):
        conv_id, at = f"old{n}", START - timedelta(hours=hours_before)
        status = "open" if outcome == "open" else "solved"
        facts.append(
            ConversationFact(id=conv_id, customer_id=f"u{customer}", assignee_id=agent, status=status, created_at=at)
        )
        outcomes.append((conv_id, status, ("reopened",) if outcome == "reopened" else ()))
        warmup += [(f"u{customer}", agent, conv_id, at.timestamp() + 60.0 * (r + 1)) for r in range(replies)]
        if draw(st.integers(0, 3)) == 0:
            ratings.append((f"r{n}", f"u{customer}", agent, draw(st.sampled_from(["good", "bad"]))))
    arrivals = draw(
        st.lists(
            st.tuples(
                st.integers(0, 47 * 4),  # quarter hours into the period
                st.sampled_from([0.0, 0.0, 0.1234567, 0.5]),  # and a fraction of a second (microsecond rounding)
                st.integers(1, 24 * 4),  # hold, quarter hours
                st.integers(0, 5),  # customer (u5 has no history)
                st.sampled_from(["g", "h", None]),
                st.sampled_from(["chat", "email", None]),
                st.integers(0, 3),  # replies
            ),
            max_size=40,
        )
    )
    convs = tuple(
        SimConversation(
            id=f"c{n}",
            customer_id=None if cust == 5 and group is None else f"u{cust}",
            group_id=group,
            channel=channel,
            arrival=T0 + at * H / 4 + frac,
            hold=hold * H / 4,
            assignee_id=None,
            replies=replies,
        )
        for n, (at, frac, hold, cust, group, channel, replies) in enumerate(sorted(arrivals, key=lambda a: a[:2]))
    )
    facts += [
        ConversationFact(
            id=c.id,
            customer_id=c.customer_id,
            assignee_id=None,
            status="solved",
            created_at=datetime.fromtimestamp(c.arrival, UTC),
        )
        for c in convs
    ]
    history = SimHistory(
        account="lean",
        start=START,
        end=START + timedelta(days=2),
        agents=tuple(agents),
        conversations=convs,
        facts=tuple(facts),
        warmup_replies=tuple(sorted(warmup, key=lambda r: r[3])),
        outcomes=tuple(outcomes),
        warmup_ratings=tuple(ratings),
    )
    router = RouterConfig(
        threshold=draw(st.sampled_from([0.0, 0.5, 0.5, 1.0, 3.0])),
        wait_for_preferred_hours=draw(st.sampled_from([0.0, 0.0, 0.5, 2.0])),
        top_k=draw(st.sampled_from([1, 2, 3, 3])),
        groups=draw(st.sampled_from([(), ("g",), ("g", "h")])),
        keep_owner_channels=draw(st.sampled_from([(), ("email",)])),
        fallback=draw(st.sampled_from(["least_loaded", "round_robin"])),
    )
    affinity = AffinityConfig(
        half_life_days=draw(st.sampled_from([90.0, 1.0])),
        stickiness_days=draw(st.sampled_from([None, None, 1.0, 30.0])),
    )
    return history, ReplaySettings(router=router, affinity=affinity)


class _Compared:
    """Asks both paths of a policy at every decision; counts them."""

    def __init__(self) -> None:
        self.decisions = 0
        self.stages: set[str] = set()

    def both(self, lean: Decision, real: Decision, conv: SimConversation) -> Decision:
        assert lean == real, f"{conv.id}: lean {lean} != router {real}"
        self.decisions += 1
        self.stages.add(real.stage)
        return real


class _PreferredBoth(PreferredRouting):
    def __init__(self, seen: _Compared, **kw: Any) -> None:
        super().__init__(**kw)
        self.seen = seen

    def decide(self, conv: SimConversation, now: float) -> Decision:
        assert self.lean_router is not None
        return self.seen.both(self.lean_router.decide(conv, now), self.route(conv, now), conv)


class _StrategyBoth(StrategyPolicy):
    def __init__(self, seen: _Compared, **kw: Any) -> None:
        super().__init__(**kw)
        self.seen = seen

    def decide(self, conv: SimConversation, now: float) -> Decision:
        return self.seen.both(super().decide(conv, now), self.route(conv, now), conv)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_the_lean_router_decides_as_the_router(case: tuple[SimHistory, ReplaySettings]) -> None:
    history, current = case
    seen = _Compared()
    policy = _PreferredBoth(seen, settings=current, strategies=STRATEGIES)
    assert policy.lean is not None
    result = Replay(history, policy).run()
    assert seen.decisions == result.decisions


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases(), st.sampled_from(["least_loaded", "round_robin"]))
def test_the_lean_strategies_choose_as_the_strategies(case: tuple[SimHistory, ReplaySettings], name: str) -> None:
    history, current = case
    seen = _Compared()
    policy = _StrategyBoth(seen, name=name, strategy=STRATEGIES[name], settings=current)
    result = Replay(history, policy).run()
    assert seen.decisions == result.decisions


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases(), st.sampled_from(["preferred", "least_loaded", "round_robin", "upper_bound"]))
def test_a_replay_is_the_same_with_and_without_the_lean_path(
    case: tuple[SimHistory, ReplaySettings], name: str
) -> None:
    history, current = case
    runs = [
        Replay(history, make_policy(name, settings=current, strategies=STRATEGIES, lean=lean)).run()
        for lean in (True, False)
    ]
    key = [
        [(o.agent_id, o.assigned_at, o.stage, o.waited_for, o.wait_expired, o.no_history) for o in r.outcomes]
        for r in runs
    ]
    assert key[0] == key[1]
    assert runs[0].peak_load == runs[1].peak_load and runs[0].decisions == runs[1].decisions


def test_the_random_histories_reach_every_stage() -> None:
    """The comparison above is only as good as the stages it reaches: each must occur in some example."""
    stages: set[str] = set()

    @settings(
        max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(_cases())
    def run(case: tuple[SimHistory, ReplaySettings]) -> None:
        history, current = case
        seen = _Compared()
        Replay(history, _PreferredBoth(seen, settings=current, strategies=STRATEGIES)).run()
        stages.update(seen.stages)

    run()
    assert stages >= {"preferred", "owner", "wait", "top_k", "fallback:least_loaded", "fallback:round_robin", "queued"}


class _Plugin:
    """A plugin's strategy: the last candidate by id (not a built-in, so never lean)."""

    name: ClassVar[str] = "last"

    def choose(self, conversation: Conversation, candidates: Sequence[Agent], loads: Mapping[str, int]) -> Agent | None:
        return max(candidates, key=lambda a: a.id) if candidates else None


def test_a_plugins_strategy_goes_through_the_real_router() -> None:
    plugin: type[RoutingStrategy] = _Plugin
    assert lean_strategy(plugin) is None
    assert lean_strategy(STRATEGIES["least_loaded"]) == "least_loaded"
    current = ReplaySettings(router=RouterConfig(fallback="last"))
    strategies = {**STRATEGIES, "last": plugin}
    routed = make_policy("preferred", settings=current, strategies=strategies)
    assert isinstance(routed, PreferredRouting) and routed.lean is None
    chosen = make_policy("last", settings=current, strategies=strategies)
    assert isinstance(chosen, StrategyPolicy) and chosen.lean is None
    assert isinstance(make_policy("upper_bound", settings=current, strategies=strategies), UpperBound)
    agents = tuple(
        SimAgent(id=a, name=a, group_ids=("g",), capacity=2, shifts=((T0, T0 + 24 * H),)) for a in ("a0", "a1")
    )
    conv = SimConversation(
        id="c1", customer_id="u1", group_id="g", channel="chat", arrival=T0 + H, hold=H, assignee_id=None
    )
    history = SimHistory(
        account="p", start=START, end=START + timedelta(days=1), agents=agents, conversations=(conv,), facts=()
    )
    for policy in (routed, chosen):
        result = Replay(history, policy).run()
        assert result.outcomes[0].agent_id == "a1" and result.outcomes[0].stage == "fallback:last"
