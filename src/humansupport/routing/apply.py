"""Applying routing decisions through the adapter: guarded by the version we read, verified by read-back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConflictError, HelpdeskError, NotFoundError
from ..helpdesk import AsyncHelpdesk
from ..models import Conversation
from ..store import Store
from .capacity import CapacityLedger
from .router import RoutingDecision

__all__ = ["ApplyResult", "apply_decisions"]

Outcome = Literal["verified", "conflict", "not_found", "mismatch", "failed", "full"]


@dataclass(frozen=True, kw_only=True)
class ApplyResult:
    conversation_id: str
    agent_id: str | None
    outcome: Outcome
    message: str

    @property
    def ok(self) -> bool:
        return self.outcome == "verified"

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "agent_id": self.agent_id,
            "outcome": self.outcome,
            "message": self.message,
        }


async def apply_decisions(
    adapter: AsyncHelpdesk,
    decisions: Sequence[RoutingDecision],
    conversations: Mapping[str, Conversation],
    *,
    store: Store | None = None,
    account: str | None = None,
    concurrency: int = 4,
    capacity_of: Callable[[str], int | None] | None = None,
) -> list[ApplyResult]:
    """Assigns each `assign` decision unless the conversation changed since it was read (never clobbers).

    With a store and account, each assignment first reserves a slot of its agent in the store (`capacity_of`
    gives the agent's capacity), so webhook workers and other commands assigning at the same time never put an
    agent over capacity together; a decision whose agent filled up meanwhile is left unassigned (`full`).
    """
    semaphore = asyncio.Semaphore(max(1, concurrency))
    ledger = CapacityLedger(store) if store is not None and account is not None else None

    async def one(decision: RoutingDecision) -> ApplyResult:
        conv = conversations[decision.conversation_id]
        agent = decision.agent_id
        assert agent is not None
        if ledger is not None and account is not None:
            capacity = capacity_of(agent) if capacity_of is not None else None
            reservation = await asyncio.to_thread(ledger.reserve, account, conv.id, agent, capacity=capacity)
            if not reservation.taken:
                return ApplyResult(
                    conversation_id=conv.id,
                    agent_id=agent,
                    outcome="full",
                    message=f"left unassigned: {reservation.describe()}; route it again",
                )
        result = await assign(conv, agent)
        # stored (now counted as a conversation) or surely not written: the slot is freed; after a failure the
        # write may have landed, so the reservation keeps counting until it expires
        if ledger is not None and account is not None and result.outcome != "failed":
            await asyncio.to_thread(ledger.release, account, [conv.id])
        return result

    async def assign(conv: Conversation, agent: str) -> ApplyResult:
        async with semaphore:
            try:
                await adapter.assign(
                    conv.id,
                    agent,
                    group_id=None,
                    expected_updated_at=conv.updated_at,
                    expected_version=conv.version,
                )
                fresh = await adapter.get_conversation(conv.id)
            except ConflictError:
                return ApplyResult(
                    conversation_id=conv.id,
                    agent_id=agent,
                    outcome="conflict",
                    message="changed in the helpdesk since it was read; left untouched",
                )
            except NotFoundError:
                return ApplyResult(
                    conversation_id=conv.id, agent_id=agent, outcome="not_found", message="deleted in the helpdesk"
                )
            except HelpdeskError as exc:
                return ApplyResult(conversation_id=conv.id, agent_id=agent, outcome="failed", message=str(exc))
        if store is not None and account is not None:
            store.set_assignee(account, fresh)
        if fresh.assignee_id != agent:
            return ApplyResult(
                conversation_id=conv.id,
                agent_id=agent,
                outcome="mismatch",
                message=f"read back assignee {fresh.assignee_id!r}, expected {agent!r}",
            )
        return ApplyResult(
            conversation_id=conv.id, agent_id=agent, outcome="verified", message="assigned and read back"
        )

    todo = [d for d in decisions if d.action == "assign" and d.agent_id]
    return list(await asyncio.gather(*(one(d) for d in todo)))
