"""Avoidable contacts: what brought people back, so the team can fix causes instead of answering again.

Three kinds of finding, each per theme with counts and example conversations, sorted by distinct customers:

- `repeat_contact`: a customer opened another conversation on the same theme within `within` of the creation
  of their previous one on that theme (the later conversation counts; it must fall in the period, the earlier
  one may be before it).
- `reopened`: a conversation went from solved/closed back to new/open/pending/on hold in the period (from the
  status changes the store recorded on sync and read-back; the first sync of a conversation sees no change),
  or was created in the period and carries the `reopened` tag (what helpdesk triggers commonly add; it
  covers the history before the first sync). Counted once per conversation; these few are held in memory.
- `rising`: a theme whose contacts per day after `after` exceed those before it (inside the period) by more
  than `min_rise` (0.5 = +50 %), with at least `min_count` conversations after.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from ..store import Store
from .digest import NO_CONVERSATIONS
from .periods import Period
from .rows import iter_conversation_rows, iter_reopens
from .themes import ThemeMap

__all__ = ["KINDS", "REOPENED_TAG", "AvoidableReport", "Finding", "build_avoidable"]

KINDS: Final = ("repeat_contact", "reopened", "rising")
#: the tag helpdesk triggers commonly add on reopening (some helpdesks' default); the synthetic history has it too
REOPENED_TAG: Final = "reopened"
Linker = Callable[[str], str | None]


@dataclass(kw_only=True)
class Finding:
    """One avoidable-contact finding: a kind and a theme, who it touched, and a few examples."""

    kind: str
    theme: str
    conversations: int
    customers: int
    detail: dict[str, Any] = field(default_factory=dict)
    examples: list[tuple[str, str | None]] = field(default_factory=list)  # (conversation id, url)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "theme": self.theme,
            "conversations": self.conversations,
            "customers": self.customers,
            "detail": dict(self.detail),
            "examples": [{"conversation_id": cid, "url": url} for cid, url in self.examples],
        }


@dataclass(kw_only=True)
class AvoidableReport:
    account: str
    period: Period
    within: timedelta
    after: datetime
    conversations: int
    findings: list[Finding]

    @property
    def empty(self) -> bool:
        return self.conversations == 0

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "within_days": round(self.within.total_seconds() / 86_400, 4),
            "after": self.after.isoformat(),
            "conversations": self.conversations,
            "message": NO_CONVERSATIONS if self.empty else None,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class _Reopened:
    customer_id: str | None
    theme: str
    when: datetime | None = None
    events: int = 0  # status changes seen; a conversation known only by its tag counts as one reopening


@dataclass
class _Tally:
    conversations: int = 0
    customers: int = 0
    recent: list[tuple[datetime, str]] = field(default_factory=list)

    def example(self, when: datetime, cid: str, limit: int) -> None:
        if limit <= 0:
            return
        if len(self.recent) < limit:
            heapq.heappush(self.recent, (when, cid))
        elif (when, cid) > self.recent[0]:
            heapq.heapreplace(self.recent, (when, cid))


def build_avoidable(
    store: Store,
    account: str,
    *,
    period: Period,
    themes: ThemeMap,
    within: timedelta = timedelta(days=7),
    after: datetime | None = None,
    min_rise: float = 0.5,
    min_count: int = 3,
    examples: int = 3,
    link: Linker | None = None,
) -> AvoidableReport:
    """The findings for conversations created in `period`; `after` defaults to the middle of the period."""
    if within <= timedelta(0):
        raise ValueError("the repeat window must be positive")
    split = after if after is not None else period.start + period.length / 2
    if not period.start < split < period.end:
        raise ValueError(
            f"--after {split.isoformat()} must fall inside the period "
            f"({period.start.isoformat()} .. {period.end.isoformat()})"
        )
    repeats: dict[str, _Tally] = {}
    before: dict[str, int] = {}
    later: dict[str, _Tally] = {}
    total = 0

    customer: object = object()
    last_seen: dict[str, datetime] = {}  # theme -> the customer's latest conversation on it
    repeated: set[str] = set()
    rose: set[str] = set()

    def flush() -> None:
        for theme in repeated:
            repeats[theme].customers += 1
        for theme in rose:
            later[theme].customers += 1

    # reopened conversations (a small share): the tag on conversations of the period, and the status history
    reopens: dict[str, _Reopened] = {}

    for row in iter_conversation_rows(store, account, start=period.start - within, end=period.end):
        if row.customer_id != customer:
            flush()
            customer, last_seen, repeated, rose = row.customer_id, {}, set(), set()
        theme = themes.theme_of(row.tags, row.custom_fields)
        in_period = row.created_at >= period.start
        if in_period:
            total += 1
            if any(t.strip().lower() == REOPENED_TAG for t in row.tags):
                reopens[row.id] = _Reopened(row.customer_id, theme, when=row.created_at)
            if row.created_at < split:
                before[theme] = before.get(theme, 0) + 1
            else:
                tally = later.setdefault(theme, _Tally())
                tally.conversations += 1
                tally.example(row.created_at, row.id, examples)
                if row.customer_id is not None:
                    rose.add(theme)
        if row.customer_id is None:
            continue
        previous = last_seen.get(theme)
        if in_period and previous is not None and row.created_at - previous <= within:
            tally = repeats.setdefault(theme, _Tally())
            tally.conversations += 1
            tally.example(row.created_at, row.id, examples)
            repeated.add(theme)
        last_seen[theme] = row.created_at
    flush()

    findings: list[Finding] = []

    def links(tally: _Tally) -> list[tuple[str, str | None]]:
        return [(cid, link(cid) if link else None) for _, cid in sorted(tally.recent, reverse=True)]

    for theme, tally in repeats.items():
        findings.append(
            Finding(
                kind="repeat_contact",
                theme=theme,
                conversations=tally.conversations,
                customers=tally.customers,
                examples=links(tally),
            )
        )

    for reopen in iter_reopens(store, account, start=period.start, end=period.end):
        seen = reopens.get(reopen.conversation_id)
        if seen is None:
            theme = themes.theme_of(reopen.tags, reopen.custom_fields)
            seen = reopens[reopen.conversation_id] = _Reopened(reopen.customer_id, theme)
        seen.events += 1
        seen.when = reopen.changed_at if seen.when is None else max(seen.when, reopen.changed_at)
    reopened: dict[str, _Tally] = {}
    reopen_events: dict[str, int] = {}
    reopen_customers: dict[str, set[str]] = {}
    for cid, seen in reopens.items():
        tally = reopened.setdefault(seen.theme, _Tally())
        tally.conversations += 1
        assert seen.when is not None
        tally.example(seen.when, cid, examples)
        reopen_events[seen.theme] = reopen_events.get(seen.theme, 0) + max(1, seen.events)
        if seen.customer_id is not None:
            reopen_customers.setdefault(seen.theme, set()).add(seen.customer_id)
    for theme, tally in reopened.items():
        findings.append(
            Finding(
                kind="reopened",
                theme=theme,
                conversations=tally.conversations,
                customers=len(reopen_customers.get(theme, ())),
                detail={"reopenings": reopen_events[theme]},
                examples=links(tally),
            )
        )

    before_days = (split - period.start).total_seconds() / 86_400
    after_days = (period.end - split).total_seconds() / 86_400
    for theme, tally in later.items():
        n_before = before.get(theme, 0)
        rate_before, rate_after = n_before / before_days, tally.conversations / after_days
        if tally.conversations < min_count or rate_after <= rate_before * (1 + min_rise):
            continue
        findings.append(
            Finding(
                kind="rising",
                theme=theme,
                conversations=tally.conversations,
                customers=tally.customers,
                detail={
                    "before": n_before,
                    "after": tally.conversations,
                    "before_per_day": round(rate_before, 4),
                    "after_per_day": round(rate_after, 4),
                    "rise": round(rate_after / rate_before - 1, 4) if rate_before else None,
                },
                examples=links(tally),
            )
        )
    findings.sort(key=lambda f: (-f.customers, -f.conversations, KINDS.index(f.kind), f.theme))
    return AvoidableReport(
        account=account, period=period, within=within, after=split, conversations=total, findings=findings
    )
