"""What `humansupport route` does, as a function: fresh data from the helpdesk, history from the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import NotFoundError
from ..extensions import RoutingStrategy
from ..helpdesk import AsyncHelpdesk
from ..models import Conversation
from ..store import Store
from .affinity import AffinityConfig
from .apply import ApplyResult, apply_decisions
from .router import Router, RouterConfig, RoutingDecision

__all__ = ["RouteResult", "route_conversations"]


@dataclass(kw_only=True)
class RouteResult:
    decisions: list[RoutingDecision]
    applied: list[ApplyResult] = field(default_factory=list)
    dry_run: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "decisions": [d.to_dict() for d in self.decisions],
            "applied": [a.to_dict() for a in self.applied],
        }

    def print(self, console: Console) -> None:
        table = Table("conversation", "action", "agent", "score", "reason")
        for d in self.decisions:
            score = "" if d.score is None else f"{d.score:.2f}"
            table.add_row(d.conversation_id, d.action, d.agent_name or "", score, d.reason)
        console.print(table)
        if self.dry_run:
            console.print("dry run: nothing was assigned (add --apply)", style="dim")
        for a in self.applied:
            console.print(f"{a.conversation_id}: {a.outcome} ({a.message})")


async def route_conversations(
    adapter: AsyncHelpdesk,
    store: Store,
    *,
    account: str,
    conversation_id: str | None = None,
    apply: bool = False,
    config: RouterConfig | None = None,
    affinity: AffinityConfig | None = None,
    clock: Clock = SYSTEM_CLOCK,
    strategies: Mapping[str, type[RoutingStrategy]] | None = None,
) -> RouteResult:
    """Routes one conversation (read fresh from the helpdesk) or every unassigned open one in the store."""
    store.require_account(account, vendor=adapter.vendor, before="routing")
    async with adapter:
        agents = [a async for a in adapter.iter_agents()]  # availability changes by the minute: read it live
        now = clock.now()
        router = Router.from_store(
            store, account, now=now, config=config, affinity=affinity, agents=agents, strategies=strategies
        )
        conversations: dict[str, Conversation] = {}
        if conversation_id is not None:
            try:
                conversations[conversation_id] = await adapter.get_conversation(conversation_id)
            except NotFoundError as exc:
                raise NotFoundError(
                    f"unknown conversation {conversation_id!r} in {adapter.vendor}",
                    vendor=exc.vendor,
                    status=exc.status,
                    method=exc.method,
                    path=exc.path,
                ) from None
        else:
            for conv in store.iter_conversations(account, open_only=True):
                if conv.assignee_id is None:
                    conversations[conv.id] = conv
        decisions = router.route_many(conversations.values(), now=now)
        result = RouteResult(decisions=decisions, dry_run=not apply)
        if apply:
            result.applied = await apply_decisions(
                adapter, decisions, conversations, store=store, account=account, capacity_of=router.capacity_of
            )
    return result
