"""Affinity(customer, agent): how well an agent knows a customer, from the agent's public replies to them.

score = rating factor * Σ over shared conversations of (outcome weight * Σ replies 2^(-age / half-life))

- recency: each reply counts 2^(-age/half_life) (default half-life 90 days), so last month outweighs last year;
- outcome: a conversation solved without reopening counts more, a reopened one less (the `reopened` tag);
- ratings: 1 + w·(Wilson lower bound of the good share - Wilson lower bound of the bad share), so two good
  ratings out of two move the score less than twenty out of twenty (small samples are not trusted);
- stickiness: optionally, conversations whose last reply is older than N days are ignored;
- cold start: no replies in the window means no score at all, never a made-up one.

The index keeps decayed sums relative to a fixed reference time, so a score "now" is one multiplication
and new replies are added incrementally (`add_reply`, `refresh`) without rebuilding.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from ..models import ConversationStatus, RatingScore
from ..store import Reply, Store

__all__ = ["AffinityConfig", "AffinityIndex", "AffinityScore", "wilson_lower_bound"]

_DAY: Final = 86_400.0
REOPENED_TAG: Final = "reopened"


def wilson_lower_bound(successes: int, n: int, *, z: float = 1.96) -> float:
    """Lower bound of the Wilson score interval for a proportion: 0 with no data, cautious with little."""
    if n <= 0:
        return 0.0
    p = successes / n
    denom = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / denom)


@dataclass(frozen=True, kw_only=True)
class AffinityConfig:
    """The knobs of the affinity score (docs/routing.md explains each with a worked example)."""

    half_life_days: float = 90.0
    stickiness_days: float | None = None
    rating_weight: float = 1.0
    solved_bonus: float = 0.25
    reopened_penalty: float = 0.5
    wilson_z: float = 1.96

    def __post_init__(self) -> None:
        if self.half_life_days <= 0:
            raise ValueError("half_life_days must be positive")
        if self.stickiness_days is not None and self.stickiness_days <= 0:
            raise ValueError("stickiness_days must be positive (or None for no window)")
        if not 0 <= self.reopened_penalty < 1:
            raise ValueError("reopened_penalty must be within [0, 1)")


@dataclass(frozen=True, kw_only=True)
class AffinityScore:
    """One agent's affinity to one customer, with the facts behind it."""

    customer_id: str
    agent_id: str
    score: float
    replies: int
    conversations: int
    last_contact: datetime
    good_ratings: int = 0
    bad_ratings: int = 0
    reopened: int = 0
    now: datetime = field(repr=False, compare=False)

    @property
    def explanation(self) -> str:
        days = max(0, int((self.now - self.last_contact).total_seconds() // _DAY))
        parts = [
            f"{self.replies} {_plural(self.replies, 'reply', 'replies')} over {self.conversations} "
            f"{_plural(self.conversations, 'conversation', 'conversations')}",
            "last today" if days == 0 else f"last {days} {_plural(days, 'day', 'days')} ago",
        ]
        if self.good_ratings:
            parts.append(f"{self.good_ratings} good {_plural(self.good_ratings, 'rating', 'ratings')}")
        if self.bad_ratings:
            parts.append(f"{self.bad_ratings} bad {_plural(self.bad_ratings, 'rating', 'ratings')}")
        if self.reopened:
            parts.append(f"{self.reopened} reopened")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {
            "agent_id": self.agent_id,
            "score": round(self.score, 4),
            "replies": self.replies,
            "conversations": self.conversations,
            "last_contact": self.last_contact,
            "good_ratings": self.good_ratings,
            "bad_ratings": self.bad_ratings,
            "explanation": self.explanation,
        }


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


class _Thread:
    """One agent's replies in one conversation: decayed sum at the index's reference time, count, last."""

    __slots__ = ("decayed", "last", "replies")

    def __init__(self) -> None:
        self.decayed = 0.0
        self.replies = 0
        self.last = 0.0


class AffinityIndex:
    """In-memory affinity for every (customer, agent) pair, built from the store and refreshed incrementally."""

    def __init__(self, *, config: AffinityConfig | None = None, reference: datetime) -> None:
        self.config = config or AffinityConfig()
        self.reference = reference
        self._ref = reference.timestamp()
        self._rate = math.log(2) / (self.config.half_life_days * _DAY)
        # customer -> agent -> conversation -> thread
        self._pairs: dict[str, dict[str, dict[str, _Thread]]] = {}
        self._outcome: dict[str, float] = {}
        self._reopened: set[str] = set()
        self._ratings: dict[tuple[str, str], list[int]] = {}
        self._rated: set[str] = set()
        self.watermark: datetime | None = None

    # -- building ------------------------------------------------------------------------------------

    @classmethod
    def build(cls, store: Store, account: str, *, now: datetime, config: AffinityConfig | None = None) -> AffinityIndex:
        """Reads every reply, outcome and rating of an account (one streaming pass over the messages)."""
        index = cls(config=config, reference=now)
        for conv_id, status, tags, _customer, _agent in store.conversation_facts(account):
            index.set_outcome(conv_id, status=status, tags=tags)
        index.add_replies(store.iter_replies(account))
        for rating in store.ratings(account):
            if rating.customer_id and rating.agent_id:
                index.add_rating(rating.id, rating.customer_id, rating.agent_id, rating.score)
        return index

    def refresh(self, store: Store, account: str) -> int:
        """Adds replies stored since the last build/refresh (new ratings and outcomes too); returns how many."""
        for conv_id, status, tags, _customer, _agent in store.conversation_facts(account):
            self.set_outcome(conv_id, status=status, tags=tags)
        added = self.add_replies(store.iter_replies(account, since=self.watermark))
        for rating in store.ratings(account):
            if rating.customer_id and rating.agent_id:
                self.add_rating(rating.id, rating.customer_id, rating.agent_id, rating.score)
        return added

    def add_replies(self, replies: Iterable[Reply]) -> int:
        n = 0
        for reply in replies:
            self.add_reply(reply.customer_id, reply.agent_id, reply.conversation_id, reply.created_at)
            n += 1
        return n

    def add_reply(self, customer_id: str, agent_id: str, conversation_id: str, at: datetime) -> None:
        ts = at.timestamp()
        thread = self._pairs.setdefault(customer_id, {}).setdefault(agent_id, {}).get(conversation_id)
        if thread is None:
            thread = self._pairs[customer_id][agent_id][conversation_id] = _Thread()
        thread.decayed += math.exp((ts - self._ref) * self._rate)
        thread.replies += 1
        thread.last = max(thread.last, ts)
        if self.watermark is None or at > self.watermark:
            self.watermark = at

    def set_outcome(self, conversation_id: str, *, status: str, tags: Iterable[str]) -> None:
        reopened = REOPENED_TAG in tags
        if reopened:
            self._reopened.add(conversation_id)
            self._outcome[conversation_id] = 1.0 - self.config.reopened_penalty
        elif status in (ConversationStatus.SOLVED, ConversationStatus.CLOSED):
            self._reopened.discard(conversation_id)
            self._outcome[conversation_id] = 1.0 + self.config.solved_bonus
        else:
            self._reopened.discard(conversation_id)
            self._outcome.pop(conversation_id, None)

    def add_rating(self, rating_id: str, customer_id: str, agent_id: str, score: RatingScore | str) -> None:
        if rating_id in self._rated or score not in (RatingScore.GOOD, RatingScore.BAD):
            return
        self._rated.add(rating_id)
        counts = self._ratings.setdefault((customer_id, agent_id), [0, 0])
        counts[0 if score == RatingScore.GOOD else 1] += 1

    # -- reading -------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(len(agents) for agents in self._pairs.values())

    def customers(self) -> list[str]:
        return list(self._pairs)

    def known_agents(self, customer_id: str) -> list[str]:
        return list(self._pairs.get(customer_id, {}))

    def score(self, customer_id: str, agent_id: str, *, now: datetime) -> AffinityScore | None:
        threads = self._pairs.get(customer_id, {}).get(agent_id)
        return None if not threads else self._score(customer_id, agent_id, threads, now)

    def scores(self, customer_id: str, *, now: datetime, limit: int | None = None) -> list[AffinityScore]:
        """The agents who know this customer, best first; empty for a customer with no history (cold start)."""
        out = []
        for agent_id, threads in self._pairs.get(customer_id, {}).items():
            scored = self._score(customer_id, agent_id, threads, now)
            if scored is not None:
                out.append(scored)
        out.sort(key=lambda s: (-s.score, s.agent_id))
        return out if limit is None else out[:limit]

    def _rating_factor(self, good: int, bad: int) -> float:
        """1 + w * (Wilson lower bound of the good share - that of the bad share), at least 0.05; 1 unrated."""
        if not good + bad:
            return 1.0
        cfg = self.config
        z = cfg.wilson_z
        factor = 1.0 + cfg.rating_weight * (
            wilson_lower_bound(good, good + bad, z=z) - wilson_lower_bound(bad, good + bad, z=z)
        )
        return max(0.05, factor)

    def _sums(
        self, customer_id: str, agent_id: str, threads: dict[str, _Thread], now_ts: float
    ) -> tuple[float, int, int, int, float] | None:
        """(decayed total at the reference, replies, conversations, reopened, last reply) within the window."""
        cfg = self.config
        cutoff = now_ts - cfg.stickiness_days * _DAY if cfg.stickiness_days is not None else -math.inf
        total = 0.0
        replies = conversations = reopened = 0
        last = -math.inf
        for conv_id, thread in threads.items():
            if thread.last < cutoff:
                continue
            total += thread.decayed * self._outcome.get(conv_id, 1.0)
            replies += thread.replies
            conversations += 1
            reopened += conv_id in self._reopened
            last = max(last, thread.last)
        return None if conversations == 0 else (total, replies, conversations, reopened, last)

    def _score(
        self, customer_id: str, agent_id: str, threads: dict[str, _Thread], now: datetime
    ) -> AffinityScore | None:
        now_ts = now.timestamp()
        sums = self._sums(customer_id, agent_id, threads, now_ts)
        if sums is None:
            return None
        total, replies, conversations, reopened, last = sums
        good, bad = self._ratings.get((customer_id, agent_id), (0, 0))
        factor = self._rating_factor(good, bad)
        decay_now = math.exp((self._ref - now_ts) * self._rate)
        return AffinityScore(
            customer_id=customer_id,
            agent_id=agent_id,
            score=total * decay_now * factor,
            replies=replies,
            conversations=conversations,
            last_contact=self.reference + timedelta(seconds=last - self._ref),
            good_ratings=good,
            bad_ratings=bad,
            reopened=reopened,
            now=now,
        )
