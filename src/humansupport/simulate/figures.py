"""A replay's figures, through `humansupport.metrics` so "as it happened" is `humansupport metrics` to the digit.

The replay turns each conversation of the period back into a `ConversationFact`: the agent the policy chose,
the first reply moved by the wait it added (the historical reply delay after assignment), the last message
moved likewise. A conversation that got its historical agent with no added wait keeps its historical fact,
rating included; any other loses its rating (a replay cannot know what a customer would have said of someone
else). Conversations before the period stay as they happened: they say who each customer's preferred agent was.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from datetime import UTC, datetime
from typing import Any, Final

from ..metrics import ConversationFact, metrics_from_facts
from .engine import Outcome, ReplayResult
from .history import SimHistory

__all__ = ["MISS_REASONS", "figures", "percentile", "replayed_facts"]

#: why a returning customer's conversation did not reach their preferred agent, in report order
MISS_REASONS: Final = (
    "away",
    "at capacity",
    "wait expired",
    "no history",
    "another agent chosen",
    "unassigned at the end",
)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of `values` (sorted or not); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def replayed_facts(history: SimHistory, result: ReplayResult) -> list[ConversationFact]:
    """The facts the metrics read: history before the period, the replay's outcomes within it."""
    by_id = {o.conversation.id: o for o in result.outcomes}
    out: list[ConversationFact] = []
    for fact in history.facts:
        outcome = by_id.get(fact.id)
        if outcome is None:
            out.append(fact)
            continue
        conv = outcome.conversation
        wait = outcome.wait
        if outcome.agent_id == fact.assignee_id and (wait is None or wait == 0):
            out.append(fact)
            continue
        shift = wait or 0.0
        first = conv.arrival + shift + conv.reply_delay if outcome.agent_id and conv.reply_delay is not None else None
        last = conv.arrival + shift + conv.last_delay if conv.last_delay is not None else None
        out.append(
            ConversationFact(
                id=fact.id,
                customer_id=fact.customer_id,
                assignee_id=outcome.agent_id,
                status=fact.status,
                created_at=fact.created_at,
                first_reply_at=None if first is None else _dt(first),
                last_message_at=None if last is None else _dt(last),
                rating=None,
            )
        )
    return out


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value / 3600, 2)


def _preferred_counts(
    facts: list[ConversationFact], outcomes: dict[str, Outcome], history: SimHistory, *, wait: float
) -> tuple[dict[str, int], dict[str, Any]]:
    """Returning customers' conversations in the period: those that missed their preferred agent (by why), and
    how many reached them out of how many could have.

    The preferred agent is the metrics' (most of the customer's earlier conversations, as this replay assigned
    them). A conversation *could have* reached them when it did, or when they were in the helpdesk and on shift
    at some moment from its arrival to the end of the wait the settings allow (capacity aside): a bound no replay
    of the same settings can beat, so `reached / possible` is at most 1 by construction.
    """
    reasons: Counter[str] = Counter()
    reached = possible = 0
    agents = {a.id: a for a in history.agents}
    by_customer: dict[str, list[ConversationFact]] = {}
    for f in facts:
        if f.customer_id:
            by_customer.setdefault(f.customer_id, []).append(f)
    start, end = history.start, history.end_ts
    for convs in by_customer.values():
        convs.sort(key=lambda f: (f.created_at is None, f.created_at, f.id))
        earlier: Counter[str] = Counter()
        for f in convs:
            outcome = outcomes.get(f.id)
            if earlier and outcome is not None and f.created_at is not None and f.created_at >= start:
                top = max(earlier.values())
                preferred = min(a for a, n in earlier.items() if n == top)
                if f.assignee_id == preferred:
                    reached += 1
                    possible += 1
                else:
                    reasons[_why(outcome, preferred)] += 1
                    agent = agents.get(preferred)
                    arrival = outcome.conversation.arrival
                    possible += agent is not None and agent.present_during(arrival, min(arrival + wait, end))
            if f.assignee_id:
                earlier[f.assignee_id] += 1
    missed = {"total": sum(reasons.values()), **{r: reasons.get(r, 0) for r in MISS_REASONS}}
    reach = {"reached": reached, "possible": possible, "reaches": round(reached / possible, 4) if possible else None}
    return missed, reach


def _why(outcome: Outcome, preferred: str) -> str:
    if outcome.agent_id is None:
        return "unassigned at the end"
    if outcome.wait_expired:
        return "wait expired"
    if outcome.preferred == preferred and outcome.preferred_state == "away":
        return "away"
    if outcome.preferred == preferred and outcome.preferred_state == "full":
        return "at capacity"
    if outcome.no_history:
        return "no history"
    return "another agent chosen"


def figures(
    history: SimHistory, result: ReplayResult, *, timeout_hours: float, wait_hours: float | None = None
) -> dict[str, Any]:
    """Every figure of one policy's replay (JSON-ready; times in hours, shares in [0, 1]).

    `wait_hours` is how long the settings let a conversation wait for its preferred agent (default: the
    timeout), which bounds what the replay could have reached (`possible_preferred`).
    """
    facts = replayed_facts(history, result)
    report = metrics_from_facts(facts, since=history.start, until=history.end, agent_names=history.agent_names)
    overall = report.overall
    outcomes = {o.conversation.id: o for o in result.outcomes}
    end = history.end_ts
    waits: list[float] = []
    unassigned = past_timeout = 0
    timeout = timeout_hours * 3600.0
    for o in result.outcomes:
        if o.wait is not None:
            waits.append(o.wait)
            past_timeout += o.wait > timeout
        elif o.stage != "unassigned":
            unassigned += 1
            past_timeout += end - o.conversation.arrival > timeout
    replayed = result.respects_presence
    loads = _load_spread(history, result)
    wait = (timeout_hours if wait_hours is None else wait_hours) * 3600.0
    missed, reach = _preferred_counts(facts, outcomes, history, wait=wait)
    return {
        "policy": result.policy,
        "conversations": overall["conversations"],
        "preferred_agent_share": overall["preferred_agent_share"],
        "upc": overall["upc"],
        "coc": overall["coc"],
        "secon": overall["secon"],
        "repeat_contact_rate": overall["repeat_contact_rate"],
        "median_first_reply_hours": overall["median_first_reply_hours"],
        "median_resolution_hours": overall["median_resolution_hours"],
        "wait_to_first_agent_hours": {
            "median": _hours(statistics.median(waits)) if replayed and waits else None,
            "p90": _hours(percentile(waits, 0.9)) if replayed else None,
            "max": _hours(max(waits)) if replayed and waits else None,
        },
        "assigned": len(waits),
        "unassigned_at_end": unassigned if replayed else sum(o.agent_id is None for o in result.outcomes),
        "waited_past_timeout": past_timeout if replayed else None,
        "load": loads,
        "missed_preferred": missed,
        "possible_preferred": reach,
        "capacity_respected": result.respects_capacity and not loads["over_capacity"],
        "metrics": overall,
    }


def _load_spread(history: SimHistory, result: ReplayResult) -> dict[str, Any]:
    """Conversations per agent who worked in the period (on shift at some point, or given any)."""
    start, end = history.start_ts, history.end_ts
    working = {a.id for a in history.agents if any(on < end and off > start for on, off in a.shifts)} | set(
        result.assignments
    )
    counts = [result.assignments.get(a, 0) for a in sorted(working)]
    mean = statistics.fmean(counts) if counts else 0.0
    over = sorted(a.id for a in history.agents if a.capacity is not None and result.peak_load.get(a.id, 0) > a.capacity)
    return {
        "agents": len(counts),
        "min": min(counts) if counts else None,
        "max": max(counts) if counts else None,
        "mean": round(mean, 1),
        "cv": round(statistics.pstdev(counts) / mean, 3) if counts and mean else None,
        "over_capacity": over,
    }
