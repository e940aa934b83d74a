"""The replay on small hand-built histories with known answers, and its invariants under hypothesis."""

from __future__ import annotations

import pickle
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humansupport.metrics import ConversationFact
from humansupport.plugins import PluginRegistry, new_plugin_manager
from humansupport.simulate import (
    PresenceConfig,
    Replay,
    ReplaySettings,
    SimAgent,
    SimConversation,
    SimHistory,
    make_policy,
    parse_sweep,
    shifts_from_activity,
    simulate_history,
)
from humansupport.simulate.figures import figures, percentile
from humansupport.simulate.service import replace_settings
from humansupport.simulate.sweep import run_points

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
T0 = START.timestamp()
H = 3600.0
STRATEGIES = PluginRegistry(new_plugin_manager()).routing_strategies()


def _agent(agent_id: str, *, shifts: list[tuple[float, float]], capacity: int | None = 2) -> SimAgent:
    return SimAgent(
        id=agent_id,
        name=agent_id.upper(),
        group_ids=("g",),
        capacity=capacity,
        shifts=tuple((T0 + a * H, T0 + b * H) for a, b in shifts),
    )


def _history(
    agents: list[SimAgent],
    arrivals: list[tuple[str, str, float, float]],
    *,
    known: dict[str, str] | None = None,
    replies: bool = True,
    days: float = 2,
) -> SimHistory:
    """`arrivals`: (id, customer, hours after START, hold hours); `known`: customer -> agent of an earlier
    conversation (a week before the period, solved, with two replies unless `replies` is false)."""
    facts: list[ConversationFact] = []
    warmup: list[tuple[str, str, str, float]] = []
    outcomes: list[tuple[str, str, tuple[str, ...]]] = []
    for n, (customer, agent) in enumerate(sorted((known or {}).items())):
        conv_id, at = f"old{n}", START - timedelta(days=7)
        facts.append(
            ConversationFact(id=conv_id, customer_id=customer, assignee_id=agent, status="solved", created_at=at)
        )
        outcomes.append((conv_id, "solved", ()))
        if replies:
            warmup += [
                (customer, agent, conv_id, at.timestamp() + 60),
                (customer, agent, conv_id, at.timestamp() + 120),
            ]
    convs = []
    for conv_id, customer, at, hold in arrivals:
        convs.append(
            SimConversation(
                id=conv_id,
                customer_id=customer,
                group_id="g",
                channel="chat",
                arrival=T0 + at * H,
                hold=hold * H,
                assignee_id=None,
                replies=1,
                reply_delay=60.0,
                last_delay=hold * H,
            )
        )
        facts.append(
            ConversationFact(
                id=conv_id,
                customer_id=customer,
                assignee_id=None,
                status="solved",
                created_at=datetime.fromtimestamp(T0 + at * H, UTC),
            )
        )
    return SimHistory(
        account="hand",
        start=START,
        end=START + timedelta(days=days),
        agents=tuple(agents),
        conversations=tuple(convs),
        facts=tuple(facts),
        warmup_replies=tuple(warmup),
        outcomes=tuple(outcomes),
    )


def _run(history: SimHistory, policy: str, **values: Any) -> tuple[dict[str, Any], Any]:
    current = replace_settings(ReplaySettings(), **values)
    result = Replay(history, make_policy(policy, settings=current, strategies=STRATEGIES)).run()
    return figures(history, result, timeout_hours=current.router.wait_for_preferred_hours), result


# -- known answers ------------------------------------------------------------------------------------


def _away_then_back() -> SimHistory:
    # Ana (who knows the customer) comes on at 10:30; Ben is on all day; the customer writes at 10:00
    return _history(
        [_agent("ana", shifts=[(10.5, 18)]), _agent("ben", shifts=[(0, 24)])],
        [("c1", "dana", 10, 1)],
        known={"dana": "ana"},
    )


def test_no_wait_sends_the_customer_to_someone_else_because_their_agent_is_away() -> None:
    out, result = _run(_away_then_back(), "preferred")
    assert result.outcomes[0].agent_id == "ben" and result.outcomes[0].wait == 0
    assert out["preferred_agent_share"] == 0.0
    assert out["missed_preferred"]["total"] == 1 and out["missed_preferred"]["away"] == 1


def test_a_wait_of_an_hour_keeps_the_customer_for_their_agent() -> None:
    out, result = _run(_away_then_back(), "preferred", wait_for_preferred_hours=1.0)
    assert result.outcomes[0].agent_id == "ana"
    assert result.outcomes[0].wait == pytest.approx(0.5 * H)
    assert out["preferred_agent_share"] == 1.0
    assert out["wait_to_first_agent_hours"] == {"median": 0.5, "p90": 0.5, "max": 0.5}
    assert out["waited_past_timeout"] == 0 and out["missed_preferred"]["total"] == 0
    # the first reply moves with the wait: 30 min + the historical minute
    assert out["median_first_reply_hours"] == round((0.5 * H + 60) / H, 2)


def test_a_wait_shorter_than_the_absence_expires_and_falls_back() -> None:
    history = _history(
        [_agent("ana", shifts=[(13, 18)]), _agent("ben", shifts=[(0, 24)])],
        [("c1", "dana", 10, 1)],
        known={"dana": "ana"},
    )
    out, result = _run(history, "preferred", wait_for_preferred_hours=1.0)
    assert result.outcomes[0].agent_id == "ben" and result.outcomes[0].wait == pytest.approx(H)
    assert result.outcomes[0].wait_expired
    assert out["missed_preferred"]["wait expired"] == 1


def test_upper_bound_counts_the_agent_on_shift_within_the_wait() -> None:
    assert _run(_away_then_back(), "upper_bound")[0]["preferred_agent_share"] == 0.0
    assert _run(_away_then_back(), "upper_bound", wait_for_preferred_hours=1.0)[0]["preferred_agent_share"] == 1.0


def _reach_case() -> SimHistory:
    # Ana (no limit) and Ben (capacity 1) are on all day; Cara only 12:00-13:00; Dan left the helpdesk at 05:00
    dan = SimAgent(id="dan", name="DAN", group_ids=("g",), capacity=2, shifts=((T0, T0 + 24 * H),), gone_at=T0 + 5 * H)
    return _history(
        [
            _agent("ana", shifts=[(0, 24)], capacity=None),
            _agent("ben", shifts=[(0, 24)], capacity=1),
            _agent("cara", shifts=[(12, 13)]),
            dan,
        ],
        [
            ("c0", "jo", 9, 5),  # Ben, free: reached
            ("c1", "dana", 10, 1),  # Ana, on shift: reached
            ("c2", "erin", 10, 1),  # Cara comes on after the hour's wait: not possible
            ("c4", "gus", 10, 1),  # Dan is gone: not possible
            ("c5", "hal", 10, 1),  # Ben is on shift but full all hour: possible, not reached (capacity aside)
            ("c3", "fay", 11.5, 1),  # Cara comes on within the wait: reached
        ],
        known={"jo": "ben", "dana": "ana", "erin": "cara", "gus": "dan", "hal": "ben", "fay": "cara"},
    )


def test_reaches_counts_what_was_possible_within_the_replay_itself() -> None:
    out, result = _run(_reach_case(), "preferred", wait_for_preferred_hours=1.0)
    got = {o.conversation.id: o.agent_id for o in result.outcomes}
    assert got["c0"] == "ben" and got["c1"] == "ana" and got["c3"] == "cara" and got["c5"] != "ben"
    assert out["preferred_agent_share"] == 0.5
    assert out["possible_preferred"] == {"reached": 3, "possible": 4, "reaches": 0.75}
    # no wait: Cara is away when Fay writes, so only the three on shift at arrival were possible
    assert _run(_reach_case(), "preferred")[0]["possible_preferred"]["possible"] == 3
    report = simulate_history(
        _reach_case(),
        policies=["as_it_happened", "preferred", "upper_bound"],
        settings=replace_settings(ReplaySettings(), wait_for_preferred_hours=1.0),
        strategies=STRATEGIES,
    )
    assert report.reaches == 0.75 and report.possible_preferred == out["possible_preferred"]
    assert ", 75% of what was possible" in report.summary()
    assert report.to_dict()["reaches"] == 0.75 and report.to_dict()["possible_preferred"]["possible"] == 4


def test_present_during_follows_the_shifts_and_the_departure() -> None:
    agent = SimAgent(
        id="a",
        name="A",
        group_ids=(),
        capacity=None,
        shifts=((T0 + H, T0 + 2 * H), (T0 + 5 * H, T0 + 9 * H)),
        gone_at=T0 + 6 * H,
    )
    assert agent.present_during(T0, T0 + H)  # comes on at the window's end
    assert not agent.present_during(T0, T0 + 0.5 * H)
    assert not agent.present_during(T0 + 2 * H, T0 + 4 * H)  # the first shift is over, the second not begun
    assert agent.present_during(T0 + 1.5 * H, T0 + 1.5 * H)
    assert agent.present_during(T0 + 5.5 * H, T0 + 7 * H)
    assert not agent.present_during(T0 + 6 * H, T0 + 8 * H)  # gone, though the shift runs on
    assert not agent.present_during(T0 + 10 * H, T0 + 20 * H)


def test_a_full_agent_is_missed_at_capacity_and_a_wait_takes_them_when_free() -> None:
    # Ana holds one conversation (capacity 1) from 9:00 to 11:00; Dana writes at 10:00
    history = _history(
        [_agent("ana", shifts=[(0, 24)], capacity=1), _agent("ben", shifts=[(0, 24)], capacity=1)],
        [("c0", "erin", 9, 2), ("c1", "dana", 10, 1)],
        known={"dana": "ana", "erin": "ana"},
    )
    out, result = _run(history, "preferred")
    assert [o.agent_id for o in result.outcomes] == ["ana", "ben"]
    assert out["missed_preferred"]["at capacity"] == 1
    out, result = _run(history, "preferred", wait_for_preferred_hours=4.0)
    assert [o.agent_id for o in result.outcomes] == ["ana", "ana"]
    assert result.outcomes[1].wait == pytest.approx(H)  # Ana freed her slot at 11:00


def test_no_history_goes_to_the_fallback_and_says_so() -> None:
    history = _history(
        [_agent("ana", shifts=[(0, 24)]), _agent("ben", shifts=[(0, 24)])],
        [("c0", "erin", 9, 5), ("c1", "dana", 10, 1)],
        known={"dana": "ana", "erin": "ana"},
        replies=False,  # assigned before, but no reply to build affinity from
    )
    out, result = _run(history, "preferred")
    # least loaded: Erin's to Ana (a tie, lowest id), then Dana's to Ben, as Ana holds Erin's
    assert [o.agent_id for o in result.outcomes] == ["ana", "ben"]
    assert out["missed_preferred"]["no history"] == 1 and out["preferred_agent_share"] == 0.5


def test_nobody_on_shift_queues_until_someone_comes() -> None:
    history = _history([_agent("ana", shifts=[(12, 18)])], [("c1", "dana", 10, 1), ("c2", "erin", 11, 1)])
    out, result = _run(history, "least_loaded")
    assert [o.assigned_at for o in result.outcomes] == [T0 + 12 * H, T0 + 12 * H]
    assert out["wait_to_first_agent_hours"] == {"median": 1.5, "p90": 2.0, "max": 2.0}
    assert out["waited_past_timeout"] == 2  # the timeout is 0 h: any wait is past it


def test_still_waiting_at_the_end_is_unassigned() -> None:
    history = _history([_agent("ana", shifts=[(0, 1)])], [("c1", "dana", 10, 1)], days=1)
    out, result = _run(history, "round_robin")
    assert result.outcomes[0].agent_id is None and out["unassigned_at_end"] == 1


def test_as_it_happened_takes_history_whatever_the_shifts() -> None:
    history = _history([_agent("ana", shifts=[])], [])
    conv = SimConversation(
        id="c1", customer_id="dana", group_id="g", channel=None, arrival=T0 + H, hold=H, assignee_id="ana"
    )
    history = SimHistory(**{**history.__dict__, "conversations": (conv,)})
    _, result = _run(history, "as_it_happened")
    assert result.outcomes[0].agent_id == "ana" and not result.respects_presence


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.9) is None
    assert percentile([5.0, 1.0, 3.0], 0.9) == 5.0
    assert percentile([float(i) for i in range(1, 11)], 0.9) == 9.0


# -- presence -----------------------------------------------------------------------------------------


def test_shifts_are_the_usual_hours_on_days_with_activity() -> None:
    day = 86_400.0
    # nine messages at 09:xx and one at 15:xx on day 0; one at 09:xx on day 2; nothing on day 1
    times = [9 * H + 60 * i for i in range(9)] + [15 * H + 5, 2 * day + 9 * H + 30]
    shifts = shifts_from_activity(times, config=PresenceConfig(coverage=0.9))
    assert shifts == ((9 * H, 10 * H), (15 * H, 16 * H), (2 * day + 9 * H, 2 * day + 10 * H))
    agent = SimAgent(id="a", name="A", group_ids=(), capacity=None, shifts=shifts)
    assert agent.present(9.5 * H) and not agent.present(12 * H) and not agent.present(day + 9.5 * H)
    assert shifts_from_activity([]) == ()


# -- sweep specs ------------------------------------------------------------------------------------


def test_sweep_specs_are_a_product_with_labels() -> None:
    points = parse_sweep(["stickiness=0,15m,1h,4h", "threshold=0.5,1"])
    assert len(points) == 8
    assert points[3].label == "stickiness=15m, threshold=1"
    assert points[3].values == {"wait_for_preferred_hours": 0.25, "threshold": 1.0}
    assert parse_sweep(["window=0,30d", "half_life=30"])[1].values == {"stickiness_days": 30.0, "half_life_days": 30.0}
    assert parse_sweep(["window=0"])[0].values == {"stickiness_days": None}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("speed=1", "KEY=V1,V2"),
        ("wait", "KEY=V1,V2"),
        ("wait=soon", "not a duration"),
        ("top_k=0", "whole number"),
        ("threshold=-1", "negative"),
        ("half_life=0", "positive"),
    ],
)
def test_bad_sweep_specs_say_what_is_accepted(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_sweep([spec])


def test_a_sweep_runs_the_same_in_processes_as_inline() -> None:
    history = _away_then_back()
    points = parse_sweep(["wait=0,1h"])
    inline = run_points(history, points, base=ReplaySettings(), strategies=STRATEGIES, workers=1)
    parallel = run_points(history, points, base=ReplaySettings(), strategies=STRATEGIES, workers=2)
    timings = ("seconds", "cpu_seconds")
    strip = [{k: v for k, v in f.items() if k not in timings} for f in inline]
    assert strip == [{k: v for k, v in f.items() if k not in timings} for f in parallel]
    assert [f["preferred_agent_share"] for f in inline] == [0.0, 1.0]


def test_a_sweep_sends_the_history_once_per_worker_not_per_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """The history goes to each worker through the pool's initializer; each point sends only its settings."""
    from humansupport.simulate import sweep

    seen: dict[str, Any] = {}

    class Recording(ProcessPoolExecutor):
        def __init__(self, *args: Any, **kw: Any) -> None:
            seen["workers"], seen["initargs"] = kw["max_workers"], kw["initargs"]
            super().__init__(*args, **kw)

        def map(self, fn: Any, *iterables: Any, **kw: Any) -> Any:
            seen["items"] = [item for it in iterables for item in it]
            return super().map(fn, seen["items"], **kw)

    monkeypatch.setattr(sweep, "ProcessPoolExecutor", Recording)
    history = _away_then_back()
    points = parse_sweep(["wait=0,15m,1h,4h"])
    out = run_points(history, points, base=ReplaySettings(), strategies=STRATEGIES, workers=2)
    assert len(out) == 4 and seen["workers"] == 2 and seen["initargs"][0] is history
    assert len(seen["items"]) == 4 and all(isinstance(item, ReplaySettings) for item in seen["items"])
    assert all(len(pickle.dumps(item)) < 2_000 for item in seen["items"])  # settings, never the history


def test_report_marks_the_current_settings_and_divides_by_the_bound() -> None:
    report = simulate_history(_away_then_back(), strategies=STRATEGIES, sweep=parse_sweep(["wait=0,1h"]), workers=1)
    assert [p["label"] for p in report.sweep] == ["current settings", "wait=0", "wait=1h"]
    assert report.sweep[0]["current"] and not any(p["current"] for p in report.sweep[1:])
    assert report.reaches is None  # the bound's share is 0 with no wait: nothing to divide by
    assert "preferred-agent routing gives 0%" in report.summary()


# -- invariants -------------------------------------------------------------------------------------


@st.composite
def _histories(draw: st.DrawFn) -> tuple[SimHistory, float]:
    n_agents = draw(st.integers(1, 4))
    agents = []
    for i in range(n_agents):
        bounds = sorted(draw(st.lists(st.integers(0, 47), min_size=0, max_size=6, unique=True)))
        shifts = [(bounds[j], bounds[j + 1]) for j in range(0, len(bounds) - 1, 2)]
        gone = draw(st.one_of(st.none(), st.integers(1, 47)))
        agents.append(
            SimAgent(
                id=f"a{i}",
                name=f"A{i}",
                group_ids=tuple(draw(st.sets(st.sampled_from(["g", "h"]), min_size=1))),
                capacity=draw(st.integers(1, 3)),
                shifts=tuple((T0 + a * H, T0 + b * H) for a, b in shifts),
                gone_at=None if gone is None else T0 + gone * H,
            )
        )
    arrivals = draw(
        st.lists(
            st.tuples(st.integers(0, 47 * 4), st.integers(1, 24 * 4), st.integers(0, 4), st.sampled_from(["g", "h"])),
            max_size=25,
        )
    )
    known = {f"u{c}": f"a{draw(st.integers(0, n_agents - 1))}" for c in range(5) if draw(st.booleans())}
    base = _history(agents, [], known=known)
    convs = tuple(
        SimConversation(
            id=f"c{n}",
            customer_id=f"u{cust}",
            group_id=group,
            channel="chat",
            arrival=T0 + at * H / 4,
            hold=hold * H / 4,
            assignee_id=None,
            replies=1,
        )
        for n, (at, hold, cust, group) in enumerate(sorted(arrivals))
    )
    facts = base.facts + tuple(
        ConversationFact(
            id=c.id,
            customer_id=c.customer_id,
            assignee_id=None,
            status="solved",
            created_at=datetime.fromtimestamp(c.arrival, UTC),
        )
        for c in convs
    )
    wait = draw(st.sampled_from([0.0, 0.5, 2.0]))
    return SimHistory(**{**base.__dict__, "conversations": convs, "facts": facts}), wait


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_histories(), st.sampled_from(["least_loaded", "round_robin", "preferred", "upper_bound"]))
def test_no_agent_works_while_absent_or_beyond_capacity(case: tuple[SimHistory, float], policy: str) -> None:
    history, wait = case
    _, result = _run(history, policy, wait_for_preferred_hours=wait)
    # each conversation is given once: as many assignments as conversations with an agent
    assert sum(result.assignments.values()) == sum(o.agent_id is not None for o in result.outcomes)
    agents = {a.id: a for a in history.agents}
    spans: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for o in result.outcomes:
        if o.agent_id is None:
            continue
        agent = agents[o.agent_id]
        assert o.assigned_at is not None and o.assigned_at >= o.conversation.arrival
        assert agent.present(o.assigned_at), f"{policy} gave {o.conversation.id} to {agent.id} while absent"
        assert o.conversation.group_id in agent.group_ids
        spans[o.agent_id] += [(o.assigned_at, 1), (o.assigned_at + o.conversation.hold, -1)]
    if not result.respects_capacity:
        return
    for agent_id, events in spans.items():
        load = 0
        for _, step in sorted(events, key=lambda e: (e[0], e[1])):  # a slot freed at t is free for t
            load += step
            assert load <= (agents[agent_id].capacity or 0), f"{policy}: {agent_id} above capacity"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_histories(), st.sampled_from(["least_loaded", "round_robin", "preferred", "upper_bound", "as_it_happened"]))
def test_reaches_is_never_above_what_was_possible(case: tuple[SimHistory, float], policy: str) -> None:
    """reached <= possible <= returning, and `possible` is the metrics' preferred agent present within the wait."""
    from humansupport.simulate.figures import replayed_facts

    history, wait = case
    out, result = _run(history, policy, wait_for_preferred_hours=wait)
    counts, missed = out["possible_preferred"], out["missed_preferred"]
    returning = counts["reached"] + missed["total"]
    assert 0 <= counts["reached"] <= counts["possible"] <= returning
    assert counts["reaches"] is None if not counts["possible"] else 0 <= counts["reaches"] <= 1
    if returning:
        assert out["preferred_agent_share"] == pytest.approx(counts["reached"] / returning, abs=1e-4)
    # brute force: shifts, departures and the period's end fall on whole hours, arrivals on quarters
    agents = {a.id: a for a in history.agents}
    arrival = {o.conversation.id: o.conversation.arrival for o in result.outcomes}
    possible = 0
    earlier: dict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    for f in sorted(replayed_facts(history, result), key=lambda f: (f.created_at, f.id)):
        seen = earlier[f.customer_id or ""]
        if seen and f.id in arrival:
            top = max(seen.values())
            preferred = min(a for a, n in seen.items() if n == top)
            lo, hi = arrival[f.id], min(arrival[f.id] + wait * H, history.end_ts)
            grid = [lo, hi] + [T0 + q * H / 4 for q in range(4 * 48 + 1) if lo <= T0 + q * H / 4 <= hi]
            present = preferred in agents and any(agents[preferred].present(t) for t in grid)
            possible += f.assignee_id == preferred or present
        if f.assignee_id:
            seen[f.assignee_id] += 1
    assert counts["possible"] == possible


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 19), st.integers(0, 24 * 400)), max_size=80)
)
def test_the_replay_index_scores_like_the_affinity_index(replies: list[tuple[int, int, int, int]]) -> None:
    from humansupport.routing.affinity import AffinityIndex
    from humansupport.simulate.policies import ReplayIndex

    plain, running = AffinityIndex(reference=START), ReplayIndex(reference=START)
    for index in (plain, running):
        for c in range(20):
            index.set_outcome(f"c{c}", status="solved" if c % 3 else "open", tags=["reopened"] if c % 7 == 0 else [])
        for customer, agent, conv, hours in replies:
            index.add_reply(f"u{customer}", f"a{agent}", f"c{conv}", START + timedelta(hours=hours))
        index.add_rating("r1", "u0", "a0", "good")
    now = START + timedelta(days=420)
    for customer in plain.customers():
        a, b = plain.scores(customer, now=now), running.scores(customer, now=now)
        assert [(s.agent_id, s.replies, s.conversations, s.reopened, s.last_contact) for s in a] == [
            (s.agent_id, s.replies, s.conversations, s.reopened, s.last_contact) for s in b
        ]
        assert [s.score for s in a] == pytest.approx([s.score for s in b], rel=1e-9)
        running.keep = 2  # what the router reads: the ranking's top, built alone
        assert [s.agent_id for s in running.scores(customer, now=now)] == [s.agent_id for s in a[:2]]
        running.keep = None
