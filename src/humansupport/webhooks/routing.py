"""A Router per helpdesk account, kept warm between events: affinity refreshed incrementally, agents read live.

Building the affinity index reads every reply in the store; doing that per event would cap the service at a
few events a second. The index is built once and refreshed (new replies only) every `affinity_ttl`; the team
(availability changes by the minute) is re-read from the helpdesk every `agents_ttl` or when an
availability event arrives, and open loads are re-counted from the store at the same time. These loads only
guide the choice: the capacity check that counts is the store's reservation (`routing/capacity.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..clock import Clock
from ..extensions import RoutingStrategy
from ..helpdesk import AsyncHelpdesk
from ..models import Agent
from ..routing.affinity import AffinityConfig, AffinityIndex
from ..routing.capacity import CapacityLedger
from ..routing.router import Router, RouterConfig
from ..store import Store

__all__ = ["RouterCache", "RoutingOptions"]


@dataclass(frozen=True, kw_only=True)
class RoutingOptions:
    """The router's policies plus how long its inputs are trusted."""

    router: RouterConfig = field(default_factory=RouterConfig)
    affinity: AffinityConfig = field(default_factory=AffinityConfig)
    strategies: Mapping[str, type[RoutingStrategy]] | None = None
    agents_ttl: float = 30.0
    affinity_ttl: float = 300.0


class RouterCache:
    """`await cache.get()` returns a Router whose agents are at most `agents_ttl` old."""

    def __init__(
        self, *, store: Store, account: str, adapter: AsyncHelpdesk, options: RoutingOptions, clock: Clock
    ) -> None:
        self.store = store
        self.account = account
        self.adapter = adapter
        self.options = options
        self.clock = clock
        self._index: AffinityIndex | None = None
        self._index_at = 0.0
        self._router: Router | None = None
        self._router_at = 0.0
        self._lock = asyncio.Lock()
        self.builds = 0

    def invalidate_agents(self) -> None:
        """The next `get()` re-reads the team (an agent's availability changed)."""
        self._router = None

    async def get(self) -> Router:
        async with self._lock:
            mono = self.clock.monotonic()
            if self._index is None:
                self._index = await asyncio.to_thread(
                    AffinityIndex.build, self.store, self.account, now=self.clock.now(), config=self.options.affinity
                )
                self._index_at = mono
                self.builds += 1
            elif mono - self._index_at >= self.options.affinity_ttl:
                await asyncio.to_thread(self._index.refresh, self.store, self.account)
                self._index_at = mono
            if self._router is None or mono - self._router_at >= self.options.agents_ttl:
                agents = [a async for a in self.adapter.iter_agents()]
                self._router = await asyncio.to_thread(self._build, self._index, agents)
                self._router_at = mono
            return self._router

    def _build(self, index: AffinityIndex, agents: list[Agent]) -> Router:
        stored = self.store.agents(self.account)
        live = {a.id for a in agents}
        deleted = {a.id for a, gone in stored if gone is not None} | ({a.id for a, _ in stored} - live)
        return Router(
            index=index,
            agents=agents,
            # open conversations plus assignments in flight in any process (the store's reservations)
            loads=CapacityLedger(self.store).loads(self.account),
            deleted=deleted,
            config=self.options.router,
            strategies=self.options.strategies,
        )
