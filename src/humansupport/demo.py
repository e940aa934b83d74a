"""`humansupport demo`: a fake helpdesk seeded with a synthetic year of support, read through the adapter.

It shows the problem the product solves: how often returning customers reached the agent who knows
them, and who would know each waiting customer best.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from .helpdesk import AsyncHelpdesk
from .models import Agent, Conversation
from .plugins import get_registry
from .testing.clock import FakeClock
from .testing.synthetic import HistoryConfig, generate_history

__all__ = ["DemoReport", "run_demo"]


@dataclass(kw_only=True)
class DemoReport:
    vendor: str | None
    customers: int
    conversations: int
    agents: int
    requests: int
    returning_customers: int
    usual_agent_share: float
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "customers": self.customers,
            "conversations": self.conversations,
            "agents": self.agents,
            "requests": self.requests,
            "returning_customers": self.returning_customers,
            "usual_agent_share": round(self.usual_agent_share, 4),
            "suggestions": self.suggestions,
            "note": self.note,
        }

    def print(self, console: Console) -> None:
        where = (
            f"fake {self.vendor} (read through its adapter, {self.requests} API requests)"
            if self.vendor
            else "synthetic data"
        )
        console.print(f"[bold]humansupport demo[/] on {where}")
        if self.note:
            console.print(self.note, style="yellow")
        console.print(
            f"{self.customers} customers, {self.conversations} conversations, {self.agents} agents; "
            f"{self.returning_customers} customers came back. Returning customers reached the agent who "
            f"knew them best in [bold]{self.usual_agent_share:.0%}[/] of their conversations."
        )
        table = Table("waiting conversation", "customer", "now with", "knows them best", "why")
        for s in self.suggestions:
            table.add_row(
                s["conversation_id"],
                s["customer_id"],
                s["assignee"] or "(nobody)",
                s["suggested"],
                s["reason"],
            )
        console.print(table)


def _stats(conversations: list[Conversation], agents: dict[str, Agent]) -> tuple[int, float, list[dict[str, Any]]]:
    by_customer: dict[str, list[Conversation]] = defaultdict(list)
    for conv in conversations:
        if conv.customer_id:
            by_customer[conv.customer_id].append(conv)
    hits = total = returning = 0
    suggestions: list[dict[str, Any]] = []
    for customer_id, convs in sorted(by_customer.items()):
        convs.sort(key=lambda c: (c.created_at is None, c.created_at))
        if len(convs) > 1:
            returning += 1
        seen: Counter[str] = Counter()
        for conv in convs:
            if seen and conv.assignee_id:
                total += 1
                hits += conv.assignee_id == seen.most_common(1)[0][0]
            if conv.status.is_open and seen:
                best, count = seen.most_common(1)[0]
                if conv.assignee_id != best and best in agents and len(suggestions) < 8:
                    suggestions.append(
                        {
                            "conversation_id": conv.id,
                            "customer_id": customer_id,
                            "assignee": agents[conv.assignee_id].name if conv.assignee_id in agents else None,
                            "suggested": agents[best].name or best,
                            "reason": f"handled {count} of their {sum(seen.values())} earlier conversations",
                        }
                    )
            if conv.assignee_id and not conv.status.is_open:
                seen[conv.assignee_id] += 1
    return returning, (hits / total if total else 0.0), suggestions


async def _read(adapter: AsyncHelpdesk) -> tuple[list[Conversation], dict[str, Agent]]:
    async with adapter:
        agents = {a.id: a async for a in adapter.iter_agents()}
        conversations = [c async for c in adapter.iter_conversations()]
    return conversations, agents


def run_demo(*, vendor: str | None = None, customers: int = 300, seed: int = 7) -> DemoReport:
    """Seeds a fake helpdesk, reads it through the vendor adapter and reports continuity."""
    history = generate_history(HistoryConfig(customers=customers, seed=seed))
    registry = get_registry()
    fakes = registry.fakes()
    chosen = vendor or ("zendesk" if "zendesk" in fakes else next(iter(fakes), None))
    if chosen is None:
        agents = {a.id: a for a in history.agents}
        returning, share, suggestions = _stats(history.conversations, agents)
        return DemoReport(
            vendor=None,
            customers=len(history.customers),
            conversations=len(history.conversations),
            agents=len(agents),
            requests=0,
            returning_customers=returning,
            usual_agent_share=share,
            suggestions=suggestions,
            note="No helpdesk plugin is installed; the demo ran on the synthetic data directly.",
        )
    if chosen not in fakes:
        from .errors import ConfigError

        raise ConfigError(f"no fake helpdesk for {chosen!r} (available: {', '.join(fakes) or 'none'})")
    clock = FakeClock(start=history.config.end + timedelta(hours=1))
    fake = fakes[chosen](history=history, clock=clock)
    cls = registry.helpdesk(chosen)
    settings = cls.settings_model.model_validate(fake.adapter_settings())
    adapter = cls.from_settings(settings, transport=fake.transport(), clock=clock)
    conversations, agents = asyncio.run(_read(adapter))
    returning, share, suggestions = _stats(conversations, agents)
    return DemoReport(
        vendor=chosen,
        customers=len(history.customers),
        conversations=len(conversations),
        agents=len(agents),
        requests=len(fake.requests),
        returning_customers=returning,
        usual_agent_share=share,
        suggestions=suggestions,
    )
