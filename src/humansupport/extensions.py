"""The shapes of the non-adapter things plugins contribute: profile enrichers, routing strategies, reply rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from .models import Agent, Conversation, Customer

if TYPE_CHECKING:
    from .reply_text import ReplyText, RuleMatch, RuleOptions

__all__ = ["Enricher", "ReplyRule", "RoutingStrategy"]


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


@runtime_checkable
class ReplyRule(Protocol):
    """Finds one kind of problem in a saved reply for `humansupport replies lint` (hedging, blame, ...).

    `id` is unique and kebab-case (`[replies.rules.<id>]` configures it); `severity` is the default ("info",
    "warning" or "error"); `summary` is one line for docs and listings. The linter instantiates the class
    with no arguments once per run. `humansupport.replies.PhraseRule` implements `check` from a
    table of phrases with rewrites.
    """

    id: ClassVar[str]
    severity: ClassVar[str]
    summary: ClassVar[str]

    def check(self, reply: ReplyText, options: RuleOptions) -> Iterable[RuleMatch]:
        """Matches as offsets into `reply.searchable`, each with a reason and a suggested rewrite."""
        ...
