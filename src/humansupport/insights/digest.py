"""The feedback digest: per theme, how many conversations and customers, the trend against the previous period,
satisfaction, the agents involved, and a few example conversations with short (masked) customer quotes.

One streamed pass over the previous and the current period, ordered by customer, so distinct customers are
counted per customer as it goes by; memory holds one customer's themes, per-theme counters and a bounded
heap of examples, not the history.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from ..store import Store
from .periods import Period
from .quotes import quote_of
from .rows import first_customer_excerpts, iter_conversation_rows, iter_participation
from .themes import ThemeMap

__all__ = ["NO_CONVERSATIONS", "DigestReport", "Example", "ThemeDigest", "build_digest"]

NO_CONVERSATIONS: Final = "no conversations in range"
Linker = Callable[[str], str | None]


@dataclass(frozen=True, kw_only=True, slots=True)
class Example:
    """One example conversation: id, link into the helpdesk (when known), created, quote (masked)."""

    conversation_id: str
    created_at: datetime
    url: str | None = None
    quote: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "created_at": self.created_at.isoformat(),
            "url": self.url,
            "quote": self.quote,
        }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(kw_only=True)
class ThemeDigest:
    """One theme's figures; `previous_*` are the period of equal length before."""

    theme: str
    conversations: int = 0
    customers: int = 0
    previous_conversations: int = 0
    previous_customers: int = 0
    good: int = 0
    bad: int = 0
    agents: list[tuple[str, str, int]] = field(default_factory=list)  # (id, name, conversations)
    examples: list[Example] = field(default_factory=list)

    @property
    def change(self) -> int:
        return self.conversations - self.previous_conversations

    @property
    def change_share(self) -> float | None:
        """Relative change against the previous period; None when there was nothing before."""
        return _share(self.change, self.previous_conversations)

    @property
    def good_share(self) -> float | None:
        return _share(self.good, self.good + self.bad)

    def to_dict(self) -> dict[str, Any]:
        return {
            "theme": self.theme,
            "conversations": self.conversations,
            "customers": self.customers,
            "previous_conversations": self.previous_conversations,
            "previous_customers": self.previous_customers,
            "change": self.change,
            "change_share": self.change_share,
            "satisfaction": {"good": self.good, "bad": self.bad, "good_share": self.good_share},
            "agents": [{"id": a, "name": n, "conversations": k} for a, n, k in self.agents],
            "examples": [e.to_dict() for e in self.examples],
        }


@dataclass(kw_only=True)
class DigestReport:
    """The whole digest; `themes` sorted by conversations, then customers, then name."""

    account: str
    period: Period
    conversations: int
    customers: int
    previous_conversations: int
    themes: list[ThemeDigest]

    @property
    def empty(self) -> bool:
        return self.conversations == 0

    def to_dict(self) -> dict[str, Any]:
        previous = self.period.previous()
        return {
            "account": self.account,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "previous_start": previous.start.isoformat(),
            "conversations": self.conversations,
            "customers": self.customers,
            "previous_conversations": self.previous_conversations,
            "message": NO_CONVERSATIONS if self.empty else None,
            "themes": [t.to_dict() for t in self.themes],
        }


@dataclass
class _Acc:
    conversations: int = 0
    customers: int = 0
    previous_conversations: int = 0
    previous_customers: int = 0
    good: int = 0
    bad: int = 0
    agents: Counter[str] = field(default_factory=Counter)
    recent: list[tuple[datetime, str]] = field(default_factory=list)  # a min-heap of the newest examples


def build_digest(
    store: Store,
    account: str,
    *,
    period: Period,
    themes: ThemeMap,
    examples: int = 3,
    link: Linker | None = None,
    agent_names: Mapping[str, str] | None = None,
) -> DigestReport:
    """The digest of conversations created in `period` (and the previous one, for the trend)."""
    previous = period.previous()
    acc: dict[str, _Acc] = {}
    totals = {"conversations": 0, "customers": 0, "previous": 0}
    customer: object = object()  # a sentinel no customer id equals
    seen: set[tuple[bool, str]] = set()  # (current?, theme) of the customer being read
    counted_overall = False

    def flush() -> None:
        for is_current, theme in seen:
            if is_current:
                acc[theme].customers += 1
            else:
                acc[theme].previous_customers += 1
        if counted_overall:
            totals["customers"] += 1

    for row in iter_conversation_rows(store, account, start=previous.start, end=period.end):
        if row.customer_id != customer:
            flush()
            customer, seen, counted_overall = row.customer_id, set(), False
        theme = themes.theme_of(row.tags, row.custom_fields)
        a = acc.setdefault(theme, _Acc())
        is_current = row.created_at >= period.start
        if row.customer_id is not None:
            seen.add((is_current, theme))
        if not is_current:
            a.previous_conversations += 1
            totals["previous"] += 1
            continue
        totals["conversations"] += 1
        counted_overall = counted_overall or row.customer_id is not None
        a.conversations += 1
        if row.rating == "good":
            a.good += 1
        elif row.rating == "bad":
            a.bad += 1
        if examples > 0:
            item = (row.created_at, row.id)
            if len(a.recent) < examples:
                heapq.heappush(a.recent, item)
            elif item > a.recent[0]:
                heapq.heapreplace(a.recent, item)
    flush()

    if totals["conversations"]:
        for p in iter_participation(store, account, start=period.start, end=period.end):
            agent_counts = acc[themes.theme_of(p.tags, p.custom_fields)].agents
            for agent in p.agent_ids:
                agent_counts[agent] += 1

    picked = [cid for a in acc.values() for _, cid in a.recent]
    excerpts = first_customer_excerpts(store, account, picked) if picked else {}
    names = agent_names or {}
    out: list[ThemeDigest] = []
    if totals["conversations"]:
        for theme, a in acc.items():
            out.append(
                ThemeDigest(
                    theme=theme,
                    conversations=a.conversations,
                    customers=a.customers,
                    previous_conversations=a.previous_conversations,
                    previous_customers=a.previous_customers,
                    good=a.good,
                    bad=a.bad,
                    agents=[
                        (agent, names.get(agent, agent), n)
                        for agent, n in sorted(a.agents.items(), key=lambda kv: (-kv[1], kv[0]))
                    ],
                    examples=[
                        Example(
                            conversation_id=cid,
                            created_at=when,
                            url=link(cid) if link else None,
                            quote=quote_of(excerpts.get(cid)),
                        )
                        for when, cid in sorted(a.recent, reverse=True)
                    ],
                )
            )
    out.sort(key=lambda t: (-t.conversations, -t.customers, -t.previous_conversations, t.theme))
    return DigestReport(
        account=account,
        period=period,
        conversations=totals["conversations"],
        customers=totals["customers"],
        previous_conversations=totals["previous"],
        themes=out,
    )
