"""What a replay needs of the store's history: arrivals, how long each conversation held its agent, who was on.

- **Arrivals** are the conversations created in the period, in time order (`created_at`, the first customer
  message), with the group, channel and customer the router reads.
- **Hold time**: a conversation holds an agent's capacity (open conversations, as the router counts load) from
  its assignment until its last message; one still open at the end of the period holds it to the end. A
  replay shifts it by the wait it adds: assigned later, resolved later.
- **Presence** is rebuilt from each agent's activity (every message they wrote, public or note): they work the
  (UTC) days they wrote anything, during their usual hours (the fewest hours of the day that hold 90 % of all
  they ever wrote, `PresenceConfig.coverage`) and during any hour they wrote in. An agent gone from the
  helpdesk is absent from when the store saw them go (or after their last shift when only deactivated); an
  agent the last sync saw away or offline is absent from that sync on.
- Everything before the period is history: it warms the affinity index up and tells the metrics who each
  customer's preferred agent was, exactly as `humansupport metrics` does.

The result is plain data (picklable), so sweep workers receive it once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, NamedTuple

import sqlalchemy as sa

from ..metrics import ConversationFact
from ..models import AgentAvailability, AuthorRole, RatingScore
from ..store import Store

__all__ = ["PresenceConfig", "SimAgent", "SimConversation", "SimHistory", "load_history", "shifts_from_activity"]

_OPEN: Final = frozenset({"new", "open", "on_hold"})
_HOUR: Final = 3_600
_DAY: Final = 86_400


@dataclass(frozen=True, kw_only=True)
class PresenceConfig:
    """How shifts are read from activity: an agent works the (UTC) days they wrote anything, during their usual
    hours (the fewest hours of the day holding `coverage` of all they wrote) and any hour they wrote in."""

    coverage: float = 0.9

    def __post_init__(self) -> None:
        if not 0.0 <= self.coverage <= 1.0:
            raise ValueError("presence coverage must be within [0, 1]")


@dataclass(frozen=True, kw_only=True, slots=True)
class SimAgent:
    """An agent as the replay sees them: groups, capacity, and the shifts (epoch seconds, sorted, disjoint)."""

    id: str
    name: str
    group_ids: tuple[str, ...]
    capacity: int | None
    shifts: tuple[tuple[float, float], ...]
    #: from this time on the agent is no longer in the helpdesk (deleted or deactivated); None: still there
    gone_at: float | None = None

    def present(self, t: float) -> bool:
        """On shift at `t` (shifts are half-open [on, off))."""
        if self.gone_at is not None and t >= self.gone_at:
            return False
        lo, hi = 0, len(self.shifts)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.shifts[mid][1] <= t:
                lo = mid + 1
            else:
                hi = mid
        return lo < len(self.shifts) and self.shifts[lo][0] <= t

    def present_during(self, lo: float, hi: float) -> bool:
        """In the helpdesk and on shift at some moment of [lo, hi], as the replay's shifts say (capacity aside)."""
        gone = self.gone_at
        if gone is not None and lo >= gone:
            return False
        # the first shift still running after `lo` (ends are sorted: shifts are sorted and disjoint)
        first, end = 0, len(self.shifts)
        while first < end:
            mid = (first + end) // 2
            if self.shifts[mid][1] <= lo:
                first = mid + 1
            else:
                end = mid
        if first == len(self.shifts):
            return False
        on = self.shifts[first][0]
        return on <= hi and (gone is None or on < gone)

    def in_helpdesk(self, t: float) -> bool:
        return self.gone_at is None or t < self.gone_at


@dataclass(frozen=True, kw_only=True, slots=True)
class SimConversation:
    """One arrival: when, whose, where, and what history says of its handling (times in epoch seconds)."""

    id: str
    customer_id: str | None
    group_id: str | None
    channel: str | None
    arrival: float
    #: seconds it holds its agent once assigned (to its last message, or to the period's end if still open)
    hold: float
    #: the agent history assigned (None: nobody)
    assignee_id: str | None
    #: public agent replies history counts for it (the affinity a replay credits to whoever gets it)
    replies: int = 0
    #: seconds from creation to the first agent reply, as it happened (None: never answered)
    reply_delay: float | None = None
    #: seconds from creation to the last message, as it happened
    last_delay: float | None = None


@dataclass(frozen=True, kw_only=True)
class SimHistory:
    """A period's arrivals, the team, and the history before it, ready to replay under any policy."""

    account: str
    start: datetime
    end: datetime
    agents: tuple[SimAgent, ...]
    conversations: tuple[SimConversation, ...]
    #: every conversation created before the period ends, as it happened (the metrics' input)
    facts: tuple[ConversationFact, ...]
    #: public agent replies before the period: (customer, agent, conversation, epoch seconds)
    warmup_replies: tuple[tuple[str, str, str, float], ...] = ()
    #: (conversation, status, tags) of conversations with replies: affinity's outcome weights
    outcomes: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    #: ratings given before the period: (rating id, customer, agent, score)
    warmup_ratings: tuple[tuple[str, str, str, str], ...] = ()
    agent_names: dict[str, str] = field(default_factory=dict)

    @property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @property
    def end_ts(self) -> float:
        return self.end.timestamp()


class _Row(NamedTuple):
    id: str
    customer_id: str | None
    assignee_id: str | None
    group_id: str | None
    status: str
    channel: str | None
    tags: list[str] | None
    created_at: datetime


def shifts_from_activity(
    times: Iterable[float], *, config: PresenceConfig | None = None
) -> tuple[tuple[float, float], ...]:
    """Shifts (epoch seconds, sorted, disjoint) from activity times: usual hours on each day with activity."""
    cfg = config or PresenceConfig()
    stamps = sorted(times)
    if not stamps:
        return ()
    per_hour = Counter(int(t // _HOUR) % 24 for t in stamps)
    usual: set[int] = set()
    covered, need = 0, cfg.coverage * len(stamps)
    for hour, count in sorted(per_hour.items(), key=lambda kv: (-kv[1], kv[0])):
        if covered >= need:
            break
        usual.add(hour)
        covered += count
    days: dict[int, set[int]] = {}
    for t in stamps:
        days.setdefault(int(t // _DAY), set()).add(int(t // _HOUR) % 24)
    out: list[tuple[float, float]] = []
    for day in sorted(days):
        for hour in sorted(usual | days[day]):
            lo = float(day * _DAY + hour * _HOUR)
            if out and out[-1][1] == lo:
                out[-1] = (out[-1][0], lo + _HOUR)
            else:
                out.append((lo, lo + _HOUR))
    return tuple(out)


def load_history(
    store: Store,
    account: str,
    *,
    start: datetime,
    end: datetime,
    presence: PresenceConfig | None = None,
    default_capacity: int | None = None,
) -> SimHistory:
    """Reads a period's arrivals, the team and the history before it from the store (streamed reads)."""
    start_ts, end_ts = start.timestamp(), end.timestamp()
    facts: list[ConversationFact] = []
    period: list[tuple[_Row, ConversationFact]] = []
    customer_of: dict[str, str] = {}
    status_of: dict[str, tuple[str, tuple[str, ...]]] = {}
    first, last_message = store.first_replies(account), store.last_messages(account)
    rated: dict[str, str] = {}
    for r in store.ratings(account):
        if r.conversation_id and r.score in (RatingScore.GOOD, RatingScore.BAD):
            rated[r.conversation_id] = str(r.score)
    # the rows `compute_metrics` reads, without building a model per conversation (a year is 200k of them)
    c = store.t["conversations"]
    query = (
        sa.select(c.c.id, c.c.customer_id, c.c.assignee_id, c.c.group_id, c.c.status, c.c.channel, c.c.tags)
        .add_columns(c.c.created_at)
        .where(c.c.account == account, c.c.created_at.is_not(None), c.c.created_at < end)
        .order_by(c.c.created_at, c.c.id)
    )
    with store.connect() as conn:
        for row in conn.execution_options(yield_per=5000).execute(query):
            conv = _Row(*row)
            fact = ConversationFact(
                id=conv.id,
                customer_id=conv.customer_id,
                assignee_id=conv.assignee_id,
                status=conv.status,
                created_at=conv.created_at,
                first_reply_at=first.get(conv.id),
                last_message_at=last_message.get(conv.id),
                rating=rated.get(conv.id),
            )
            facts.append(fact)
            if conv.customer_id:
                customer_of[conv.id] = conv.customer_id
            status_of[conv.id] = (conv.status, tuple(conv.tags or ()))
            if conv.created_at >= start:
                period.append((conv, fact))

    activity: dict[str, list[float]] = defaultdict(list)
    replies: dict[str, int] = defaultdict(int)
    warmup: list[tuple[str, str, str, float]] = []
    m = store.t["messages"]
    query = sa.select(m.c.conversation_id, m.c.author_id, m.c.public, m.c.created_at).where(
        m.c.account == account,
        m.c.author_role == AuthorRole.AGENT.value,
        m.c.author_id.is_not(None),
        m.c.created_at.is_not(None),
    )
    with store.connect() as conn:
        for conv_id, author, public, at in conn.execution_options(yield_per=5000).execute(query):
            ts = at.timestamp()
            if ts >= end_ts:
                continue
            activity[author].append(ts)
            if not public or conv_id not in status_of:
                continue
            replies[conv_id] += 1
            customer = customer_of.get(conv_id)
            if ts < start_ts and customer is not None:
                warmup.append((customer, author, conv_id, ts))
    warmup.sort(key=lambda r: r[3])

    arrivals: list[SimConversation] = []
    for conv, fact in period:
        created = conv.created_at.timestamp()
        last = fact.last_message_at.timestamp() if fact.last_message_at else created
        still_open = fact.status in _OPEN
        hold = (end_ts - created) if still_open else max(60.0, last - created)
        reply = fact.first_reply_at.timestamp() - created if fact.first_reply_at else None
        arrivals.append(
            SimConversation(
                id=conv.id,
                customer_id=conv.customer_id,
                group_id=conv.group_id,
                channel=conv.channel,
                arrival=created,
                hold=max(60.0, hold),
                assignee_id=conv.assignee_id,
                replies=replies.get(conv.id, 0),
                reply_delay=reply if reply is not None and reply >= 0 else None,
                last_delay=max(0.0, last - created) if fact.last_message_at else None,
            )
        )
    arrivals.sort(key=lambda c: (c.arrival, c.id))

    agents = _agents(store, account, activity, presence=presence, default_capacity=default_capacity)
    ratings = tuple(
        (r.id, r.customer_id, r.agent_id, str(r.score))
        for r in store.ratings(account)
        if r.customer_id and r.agent_id and r.created_at is not None and r.created_at < start
    )
    outcomes = tuple((cid, *status_of[cid]) for cid in replies)
    return SimHistory(
        account=account,
        start=start,
        end=end,
        agents=agents,
        conversations=tuple(arrivals),
        facts=tuple(facts),
        warmup_replies=tuple(warmup),
        outcomes=outcomes,
        warmup_ratings=ratings,
        agent_names={a.id: a.name for a in agents},
    )


def _agents(
    store: Store,
    account: str,
    activity: dict[str, list[float]],
    *,
    presence: PresenceConfig | None,
    default_capacity: int | None,
) -> tuple[SimAgent, ...]:
    t = store.t["agents"]
    synced = {}
    with store.connect() as conn:
        for agent_id, at in conn.execute(sa.select(t.c.id, t.c.synced_at).where(t.c.account == account)):
            synced[agent_id] = at
    cfg = presence or PresenceConfig()
    out: list[SimAgent] = []
    for agent, deleted in store.agents(account):
        times = activity.get(agent.id, [])
        shifts = shifts_from_activity(times, config=cfg)
        gone: float | None = deleted.timestamp() if deleted is not None else None
        if gone is None and not agent.active:
            gone = shifts[-1][1] if shifts else 0.0
        seen = synced.get(agent.id)
        if agent.availability in (AgentAvailability.AWAY, AgentAvailability.OFFLINE) and seen is not None:
            shifts = _cut(shifts, seen.timestamp())
        out.append(
            SimAgent(
                id=agent.id,
                name=agent.name or agent.id,
                group_ids=tuple(agent.group_ids),
                capacity=agent.capacity if agent.capacity is not None else default_capacity,
                shifts=shifts,
                gone_at=gone,
            )
        )
    return tuple(out)


def _cut(shifts: Sequence[tuple[float, float]], at: float) -> tuple[tuple[float, float], ...]:
    """Shifts ending no later than `at` (the last sync saw the agent away from then on)."""
    return tuple((a, min(b, at)) for a, b in shifts if a < at)
