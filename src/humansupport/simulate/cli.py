"""The workflow behind `humansupport simulate` (the typer command in humansupport.cli stays a thin shell)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigError
from ..extensions import RoutingStrategy
from ..insights.periods import Period, parse_period
from ..models import to_utc
from ..routing.affinity import AffinityConfig
from ..routing.router import RouterConfig
from ..store import Store
from .policies import BUILTIN_POLICIES, ReplaySettings, policy_names
from .report import FORMATS, render
from .service import SimulationReport, run_simulation
from .sweep import SweepPoint, parse_sweep

__all__ = ["SimulateOptions", "simulate", "write_report"]


@dataclass(frozen=True, kw_only=True)
class SimulateOptions:
    """The command line, checked: a ValueError is a usage error (exit 2), a ConfigError exit 3."""

    account: str
    period: Period
    policies: tuple[str, ...]
    sweep: tuple[SweepPoint, ...]
    fmt: str
    output: Path | None

    @classmethod
    def parse(
        cls,
        *,
        account: str,
        since: str,
        now: datetime | None,
        policies: Sequence[str] | None,
        sweep: Sequence[str] | None,
        fmt: str,
        output: Path | None,
        strategies: Mapping[str, type[RoutingStrategy]],
        clock: Clock = SYSTEM_CLOCK,
    ) -> SimulateOptions:
        if fmt not in FORMATS:
            raise ValueError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        period = parse_period(since, now=to_utc(now) or clock.now())
        known = policy_names(strategies)
        unknown = [p for p in policies or () if p not in known]
        if unknown:
            raise ValueError(f"unknown --policy {', '.join(unknown)} (known: {', '.join(known)})")
        return cls(
            account=account,
            period=period,
            policies=tuple(dict.fromkeys(policies or BUILTIN_POLICIES)),
            sweep=tuple(parse_sweep(sweep or ())),
            fmt=fmt,
            output=output,
        )


def simulate(
    store: Store,
    options: SimulateOptions,
    *,
    router: RouterConfig,
    affinity: AffinityConfig,
    strategies: Mapping[str, type[RoutingStrategy]],
    workers: int | None = None,
) -> SimulationReport:
    """Checks the account, then replays its period under each policy and sweep point."""
    store.require_account(options.account, before="simulating routing on its history")
    return run_simulation(
        store,
        options.account,
        start=options.period.start,
        end=options.period.end,
        policies=options.policies,
        settings=ReplaySettings(router=router, affinity=affinity),
        strategies=strategies,
        sweep=options.sweep,
        workers=workers,
    )


def write_report(report: SimulationReport, fmt: str, output: Path) -> None:
    """Writes the rendered report; a path that cannot be written is a ConfigError naming it."""
    try:
        output.write_text(render(report, fmt), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {output}: {exc.strerror or exc}") from None
