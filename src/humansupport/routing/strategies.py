"""Built-in fallback strategies for when nobody who knows the customer is eligible.

They reach the router through the same `register_routing_strategies` hook as third-party ones: the
registry registers `BuiltinStrategies` itself, so a plugin can add or (by name) shadow nothing silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Final

from ..extensions import RoutingStrategy
from ..hookspecs import hookimpl
from ..models import Agent, Conversation

__all__ = ["BUILTIN_PLUGIN_NAME", "BuiltinStrategies", "LeastLoaded", "RoundRobin"]

BUILTIN_PLUGIN_NAME: Final = "humansupport.builtin"


class LeastLoaded:
    """The candidate with the lowest load relative to capacity (then fewest open, then id: deterministic)."""

    name: ClassVar[str] = "least_loaded"

    def choose(self, conversation: Conversation, candidates: Sequence[Agent], loads: Mapping[str, int]) -> Agent | None:
        if not candidates:
            return None

        def key(agent: Agent) -> tuple[float, int, str]:
            load = loads.get(agent.id, 0)
            return (load / agent.capacity if agent.capacity else float(load), load, agent.id)

        return min(candidates, key=key)


class RoundRobin:
    """Takes turns within the conversation's group, in agent-id order, skipping who is not a candidate."""

    name: ClassVar[str] = "round_robin"

    def __init__(self) -> None:
        self._last: dict[str | None, str] = {}

    def choose(self, conversation: Conversation, candidates: Sequence[Agent], loads: Mapping[str, int]) -> Agent | None:
        if not candidates:
            return None
        ordered = sorted(candidates, key=lambda a: a.id)
        last = self._last.get(conversation.group_id)
        chosen = next((a for a in ordered if last is None or a.id > last), ordered[0])
        self._last[conversation.group_id] = chosen.id
        return chosen


class BuiltinStrategies:
    """The core's own plugin object: contributes the two built-in strategies through the hook."""

    @staticmethod
    @hookimpl
    def register_routing_strategies() -> list[type[RoutingStrategy]]:
        return [LeastLoaded, RoundRobin]
