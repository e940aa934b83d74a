"""What the CLI commands call: find, build, diff and (with `write=True`) write, in one function each.

`humansupport profile` -> `enrich_customer`; `profile --forget` -> `forget_customer`; `humansupport enrich`
-> `enrich_customers`. History comes from the caller (the store), as a mapping or a function of the id. Pass the same
`WriteRecord` to every run (the CLI keeps it in the store through `persist`; scripts may use
`WriteRecord.load`/`save`): without it, values we wrote earlier look human-written and are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..helpdesk import AsyncHelpdesk
from ..models import Customer
from .lookup import CustomerErasedError, resolve_customer
from .profile import CustomerHistory, EnrichmentError, EnrichmentSettings, Profile, ProfileBuilder
from .writeback import (
    ApplyResult,
    BatchReport,
    PatchPlan,
    WriteRecord,
    apply_plans,
    apply_profile,
    forget,
    plan_writeback,
)

__all__ = ["HistorySource", "ProfileOutcome", "enrich_customer", "enrich_customers", "forget_customer"]

HistorySource = Mapping[str, CustomerHistory] | Callable[[str], CustomerHistory | None]
"""Where a customer's history comes from: a mapping by customer id, or a function (the store's lookup)."""


def _history(source: HistorySource | None, customer_id: str) -> CustomerHistory | None:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(customer_id)
    return source(customer_id)


@dataclass(frozen=True, kw_only=True)
class ProfileOutcome:
    """One customer's run: the profile (None when forgetting), the plan, and what was written."""

    customer: Customer
    profile: Profile | None
    plan: PatchPlan
    result: ApplyResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer.id,
            "profile": self.profile.model_dump(mode="json") if self.profile else None,
            "plan": self.plan.to_dict(),
            "dry_run": self.result.dry_run,
            "written": self.result.written,
            "mismatches": self.result.mismatches,
        }


def _plan(
    adapter: AsyncHelpdesk,
    customer: Customer,
    profile: Profile,
    *,
    builder: ProfileBuilder,
    record: WriteRecord | None,
    force: bool,
) -> PatchPlan:
    return plan_writeback(
        customer,
        profile,
        settings=builder.settings,
        record=record,
        force=force,
        append_only_notes=adapter.capabilities.append_only_notes,
    )


async def enrich_customer(
    adapter: AsyncHelpdesk,
    key: str,
    *,
    builder: ProfileBuilder,
    now: datetime,
    histories: HistorySource | None = None,
    record: WriteRecord | None = None,
    write: bool = False,
    force: bool = False,
    known: Iterable[Customer] | None = None,
    erased: Collection[str] = (),
) -> ProfileOutcome:
    """`humansupport profile VENDOR CUSTOMER_OR_EMAIL [--write] [--force]`: dry-run unless `write`.

    A customer in `erased` (the store's tombstones) raises `CustomerErasedError` before anything is built.
    """
    customer = await resolve_customer(adapter, key, known=known)
    if customer.id in erased:
        raise CustomerErasedError(
            f"customer {customer.id} was erased (profile --forget): humansupport does not profile or write them again",
            key=key,
        )
    profile = await builder.build(customer, now=now, history=_history(histories, customer.id))
    plan = _plan(adapter, customer, profile, builder=builder, record=record, force=force)
    result = await apply_profile(adapter, customer.id, plan.patch, dry_run=not write, record=record)
    return ProfileOutcome(customer=customer, profile=profile, plan=plan, result=result)


async def forget_customer(
    adapter: AsyncHelpdesk,
    key: str,
    *,
    settings: EnrichmentSettings,
    record: WriteRecord | None = None,
    write: bool = False,
    known: Iterable[Customer] | None = None,
) -> ProfileOutcome:
    """`humansupport profile VENDOR --forget CUSTOMER`: removes our fields (the store erases its own copy)."""
    customer = await resolve_customer(adapter, key, known=known)
    plan = forget(customer, settings=settings, record=record if write else None)
    result = await apply_profile(adapter, customer.id, plan.patch, dry_run=not write)
    return ProfileOutcome(customer=customer, profile=None, plan=plan, result=result)


async def enrich_customers(
    adapter: AsyncHelpdesk,
    customers: Iterable[Customer],
    *,
    builder: ProfileBuilder,
    now: datetime,
    histories: HistorySource | None = None,
    record: WriteRecord | None = None,
    write: bool = False,
    force: bool = False,
    concurrency: int = 8,
    on_written: Callable[[ApplyResult], None] | None = None,
    max_writes: int | None = None,
) -> tuple[BatchReport, list[PatchPlan]]:
    """`humansupport enrich VENDOR [--since] [--write]` over customers as the store holds them.

    Returns the report and the non-empty plans (the dry-run diff). Unchanged customers cost no request; a
    customer whose enricher fails is reported in `failed` and the others go on. `max_writes` is a write
    budget: changed customers past it are left for the next run (`BatchReport.deferred`), not planned away.
    """
    if max_writes is not None and max_writes < 0:
        raise ValueError("max_writes must not be negative")
    plans: list[PatchPlan] = []
    broken: dict[str, str] = {}
    for customer in customers:
        try:
            profile = await builder.build(customer, now=now, history=_history(histories, customer.id))
        except EnrichmentError as exc:  # one customer's failing enricher must not stop the run
            broken[customer.id] = str(exc)
            continue
        plans.append(_plan(adapter, customer, profile, builder=builder, record=record, force=force))
    deferred = 0
    if max_writes is not None:
        kept: list[PatchPlan] = []
        budget = max_writes
        for plan in plans:
            if plan.patch.empty:
                kept.append(plan)
            elif budget > 0:
                kept.append(plan)
                budget -= 1
            else:
                deferred += 1
        plans = kept
    report = await apply_plans(
        adapter, plans, dry_run=not write, record=record, concurrency=concurrency, on_written=on_written
    )
    report.deferred = deferred
    report.planned += len(broken) + deferred
    report.failed.update(broken)
    return report, [p for p in plans if not p.patch.empty]
