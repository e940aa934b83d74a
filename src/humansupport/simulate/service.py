"""What `humansupport simulate` does: read the period from the store, replay each policy, sweep, report."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from ..extensions import RoutingStrategy
from ..store import Store
from .history import PresenceConfig, SimHistory, load_history
from .policies import AS_IT_HAPPENED, BUILTIN_POLICIES, PREFERRED, UPPER_BOUND, ReplaySettings, make_policy
from .sweep import SweepPoint, run_points, run_policy

__all__ = ["POLICY_LABELS", "SimulationReport", "run_simulation", "simulate_history"]

POLICY_LABELS: Final = {
    AS_IT_HAPPENED: "as it happened",
    "round_robin": "round robin",
    "least_loaded": "least loaded",
    PREFERRED: "preferred-agent routing",
    UPPER_BOUND: "upper bound",
}
#: what a sweep point keeps of its replay's figures
_POINT_FIGURES: Final = (
    "preferred_agent_share",
    "upc",
    "coc",
    "secon",
    "wait_to_first_agent_hours",
    "waited_past_timeout",
    "unassigned_at_end",
    "missed_preferred",
    "possible_preferred",
    "seconds",
    "cpu_seconds",
)


@dataclass(kw_only=True)
class SimulationReport:
    """Figures per policy and per sweep point over one period of one account's history."""

    account: str
    start: datetime
    end: datetime
    conversations: int
    agents: int
    settings: dict[str, Any]
    policies: list[dict[str, Any]]
    sweep: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def policy(self, name: str) -> dict[str, Any] | None:
        return next((p for p in self.policies if p["policy"] == name), None)

    @property
    def possible_preferred(self) -> dict[str, Any] | None:
        """Preferred-agent routing's returning conversations that reached their preferred agent, out of those
        that could have (the agent did, or was in the helpdesk and on shift within the allowed wait)."""
        routed = self.policy(PREFERRED)
        return None if routed is None else routed.get("possible_preferred")

    @property
    def reaches(self) -> float | None:
        """Preferred-agent routing's reached / possible, within its own replay: at most 1 by construction."""
        counts = self.possible_preferred
        return None if counts is None else counts["reaches"]

    def summary(self) -> str:
        """One line: what preferred-agent routing would have given, against history and the ceiling."""
        days = (self.end - self.start).total_seconds() / 86_400
        head = f"{self.account}: replayed {self.conversations} conversations over {days:.0f} days"
        routed, happened = self.policy(PREFERRED), self.policy(AS_IT_HAPPENED)
        if self.conversations == 0:
            return f"{head}: no conversations in the period, nothing to compare"
        if routed is None or routed["preferred_agent_share"] is None:
            return f"{head}; no returning customers in the period, so no preferred agent to reach"
        parts = [
            f"{head}; preferred-agent routing gives {routed['preferred_agent_share']:.0%} of returning customers "
            "their preferred agent"
        ]
        if happened is not None and happened["preferred_agent_share"] is not None:
            parts.append(f" (as it happened: {happened['preferred_agent_share']:.0%})")
        if self.reaches is not None:
            parts.append(f", {self.reaches:.0%} of what was possible")
        p90 = routed["wait_to_first_agent_hours"]["p90"]
        if p90 is not None:
            parts.append(f", p90 wait for an agent {_duration(p90)}")
        return "".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "period": {"start": self.start, "end": self.end},
            "conversations": self.conversations,
            "agents": self.agents,
            "settings": self.settings,
            "policies": self.policies,
            "reaches": self.reaches,
            "possible_preferred": self.possible_preferred,
            "sweep": self.sweep,
            "summary": self.summary(),
            "seconds": round(self.seconds, 2),
        }


def _duration(hours: float) -> str:
    if hours == 0:
        return "0 min"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:.1f} h"


def settings_dict(settings: ReplaySettings) -> dict[str, Any]:
    """The routing settings a report states (what the current-settings marker means)."""
    router, affinity = settings.router, settings.affinity
    return {
        "threshold": router.threshold,
        "wait_for_preferred_hours": router.wait_for_preferred_hours,
        "top_k": router.top_k,
        "fallback": router.fallback,
        "groups": list(router.groups),
        "keep_owner_channels": list(router.keep_owner_channels),
        "default_capacity": router.default_capacity,
        "half_life_days": affinity.half_life_days,
        "stickiness_days": affinity.stickiness_days,
    }


def simulate_history(
    history: SimHistory,
    *,
    policies: Sequence[str] = BUILTIN_POLICIES,
    settings: ReplaySettings | None = None,
    strategies: Mapping[str, type[RoutingStrategy]],
    sweep: Sequence[SweepPoint] = (),
    workers: int | None = None,
) -> SimulationReport:
    """Replays each policy (and each sweep point) over a loaded history."""
    started = time.perf_counter()
    current = settings or ReplaySettings()
    for name in policies:  # unknown names fail before any work
        make_policy(name, settings=current, strategies=strategies)
    rows: list[dict[str, Any]] = []
    for name in dict.fromkeys(policies):
        figures, _ = run_policy(history, name, settings=current, strategies=strategies)
        rows.append({"label": POLICY_LABELS.get(name, name.replace("_", " ")), **figures})
    points: list[dict[str, Any]] = []
    if sweep:
        routed = next((r for r in rows if r["policy"] == PREFERRED), None)
        if routed is None:
            routed, _ = run_policy(history, PREFERRED, settings=current, strategies=strategies)
        swept = run_points(history, sweep, base=current, strategies=strategies, workers=workers)
        points.append(_point(SweepPoint(label="current settings", current=True), routed))
        points.extend(_point(p, f) for p, f in zip(sweep, swept, strict=True))
    return SimulationReport(
        account=history.account,
        start=history.start,
        end=history.end,
        conversations=len(history.conversations),
        agents=len(history.agents),
        settings=settings_dict(current),
        policies=rows,
        sweep=points,
        seconds=time.perf_counter() - started,
    )


def _point(point: SweepPoint, figures: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "label": point.label,
        "current": point.current,
        "values": dict(point.values),
        **{k: figures[k] for k in _POINT_FIGURES},
    }


def run_simulation(
    store: Store,
    account: str,
    *,
    start: datetime,
    end: datetime,
    policies: Sequence[str] = BUILTIN_POLICIES,
    settings: ReplaySettings | None = None,
    strategies: Mapping[str, type[RoutingStrategy]],
    sweep: Sequence[SweepPoint] = (),
    workers: int | None = None,
    presence: PresenceConfig | None = None,
) -> SimulationReport:
    """Reads the period and the history before it from the store, then `simulate_history`."""
    current = settings or ReplaySettings()
    for name in policies:
        make_policy(name, settings=current, strategies=strategies)
    for point in sweep:
        point.apply(current)
    history = load_history(
        store, account, start=start, end=end, presence=presence, default_capacity=current.router.default_capacity
    )
    return simulate_history(
        history, policies=policies, settings=current, strategies=strategies, sweep=sweep, workers=workers
    )


def replace_settings(settings: ReplaySettings, **values: Any) -> ReplaySettings:
    """`settings` with router or affinity fields replaced by name (tests and the demo)."""
    router_fields = {f.name for f in dataclasses.fields(settings.router)}
    return ReplaySettings(
        router=dataclasses.replace(settings.router, **{k: v for k, v in values.items() if k in router_fields}),
        affinity=dataclasses.replace(settings.affinity, **{k: v for k, v in values.items() if k not in router_fields}),
    )
