"""`humansupport demo`: the whole product on a fake helpdesk, with no credentials.

It seeds a plugin's fake with a synthetic year of support, syncs it through the vendor adapter into a
temporary SQLite store, routes every unassigned open conversation, assigns them through the adapter
(verified by read-back), syncs again, and prints the relationship metrics before and after with a few
decisions and their reasons. With no plugin installed it says so and runs the same steps on the
synthetic data directly (no adapter, no requests).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from .errors import ConfigError
from .helpdesk import AsyncHelpdesk
from .metrics import compute_metrics
from .plugins import get_registry, published_vendors
from .routing import Router, RouterConfig, RoutingDecision
from .routing.apply import apply_decisions
from .store import Store
from .sync import sync_helpdesk
from .testing.clock import FakeClock
from .testing.synthetic import HistoryConfig, SyntheticHistory, generate_history

__all__ = ["DemoReport", "run_demo"]

NO_PLUGIN_NOTE: Final = "No helpdesk plugin is installed; the demo ran on the synthetic data directly."
COMPARED: Final = (
    ("open_with_preferred_agent_share", "open conversations with their preferred agent"),
    ("preferred_agent_share", "all conversations with the preferred agent"),
    ("upc", "UPC (usual provider of care)"),
    ("coc", "COC (Bice-Boxerman continuity)"),
    ("secon", "SECON (sequential continuity)"),
    ("repeat_contact_rate", "repeat-contact rate (7 days)"),
    ("good_rating_share_first_contact", "good ratings, first contact with the agent"),
    ("good_rating_share_returning_same_agent", "good ratings, returning to the same agent"),
    ("median_first_reply_hours", "median first reply (h)"),
    ("median_resolution_hours", "median resolution (h)"),
)


@dataclass(kw_only=True)
class DemoReport:
    vendor: str | None
    customers: int
    conversations: int
    messages: int
    agents: int
    requests: int
    before: dict[str, Any]
    after: dict[str, Any]
    routed: int
    assigned: int
    waiting_or_unassigned: int
    to_usual_agent: int
    usual_agent_eligible: int
    decisions: list[RoutingDecision] = field(default_factory=list)
    seconds: float = 0.0
    note: str | None = None
    #: the digest's top themes over the last 30 days of the data
    themes: list[dict[str, Any]] = field(default_factory=list)
    #: the reply-certainty check over the fake's saved replies; None without a plugin or saved replies
    replies: dict[str, Any] | None = None
    #: `humansupport simulate` on the same store: its one-line summary and the HTML report's path
    simulation: dict[str, Any] | None = None

    @property
    def usual_agent_share(self) -> float:
        """Before routing: how often returning customers reached their preferred agent."""
        return float(self.before.get("preferred_agent_share") or 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "customers": self.customers,
            "conversations": self.conversations,
            "messages": self.messages,
            "agents": self.agents,
            "requests": self.requests,
            "usual_agent_share": round(self.usual_agent_share, 4),
            "before": self.before,
            "after": self.after,
            "routed": self.routed,
            "assigned": self.assigned,
            "waiting_or_unassigned": self.waiting_or_unassigned,
            "to_usual_agent": self.to_usual_agent,
            "usual_agent_eligible": self.usual_agent_eligible,
            "decisions": [d.to_dict() for d in self.decisions],
            "seconds": round(self.seconds, 2),
            "note": self.note,
            "themes": self.themes,
            "replies": self.replies,
            "simulation": self.simulation,
        }

    def print(self, console: Console) -> None:
        where = (
            f"fake {self.vendor}, synced through its adapter ({self.requests} API requests)"
            if self.vendor
            else "synthetic data"
        )
        console.print(f"[bold]humansupport demo[/] on {where}")
        if self.note:
            console.print(self.note, style="yellow")
        console.print(
            f"{self.customers} customers, {self.conversations} conversations, {self.messages} messages, "
            f"{self.agents} agents. Routed {self.routed} unassigned open conversations: {self.assigned} assigned, "
            f"{self.waiting_or_unassigned} left unassigned. {self.to_usual_agent} of the "
            f"{self.usual_agent_eligible} whose usual agent was available went to that agent."
        )
        table = Table("relationship metric", "before", "after", title="before / after routing")
        for key, label in COMPARED:
            table.add_row(label, _fmt(self.before.get(key)), _fmt(self.after.get(key)))
        console.print(table)
        decisions = Table("conversation", "to", "stage", "why", title="a few routing decisions")
        for d in self.decisions:
            decisions.add_row(d.conversation_id, d.agent_name or "(nobody)", d.stage, d.reason)
        console.print(decisions)
        if self.themes:
            themes = Table(
                "theme", "conversations", "customers", "vs previous 30 days", "good ratings", title="feedback digest"
            )
            for t in self.themes:
                good = "-" if t["good_share"] is None else f"{t['good_share']:.0%}"
                themes.add_row(t["theme"], str(t["conversations"]), str(t["customers"]), f"{t['change']:+d}", good)
            console.print(themes)
            console.print(f"full report: humansupport digest {self.vendor or 'VENDOR'} --since 30d", style="dim")
        if self.replies is not None:
            r = self.replies
            console.print(
                f"reply-certainty check: {r['findings']} findings in {r['flagged']} of {r['replies']} saved replies "
                f"({', '.join(f'{k} {v}' for k, v in sorted(r['by_rule'].items()))}); "
                f"see: humansupport replies lint --vendor {self.vendor}"
            )
        console.print(f"done in {self.seconds:.1f} s", style="dim")
        if self.simulation is not None:
            console.print(
                f"{self.simulation['summary']}; report: {self.simulation['report']}", highlight=False, soft_wrap=True
            )


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value <= 1.0:
        return f"{value:.1%}"
    return str(value)


def _showcase(decisions: list[RoutingDecision], n: int) -> list[RoutingDecision]:
    """A few decisions, one per stage first, so the reader sees preferred, fallback and waiting at work."""
    picked: list[RoutingDecision] = []
    seen: set[str] = set()
    for d in decisions:
        if d.stage not in seen:
            seen.add(d.stage)
            picked.append(d)
    for d in decisions:
        if len(picked) >= n:
            break
        if d not in picked:
            picked.append(d)
    return picked[:n]


def _load_direct(store: Store, account: str, history: SyntheticHistory) -> None:
    now = history.config.end
    store.upsert_agents(account, history.agents, seen_at=now)
    store.upsert_groups(account, history.groups)
    store.upsert_customers(account, history.customers)
    store.write_conversations(account, [(c, history.messages[c.id]) for c in history.conversations])
    store.upsert_ratings(account, history.ratings)
    store.set_cursor(account, "conversations", now, items=len(history.conversations), at=now)


def run_demo(
    *,
    vendor: str | None = None,
    customers: int = 300,
    seed: int = 7,
    show: int = 6,
    keep_store: Path | None = None,
    report: Path | None = None,
) -> DemoReport:
    """Seeds a fake, syncs, routes the backlog, applies it on the fake and reports before/after metrics.

    It ends with `humansupport simulate` on the synced store, written as HTML to `report` (default: in the temp
    directory, which outlives the demo's store).
    """
    started = time.perf_counter()
    history = generate_history(HistoryConfig(customers=customers, seed=seed))
    registry = get_registry()
    fakes = registry.fakes()
    # by default a published plugin's fake (the first installed, by name), else any
    chosen = vendor or next((v for v in published_vendors() if v in fakes), next(iter(fakes), None))
    if vendor is not None and vendor not in fakes:
        raise ConfigError(f"no fake helpdesk for {vendor!r} (available: {', '.join(fakes) or 'none'})")
    clock = FakeClock(start=history.config.end + timedelta(hours=1))
    config = RouterConfig(threshold=0.5, top_k=3)
    with tempfile.TemporaryDirectory(prefix="humansupport-demo-") as tmp:
        path = keep_store or Path(tmp) / "demo.db"
        with Store.open(path) as store:
            account = chosen or "synthetic"
            requests = 0
            if chosen is None:
                _load_direct(store, account, history)
                router = Router.from_store(store, account, now=clock.now(), config=config)
                before = compute_metrics(store, account).overall
                backlog = [c for c in store.iter_conversations(account, open_only=True) if c.assignee_id is None]
                decisions = router.route_many(backlog, now=clock.now())
                for d in decisions:
                    if d.action == "assign" and d.agent_id:
                        conv = next(c for c in backlog if c.id == d.conversation_id)
                        store.set_assignee(account, conv.model_copy(update={"assignee_id": d.agent_id}))
                after = compute_metrics(store, account).overall
                note: str | None = NO_PLUGIN_NOTE
            else:
                replies: dict[str, Any] | None = None
                fake = fakes[chosen](history=history, clock=clock)
                cls = registry.helpdesk(chosen)
                settings = cls.settings_model.model_validate(fake.adapter_settings())

                async def go() -> tuple[dict[str, Any], dict[str, Any], list[RoutingDecision]]:
                    nonlocal replies
                    async with cls.from_settings(settings, transport=fake.transport(), clock=clock) as adapter:
                        await sync_helpdesk(adapter, store, account=account, clock=clock)
                        before = compute_metrics(store, account).overall
                        agents = [a async for a in adapter.iter_agents()]
                        router = Router.from_store(store, account, now=clock.now(), config=config, agents=agents)
                        backlog = {
                            c.id: c for c in store.iter_conversations(account, open_only=True) if c.assignee_id is None
                        }
                        decisions = router.route_many(backlog.values(), now=clock.now())
                        await apply_decisions(adapter, decisions, backlog, store=store, account=account)
                        clock.advance(60)
                        await sync_helpdesk(adapter, store, account=account, clock=clock)
                        if adapter.capabilities.saved_replies:
                            replies = await _lint_replies(adapter)
                        return before, compute_metrics(store, account).overall, decisions

                before, after, decisions = asyncio.run(go())
                requests = len(fake.requests)
                note = None
            counts = store.counts(account)
            agents_now = {a.id: a for a, gone in store.agents(account) if gone is None}
            themes = _top_themes(store, account, end=clock.now())
            simulation = _simulate(store, account, end=clock.now(), vendor=chosen, report=report)
    eligible = hits = 0
    for d in decisions:
        usual = history.usual_agent(d.customer_id or "")
        agent = agents_now.get(usual or "")
        if agent is not None and agent.active and str(agent.availability) not in ("away", "offline"):
            eligible += 1
            hits += d.agent_id == usual
    return DemoReport(
        vendor=chosen,
        customers=len(history.customers),
        conversations=counts["conversations"],
        messages=counts["messages"],
        agents=counts["agents"],
        requests=requests,
        before=before,
        after=after,
        routed=len(decisions),
        assigned=sum(d.action == "assign" for d in decisions),
        waiting_or_unassigned=sum(d.action in ("wait", "none") for d in decisions),
        to_usual_agent=hits,
        usual_agent_eligible=eligible,
        decisions=_showcase(decisions, show),
        seconds=time.perf_counter() - started,
        note=note,
        themes=themes,
        replies=replies if chosen is not None else None,
        simulation=simulation,
    )


def _top_themes(store: Store, account: str, *, end: datetime, n: int = 5) -> list[dict[str, Any]]:
    """The digest's biggest themes over the data's last 30 days, against the 30 days before."""
    from .insights import ThemeMap, build_digest
    from .insights.periods import Period

    report = build_digest(store, account, period=Period(end - timedelta(days=30), end), themes=ThemeMap(), examples=0)
    return [
        {
            "theme": t.theme,
            "conversations": t.conversations,
            "customers": t.customers,
            "change": t.change,
            "good_share": None if t.good + t.bad == 0 else round(t.good / (t.good + t.bad), 4),
        }
        for t in report.themes[:n]
    ]


async def _lint_replies(adapter: AsyncHelpdesk) -> dict[str, Any]:
    """`replies lint --vendor` in brief: how many saved replies hedge, apologise by reflex, promise or blame."""
    from .replies.linter import Linter, LintReport
    from .replies.sources import lint_saved_replies

    linter = Linter(rules=get_registry().reply_rules())
    summary = LintReport(replies=[r async for r in lint_saved_replies(adapter, linter)]).summary()
    return {
        "replies": summary["replies"],
        "flagged": summary["replies_with_findings"],
        "findings": summary["findings"],
        "by_rule": summary["by_rule"],
    }


def _simulate(store: Store, account: str, *, end: datetime, vendor: str | None, report: Path | None) -> dict[str, Any]:
    """`humansupport simulate ACCOUNT --since 180d --sweep wait=0,1h,4h --format html`, in brief."""
    from .simulate import parse_sweep, run_simulation
    from .simulate.cli import write_report

    result = run_simulation(
        store,
        account,
        start=end - timedelta(days=180),
        end=end,
        strategies=get_registry().routing_strategies(),
        sweep=parse_sweep(["wait=0,1h,4h"]),
        workers=1,  # a few thousand conversations: processes would cost more than they save
    )
    path = report or Path(tempfile.gettempdir()) / "humansupport-demo" / f"simulate-{vendor or 'synthetic'}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_report(result, "html", path)
    return {"summary": result.summary(), "report": str(path), "reaches": result.reaches}
