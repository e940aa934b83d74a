"""The rebalance planner: filters, reasons, capacity, caps, fairness, weights, plan files, edge cases."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humansupport.models import Agent, AgentAvailability, Conversation, ConversationStatus
from humansupport.routing.rebalance import (
    ExclusionReason,
    MappingAffinity,
    MoveReason,
    RebalanceConfig,
    RebalancePlan,
    UnplacedReason,
    plan_rebalance,
)

NOW = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=2)


def agent(agent_id: str, *, capacity: int | None = 5, groups: tuple[str, ...] = ("g",), **kw: Any) -> Agent:
    return Agent(id=agent_id, name=f"agent {agent_id}", capacity=capacity, group_ids=list(groups), **kw)


def conv(conv_id: str, customer: str | None, assignee: str | None = None, **kw: Any) -> Conversation:
    kw.setdefault("status", ConversationStatus.OPEN)
    kw.setdefault("group_id", "g")
    kw.setdefault("created_at", OLD)
    kw.setdefault("updated_at", OLD)
    return Conversation(id=conv_id, customer_id=customer, assignee_id=assignee, **kw)


def plan(convs: list[Conversation], agents: list[Agent], aff: dict[tuple[str, str], float], **kw: Any) -> RebalancePlan:
    loads = kw.pop("loads", None)
    last = kw.pop("last_human_activity", None)
    return plan_rebalance(
        convs, agents, aff, now=NOW, config=RebalanceConfig(**kw), loads=loads, last_human_activity=last
    )


def moved(p: RebalancePlan) -> dict[str, str]:
    return {m.conversation_id: m.to_agent_id for m in p.moves}


def reasons(p: RebalancePlan) -> dict[str, MoveReason]:
    return {m.conversation_id: m.reason for m in p.moves}


def test_empty_inputs_give_an_empty_plan() -> None:
    p = plan([], [], {})
    assert p.moves == [] and p.unplaced == [] and p.totals.moves == 0 and p.totals.considered == 0
    assert p.totals.optimal


def test_no_agents_leaves_unassigned_reported() -> None:
    p = plan([conv("1", "c1")], [], {})
    assert [(u.conversation_id, u.reason) for u in p.unplaced] == [("1", UnplacedReason.NO_ELIGIBLE_AGENT)]
    assert p.totals.unassigned_before == p.totals.unassigned_after == 1


def test_preferred_agent_reason_and_score_delta() -> None:
    p = plan([conv("1", "c1", "a")], [agent("a"), agent("b")], {("c1", "a"): 0.2, ("c1", "b"): 3.0})
    (m,) = p.moves
    assert (m.from_agent_id, m.to_agent_id, m.reason) == ("a", "b", MoveReason.PREFERRED_AGENT)
    assert m.score_delta == pytest.approx(2.8)
    assert p.totals.affinity_gained == pytest.approx(2.8)
    assert m.expected_updated_at == OLD


def test_small_gain_does_not_beat_the_move_penalty() -> None:
    p = plan([conv("1", "c1", "a")], [agent("a"), agent("b")], {("c1", "a"): 1.0, ("c1", "b"): 1.05})
    assert p.moves == []


def test_higher_affinity_when_the_preferred_agent_is_full() -> None:
    agents = [agent("a"), agent("b"), agent("best", capacity=0)]
    aff = {("c1", "best"): 9.0, ("c1", "b"): 2.0, ("c1", "a"): 0.1}
    p = plan([conv("1", "c1", "a")], agents, aff)
    assert moved(p) == {"1": "b"} and reasons(p) == {"1": MoveReason.HIGHER_AFFINITY}


def test_unassigned_are_assigned() -> None:
    p = plan([conv("1", "c1"), conv("2", "c2")], [agent("a"), agent("b")], {("c1", "b"): 1.0})
    assert moved(p) == {"1": "b", "2": moved(p)["2"]}
    assert set(reasons(p).values()) == {MoveReason.UNASSIGNED}
    assert p.totals.unassigned_before == 2 and p.totals.unassigned_after == 0


@pytest.mark.parametrize(
    ("availability", "reason"),
    [(AgentAvailability.AWAY, MoveReason.AGENT_AWAY), (AgentAvailability.OFFLINE, MoveReason.AGENT_OFFLINE)],
)
def test_conversations_of_away_agents_move_first(availability: AgentAvailability, reason: MoveReason) -> None:
    agents = [agent("away", availability=availability), agent("b"), agent("c")]
    convs = [conv("1", "c1", "away"), conv("2", "c2", "b")]
    aff = {("c1", "away"): 5.0, ("c2", "c"): 5.0}
    p = plan(convs, agents, aff, max_moves=1)
    assert set(moved(p)) == {"1"}  # the away agent's conversation, not the bigger affinity gain
    assert reasons(p)["1"] == reason
    assert moved(p)["1"] != "away"


def test_away_agents_receive_nothing() -> None:
    agents = [agent("a", capacity=1), agent("away", availability=AgentAvailability.AWAY)]
    p = plan([conv("1", "c1"), conv("2", "c2")], agents, {("c1", "away"): 9.0, ("c2", "away"): 9.0})
    assert "away" not in moved(p).values()
    assert len(p.moves) == 1 and len(p.unplaced) == 1


def test_deactivated_agent_conversations_move_or_are_reported() -> None:
    agents = [agent("gone", active=False), agent("b", capacity=1)]
    p = plan([conv("1", "c1", "gone"), conv("2", "c2", "gone")], agents, {})
    assert list(reasons(p).values()) == [MoveReason.AGENT_DEACTIVATED]
    assert [(u.agent_id, u.reason) for u in p.unplaced] == [("gone", UnplacedReason.NO_CAPACITY)]


def test_unknown_agent_is_treated_as_deactivated() -> None:
    p = plan([conv("1", "c1", "nobody")], [agent("b")], {})
    assert reasons(p) == {"1": MoveReason.AGENT_DEACTIVATED}


def test_over_capacity_relieved_and_counted() -> None:
    agents = [agent("a", capacity=1), agent("b", capacity=3)]
    convs = [conv(str(i), f"c{i}", "a") for i in range(3)]
    aff = {(f"c{i}", "a"): 2.0 for i in range(3)}
    p = plan(convs, agents, aff)
    assert len(p.moves) == 2 and set(reasons(p).values()) == {MoveReason.OVER_CAPACITY}
    assert (p.totals.agents_over_capacity_before, p.totals.agents_over_capacity_after) == (1, 0)


def test_infeasible_capacity_assigns_what_fits_and_reports_the_rest() -> None:
    agents = [agent("a", capacity=2), agent("b", capacity=1)]
    p = plan([conv(str(i), f"c{i}") for i in range(5)], agents, {})
    assert len(p.moves) == 3
    assert sorted(u.reason for u in p.unplaced) == [UnplacedReason.NO_CAPACITY] * 2
    assert p.totals.agents_over_capacity_after == 0


def test_loads_outside_the_plan_count_against_capacity() -> None:
    agents = [agent("a", capacity=2), agent("b", capacity=2)]
    aff = {("c1", "a"): 5.0}
    assert moved(plan([conv("1", "c1")], agents, aff)) == {"1": "a"}
    assert moved(plan([conv("1", "c1")], agents, aff, loads={"a": 2})) == {"1": "b"}


def test_group_eligibility() -> None:
    agents = [agent("a", groups=("other",)), agent("b", groups=("g",))]
    p = plan([conv("1", "c1")], agents, {("c1", "a"): 9.0})
    assert moved(p) == {"1": "b"}
    p = plan([conv("1", "c1", group_id="nobody")], agents, {("c1", "a"): 9.0})
    assert [u.reason for u in p.unplaced] == [UnplacedReason.NO_ELIGIBLE_AGENT]


def test_max_moves_and_move_limit_reason() -> None:
    p = plan([conv(str(i), f"c{i}") for i in range(4)], [agent("a")], {}, max_moves=2)
    assert len(p.moves) == 2
    assert [u.reason for u in p.unplaced] == [UnplacedReason.MOVE_LIMIT] * 2


def test_per_agent_move_cap() -> None:
    agents = [agent("back", capacity=10), agent("b", capacity=10)]
    aff = {(f"c{i}", "back"): 5.0 for i in range(4)}
    p = plan([conv(str(i), f"c{i}", "b") for i in range(4)], agents, aff, max_moves_per_agent=1)
    assert list(moved(p).values()) == ["back"]


def test_fairness_target_spreads_load_without_punishing_bigger_capacity() -> None:
    agents = [agent("fast", capacity=10), agent("slow", capacity=2)]
    convs = [conv(str(i), f"c{i}") for i in range(6)]
    aff = {(f"c{i}", "fast"): 0.01 for i in range(6)}
    no_target = plan(convs, agents, aff)
    assert list(moved(no_target).values()).count("fast") == 6
    with_target = plan(convs, agents, aff, fairness_target=0.5, fairness_cost=1.0)
    counts = list(moved(with_target).values())
    assert counts.count("fast") == 5 and counts.count("slow") == 1  # 50 % of each agent's own capacity


def test_channel_weights_use_the_milp() -> None:
    agents = [agent("a", capacity=2), agent("b", capacity=2)]
    convs = [conv("1", "c1", channel="email"), conv("2", "c2", channel="chat"), conv("3", "c3", channel="chat")]
    aff = {("c1", "a"): 5.0, ("c2", "a"): 2.0, ("c3", "a"): 2.0}  # 5 > 2 + 2: the email wins a
    p = plan(convs, agents, aff, channel_weights={"email": 2, "chat": 1})
    assert p.totals.solver == "milp" and p.totals.optimal
    assert moved(p) == {"1": "a", "2": "b", "3": "b"}


@pytest.mark.parametrize(
    ("kw", "conversation", "reason"),
    [
        ({}, conv("x", "c1", status=ConversationStatus.PENDING), "status"),
        ({"groups": frozenset({"h"})}, conv("x", "c1"), "group"),
        ({"min_age": timedelta(hours=3)}, conv("x", "c1", created_at=NOW - timedelta(hours=1)), "too new"),
        ({"tags": frozenset({"vip"})}, conv("x", "c1", tags=["other"]), "tags"),
        ({"exclude_tags": frozenset({"legal"})}, conv("x", "c1", tags=["legal"]), "excluded tag"),
        (
            {"exclude_human_touched_hours": 12},
            conv("x", "c1", updated_at=NOW - timedelta(hours=2)),
            "touched by a human recently",
        ),
    ],
)
def test_each_filter_excludes_and_never_moves(kw: dict[str, Any], conversation: Conversation, reason: str) -> None:
    agents = [agent("a"), agent("b")]
    c = conversation.model_copy(update={"assignee_id": "a"})
    p = plan([c], agents, {("c1", "b"): 9.0}, **kw)
    assert p.moves == [] and p.excluded == {reason: 1}
    control = plan(
        [c.model_copy(update={"status": ConversationStatus.OPEN, "tags": ["vip"]})], agents, {("c1", "b"): 9}
    )
    assert moved(control) == {"x": "b"}  # the same conversation moves once the filter does not apply


def test_human_touch_prefers_the_injected_activity_times() -> None:
    c = conv("x", "c1", "a", updated_at=NOW - timedelta(minutes=5))  # a bot touched it just now
    activity = {"x": NOW - timedelta(days=3)}
    p = plan(
        [c], [agent("a"), agent("b")], {("c1", "b"): 9.0}, exclude_human_touched_hours=12, last_human_activity=activity
    )
    assert moved(p) == {"x": "b"}


def test_excluded_conversations_count_as_load() -> None:
    agents = [agent("a", capacity=1), agent("b", capacity=1)]
    pending = conv("p", "c0", "a", status=ConversationStatus.ON_HOLD)
    p = plan([pending, conv("1", "c1")], agents, {("c1", "a"): 9.0}, statuses=frozenset({ConversationStatus.OPEN}))
    assert moved(p) == {"1": "b"}


def test_plan_round_trips_through_json(tmp_path: Path) -> None:
    p = plan([conv("1", "c1", "a")], [agent("a"), agent("b")], {("c1", "b"): 3.0}, max_moves=5)
    path = tmp_path / "plan.json"
    p.save(path)
    data = json.loads(path.read_text())
    assert data["created_at"].startswith("2026-03-01T03:00:00")
    assert data["moves"][0]["reason"] == "customer's preferred agent"
    assert data["config"]["max_moves"] == 5
    assert RebalancePlan.load(path) == p
    data["format"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="plan format"):
        RebalancePlan.load(path)


def test_summary_line_for_cron_mail() -> None:
    p = plan([conv("1", "c1")], [agent("a")], {})
    assert p.summary().startswith("rebalance: 1 moves") and "unassigned 1->0" in p.summary()


def test_mapping_affinity_lookup() -> None:
    lookup = MappingAffinity({("c", "a"): 1.0, ("c", "b"): 2.0, ("d", "a"): 5.0})
    assert lookup.top_agents("c", 1) == [("b", 2.0)]
    assert lookup.score("c", "zz") == 0.0 and lookup.top_agents("nobody", 3) == []


def test_config_validates() -> None:
    with pytest.raises(ValueError):
        RebalanceConfig(max_moves=-1)
    with pytest.raises(ValueError):
        RebalanceConfig(channel_weights={"email": 0})


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Conversation], list[Agent], dict[tuple[str, str], float], RebalanceConfig]:
    n_agents = draw(st.integers(1, 4))
    agents = [
        agent(
            f"a{i}",
            capacity=draw(st.integers(0, 3)),
            groups=tuple(draw(st.sets(st.sampled_from(["g", "h"]), min_size=1))),
            active=draw(st.booleans()) or i == 0,
            availability=draw(st.sampled_from(list(AgentAvailability))),
        )
        for i in range(n_agents)
    ]
    ids = [a.id for a in agents]
    convs = [
        conv(
            str(i),
            f"c{i % 3}",
            draw(st.one_of(st.none(), st.sampled_from(ids))),
            group_id=draw(st.sampled_from(["g", "h"])),
            tags=draw(st.sampled_from([[], ["legal"]])),
        )
        for i in range(draw(st.integers(0, 6)))
    ]
    aff = {(f"c{c}", a): draw(st.floats(0, 3, allow_nan=False)) for c in range(3) for a in ids if draw(st.booleans())}
    config = RebalanceConfig(
        max_moves=draw(st.one_of(st.none(), st.integers(0, 4))),
        max_moves_per_agent=draw(st.one_of(st.none(), st.integers(0, 2))),
        fairness_target=draw(st.one_of(st.none(), st.just(0.5))),
        exclude_tags=frozenset({"legal"}),
        candidates=draw(st.integers(1, 3)),
        fallback_agents=draw(st.integers(0, 2)),
    )
    return convs, agents, aff, config


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_plans_hold_every_constraint_and_match_the_milp_reference(
    scenario: tuple[list[Conversation], list[Agent], dict[tuple[str, str], float], RebalanceConfig],
) -> None:
    convs, agents, aff, config = scenario
    p = plan_rebalance(convs, agents, aff, now=NOW, config=config)
    reference = plan_rebalance(convs, agents, aff, now=NOW, config=replace(config, solver="milp"))
    assert p.totals.objective == pytest.approx(reference.totals.objective, abs=1e-9)
    by_id = {a.id: a for a in agents}
    held = {a.id: 0 for a in agents}
    for c in convs:
        if c.assignee_id in held:
            held[c.assignee_id] += 1
    before = dict(held)
    moved_in = {a.id: 0 for a in agents}
    for m in p.moves:
        c = next(c for c in convs if c.id == m.conversation_id)
        target = by_id[m.to_agent_id]
        assert "legal" not in c.tags  # excluded conversations never move
        assert target.active and target.availability in (AgentAvailability.AVAILABLE, AgentAvailability.UNKNOWN)
        assert c.group_id in target.group_ids
        assert m.from_agent_id == c.assignee_id != m.to_agent_id
        moved_in[target.id] += 1
        held[target.id] += 1
        if c.assignee_id in held:
            held[c.assignee_id] -= 1
    if config.max_moves is not None:
        assert len(p.moves) <= config.max_moves
    for a in agents:
        if config.max_moves_per_agent is not None:
            assert moved_in[a.id] <= config.max_moves_per_agent
        if moved_in[a.id]:  # nobody is pushed further over capacity
            assert a.capacity is not None and held[a.id] <= max(a.capacity, before[a.id])


DOC = (Path(__file__).resolve().parents[1] / "docs" / "rebalance.md").read_text()


@pytest.mark.parametrize("knob", [f.name for f in fields(RebalanceConfig)])
def test_every_knob_documented(knob: str) -> None:
    assert f"| `{knob}` |" in DOC


@pytest.mark.parametrize("reason", [*MoveReason, *UnplacedReason, *ExclusionReason], ids=str)
def test_every_reason_documented(reason: StrEnum) -> None:
    assert f"| `{reason.value}` |" in DOC


def test_a_plan_without_a_bound_still_serializes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import scipy.optimize

    class Stopped:
        x = None
        status = 1
        message = "Time limit reached"

    monkeypatch.setattr(scipy.optimize, "milp", lambda *a, **k: Stopped())
    p = plan([conv("1", "c1", channel="email")], [agent("a")], {}, channel_weights={"email": 2})
    assert p.totals.gap is None and not p.totals.optimal and p.moves == []
    assert p.summary().endswith("no bound")
    p.save(tmp_path / "plan.json")
    assert RebalancePlan.load(tmp_path / "plan.json") == p


def test_assignments_guard_against_human_changes() -> None:
    c = conv("1", "c1", "a", version="v7")
    (a,) = plan([c], [agent("a"), agent("b")], {("c1", "b"): 3.0}).assignments()
    assert (a.conversation_id, a.agent_id, a.expected_assignee_id) == ("1", "b", "a")
    assert a.expected_updated_at == OLD and a.expected_version == "v7" and "preferred" in (a.reason or "")


def test_table_for_people_limits_rows() -> None:
    from rich.console import Console

    p = plan([conv(str(i), f"c{i}") for i in range(3)], [agent("a")], {})
    console = Console(width=200, record=True)
    console.print(p.table(limit=2))
    text = console.export_text()
    assert text.count("unassigned │") == 2 and "1 more moves not shown" in text and "rebalance: 3 moves" in text


def test_making_room_for_an_unassigned_conversation() -> None:
    agents = [agent("a", capacity=1, groups=("g", "h")), agent("b", capacity=1)]
    convs = [conv("x", "c1", "a"), conv("y", "c2", group_id="h")]  # only a serves group h, and a is full
    p = plan(convs, agents, {("c1", "a"): 1.0, ("c2", "a"): 5.0})
    assert moved(p) == {"x": "b", "y": "a"}
    assert reasons(p) == {"x": MoveReason.MAKE_ROOM, "y": MoveReason.UNASSIGNED}


def test_load_balance_reason_with_a_fairness_target() -> None:
    agents = [agent("a", capacity=4), agent("b", capacity=4)]
    convs = [conv(str(i), f"c{i}", "a") for i in range(4)]
    p = plan(convs, agents, {}, fairness_target=0.5, fairness_cost=1.0)
    assert len(p.moves) == 2 and set(reasons(p).values()) == {MoveReason.LOAD_BALANCE}


def test_synthetic_history_moves_customers_toward_their_usual_agent() -> None:
    from collections import Counter

    from humansupport.models import AuthorRole
    from humansupport.testing import generate_history

    history = generate_history(customers=300, agents=12)
    customer_of = {c.id: c.customer_id for c in history.conversations}
    replies = Counter(
        (customer_of[m.conversation_id], m.author_id)
        for thread in history.messages.values()
        for m in thread
        if m.author_role == AuthorRole.AGENT and m.public and m.author_id
    )
    affinity = {(c, a): n / 10 for (c, a), n in replies.items() if c}
    open_now = history.open_conversations()
    end = max(c.updated_at for c in history.conversations if c.updated_at)
    p = plan_rebalance(open_now, history.agents, affinity, now=end)
    after = {c.id: c.assignee_id for c in open_now} | moved(p)
    receiving = {a.id for a in history.agents if a.active and a.availability in (AgentAvailability.AVAILABLE,)}

    def with_usual(assignment: dict[str, str | None]) -> int:
        return sum(
            1
            for c in open_now
            if c.customer_id and (u := history.usual_agent(c.customer_id)) in receiving and assignment[c.id] == u
        )

    assert p.totals.optimal and p.totals.affinity_gained > 0 and p.totals.unassigned_after < p.totals.unassigned_before
    assert with_usual(after) > with_usual({c.id: c.assignee_id for c in open_now})
    assert {m.reason for m in p.moves} >= {MoveReason.UNASSIGNED}
