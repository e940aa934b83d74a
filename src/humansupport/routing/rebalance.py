"""Nightly rebalance planner: which open conversations should move, to whom, and why.

Pure and store-independent: it takes plain data (conversations, agents, affinity, loads held outside the
plan, an injected `now`) and returns a `RebalancePlan` that the CLI prints and the applier executes later.

Objective (maximized): the total affinity of the assignment, minus `move_penalty` per move, minus
`fairness_cost` per conversation an agent holds above its target, with big-M priorities so that, as far as
capacity and the move caps allow, unassigned conversations get an agent first, then conversations of
agents who are over capacity, away or offline move, and only then affinity decides. Subject to: capacity
(conversations held outside the plan count), group eligibility, `max_moves`, `max_moves_per_agent`.
Only agents who are active and available (or of unknown availability) receive conversations; a
conversation may stay with an agent already over capacity, but no agent ends further over capacity than
it started (a move into an agent over capacity needs a move out).

Candidates per conversation (the sparse graph the solver is exact on): its current agent, its customer's
`candidates` most affine eligible agents, and the `fallback_agents` eligible agents of its group with the
most free capacity.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field
from rich.table import Table

from humansupport.extras import require_extra
from humansupport.models import Agent, AgentAvailability, Assignment, Conversation, ConversationStatus

if TYPE_CHECKING:  # numpy and the solver come with the `rebalance` extra: imported when a plan is made
    import numpy as np

    from humansupport.routing.solver import Method, Problem, Solution

__all__ = [
    "AffinityLookup",
    "ExclusionReason",
    "MappingAffinity",
    "Move",
    "MoveReason",
    "RebalanceConfig",
    "RebalancePlan",
    "RebalanceTotals",
    "Unplaced",
    "UnplacedReason",
    "plan_rebalance",
]

PLAN_FORMAT: Final = 1


@runtime_checkable
class AffinityLookup(Protocol):
    """What the planner needs of affinity scoring (`AffinityIndex` implements it)."""

    def score(self, customer_id: str, agent_id: str) -> float:
        """Affinity of a customer to an agent; 0.0 when they never met."""
        ...

    def top_agents(self, customer_id: str, k: int) -> list[tuple[str, float]]:
        """The customer's `k` most affine agents, best first, as (agent_id, score)."""
        ...


class MappingAffinity:
    """An `AffinityLookup` over a plain `{(customer_id, agent_id): score}` mapping (indexed once)."""

    def __init__(self, scores: Mapping[tuple[str, str], float]) -> None:
        self._scores = scores
        by_customer: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for (customer_id, agent_id), value in scores.items():
            by_customer[customer_id].append((agent_id, float(value)))
        self._top = {c: sorted(pairs, key=lambda p: (-p[1], p[0])) for c, pairs in by_customer.items()}

    def score(self, customer_id: str, agent_id: str) -> float:
        return float(self._scores.get((customer_id, agent_id), 0.0))

    def top_agents(self, customer_id: str, k: int) -> list[tuple[str, float]]:
        return self._top.get(customer_id, [])[:k]


class MoveReason(StrEnum):
    """Why a conversation moves, most urgent first (a move gets the first that applies)."""

    UNASSIGNED = "unassigned"
    AGENT_DEACTIVATED = "agent deactivated"
    AGENT_AWAY = "agent away"
    AGENT_OFFLINE = "agent offline"
    OVER_CAPACITY = "over capacity"
    PREFERRED_AGENT = "customer's preferred agent"
    HIGHER_AFFINITY = "higher affinity"
    LOAD_BALANCE = "load above target"
    MAKE_ROOM = "making room"


class UnplacedReason(StrEnum):
    """Why a conversation that needs an agent was left where it is."""

    NO_ELIGIBLE_AGENT = "no eligible agent"
    NO_CAPACITY = "no capacity"
    MOVE_LIMIT = "move limit reached"


class ExclusionReason(StrEnum):
    """Why an open conversation was not considered at all (it is never moved; its load still counts)."""

    STATUS = "status"
    GROUP = "group"
    TOO_NEW = "too new"
    TAGS = "tags"
    EXCLUDED_TAG = "excluded tag"
    RECENT_HUMAN_ACTIVITY = "touched by a human recently"
    NO_ID = "no id"


_DEFAULT_STATUSES: Final = frozenset({ConversationStatus.NEW, ConversationStatus.OPEN})
_NONE: Final[frozenset[int]] = frozenset()
_RECEIVING: Final = frozenset({AgentAvailability.AVAILABLE, AgentAvailability.UNKNOWN})


@dataclass(frozen=True, kw_only=True)
class RebalanceConfig:
    """The knobs of a rebalance (docs/rebalance.md explains each).

    `fairness_target` is per agent: a mapping agent_id -> conversations, or a share of each agent's own
    capacity (0.8 = 80 %), so a fast agent with a larger capacity is not punished. `channel_weights` makes
    capacity weighted (chat 1, email 2): a MILP under `time_limit` seconds instead of a flow.
    """

    move_penalty: float = 0.1
    max_moves: int | None = None
    max_moves_per_agent: int | None = None
    candidates: int = 10
    fallback_agents: int = 3
    groups: frozenset[str] | None = None
    statuses: frozenset[ConversationStatus] = _DEFAULT_STATUSES
    min_age: timedelta | None = None
    tags: frozenset[str] | None = None
    exclude_tags: frozenset[str] = frozenset()
    exclude_human_touched_hours: float | None = None
    default_capacity: int | None = None
    fairness_target: Mapping[str, int] | float | None = None
    fairness_cost: float = 0.05
    channel_weights: Mapping[str, int] | None = None
    default_channel_weight: int = 1
    cost_scale: int = 1000
    solver: Method = "auto"
    time_limit: float = 30.0
    milp_max_arcs: int = 60_000

    def __post_init__(self) -> None:
        if self.candidates < 0 or self.fallback_agents < 0:
            raise ValueError("candidates and fallback_agents must be >= 0")
        if self.max_moves is not None and self.max_moves < 0:
            raise ValueError("max_moves must be >= 0")
        if self.max_moves_per_agent is not None and self.max_moves_per_agent < 0:
            raise ValueError("max_moves_per_agent must be >= 0")
        if self.move_penalty < 0 or self.fairness_cost < 0 or self.cost_scale < 1:
            raise ValueError("move_penalty and fairness_cost must be >= 0, cost_scale >= 1")
        if self.channel_weights is not None and any(w < 1 for w in self.channel_weights.values()):
            raise ValueError("channel weights must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the plan file (so `apply` can show what produced the plan)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, frozenset | set):
                value = sorted(str(v) for v in value)
            elif isinstance(value, timedelta):
                value = value.total_seconds()
            elif isinstance(value, Mapping):
                value = dict(value)
            out[key] = value
        return out


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Move(_Frozen):
    """One planned reassignment; `expected_*` let the applier skip it if a human changed the conversation."""

    conversation_id: str
    customer_id: str | None
    from_agent_id: str | None
    to_agent_id: str
    group_id: str | None = None
    reason: MoveReason
    explanation: str
    score_before: float
    score_after: float
    score_delta: float
    expected_updated_at: datetime | None = None
    expected_version: str | None = None


class Unplaced(_Frozen):
    """A conversation that needed an agent (unassigned, or its agent deactivated) and did not get one."""

    conversation_id: str
    agent_id: str | None
    group_id: str | None = None
    reason: UnplacedReason


class RebalanceTotals(_Frozen):
    """The numbers a person or a cron mail reads first."""

    considered: int
    excluded: int
    moves: int
    affinity_before: float
    affinity_after: float
    affinity_gained: float
    agents_over_capacity_before: int
    agents_over_capacity_after: int
    unassigned_before: int
    unassigned_after: int
    objective: float
    optimal: bool
    gap: float | None  # None: the solver stopped before it had a bound
    solver: str
    solve_seconds: float


class RebalancePlan(_Frozen):
    """What a rebalance would do: every move with its reason, what is left and why, and the totals."""

    format: int = PLAN_FORMAT
    created_at: datetime
    vendor: str | None = None  # set by `humansupport rebalance` so `rebalance apply plan.json` needs no VENDOR
    account: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    moves: list[Move]
    unplaced: list[Unplaced]
    excluded: dict[str, int]
    totals: RebalanceTotals

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (ISO times, plain strings)."""
        return self.model_dump(mode="json")

    def assignments(self) -> list[Assignment]:
        """The moves as the adapter's `assign_many` input, guarded so a human's change since planning wins."""
        return [
            Assignment(
                conversation_id=m.conversation_id,
                agent_id=m.to_agent_id,
                expected_updated_at=m.expected_updated_at,
                expected_version=m.expected_version,
                expected_assignee_id=m.from_agent_id,
                reason=m.explanation,
            )
            for m in self.moves
        ]

    def table(self, *, limit: int | None = 50) -> Table:
        """A rich table of the moves for people (`--json` is for machines); `limit=None` shows all."""
        table = Table(title=self.summary(), show_lines=False)
        for column in ("conversation", "from", "to", "reason", "affinity", "delta"):
            table.add_column(column, justify="right" if column in ("affinity", "delta") else "left")
        shown = self.moves if limit is None else self.moves[:limit]
        for m in shown:
            table.add_row(
                m.conversation_id,
                m.from_agent_id or "-",
                m.to_agent_id,
                m.reason.value,
                f"{m.score_after:.2f}",
                f"{m.score_delta:+.2f}",
            )
        if len(shown) < len(self.moves):
            table.caption = f"{len(self.moves) - len(shown)} more moves not shown"
        return table

    def summary(self) -> str:
        """One line for cron mail."""
        t = self.totals
        return (
            f"rebalance: {t.moves} moves, affinity {t.affinity_gained:+.2f}, "
            f"over capacity {t.agents_over_capacity_before}->{t.agents_over_capacity_after}, "
            f"unassigned {t.unassigned_before}->{t.unassigned_after}, "
            f"{t.considered} considered, {t.excluded} excluded, {'optimal' if t.optimal else _gap(t.gap)}"
        )

    def save(self, path: str | Path) -> None:
        """Writes the plan as JSON (for `humansupport rebalance apply plan.json`)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> RebalancePlan:
        """Reads a plan written by `save`; refuses a plan format it does not know."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != PLAN_FORMAT:
            raise ValueError(f"unknown plan format {data.get('format')!r} (expected {PLAN_FORMAT})")
        return cls.model_validate(data)


def _gap(gap: float | None) -> str:
    return "no bound" if gap is None else f"gap {gap:.2%}"


# --- building the problem ---------------------------------------------------------------------------------


@dataclass(kw_only=True)
class _Built:
    """A `Problem` plus what is needed to turn its solution back into moves."""

    problem: Problem
    conversations: list[Conversation]
    agent_ids: list[str]
    arc_score: np.ndarray[Any, np.dtype[np.float64]]
    current: list[int | None]  # agent index currently holding each conversation (None: unassigned/unknown)
    current_score: list[float]
    preferred: list[str | None]
    excluded: dict[str, int]
    excluded_held: np.ndarray[Any, np.dtype[np.int64]]
    capacity: np.ndarray[Any, np.dtype[np.int64]]
    fixed: np.ndarray[Any, np.dtype[np.int64]]
    agents: list[Agent]
    has_candidates: list[bool] = field(default_factory=list)


def _exclusion(
    conv: Conversation,
    config: RebalanceConfig,
    now: datetime,
    last_human_activity: Mapping[str, datetime] | None,
) -> ExclusionReason | None:
    if not conv.id:
        return ExclusionReason.NO_ID
    if conv.status not in config.statuses:
        return ExclusionReason.STATUS
    if config.groups is not None and conv.group_id not in config.groups:
        return ExclusionReason.GROUP
    if config.min_age is not None and (conv.created_at is None or now - conv.created_at < config.min_age):
        return ExclusionReason.TOO_NEW
    tags = set(conv.tags)
    if config.tags is not None and not (tags & config.tags):
        return ExclusionReason.TAGS
    if tags & config.exclude_tags:
        return ExclusionReason.EXCLUDED_TAG
    if config.exclude_human_touched_hours is not None:
        touched = conv.updated_at if last_human_activity is None else last_human_activity.get(conv.id)
        if touched is not None and now - touched < timedelta(hours=config.exclude_human_touched_hours):
            return ExclusionReason.RECENT_HUMAN_ACTIVITY
    return None


def _weight(conv: Conversation, config: RebalanceConfig) -> int:
    if config.channel_weights is None:
        return 1
    return int(config.channel_weights.get(conv.channel or "", config.default_channel_weight))


def _build_problem(
    conversations: Iterable[Conversation],
    agents: Iterable[Agent],
    affinity: Mapping[tuple[str, str], float] | AffinityLookup,
    *,
    now: datetime,
    config: RebalanceConfig | None = None,
    loads: Mapping[str, int] | None = None,
    last_human_activity: Mapping[str, datetime] | None = None,
) -> _Built:
    """Filters, builds the candidate graph and the integer costs (see `plan_rebalance`)."""
    import numpy as np

    from humansupport.routing.solver import Problem

    cfg = config or RebalanceConfig()
    lookup = affinity if isinstance(affinity, AffinityLookup) else MappingAffinity(affinity)
    agent_list = list(agents)
    index = {a.id: i for i, a in enumerate(agent_list)}
    m = len(agent_list)
    capacity = np.array(
        [
            (a.capacity if a.capacity is not None else cfg.default_capacity)
            if (a.capacity is not None or cfg.default_capacity is not None)
            else -1
            for a in agent_list
        ],
        dtype=np.int64,
    )
    fixed = np.zeros(m, dtype=np.int64)
    for agent_id, count in (loads or {}).items():
        if agent_id in index:
            fixed[index[agent_id]] += int(count)
    excluded: dict[str, int] = defaultdict(int)
    excluded_held = np.zeros(m, dtype=np.int64)
    movable: list[Conversation] = []
    for conv in conversations:
        why = _exclusion(conv, cfg, now, last_human_activity)
        if why is None:
            movable.append(conv)
            continue
        excluded[why.value] += 1
        if conv.assignee_id in index and conv.status.is_open:
            excluded_held[index[conv.assignee_id]] += _weight(conv, cfg)
    fixed += excluded_held
    n = len(movable)
    weights = np.array([_weight(c, cfg) for c in movable], dtype=np.int64)

    receiving = [a.active and a.availability in _RECEIVING for a in agent_list]
    by_group: dict[str | None, list[int]] = defaultdict(list)
    for i, a in enumerate(agent_list):
        if receiving[i]:
            by_group[None].append(i)
            for g in a.group_ids:
                by_group[g].append(i)
    # current load of in-scope conversations, for free capacity and fallbacks
    held = fixed.copy()
    current: list[int | None] = []
    for conv, w in zip(movable, weights, strict=True):
        holder = index.get(conv.assignee_id) if conv.assignee_id is not None else None
        current.append(holder)
        if holder is not None:
            held[holder] += w
    unlimited = capacity < 0
    free_now = np.where(unlimited, np.iinfo(np.int64).max // 4, capacity - held)
    fallbacks: dict[str | None, list[int]] = {}
    for group, members in by_group.items():
        order = sorted(members, key=lambda j: (-int(free_now[j]), agent_list[j].id))
        fallbacks[group] = order[: cfg.fallback_agents]

    eligible_sets = {group: frozenset(members) for group, members in by_group.items()}
    s = cfg.cost_scale
    arc_conv: list[int] = []
    arc_agent: list[int] = []
    arc_score: list[float] = []
    arc_move: list[bool] = []
    has_leave = np.zeros(n, dtype=bool)
    current_score: list[float] = []
    preferred: list[str | None] = []
    has_candidates: list[bool] = []
    fetch = max(cfg.candidates * 4, cfg.candidates + 16)
    for ci, conv in enumerate(movable):
        eligible_set = eligible_sets.get(conv.group_id, _NONE)
        cur = current[ci]
        top = lookup.top_agents(conv.customer_id, fetch) if conv.customer_id else []
        preferred.append(top[0][0] if top else None)
        chosen: dict[int, float] = {}
        for agent_id, value in top:
            j = index.get(agent_id)
            if j is not None and j in eligible_set and j not in chosen:
                chosen[j] = float(value)
                if len(chosen) >= cfg.candidates:
                    break
        for j in fallbacks.get(conv.group_id if conv.group_id is not None else None, []):
            if j not in chosen:
                chosen[j] = lookup.score(conv.customer_id, agent_list[j].id) if conv.customer_id else 0.0
        stay_ok = cur is not None and agent_list[cur].active
        cur_score = lookup.score(conv.customer_id, agent_list[cur].id) if cur is not None and conv.customer_id else 0.0
        current_score.append(cur_score)
        if stay_ok:
            assert cur is not None
            chosen.pop(cur, None)
            arc_conv.append(ci)
            arc_agent.append(cur)
            arc_score.append(cur_score)
            arc_move.append(False)
        else:
            has_leave[ci] = True
        has_candidates.append(bool(chosen))
        for j, value in chosen.items():
            arc_conv.append(ci)
            arc_agent.append(j)
            arc_score.append(value)
            arc_move.append(True)

    score_arr = np.array(arc_score, dtype=np.float64)
    move_arr = np.array(arc_move, dtype=bool)
    conv_arr = np.array(arc_conv, dtype=np.int64)
    agent_arr = np.array(arc_agent, dtype=np.int64)
    aff_int = np.rint(score_arr * s).astype(np.int64)
    penalty = round(cfg.move_penalty * s)
    fair = round(cfg.fairness_cost * s)
    big = 2 * (int(np.abs(aff_int).max(initial=0)) + penalty + fair) + 1
    away_stay = np.zeros(len(conv_arr), dtype=np.int64)
    if len(conv_arr):
        away = np.array(
            [a.availability in (AgentAvailability.AWAY, AgentAvailability.OFFLINE) for a in agent_list], dtype=bool
        )
        away_stay = np.where(~move_arr & away[agent_arr], big, 0)
    arc_cost = -aff_int + np.where(move_arr, penalty, 0) + away_stay

    free = np.where(unlimited, int(weights.sum()) + 1, np.maximum(0, capacity - fixed)).astype(np.int64)
    target = _targets(cfg, agent_list, capacity)
    free_at_target = np.where(target < 0, free, np.clip(target - fixed, 0, None)).astype(np.int64)
    free_at_target = np.minimum(free_at_target, free)
    stays_held = np.zeros(m, dtype=np.int64)
    np.add.at(stays_held, agent_arr[~move_arr], weights[conv_arr[~move_arr]])
    overflow_cap = np.where(unlimited, 0, np.maximum(0, stays_held - free)).astype(np.int64)
    move_cap = np.full(m, n + 1 if cfg.max_moves_per_agent is None else cfg.max_moves_per_agent, dtype=np.int64)
    problem = Problem(
        n_conversations=n,
        n_agents=m,
        arc_conv=conv_arr,
        arc_agent=agent_arr,
        arc_cost=arc_cost.astype(np.int64),
        arc_move=move_arr,
        leave_cost=np.full(n, 3 * big, dtype=np.int64),
        has_leave=has_leave,
        free=free,
        free_at_target=free_at_target,
        move_cap=move_cap,
        overflow_cap=overflow_cap,
        fairness_cost=fair,
        overflow_cost=big,
        weights=None if cfg.channel_weights is None else weights,
        max_moves=cfg.max_moves,
    )
    return _Built(
        problem=problem,
        conversations=movable,
        agent_ids=[a.id for a in agent_list],
        arc_score=score_arr,
        current=current,
        current_score=current_score,
        preferred=preferred,
        excluded=dict(excluded),
        excluded_held=excluded_held,
        capacity=capacity,
        fixed=fixed,
        agents=agent_list,
        has_candidates=has_candidates,
    )


def _targets(cfg: RebalanceConfig, agents: list[Agent], capacity: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Per-agent fairness target in conversations; -1 means none (no fairness cost)."""
    import numpy as np

    target = np.full(len(agents), -1, dtype=np.int64)
    if cfg.fairness_target is None:
        return target
    if isinstance(cfg.fairness_target, Mapping):
        for i, a in enumerate(agents):
            if a.id in cfg.fairness_target:
                target[i] = int(cfg.fairness_target[a.id])
        return target
    share = float(cfg.fairness_target)
    return np.where(capacity >= 0, np.floor(capacity * share).astype(np.int64), -1)


# --- planning -----------------------------------------------------------------------------------------


def plan_rebalance(
    conversations: Iterable[Conversation],
    agents: Iterable[Agent],
    affinity: Mapping[tuple[str, str], float] | AffinityLookup,
    *,
    now: datetime,
    config: RebalanceConfig | None = None,
    loads: Mapping[str, int] | None = None,
    last_human_activity: Mapping[str, datetime] | None = None,
) -> RebalancePlan:
    """Plans a rebalance of open conversations; never touches a helpdesk.

    `conversations`: the open conversations (any status: the filters choose; excluded ones still count as
    their agent's load). `loads`: conversations each agent holds that are NOT in `conversations` (e.g. in
    other groups or statuses not fetched); they count against capacity. `last_human_activity`: when a human
    last touched each conversation; without it `updated_at` is used, which is conservative. `now` is
    injected (no wall clock).
    """
    require_extra("rebalance")
    from humansupport.routing.solver import solve

    cfg = config or RebalanceConfig()
    built = _build_problem(
        conversations, agents, affinity, now=now, config=cfg, loads=loads, last_human_activity=last_human_activity
    )
    solution = solve(built.problem, method=cfg.solver, time_limit=cfg.time_limit, milp_max_arcs=cfg.milp_max_arcs)
    return _to_plan(built, solution, cfg, now)


def _over_capacity(load: np.ndarray[Any, Any], built: _Built) -> int:
    import numpy as np

    active = np.array([a.active for a in built.agents], dtype=bool)
    limited = built.capacity >= 0
    return int(np.count_nonzero(active & limited & (load > built.capacity)))


def _to_plan(built: _Built, solution: Solution, cfg: RebalanceConfig, now: datetime) -> RebalancePlan:
    import numpy as np

    from humansupport.routing.solver import LEAVE

    p = built.problem
    n, m = p.n_conversations, p.n_agents
    w = p.weight_array()
    before = built.fixed.copy()
    for ci, cur in enumerate(built.current):
        if cur is not None:
            before[cur] += w[ci]
    over_before = np.zeros(m, dtype=bool)
    limited = built.capacity >= 0
    over_before[:] = limited & (before > built.capacity)
    after = built.fixed.copy()
    for ci in range(n):
        arc = int(solution.choice[ci])
        if arc != LEAVE:
            after[int(p.arc_agent[arc])] += w[ci]
        elif (holder := built.current[ci]) is not None:
            after[holder] += w[ci]
    moves_used = int(np.count_nonzero(p.arc_move[solution.choice[solution.choice != LEAVE]]))
    moves_into = np.bincount(
        p.arc_agent[solution.choice[solution.choice != LEAVE]][p.arc_move[solution.choice[solution.choice != LEAVE]]],
        minlength=m,
    )
    agent_ids = built.agent_ids
    moves: list[Move] = []
    unplaced: list[Unplaced] = []
    aff_before = 0.0
    aff_after = 0.0
    for ci, conv in enumerate(built.conversations):
        cur = built.current[ci]
        arc = int(solution.choice[ci])
        aff_before += built.current_score[ci] if cur is not None else 0.0
        if arc == LEAVE:
            aff_after += built.current_score[ci] if cur is not None else 0.0
            unplaced.append(
                Unplaced(
                    conversation_id=conv.id,
                    agent_id=conv.assignee_id,
                    group_id=conv.group_id,
                    reason=_unplaced_reason(built, ci, cfg, moves_used, moves_into),
                )
            )
            continue
        score = float(built.arc_score[arc])
        aff_after += score
        if not p.arc_move[arc]:
            continue
        to = int(p.arc_agent[arc])
        before_score = built.current_score[ci] if cur is not None else 0.0
        reason = _move_reason(built, ci, cur, to, score, before_score, over_before)
        moves.append(
            Move(
                conversation_id=conv.id,
                customer_id=conv.customer_id,
                from_agent_id=conv.assignee_id,
                to_agent_id=agent_ids[to],
                group_id=conv.group_id,
                reason=reason,
                explanation=_explain(reason, score, before_score, built.agents[to]),
                score_before=before_score,
                score_after=score,
                score_delta=score - before_score,
                expected_updated_at=conv.updated_at,
                expected_version=conv.version,
            )
        )
    unassigned_before = sum(1 for c in built.conversations if c.assignee_id is None)
    totals = RebalanceTotals(
        considered=n,
        excluded=sum(built.excluded.values()),
        moves=len(moves),
        affinity_before=aff_before,
        affinity_after=aff_after,
        affinity_gained=aff_after - aff_before,
        agents_over_capacity_before=_over_capacity(before, built),
        agents_over_capacity_after=_over_capacity(after, built),
        unassigned_before=unassigned_before,
        unassigned_after=sum(1 for u in unplaced if u.agent_id is None),
        objective=-solution.cost / cfg.cost_scale,
        optimal=solution.optimal,
        gap=solution.gap if math.isfinite(solution.gap) else None,
        solver=solution.method,
        solve_seconds=solution.seconds,
    )
    return RebalancePlan(
        created_at=now,
        config=cfg.to_dict(),
        moves=moves,
        unplaced=unplaced,
        excluded=dict(sorted(built.excluded.items())),
        totals=totals,
    )


def _move_reason(
    built: _Built,
    ci: int,
    cur: int | None,
    to: int,
    score: float,
    before_score: float,
    over_before: np.ndarray[Any, Any],
) -> MoveReason:
    import numpy as np

    conv = built.conversations[ci]
    if conv.assignee_id is None:
        return MoveReason.UNASSIGNED
    if cur is None or not built.agents[cur].active:
        return MoveReason.AGENT_DEACTIVATED
    availability = built.agents[cur].availability
    if availability == AgentAvailability.AWAY:
        return MoveReason.AGENT_AWAY
    if availability == AgentAvailability.OFFLINE:
        return MoveReason.AGENT_OFFLINE
    if over_before[cur]:
        return MoveReason.OVER_CAPACITY
    if score > before_score:
        if built.preferred[ci] == built.agent_ids[to]:
            return MoveReason.PREFERRED_AGENT
        return MoveReason.HIGHER_AFFINITY
    if built.problem.fairness_cost > 0 and bool(np.any(built.problem.free_at_target < built.problem.free)):
        return MoveReason.LOAD_BALANCE
    return MoveReason.MAKE_ROOM


def _explain(reason: MoveReason, score: float, before: float, to: Agent) -> str:
    who = to.name or to.id
    return f"{reason.value}: to {who} (affinity {score:.2f}, was {before:.2f})"


def _unplaced_reason(
    built: _Built, ci: int, cfg: RebalanceConfig, moves_used: int, moves_into: np.ndarray[Any, Any]
) -> UnplacedReason:
    import numpy as np

    if not built.has_candidates[ci]:
        return UnplacedReason.NO_ELIGIBLE_AGENT
    p = built.problem
    if cfg.max_moves is not None and moves_used >= cfg.max_moves:
        return UnplacedReason.MOVE_LIMIT
    lo, hi = np.searchsorted(p.arc_conv, [ci, ci + 1])  # arcs are built conversation by conversation
    targets = p.arc_agent[lo:hi][p.arc_move[lo:hi]]
    if len(targets) and bool(np.all(moves_into[targets] >= p.move_cap[targets])):
        return UnplacedReason.MOVE_LIMIT
    return UnplacedReason.NO_CAPACITY
