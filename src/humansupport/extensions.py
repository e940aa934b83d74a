"""The shapes of the non-adapter things plugins contribute: profile enrichers and routing strategies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from .models import Agent, Conversation, Customer

__all__ = ["Enricher", "RoutingStrategy"]


@runtime_checkable
class Enricher(Protocol):
    """Adds profile fields for a customer; `provides` names the fields so conflicts are settled by config order."""

    name: ClassVar[str]
    provides: ClassVar[frozenset[str]]

    async def enrich(self, customer: Customer, context: Mapping[str, Any]) -> Mapping[str, Any]:
        """Field values for this customer; only names in `provides`, nothing outside the consent allow-list."""
        ...


@runtime_checkable
class RoutingStrategy(Protocol):
    """Picks an agent when no preferred agent is eligible (least loaded, round robin, ...)."""

    name: ClassVar[str]

    def choose(self, conversation: Conversation, candidates: Sequence[Agent], loads: Mapping[str, int]) -> Agent | None:
        """One of `candidates`, or None to leave the conversation unassigned."""
        ...
