"""A sweep of routing settings: `--sweep wait=0,15m,1h,4h --sweep threshold=0.5,1`, one replay per point.

Each point replays the `preferred` policy with the current settings changed by the point's values; points run
in parallel processes (the history is sent once per worker), so a sweep of 20 settings on two cores takes
about ten replays' time.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import ConfigError
from ..extensions import RoutingStrategy
from .engine import Replay
from .figures import figures
from .history import SimHistory
from .policies import PREFERRED, ReplaySettings, make_policy

__all__ = ["MAX_POINTS", "SWEEP_KEYS", "SweepPoint", "parse_sweep", "run_points", "run_policy"]

MAX_POINTS: Final = 64
_UNIT_SECONDS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
#: sweep key -> (setting, what a bare number means, help)
SWEEP_KEYS: Final[dict[str, tuple[str, str, str]]] = {
    "wait": ("wait_for_preferred_hours", "h", "how long a conversation waits for its preferred agent (0, 15m, 1h)"),
    "stickiness": ("wait_for_preferred_hours", "h", "the same as wait: how long routing sticks to the preferred agent"),
    "window": ("stickiness_days", "d", "affinity's stickiness window: ignore history older than this (30d; 0: none)"),
    "threshold": ("threshold", "", "minimum affinity for a preferred agent (0.5)"),
    "half_life": ("half_life_days", "d", "affinity half-life (30d, 90d)"),
    "top_k": ("top_k", "", "affine agents tried before the fallback (1, 3)"),
}


@dataclass(frozen=True, kw_only=True)
class SweepPoint:
    """One setting of the sweep: the values it changes, as given and as applied."""

    label: str
    values: dict[str, Any] = field(default_factory=dict)
    current: bool = False

    def apply(self, base: ReplaySettings) -> ReplaySettings:
        router_fields = {f.name for f in dataclasses.fields(base.router)}
        router = {k: v for k, v in self.values.items() if k in router_fields}
        affinity = {k: v for k, v in self.values.items() if k not in router_fields}
        try:
            return ReplaySettings(
                router=dataclasses.replace(base.router, **router),
                affinity=dataclasses.replace(base.affinity, **affinity),
            )
        except ValueError as exc:
            raise ConfigError(f"--sweep {self.label}: {exc}") from None


def _value(key: str, text: str) -> tuple[Any, str]:
    setting, unit, _ = SWEEP_KEYS[key]
    text = text.strip()
    if setting == "top_k":
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"--sweep {key}: {text!r} is not a whole number >= 1")
        return int(text), text
    if not unit:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"--sweep {key}: {text!r} is not a number") from None
        if number < 0:
            raise ValueError(f"--sweep {key}: {text!r} must not be negative")
        return number, text
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"--sweep {key}: {text!r} is not a duration (e.g. 0, 15m, 4h, 30d)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or unit).lower()]
    amount = seconds / _UNIT_SECONDS[unit]
    if setting == "stickiness_days":
        return (None if amount == 0 else amount), text
    if setting == "half_life_days" and amount <= 0:
        raise ValueError(f"--sweep {key}: the half-life must be positive")
    return amount, text


def parse_sweep(specs: Sequence[str]) -> list[SweepPoint]:
    """`key=v1,v2` specs to points (their product), in the order given; at most `MAX_POINTS`.

    A malformed spec is a ValueError (the command line's usage error) saying what is accepted.
    """
    axes: list[list[tuple[str, Any, str]]] = []
    seen: set[str] = set()
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in SWEEP_KEYS or not values.strip():
            raise ValueError(
                f"--sweep {spec!r}: use KEY=V1,V2,... with KEY one of {', '.join(SWEEP_KEYS)} "
                "(e.g. --sweep wait=0,15m,1h,4h)"
            )
        setting = SWEEP_KEYS[key][0]
        if setting in seen:
            raise ValueError(f"--sweep {spec!r}: {setting} is swept twice")
        seen.add(setting)
        axes.append([(setting, *_labelled(key, v)) for v in values.split(",") if v.strip()])
    points: list[SweepPoint] = []
    for combo in itertools.product(*axes):
        chosen = {setting: value for setting, value, _ in combo}
        label = ", ".join(text for _, _, text in combo)
        points.append(SweepPoint(label=label, values=chosen))
    if len(points) > MAX_POINTS:
        raise ValueError(f"--sweep: {len(points)} settings is more than {MAX_POINTS}; sweep fewer values")
    return points if axes else []


def _labelled(key: str, text: str) -> tuple[Any, str]:
    value, shown = _value(key, text)
    return value, f"{key}={shown}"


def run_policy(
    history: SimHistory,
    name: str,
    *,
    settings: ReplaySettings,
    strategies: Mapping[str, type[RoutingStrategy]],
) -> tuple[dict[str, Any], float]:
    """One replay and its figures; returns (figures, seconds the replay took)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = Replay(history, make_policy(name, settings=settings, strategies=strategies)).run()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    wait = settings.router.wait_for_preferred_hours
    out = figures(history, result, timeout_hours=wait, wait_hours=wait)
    out["seconds"] = round(seconds, 3)
    out["cpu_seconds"] = round(cpu, 3)
    out["decisions"] = result.decisions
    return out, seconds


# -- parallel points: the history goes to each worker once, through the initializer -----------------------

_WORKER: dict[str, Any] = {}


def _init_worker(history: SimHistory, strategies: Mapping[str, type[RoutingStrategy]]) -> None:
    _WORKER["history"] = history
    _WORKER["strategies"] = strategies


def _run_point(settings: ReplaySettings) -> dict[str, Any]:
    return run_policy(_WORKER["history"], PREFERRED, settings=settings, strategies=_WORKER["strategies"])[0]


def run_points(
    history: SimHistory,
    points: Sequence[SweepPoint],
    *,
    base: ReplaySettings,
    strategies: Mapping[str, type[RoutingStrategy]],
    workers: int | None = None,
) -> list[dict[str, Any]]:
    """The `preferred` replay's figures for each point, in order; in `workers` processes (default: the cores)."""
    settings = [p.apply(base) for p in points]
    count = min(workers or os.cpu_count() or 1, len(settings))
    if count <= 1:
        return [run_policy(history, PREFERRED, settings=s, strategies=strategies)[0] for s in settings]
    with ProcessPoolExecutor(max_workers=count, initializer=_init_worker, initargs=(history, strategies)) as pool:
        return list(pool.map(_run_point, settings))
