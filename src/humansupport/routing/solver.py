"""The exact rebalance solver: a min-cost flow on the sparse candidate graph, a MILP when it must be one.

The planner (`rebalance.py`) turns conversations and agents into a `Problem` of plain integer arrays; this
module only optimizes. Costs are integers (affinity scaled by the planner), so "optimal" means exactly
optimal for the scaled objective and the flow and the MILP can be compared for equality.

The network (one unit of flow per conversation, minimized cost)::

    conversation c --stay--> St[a0] --------------------------> A[a] --(target_free, 0)---------> T
                    --move--> M[a] --(move_cap[a], 0)----------> A[a] --(free-target_free, fair)-> T
                    --leave (unplaced, big cost)--------------------------------------------------> T
    St[a] --(overflow_cap[a], overflow+fair)--> T

A conversation may stay with an agent over capacity (at a big cost), but only up to the agent's current
excess (`overflow_cap`): nobody is pushed further over capacity, and a move into an agent over capacity
must be paid for by at least one move out. Capacity in units of one conversation, the overflow cap and the
per-agent move cap (`M[a] -> A[a]`) are arc capacities, so the flow is exact for them. A global cap on the
number of moves is not: it bounds a sum over arcs of different conversations and agents, which no arc of a
single-commodity network can carry while keeping who-goes-where. When that cap binds we either solve the
MILP below (exact; small and medium instances) or price moves with a Lagrange multiplier (bisection over
an integer price, one exact flow per step), which gives a feasible plan plus a proven bound: the reported
`gap` is an upper bound on the true one, and 0 when the plan is proven optimal.
Per-channel weights (a chat is 1 unit, an email 2) make assignments unsplittable: only the MILP is exact.

Why OR-Tools' `SimpleMinCostFlow` for the flow: it is a C++ cost-scaling push-relabel solver that takes
numpy arrays in one call; on 100,000 conversations x 2,000 agents with ~14 arcs per conversation (1.4 M
arcs) it solves in about 2-4 s on a 2-core machine. scipy has no min-cost flow: `linprog` (HiGHS) on the
same totally unimodular LP gives the same integral optimum but took over a minute on that instance, and
`min_weight_full_bipartite_matching` cannot express capacities or move caps without expanding every agent
into capacity slots (tens of millions of arcs). The cost is install size (ortools ~80 MB with its pandas
and protobuf dependencies). scipy's `milp` (HiGHS) stays for the MILP cases and as the test reference.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["Problem", "Solution", "evaluate", "solve", "solve_flow", "solve_milp"]

Method = Literal["auto", "flow", "milp"]

LEAVE: Final = -1  # `Solution.choice` value for a conversation left where it is (unplaced)


@dataclass(frozen=True, kw_only=True)
class Problem:
    """A rebalance instance as arrays; conversations and agents are 0-based indices.

    Every conversation has arcs (stay or move) to agents; `has_leave` marks the ones that may stay unplaced
    (unassigned, or held by an agent who can keep nothing) at `leave_cost`. Every conversation must have a
    stay arc or a leave arc, so the problem is always feasible.
    """

    n_conversations: int
    n_agents: int
    arc_conv: NDArray[np.int64]
    arc_agent: NDArray[np.int64]
    arc_cost: NDArray[np.int64]
    arc_move: NDArray[np.bool_]
    leave_cost: NDArray[np.int64]
    has_leave: NDArray[np.bool_]
    free: NDArray[np.int64]
    free_at_target: NDArray[np.int64]
    move_cap: NDArray[np.int64]
    overflow_cap: NDArray[np.int64] | None = None
    fairness_cost: int = 0
    overflow_cost: int = 0
    weights: NDArray[np.int64] | None = None
    max_moves: int | None = None

    def __post_init__(self) -> None:
        n, m = self.n_conversations, self.n_agents
        if not (len(self.arc_conv) == len(self.arc_agent) == len(self.arc_cost) == len(self.arc_move)):
            raise ValueError("arc arrays differ in length")
        if len(self.leave_cost) != n or len(self.has_leave) != n:
            raise ValueError("leave arrays must have one entry per conversation")
        if len(self.free) != m or len(self.free_at_target) != m or len(self.move_cap) != m:
            raise ValueError("agent arrays must have one entry per agent")
        if np.any(self.free < 0) or np.any(self.free_at_target < 0) or np.any(self.free_at_target > self.free):
            raise ValueError("need 0 <= free_at_target <= free")
        has_stay = np.zeros(n, dtype=bool)
        has_stay[self.arc_conv[~self.arc_move]] = True
        if np.any(np.bincount(self.arc_conv[~self.arc_move], minlength=n) > 1):
            raise ValueError("a conversation has more than one stay arc")
        if not np.all(has_stay | self.has_leave):
            raise ValueError("every conversation needs a stay arc or a leave arc")
        stays = ~self.arc_move
        stay_w = np.bincount(self.arc_agent[stays], weights=self.weight_array()[self.arc_conv[stays]], minlength=m)
        if np.any(stay_w > self.free + self.overflow_array()):
            raise ValueError("overflow_cap must let every conversation stay (free + overflow_cap >= stays)")

    @property
    def unit_weights(self) -> bool:
        return self.weights is None or bool(np.all(self.weights == 1))

    def overflow_array(self) -> NDArray[np.int64]:
        """Per agent, how many units of stays may exceed capacity (None: unlimited)."""
        if self.overflow_cap is None:
            return np.full(self.n_agents, np.iinfo(np.int64).max // 4, dtype=np.int64)
        return self.overflow_cap

    def weight_array(self) -> NDArray[np.int64]:
        if self.weights is None:
            return np.ones(self.n_conversations, dtype=np.int64)
        return self.weights


@dataclass(frozen=True, kw_only=True)
class Solution:
    """Chosen arc per conversation (`LEAVE` = unplaced), its cost, and how sure we are it is optimal.

    `bound` is a proven lower bound on the optimal cost; `gap = (cost - bound) / max(1, |cost|)`.
    """

    choice: NDArray[np.int64]
    cost: int
    bound: float
    optimal: bool
    method: str
    seconds: float
    detail: str = ""

    @property
    def gap(self) -> float:
        """Relative distance to the bound; `inf` when no bound is known (a MILP stopped before any bound)."""
        return max(0.0, (self.cost - self.bound) / max(1.0, abs(self.cost)))


def evaluate(problem: Problem, choice: NDArray[np.int64]) -> int:
    """Cost of a choice (arc index or `LEAVE` per conversation); raises ValueError if it breaks a constraint.

    Agent-side costs are the cheapest the network allows: moves fill free capacity first at no fairness cost
    up to the target, stays fill what is left, and the rest of the stays overflow.
    """
    p = problem
    if len(choice) != p.n_conversations:
        raise ValueError("one choice per conversation")
    picked = choice[choice != LEAVE]
    if np.any(p.arc_conv[picked] != np.flatnonzero(choice != LEAVE)):
        raise ValueError("a conversation picked another conversation's arc")
    left = choice == LEAVE
    if np.any(left & ~p.has_leave):
        raise ValueError("a conversation without a leave arc was left unplaced")
    w = p.weight_array()
    moved = picked[p.arc_move[picked]]
    stayed = picked[~p.arc_move[picked]]
    move_count = np.bincount(p.arc_agent[moved], minlength=p.n_agents)
    if np.any(move_count > p.move_cap):
        raise ValueError("per-agent move cap exceeded")
    if p.max_moves is not None and len(moved) > p.max_moves:
        raise ValueError("max_moves exceeded")
    move_w = np.bincount(p.arc_agent[moved], weights=w[p.arc_conv[moved]], minlength=p.n_agents).astype(np.int64)
    stay_w = np.bincount(p.arc_agent[stayed], weights=w[p.arc_conv[stayed]], minlength=p.n_agents).astype(np.int64)
    if np.any(move_w > p.free):
        raise ValueError("moved into an agent without capacity")
    used = np.minimum(move_w + stay_w, p.free)
    overflow = move_w + stay_w - used
    if np.any(overflow > p.overflow_array()):
        raise ValueError("an agent was pushed further over capacity")
    above = np.maximum(0, used - p.free_at_target)
    agent_cost = int(above.sum()) * p.fairness_cost + int(overflow.sum()) * (p.overflow_cost + p.fairness_cost)
    return int(p.arc_cost[picked].sum()) + int(p.leave_cost[left].sum()) + agent_cost


def solve(
    problem: Problem, *, method: Method = "auto", time_limit: float = 30.0, milp_max_arcs: int = 60_000
) -> Solution:
    """Solves exactly where it can: the flow for unit weights, the MILP for weights or a binding move cap.

    `auto`: flow first; if the global `max_moves` binds, the MILP when the instance has at most
    `milp_max_arcs` arcs, else the Lagrangian flow (feasible, with its proven gap). Weighted → MILP.
    """
    started = time.perf_counter()
    if method == "milp" or not problem.unit_weights:
        return solve_milp(problem, time_limit=time_limit)
    free = solve_flow(problem)
    if problem.max_moves is None or _moves(problem, free.choice) <= problem.max_moves:
        return free if problem.max_moves is None else _retag(free, started, "flow (max_moves not binding)")
    if method == "auto" and len(problem.arc_conv) <= milp_max_arcs:
        return solve_milp(problem, time_limit=max(1.0, time_limit - (time.perf_counter() - started)))
    return _lagrangian(problem, relaxed=free, started=started, time_limit=time_limit)


def _retag(sol: Solution, started: float, detail: str) -> Solution:
    return Solution(
        choice=sol.choice,
        cost=sol.cost,
        bound=sol.bound,
        optimal=sol.optimal,
        method=sol.method,
        seconds=time.perf_counter() - started,
        detail=detail,
    )


def _moves(problem: Problem, choice: NDArray[np.int64]) -> int:
    picked = choice[choice != LEAVE]
    return int(np.count_nonzero(problem.arc_move[picked]))


def solve_flow(problem: Problem, *, move_price: int = 0) -> Solution:
    """Exact min-cost flow (OR-Tools) with unit weights; ignores `problem.max_moves` (see module docstring).

    `move_price` is added to every move arc (the Lagrange multiplier); the returned cost excludes it.
    """
    from ortools.graph.python import min_cost_flow

    if not problem.unit_weights:
        raise ValueError("weighted conversations are not a flow: use solve_milp")
    started = time.perf_counter()
    p = problem
    n, m, e = p.n_conversations, p.n_agents, len(p.arc_conv)
    st, mv, ag, sink = n, n + m, n + 2 * m, n + 3 * m
    big = max(n, 1)
    agents = np.arange(m, dtype=np.int64)
    leavers = np.flatnonzero(p.has_leave).astype(np.int64)
    arc_head = np.where(p.arc_move, mv + p.arc_agent, st + p.arc_agent)
    tails = np.concatenate(
        [p.arc_conv, leavers, st + agents, st + agents, mv + agents, ag + agents, ag + agents]
    ).astype(np.int64)
    heads = np.concatenate(
        [
            arc_head,
            np.full(len(leavers), sink),
            ag + agents,
            np.full(m, sink),
            ag + agents,
            np.full(m, sink),
            np.full(m, sink),
        ]
    ).astype(np.int64)
    caps = np.concatenate(
        [
            np.ones(e + len(leavers), dtype=np.int64),
            np.full(m, big),
            np.minimum(p.overflow_array(), big),
            np.minimum(p.move_cap, big),
            np.minimum(p.free_at_target, big),
            np.minimum(p.free - p.free_at_target, big),
        ]
    ).astype(np.int64)
    costs = np.concatenate(
        [
            p.arc_cost + np.where(p.arc_move, move_price, 0),
            p.leave_cost[leavers],
            np.zeros(m, dtype=np.int64),
            np.full(m, p.overflow_cost + p.fairness_cost),
            np.zeros(m, dtype=np.int64),
            np.zeros(m, dtype=np.int64),
            np.full(m, p.fairness_cost),
        ]
    ).astype(np.int64)
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n] = 1
    supplies[sink] = -n
    smcf.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:  # cannot happen: every conversation has a stay or a leave arc
        raise RuntimeError(f"min cost flow failed: {status}")
    flows = smcf.flows(arcs[: e + len(leavers)])
    choice = np.full(n, LEAVE, dtype=np.int64)
    used = np.flatnonzero(flows[:e] > 0)
    choice[p.arc_conv[used]] = used
    cost = evaluate(_without_move_cap(p), choice)
    return Solution(
        choice=choice,
        cost=cost,
        bound=float(cost),
        optimal=True,
        method="flow",
        seconds=time.perf_counter() - started,
        detail=f"{e} arcs" if move_price == 0 else f"{e} arcs, move price {move_price}",
    )


def _without_move_cap(p: Problem) -> Problem:
    if p.max_moves is None:
        return p
    return Problem(
        n_conversations=p.n_conversations,
        n_agents=p.n_agents,
        arc_conv=p.arc_conv,
        arc_agent=p.arc_agent,
        arc_cost=p.arc_cost,
        arc_move=p.arc_move,
        leave_cost=p.leave_cost,
        has_leave=p.has_leave,
        free=p.free,
        free_at_target=p.free_at_target,
        move_cap=p.move_cap,
        overflow_cap=p.overflow_cap,
        fairness_cost=p.fairness_cost,
        overflow_cost=p.overflow_cost,
        weights=p.weights,
        max_moves=None,
    )


def _lagrangian(problem: Problem, *, relaxed: Solution, started: float, time_limit: float) -> Solution:
    """Bisection over an integer price per move, then spend the moves left unused on single improving moves.

    For any price λ ≥ 0 and its optimal flow x_λ, cost(x_λ) + λ·(moves(x_λ) - max_moves) is a lower bound on
    the constrained optimum (weak duality; `relaxed` is λ = 0), so the plan comes with a proven gap. Keeping
    everything where it is fits any move cap, so a plan exists even if no price is tried in time.
    """
    p = problem
    assert p.max_moves is not None
    limit = p.max_moves
    stay = _keep_everything(p)
    best_choice, best_cost = stay, evaluate(p, stay)
    bound = float(relaxed.cost)
    span = int(np.abs(p.arc_cost).max(initial=0)) + int(np.abs(p.leave_cost).max(initial=0))
    lo, hi = 0, 2 * (span + p.overflow_cost + 2 * p.fairness_cost) + 1  # hi: nothing is worth a move
    steps = 0
    while lo + 1 < hi and time.perf_counter() - started < time_limit:
        mid = (lo + hi) // 2
        sol = solve_flow(p, move_price=mid)
        steps += 1
        moves = _moves(p, sol.choice)
        bound = max(bound, float(sol.cost + mid * (moves - limit)))
        if moves > limit:
            lo = mid
            continue
        hi = mid
        if sol.cost < best_cost:
            best_choice, best_cost = sol.choice, sol.cost
    choice, filled = _fill_budget(p, best_choice)
    cost = evaluate(p, choice)
    optimal = cost <= bound
    return Solution(
        choice=choice,
        cost=cost,
        bound=float(cost) if optimal else bound,
        optimal=optimal,
        method="flow+lagrangian",
        seconds=time.perf_counter() - started,
        detail=f"{steps} priced flow solves, move price {hi}, {filled} moves added greedily",
    )


def _keep_everything(p: Problem) -> NDArray[np.int64]:
    """Every conversation on its stay arc, else unplaced: feasible under any cap (Problem guarantees it)."""
    choice = np.full(p.n_conversations, LEAVE, dtype=np.int64)
    stays = np.flatnonzero(~p.arc_move)
    choice[p.arc_conv[stays]] = stays
    return choice


def _fill_budget(problem: Problem, choice: NDArray[np.int64]) -> tuple[NDArray[np.int64], int]:
    """Spends the moves the Lagrangian plan left unused: single improving moves, best arc gain first.

    Prices make ties move all-or-nothing (e.g. every unassigned conversation is worth the same), so the
    plan that fits `max_moves` often leaves budget unused; each accepted move keeps every constraint and
    lowers the cost, so the bound stays valid and the gap only shrinks.
    """
    p = problem
    assert p.max_moves is not None
    choice = choice.copy()
    budget = p.max_moves - _moves(p, choice)
    if budget <= 0:
        return choice, 0
    w = p.weight_array()
    ocap = p.overflow_array()
    picked = choice[choice != LEAVE]
    moved, stayed = picked[p.arc_move[picked]], picked[~p.arc_move[picked]]
    move_w = np.bincount(p.arc_agent[moved], weights=w[p.arc_conv[moved]], minlength=p.n_agents).astype(np.int64)
    stay_w = np.bincount(p.arc_agent[stayed], weights=w[p.arc_conv[stayed]], minlength=p.n_agents).astype(np.int64)
    move_n = np.bincount(p.arc_agent[moved], minlength=p.n_agents).astype(np.int64)
    now_cost = np.where(choice == LEAVE, p.leave_cost, p.arc_cost[np.maximum(choice, 0)])
    gain = now_cost[p.arc_conv] - p.arc_cost
    order = np.flatnonzero(p.arc_move & (gain > 0) & (choice[p.arc_conv] != np.arange(len(p.arc_conv))))
    order = order[np.argsort(-gain[order], kind="stable")]

    def agent_cost(a: int, mw: int, sw: int) -> float:
        total = mw + sw
        used = min(total, int(p.free[a]))
        over = total - used
        if mw > p.free[a] or over > ocap[a]:
            return float("inf")
        return float(
            p.fairness_cost * max(0, used - int(p.free_at_target[a])) + (p.overflow_cost + p.fairness_cost) * over
        )

    filled = 0
    for arc in order.tolist():
        if budget <= 0:
            break
        c, a = int(p.arc_conv[arc]), int(p.arc_agent[arc])
        old = int(choice[c])
        if old != LEAVE and p.arc_move[old]:
            continue  # already moved elsewhere: changing its target costs no budget but needs a swap check
        if move_n[a] >= p.move_cap[a]:
            continue
        wc = int(w[c])
        delta = float(p.arc_cost[arc] - now_cost[c])
        delta += agent_cost(a, int(move_w[a]) + wc, int(stay_w[a])) - agent_cost(a, int(move_w[a]), int(stay_w[a]))
        if old != LEAVE:
            a0 = int(p.arc_agent[old])
            delta += agent_cost(a0, int(move_w[a0]), int(stay_w[a0]) - wc)
            delta -= agent_cost(a0, int(move_w[a0]), int(stay_w[a0]))
        if not delta < 0:
            continue
        choice[c] = arc
        now_cost[c] = p.arc_cost[arc]
        move_w[a] += wc
        move_n[a] += 1
        if old != LEAVE:
            stay_w[int(p.arc_agent[old])] -= wc
        budget -= 1
        filled += 1
    return choice, filled


def solve_milp(problem: Problem, *, time_limit: float = 30.0) -> Solution:
    """The full formulation as a MILP (scipy `milp`, HiGHS): exact for weights and the global move cap.

    Variables: x per arc (binary), leave per conversation (binary), and per agent y0 (units up to the
    fairness target), y1 (units above it) and o (overflow of stays), all continuous.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array

    started = time.perf_counter()
    p = problem
    n, m, e = p.n_conversations, p.n_agents, len(p.arc_conv)
    w = p.weight_array().astype(float)
    ix = np.arange(e)
    il = e + np.arange(n)
    iy0 = e + n + np.arange(m)
    iy1 = iy0 + m
    io = iy1 + m
    nvar = e + n + 3 * m
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    vals: list[NDArray[np.float64]] = []
    lo: list[float] = []
    up: list[float] = []
    r = 0

    def add(row: NDArray[np.int64], col: NDArray[np.int64], val: NDArray[np.float64]) -> None:
        rows.append(row.astype(np.int64))
        cols.append(col.astype(np.int64))
        vals.append(val.astype(np.float64))

    # each conversation: exactly one arc or leave
    add(r + p.arc_conv, ix, np.ones(e))
    add(r + np.arange(n), il, np.ones(n))
    lo += [1.0] * n
    up += [1.0] * n
    r += n
    # each agent: weighted arcs in = y0 + y1 + o
    add(r + p.arc_agent, ix, w[p.arc_conv])
    for block in (iy0, iy1, io):
        add(r + np.arange(m), block, -np.ones(m))
    lo += [0.0] * m
    up += [0.0] * m
    r += m
    # overflow only from stays: o - stays <= 0
    stays = np.flatnonzero(~p.arc_move)
    add(r + np.arange(m), io, np.ones(m))
    add(r + p.arc_agent[stays], stays, -w[p.arc_conv[stays]])
    lo += [-np.inf] * m
    up += [0.0] * m
    r += m
    # per-agent move caps
    moves = np.flatnonzero(p.arc_move)
    add(r + p.arc_agent[moves], moves, np.ones(len(moves)))
    lo += [0.0] * m
    up += [float(c) for c in p.move_cap]
    r += m
    if p.max_moves is not None:
        add(np.full(len(moves), r), moves, np.ones(len(moves)))
        lo.append(0.0)
        up.append(float(p.max_moves))
        r += 1
    matrix = coo_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, nvar)).tocsr()
    c = np.zeros(nvar)
    c[ix] = p.arc_cost
    c[il] = p.leave_cost
    c[iy1] = p.fairness_cost
    c[io] = p.overflow_cost + p.fairness_cost
    upper = np.concatenate(
        [
            np.ones(e),
            p.has_leave.astype(float),
            p.free_at_target,
            p.free - p.free_at_target,
            np.full(m, np.inf) if p.overflow_cap is None else p.overflow_cap,
        ]
    )
    integrality = np.concatenate([np.ones(e + n), np.zeros(3 * m)])
    res = milp(
        c,
        constraints=LinearConstraint(matrix, np.array(lo), np.array(up)),
        bounds=Bounds(np.zeros(nvar), upper),
        integrality=integrality,
        options={"time_limit": max(0.1, time_limit), "mip_rel_gap": 0.0},
    )
    dual = getattr(res, "mip_dual_bound", None)
    if res.x is None:  # the time limit hit before HiGHS found any plan: keeping everything is always feasible
        choice = _keep_everything(p)
    else:
        choice = np.full(n, LEAVE, dtype=np.int64)
        used = np.flatnonzero(np.rint(res.x[:e]) > 0)
        choice[p.arc_conv[used]] = used
    cost = evaluate(p, choice)
    optimal = bool(res.status == 0)
    bound = float(cost) if optimal else float(dual) if dual is not None and np.isfinite(dual) else -np.inf
    return Solution(
        choice=choice,
        cost=cost,
        bound=bound,
        optimal=optimal,
        method="milp",
        seconds=time.perf_counter() - started,
        detail=str(res.message),
    )
