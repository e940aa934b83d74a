"""The store and the affinity index as a history source for profile enrichment.

`humansupport.enrichment` takes a customer's past as plain `CustomerHistory` facts (a mapping or a
callable by customer id). `StoreHistory` is that callable: conversations, ratings and tags from the
store, and the preferred agent with its explanation from the same affinity the router uses, so a profile
and a routing decision never disagree about who knows the customer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ..models import Agent, Conversation, Message, RatingScore, SatisfactionRating
from ..routing.affinity import AffinityConfig, AffinityIndex
from ..store import Store
from .profile import ConversationSummary, CustomerHistory, RatingPoint

if TYPE_CHECKING:
    from ..testing.synthetic import SyntheticHistory

__all__ = ["StoreHistory", "build_histories", "history_from_synthetic"]

_NOT_TOPICS = frozenset({"vip", "reopened"})


class StoreHistory:
    """`CustomerHistory` for one account of the store; builds the affinity index once, on first use."""

    def __init__(
        self,
        store: Store,
        account: str,
        *,
        now: datetime,
        affinity: AffinityConfig | None = None,
        index: AffinityIndex | None = None,
    ) -> None:
        self.store = store
        self.account = account
        self.now = now
        self._config = affinity
        self._index = index
        self._ratings: dict[str, list[RatingPoint]] | None = None
        self._names: dict[str, tuple[str | None, bool]] | None = None

    @property
    def index(self) -> AffinityIndex:
        if self._index is None:
            self._index = AffinityIndex.build(self.store, self.account, now=self.now, config=self._config)
        return self._index

    def _load(self) -> tuple[dict[str, list[RatingPoint]], dict[str, tuple[str | None, bool]]]:
        if self._ratings is None or self._names is None:
            ratings: dict[str, list[RatingPoint]] = {}
            for r in self.store.ratings(self.account):
                if r.customer_id:
                    ratings.setdefault(r.customer_id, []).append(
                        RatingPoint(at=r.created_at, score=RatingScore(r.score), agent_id=r.agent_id)
                    )
            self._ratings = ratings
            self._names = {a.id: (a.name, a.active and gone is None) for a, gone in self.store.agents(self.account)}
        return self._ratings, self._names

    def __call__(self, customer_id: str) -> CustomerHistory | None:
        """The customer's history, or None when the store has no conversation of theirs."""
        convs = self.store.conversations_of(self.account, customer_id)
        if not convs:
            return None
        ratings, names = self._load()
        tags: Counter[str] = Counter(t for c in convs for t in c.tags if t not in _NOT_TOPICS)
        points = sorted(ratings.get(customer_id, []), key=lambda p: (p.at is None, p.at or self.now))
        # the preferred agent is one routing could pick: active, not suspended, not deleted from the helpdesk
        scores = self.index.scores(customer_id, now=self.now)
        preferred = next((s for s in scores if names.get(s.agent_id, (None, False))[1]), None)
        name = reason = None
        if preferred is not None:
            name = names[preferred.agent_id][0] or f"agent {preferred.agent_id}"
            reason = preferred.explanation
        last = convs[-1]
        return CustomerHistory(
            customer_id=customer_id,
            conversation_count=len(convs),
            first_contact=convs[0].created_at,
            last_conversation=ConversationSummary(
                conversation_id=last.id, subject=last.subject, date=last.created_at, outcome=str(last.status)
            ),
            ratings=tuple(points),
            tag_counts=dict(tags),
            preferred_agent_id=preferred.agent_id if preferred else None,
            preferred_agent_name=name,
            preferred_agent_reason=reason,
        )


def build_histories(
    *,
    conversations: Iterable[Conversation],
    messages: Mapping[str, Sequence[Message]],
    ratings: Iterable[SatisfactionRating],
    agents: Iterable[Agent],
    now: datetime,
    affinity: AffinityConfig | None = None,
) -> dict[str, CustomerHistory]:
    """Every customer's `CustomerHistory` from core models (tests, docs, benchmarks): written to an in-memory
    store and read back through `StoreHistory`, so the preferred agent is the router's affinity, as in `profile`."""
    convs = list(conversations)
    with Store.open("sqlite:///:memory:") as store:
        store.upsert_agents(_SCRATCH, agents, seen_at=now)
        store.write_conversations(_SCRATCH, [(c, list(messages.get(c.id, ()))) for c in convs])
        store.upsert_ratings(_SCRATCH, ratings)
        source = StoreHistory(store, _SCRATCH, now=now, affinity=affinity)
        out = {}
        for customer_id in dict.fromkeys(c.customer_id for c in convs if c.customer_id is not None):
            history = source(customer_id)
            if history is not None:
                out[customer_id] = history
    return out


def history_from_synthetic(history: SyntheticHistory, *, now: datetime | None = None) -> dict[str, CustomerHistory]:
    """`build_histories` over a synthetic history, as of its `end` unless `now` is given."""
    return build_histories(
        conversations=history.conversations,
        messages=history.messages,
        ratings=history.ratings,
        agents=history.agents,
        now=now or history.config.end,
    )


_SCRATCH = "scratch"  # the one account of build_histories' throwaway store
