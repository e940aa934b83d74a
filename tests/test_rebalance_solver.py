"""The solver against brute force: same optimal cost, every constraint held, on random small instances."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humansupport.routing.solver import LEAVE, Problem, evaluate, solve, solve_flow, solve_milp

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Instance:
    problem: Problem
    options: list[list[int]]  # per conversation: arc indices, plus LEAVE when allowed


@st.composite
def instances(draw: st.DrawFn, *, weighted: bool = False, capped: bool = True) -> Instance:
    n = draw(st.integers(0, 5))
    m = draw(st.integers(1, 3))
    arc_conv: list[int] = []
    arc_agent: list[int] = []
    arc_cost: list[int] = []
    arc_move: list[bool] = []
    has_leave: list[bool] = []
    options: list[list[int]] = []
    for c in range(n):
        stay = draw(st.one_of(st.none(), st.integers(0, m - 1)))
        mine: list[int] = []
        if stay is not None:
            mine.append(len(arc_conv))
            arc_conv.append(c)
            arc_agent.append(stay)
            arc_cost.append(draw(st.integers(-20, 20)))
            arc_move.append(False)
        targets = draw(st.sets(st.integers(0, m - 1), max_size=m))
        for a in sorted(targets - {stay}):
            mine.append(len(arc_conv))
            arc_conv.append(c)
            arc_agent.append(a)
            arc_cost.append(draw(st.integers(-20, 20)))
            arc_move.append(True)
        leave = stay is None or draw(st.booleans())
        has_leave.append(leave)
        options.append([*mine, LEAVE] if leave else mine)
    free = [draw(st.integers(0, 3)) for _ in range(m)]
    w = [draw(st.integers(1, 2)) if weighted else 1 for _ in range(n)]
    stays = [0] * m
    for c, a, mv in zip(arc_conv, arc_agent, arc_move, strict=True):
        stays[a] += 0 if mv else w[c]
    overflow_cap = [max(0, stays[a] - free[a]) + draw(st.integers(0, 1)) for a in range(m)]
    problem = Problem(
        n_conversations=n,
        n_agents=m,
        arc_conv=np.array(arc_conv, dtype=np.int64),
        arc_agent=np.array(arc_agent, dtype=np.int64),
        arc_cost=np.array(arc_cost, dtype=np.int64),
        arc_move=np.array(arc_move, dtype=bool),
        leave_cost=np.array([draw(st.integers(0, 60)) for _ in range(n)], dtype=np.int64),
        has_leave=np.array(has_leave, dtype=bool),
        free=np.array(free, dtype=np.int64),
        free_at_target=np.array([draw(st.integers(0, f)) for f in free], dtype=np.int64),
        move_cap=np.array([draw(st.integers(0, 3)) for _ in range(m)], dtype=np.int64),
        overflow_cap=np.array(overflow_cap, dtype=np.int64) if draw(st.booleans()) else None,
        fairness_cost=draw(st.integers(0, 5)),
        overflow_cost=draw(st.integers(0, 30)),
        weights=np.array(w, dtype=np.int64) if weighted else None,
        max_moves=draw(st.one_of(st.none(), st.integers(0, 4))) if capped else None,
    )
    return Instance(problem, options)


def brute_force(inst: Instance) -> int | None:
    """Minimum cost over every choice, from the objective's definition in plain loops (no numpy)."""
    p = inst.problem
    w = [1] * p.n_conversations if p.weights is None else [int(x) for x in p.weights]
    best: int | None = None
    for combo in itertools.product(*inst.options):
        cost = 0
        moves = [0] * p.n_agents
        move_w = [0] * p.n_agents
        stay_w = [0] * p.n_agents
        for c, arc in enumerate(combo):
            if arc == LEAVE:
                cost += int(p.leave_cost[c])
                continue
            a = int(p.arc_agent[arc])
            cost += int(p.arc_cost[arc])
            if p.arc_move[arc]:
                moves[a] += 1
                move_w[a] += w[c]
            else:
                stay_w[a] += w[c]
        if p.max_moves is not None and sum(moves) > p.max_moves:
            continue
        if any(moves[a] > p.move_cap[a] or move_w[a] > p.free[a] for a in range(p.n_agents)):
            continue
        limit = [10**9] * p.n_agents if p.overflow_cap is None else [int(x) for x in p.overflow_cap]
        if any(move_w[a] + stay_w[a] - int(p.free[a]) > limit[a] for a in range(p.n_agents)):
            continue
        for a in range(p.n_agents):
            total = move_w[a] + stay_w[a]
            used = min(total, int(p.free[a]))
            cost += p.fairness_cost * max(0, used - int(p.free_at_target[a]))
            cost += (p.overflow_cost + p.fairness_cost) * (total - used)
        if best is None or cost < best:
            best = cost
    return best


def assert_feasible(inst: Instance, choice: np.ndarray) -> None:
    for c, arc in enumerate(choice):
        assert int(arc) in inst.options[c]
    evaluate(inst.problem, choice)  # raises on a broken constraint


@SETTINGS
@given(instances(capped=False))
def test_flow_matches_brute_force(inst: Instance) -> None:
    sol = solve_flow(inst.problem)
    assert_feasible(inst, sol.choice)
    assert sol.cost == brute_force(inst)
    assert sol.optimal


@SETTINGS
@given(instances())
def test_auto_is_exact_with_a_global_move_cap(inst: Instance) -> None:
    sol = solve(inst.problem)
    assert_feasible(inst, sol.choice)
    assert sol.cost == brute_force(inst)
    assert sol.optimal and sol.gap == 0


@SETTINGS
@given(instances(weighted=True))
def test_milp_is_exact_with_channel_weights(inst: Instance) -> None:
    sol = solve_milp(inst.problem)
    assert_feasible(inst, sol.choice)
    assert sol.cost == brute_force(inst)


@SETTINGS
@given(instances())
def test_lagrangian_is_feasible_and_its_bound_is_valid(inst: Instance) -> None:
    best = brute_force(inst)
    assert best is not None
    sol = solve(inst.problem, method="flow")
    assert_feasible(inst, sol.choice)
    assert sol.bound <= best <= sol.cost
    if sol.optimal:
        assert sol.cost == best


def test_flow_rejects_weights() -> None:
    p = Problem(
        n_conversations=1,
        n_agents=1,
        arc_conv=np.array([0]),
        arc_agent=np.array([0]),
        arc_cost=np.array([0]),
        arc_move=np.array([False]),
        leave_cost=np.array([0]),
        has_leave=np.array([False]),
        free=np.array([1]),
        free_at_target=np.array([1]),
        move_cap=np.array([1]),
        weights=np.array([2]),
    )
    with pytest.raises(ValueError, match="weighted"):
        solve_flow(p)


def test_problem_needs_a_stay_or_leave_arc() -> None:
    with pytest.raises(ValueError, match="stay arc or a leave arc"):
        Problem(
            n_conversations=1,
            n_agents=1,
            arc_conv=np.array([0]),
            arc_agent=np.array([0]),
            arc_cost=np.array([0]),
            arc_move=np.array([True]),
            leave_cost=np.array([0]),
            has_leave=np.array([False]),
            free=np.array([1]),
            free_at_target=np.array([1]),
            move_cap=np.array([1]),
        )


def test_lagrangian_spends_the_budget_a_tie_would_waste() -> None:
    # four identical unassigned conversations: any price moves all of them or none; max_moves is 2
    n = 4
    p = Problem(
        n_conversations=n,
        n_agents=1,
        arc_conv=np.arange(n),
        arc_agent=np.zeros(n, dtype=np.int64),
        arc_cost=np.full(n, -5),
        arc_move=np.ones(n, dtype=bool),
        leave_cost=np.full(n, 100),
        has_leave=np.ones(n, dtype=bool),
        free=np.array([10]),
        free_at_target=np.array([10]),
        move_cap=np.array([10]),
        max_moves=2,
    )
    sol = solve(p, method="flow")
    assert sol.method == "flow+lagrangian"
    assert int(np.count_nonzero(sol.choice != LEAVE)) == 2
    assert sol.cost == 2 * -5 + 2 * 100 and sol.optimal


def test_milp_stopped_before_any_plan_keeps_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    import scipy.optimize

    class Stopped:
        x = None
        status = 1
        message = "Time limit reached"
        mip_dual_bound = float("nan")

    monkeypatch.setattr(scipy.optimize, "milp", lambda *a, **k: Stopped())
    p = Problem(
        n_conversations=2,
        n_agents=2,
        arc_conv=np.array([0, 0, 1]),
        arc_agent=np.array([0, 1, 1]),
        arc_cost=np.array([0, -9, -9]),
        arc_move=np.array([False, True, True]),
        leave_cost=np.array([50, 50]),
        has_leave=np.array([False, True]),
        free=np.array([2, 2]),
        free_at_target=np.array([2, 2]),
        move_cap=np.array([2, 2]),
    )
    sol = solve_milp(p, time_limit=0.1)
    assert sol.choice.tolist() == [0, LEAVE] and sol.cost == 50
    assert not sol.optimal and sol.gap == float("inf")
