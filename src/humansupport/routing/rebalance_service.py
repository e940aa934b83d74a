"""What `humansupport rebalance` and `rebalance apply` do, as functions: the CLI parses options and prints.

`rebalance_config` turns the command's options into a `RebalanceConfig`; `plan_and_apply` plans from the store
with the agents read live (availability changes by the minute) and, when asked, applies the plan journaled and
locked; `load_plan` and `account_to_resume` are the checks `rebalance apply` makes before it applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigError
from ..helpdesk import AsyncHelpdesk
from ..store import Store
from .rebalance import RebalanceConfig, RebalancePlan
from .rebalance_apply import RebalanceApplyReport, apply_rebalance, unfinished_accounts
from .rebalance_store import plan_from_store

__all__ = ["account_to_resume", "apply_plan", "load_plan", "plan_and_apply", "rebalance_config"]


def rebalance_config(
    *,
    move_penalty: float,
    max_moves: int | None,
    max_moves_per_agent: int | None,
    candidates: int,
    groups: Iterable[str] = (),
    exclude_human_touched_hours: float | None = None,
    default_capacity: int | None = None,
) -> RebalanceConfig:
    """The planner's settings; `groups` items may be comma-separated; a bad value is a `ConfigError`."""
    wanted = frozenset(g.strip() for item in groups for g in item.split(",") if g.strip())
    try:
        config = RebalanceConfig(
            move_penalty=move_penalty,
            max_moves=max_moves,
            max_moves_per_agent=max_moves_per_agent,
            candidates=candidates,
            groups=wanted or None,
            exclude_human_touched_hours=exclude_human_touched_hours,
        )
    except ValueError as exc:
        raise ConfigError(f"rebalance: {exc}") from None
    # one capacity for every process that assigns: `[routing] default_capacity`, as `route` and the webhooks use
    return config if default_capacity is None else replace(config, default_capacity=default_capacity)


async def plan_and_apply(
    adapter: AsyncHelpdesk,
    store: Store,
    *,
    account: str,
    vendor: str,
    config: RebalanceConfig,
    output: Path | None = None,
    apply: bool = False,
    resume: bool = False,
    max_runtime: float | None = None,
    journal_retention: timedelta | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> tuple[RebalancePlan, RebalanceApplyReport | None]:
    """Plans from the store with the helpdesk's agents read now, saves the plan to `output`, and applies it when
    `apply` (a dry run otherwise: the report is None). Opens and closes the adapter."""
    async with adapter:
        agents = [a async for a in adapter.iter_agents()]  # availability is live data
        plan = plan_from_store(store, account, now=clock.now(), config=config, agents=agents)
        plan = plan.model_copy(update={"vendor": vendor, "account": account})
        if output is not None:
            plan.save(output)
        if not apply:
            return plan, None
        report = await apply_rebalance(
            adapter,
            store,
            plan,
            account=account,
            resume=resume,
            max_runtime=max_runtime,
            journal_retention=journal_retention,
            clock=clock,
            default_capacity=config.default_capacity,
        )
        return plan, report


def load_plan(path: Path) -> RebalancePlan:
    """A plan saved with `rebalance VENDOR --output`; an unreadable one is a `ConfigError`."""
    try:
        return RebalancePlan.load(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read plan {path}: {exc}") from None


def account_to_resume(store: Store) -> str | None:
    """The one account with an unfinished run (`--resume` alone), None when none waits; several is a `ConfigError`."""
    waiting = unfinished_accounts(store)
    if len(waiting) > 1:
        several = ", ".join(waiting)
        raise ConfigError(f"unfinished rebalance runs of several accounts ({several}): pick one with --account")
    return waiting[0] if waiting else None


async def apply_plan(
    adapter: AsyncHelpdesk,
    store: Store,
    plan: RebalancePlan | None,
    *,
    account: str,
    resume: bool = False,
    max_runtime: float | None = None,
    journal_retention: timedelta | None = None,
    clock: Clock = SYSTEM_CLOCK,
    default_capacity: int | None = None,
) -> RebalanceApplyReport:
    """`apply_rebalance` with the adapter opened and closed around it."""
    async with adapter:
        return await apply_rebalance(
            adapter,
            store,
            plan,
            account=account,
            resume=resume,
            max_runtime=max_runtime,
            journal_retention=journal_retention,
            clock=clock,
            default_capacity=default_capacity,
        )
