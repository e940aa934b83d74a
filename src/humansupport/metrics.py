"""Relationship metrics beside the classic speed figures, so a team sees both.

Continuity indices come from primary care research, where "provider" is our agent and "visit" our
conversation; each is computed per customer over their assigned conversations in time order (customers
with at least two), then averaged:

- UPC, Usual Provider of Care: share of the customer's conversations handled by their most frequent agent.
- COC, Bice-Boxerman Continuity of Care: (Σ n_j² - N) / (N (N - 1)), n_j conversations with agent j;
  1 when one agent handled all, 0 when every conversation had a different agent.
- SECON, Sequential Continuity: share of consecutive conversation pairs handled by the same agent.

Also: preferred-agent share (conversations of returning customers handled by the agent who had handled
most of their earlier ones), repeat-contact rate, ratings by relationship depth (first contact with
that agent vs returning to the same agent), first reply time and resolution time.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .models import Conversation, RatingScore
from .store import Store

__all__ = [
    "ConversationFact",
    "MetricsReport",
    "coc",
    "compute_metrics",
    "iter_store_facts",
    "metrics_from_facts",
    "secon",
    "store_facts",
    "upc",
]


def upc(agents: Sequence[str]) -> float:
    """Usual Provider of Care: the most frequent agent's share of the sequence."""
    if not agents:
        raise ValueError("UPC needs at least one conversation")
    return Counter(agents).most_common(1)[0][1] / len(agents)


def coc(agents: Sequence[str]) -> float:
    """Bice-Boxerman Continuity of Care index, (Σ n_j² - N) / (N (N - 1)); needs N ≥ 2."""
    n = len(agents)
    if n < 2:
        raise ValueError("COC needs at least two conversations")
    return (sum(c * c for c in Counter(agents).values()) - n) / (n * (n - 1))


def secon(agents: Sequence[str]) -> float:
    """Sequential Continuity: share of consecutive pairs with the same agent; needs N ≥ 2."""
    n = len(agents)
    if n < 2:
        raise ValueError("SECON needs at least two conversations")
    return sum(1 for a, b in itertools.pairwise(agents) if a == b) / (n - 1)


@dataclass(frozen=True, kw_only=True, slots=True)
class ConversationFact:
    """What the metrics need of one conversation."""

    id: str
    customer_id: str | None
    assignee_id: str | None
    status: str
    created_at: datetime | None
    first_reply_at: datetime | None = None
    last_message_at: datetime | None = None
    rating: str | None = None


@dataclass(kw_only=True)
class MetricsReport:
    """Overall figures, per agent and per period (month); times in hours, shares in [0, 1]."""

    overall: dict[str, Any]
    per_agent: dict[str, dict[str, Any]] = field(default_factory=dict)
    per_period: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall, "per_agent": self.per_agent, "per_period": self.per_period}


def _median_hours(values: list[float]) -> float | None:
    return round(statistics.median(values) / 3600, 2) if values else None


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def compute_metrics(
    store: Store,
    account: str,
    *,
    repeat_window_days: float = 7.0,
    agent_names: Mapping[str, str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> MetricsReport:
    """Metrics over every stored conversation of an account, or those created in [since, until)."""
    facts = store_facts(store, account)
    names = agent_names if agent_names is not None else {a.id: a.name or a.id for a, _ in store.agents(account)}
    return metrics_from_facts(facts, repeat_window_days=repeat_window_days, agent_names=names, since=since, until=until)


def store_facts(store: Store, account: str) -> list[ConversationFact]:
    """What the metrics need of every stored conversation of an account, in creation order."""
    return [fact for _, fact in iter_store_facts(store, account)]


def iter_store_facts(store: Store, account: str) -> Iterator[tuple[Conversation, ConversationFact]]:
    """Each stored conversation with its fact, in creation order (`humansupport simulate` needs both)."""
    first = store.first_replies(account)
    last = store.last_messages(account)
    ratings: dict[str, str] = {}
    for r in store.ratings(account):
        if r.conversation_id and r.score in (RatingScore.GOOD, RatingScore.BAD):
            ratings[r.conversation_id] = str(r.score)
    for c in store.iter_conversations(account):
        yield (
            c,
            ConversationFact(
                id=c.id,
                customer_id=c.customer_id,
                assignee_id=c.assignee_id,
                status=str(c.status),
                created_at=c.created_at,
                first_reply_at=first.get(c.id),
                last_message_at=last.get(c.id),
                rating=ratings.get(c.id),
            ),
        )


def metrics_from_facts(
    facts: Sequence[ConversationFact],
    *,
    repeat_window_days: float = 7.0,
    agent_names: Mapping[str, str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> MetricsReport:
    """The metrics of a set of conversations (pure: tests feed hand-made facts).

    With `since`/`until`, only conversations created in [since, until) are counted; earlier ones still tell
    who each customer's preferred agent was (a period boundary does not make a customer new), later ones
    and those without a creation time are left out.
    """
    names = agent_names or {}
    period = since is not None or until is not None

    def inside(f: ConversationFact) -> bool:
        if not period:
            return True
        return (
            f.created_at is not None
            and (since is None or f.created_at >= since)
            and (until is None or f.created_at < until)
        )

    if until is not None:
        facts = [f for f in facts if f.created_at is not None and f.created_at < until]
    by_customer: dict[str, list[ConversationFact]] = defaultdict(list)
    for f in facts:
        if f.customer_id:
            by_customer[f.customer_id].append(f)
    window = timedelta(days=repeat_window_days)

    upcs: list[float] = []
    cocs: list[float] = []
    secons: list[float] = []
    preferred_hits = preferred_total = 0
    open_hits = open_total = 0
    resolved = repeats = 0
    depth: dict[str, list[int]] = {"first_contact": [0, 0], "returning_same_agent": [0, 0]}
    agent_rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"conversations": 0, "returning": 0, "preferred": 0, "good": 0, "rated": 0, "first_reply": []}
    )
    period_rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"conversations": 0, "preferred": 0, "returning": 0, "first_reply": [], "resolution": []}
    )

    for convs in by_customer.values():
        convs.sort(key=lambda f: (f.created_at is None, f.created_at, f.id))
        sequence = [f.assignee_id for f in convs if f.assignee_id and inside(f)]
        if len(sequence) >= 2:
            upcs.append(upc(sequence))
            cocs.append(coc(sequence))
            secons.append(secon(sequence))
        earlier: Counter[str] = Counter()
        for i, f in enumerate(convs):
            if not inside(f):
                if f.assignee_id:
                    earlier[f.assignee_id] += 1
                continue
            preferred = _preferred(earlier)
            is_open = f.status in ("new", "open", "on_hold")
            if preferred is not None:
                preferred_total += 1
                hit = f.assignee_id == preferred
                preferred_hits += hit
                if is_open:
                    open_total += 1
                    open_hits += hit
                if f.assignee_id:
                    row = agent_rows[f.assignee_id]
                    row["returning"] += 1
                    row["preferred"] += hit
            if f.rating and f.assignee_id:
                key = "returning_same_agent" if earlier[f.assignee_id] else "first_contact"
                depth[key][1] += 1
                depth[key][0] += f.rating == "good"
            if f.status in ("solved", "closed"):
                resolved += 1
                end = f.last_message_at or f.created_at
                nxt = convs[i + 1] if i + 1 < len(convs) else None
                if end and nxt and nxt.created_at and nxt.created_at - end <= window:
                    repeats += 1
            if f.assignee_id:
                earlier[f.assignee_id] += 1

    counted = [f for f in facts if inside(f)]
    first_replies: list[float] = []
    resolutions: list[float] = []
    for f in counted:
        frt = (f.first_reply_at - f.created_at).total_seconds() if f.first_reply_at and f.created_at else None
        res = (
            (f.last_message_at - f.created_at).total_seconds()
            if f.status in ("solved", "closed") and f.last_message_at and f.created_at
            else None
        )
        if frt is not None and frt >= 0:
            first_replies.append(frt)
        if res is not None and res >= 0:
            resolutions.append(res)
        if f.assignee_id:
            row = agent_rows[f.assignee_id]
            row["conversations"] += 1
            if f.rating:
                row["rated"] += 1
                row["good"] += f.rating == "good"
            if frt is not None and frt >= 0:
                row["first_reply"].append(frt)
        if f.created_at is not None:
            prow = period_rows[f.created_at.strftime("%Y-%m")]
            prow["conversations"] += 1
            if frt is not None and frt >= 0:
                prow["first_reply"].append(frt)
            if res is not None and res >= 0:
                prow["resolution"].append(res)

    # preferred share per period needs the customer-ordered pass; a second light pass keeps it simple
    for convs in by_customer.values():
        earlier = Counter()
        for f in convs:
            preferred = _preferred(earlier)
            if preferred is not None and f.created_at is not None and inside(f):
                prow = period_rows[f.created_at.strftime("%Y-%m")]
                prow["returning"] += 1
                prow["preferred"] += f.assignee_id == preferred
            if f.assignee_id:
                earlier[f.assignee_id] += 1

    overall = {
        "conversations": len(counted),
        "customers": len({f.customer_id for f in counted if f.customer_id}),
        "customers_with_2_or_more": len(upcs),
        "preferred_agent_share": _share(preferred_hits, preferred_total),
        "open_with_preferred_agent_share": _share(open_hits, open_total),
        "upc": round(statistics.fmean(upcs), 4) if upcs else None,
        "coc": round(statistics.fmean(cocs), 4) if cocs else None,
        "secon": round(statistics.fmean(secons), 4) if secons else None,
        "repeat_contact_rate": _share(repeats, resolved),
        "good_rating_share_first_contact": _share(*depth["first_contact"]),
        "good_rating_share_returning_same_agent": _share(*depth["returning_same_agent"]),
        "rated_first_contact": depth["first_contact"][1],
        "rated_returning_same_agent": depth["returning_same_agent"][1],
        "median_first_reply_hours": _median_hours(first_replies),
        "median_resolution_hours": _median_hours(resolutions),
    }
    per_agent = {
        agent: {
            "name": names.get(agent, agent),
            "conversations": row["conversations"],
            "preferred_share_of_returning": _share(row["preferred"], row["returning"]),
            "good_rating_share": _share(row["good"], row["rated"]),
            "median_first_reply_hours": _median_hours(row["first_reply"]),
        }
        for agent, row in sorted(agent_rows.items())
    }
    per_period = {
        period: {
            "conversations": row["conversations"],
            "preferred_agent_share": _share(row["preferred"], row["returning"]),
            "median_first_reply_hours": _median_hours(row["first_reply"]),
            "median_resolution_hours": _median_hours(row["resolution"]),
        }
        for period, row in sorted(period_rows.items())
    }
    return MetricsReport(overall=overall, per_agent=per_agent, per_period=per_period)


def _preferred(earlier: Counter[str]) -> str | None:
    """The agent who handled most of the customer's earlier conversations (ties: lowest id, deterministic)."""
    if not earlier:
        return None
    top = max(earlier.values())
    return min(a for a, n in earlier.items() if n == top)
