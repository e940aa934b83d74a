"""The store and the affinity index as a history source for profile enrichment.

`humansupport.enrichment` takes a customer's past as plain `CustomerHistory` facts (a mapping or a
callable by customer id). `StoreHistory` is that callable: conversations, ratings and tags from the
store, and the preferred agent with its explanation from the same affinity the router uses, so a profile
and a routing decision never disagree about who knows the customer.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from ..models import RatingScore
from ..routing.affinity import AffinityConfig, AffinityIndex
from ..store import Store
from .profile import ConversationSummary, CustomerHistory, RatingPoint

__all__ = ["StoreHistory"]

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
