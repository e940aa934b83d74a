"""The CLI's enrichment commands over the history store: one async function per command.

Each ties `jobs` to the store: the history comes from `StoreHistory` (the router's affinity), the
`WriteRecord` is loaded from and saved to the store, and every customer we wrote is stored as the
helpdesk returned it, so the next `enrich` diffs against what the helpdesk now holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import ConfigError
from ..extensions import Enricher
from ..fields import FieldSpec
from ..helpdesk import AsyncHelpdesk
from ..store import Store
from .enrichers import load_details_file
from .history import StoreHistory
from .jobs import ProfileOutcome, enrich_customer, enrich_customers, forget_customer
from .lookup import CustomerLookupError
from .persist import load_write_record, save_write_record
from .profile import EnrichmentSettings, ProfileBuilder
from .setup import ensure_fields
from .writeback import ApplyResult, BatchReport, PatchPlan, field_specs

__all__ = [
    "EnrichRun",
    "ForgetRun",
    "SetupReport",
    "enrichment_settings",
    "run_enrich",
    "run_forget",
    "run_profile",
    "run_setup",
]


def enrichment_settings(config: Mapping[str, Any]) -> EnrichmentSettings:
    """`EnrichmentSettings` from the ``[enrichment]`` table of `humansupport.toml` (defaults without one)."""
    table = config.get("enrichment") or {}
    if not isinstance(table, Mapping):
        raise ConfigError("[enrichment] in humansupport.toml must be a table")
    try:
        return EnrichmentSettings.from_mapping(table)
    except ConfigError as exc:
        raise ConfigError(f"[enrichment] in humansupport.toml: {exc}") from None
    except TypeError as exc:
        raise ConfigError(f"[enrichment] in humansupport.toml: {exc}") from None


def _builder(enrichers: Iterable[type[Enricher]], settings: EnrichmentSettings) -> ProfileBuilder:
    return ProfileBuilder([cls() for cls in enrichers], settings=settings)


def _history(store: Store, account: str, now: datetime) -> StoreHistory:
    return StoreHistory(store, account, now=now)


async def run_profile(
    adapter: AsyncHelpdesk,
    store: Store,
    key: str,
    *,
    account: str,
    settings: EnrichmentSettings,
    enrichers: Iterable[type[Enricher]],
    now: datetime,
    write: bool = False,
    force: bool = False,
) -> ProfileOutcome:
    """`humansupport profile VENDOR CUSTOMER_OR_EMAIL`: the card and the diff; writes with `write`."""
    record = load_write_record(store, account)
    known = store.customers(account, email=key) if "@" in key else None
    try:
        outcome = await enrich_customer(
            adapter,
            key,
            builder=_builder(enrichers, settings),
            now=now,
            histories=_history(store, account, now),
            record=record,
            write=write,
            force=force,
            known=known,
            erased=store.erased_customers(account),
        )
    finally:  # fields verified before a missing one stopped the write are ours: remember them
        save_write_record(store, account, record, at=now)
    if outcome.result.written and outcome.result.customer is not None:
        store.upsert_customers(account, [outcome.result.customer])
    return outcome


@dataclass(frozen=True, kw_only=True)
class ForgetRun:
    """What `--forget` removed: our fields in the helpdesk (None when the customer is gone there) and the
    rows the store erased."""

    customer_id: str
    helpdesk: ProfileOutcome | None
    erased: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "helpdesk": self.helpdesk.to_dict() if self.helpdesk else None,
            "erased": dict(self.erased),
        }


async def run_forget(
    adapter: AsyncHelpdesk,
    store: Store,
    key: str,
    *,
    account: str,
    settings: EnrichmentSettings,
) -> ForgetRun:
    """`humansupport profile VENDOR CUSTOMER --forget`: removes our fields, then the store's copy.

    The helpdesk goes first, so a failed write leaves the store intact for a retry. A customer the
    helpdesk no longer has (by id) is still erased from the store.
    """
    known = store.customers(account, email=key) if "@" in key else None
    try:
        outcome: ProfileOutcome | None = await forget_customer(adapter, key, settings=settings, write=True, known=known)
    except CustomerLookupError:
        if "@" in key or store.customer(account, key.strip()) is None:
            raise
        outcome = None
    customer_id = outcome.customer.id if outcome else key.strip()
    return ForgetRun(customer_id=customer_id, helpdesk=outcome, erased=store.erase_customer(account, customer_id))


@dataclass(frozen=True, kw_only=True)
class EnrichRun:
    """`humansupport enrich`: the batch report, the non-empty plans (the diff) and the customers considered."""

    report: BatchReport
    plans: list[PatchPlan]
    customers: int
    since: datetime | None
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "since": self.since.isoformat() if self.since else None,
            "dry_run": self.dry_run,
            "report": self.report.to_dict(),
            "plans": [p.to_dict() for p in self.plans],
        }


async def run_enrich(
    adapter: AsyncHelpdesk,
    store: Store,
    *,
    account: str,
    settings: EnrichmentSettings,
    enrichers: Iterable[type[Enricher]],
    now: datetime,
    since: datetime | None = None,
    write: bool = False,
    force: bool = False,
    concurrency: int = 8,
    max_writes: int | None = None,
) -> EnrichRun:
    """Every customer the store saw touched since `since` (all without it), diffed against the store's copy.

    Run `humansupport sync` first: the diff is against what the last sync read, and each written customer
    is stored as the helpdesk returned it. Unchanged customers cost no request; the adapter's rate
    limiter paces the writes, and `max_writes` caps them (the rest waits for the next run).
    """
    erased = store.erased_customers(account)  # the store never holds them again; a guard all the same
    customers = [c for c in store.customers(account, touched_since=since) if c.id not in erased]
    record = load_write_record(store, account)
    written: list[ApplyResult] = []
    try:
        report, plans = await enrich_customers(
            adapter,
            customers,
            builder=_builder(enrichers, settings),
            now=now,
            histories=_history(store, account, now),
            record=record,
            write=write,
            force=force,
            concurrency=concurrency,
            on_written=written.append,
            max_writes=max_writes,
        )
    finally:  # what was verified stays remembered even when a missing field stops the run
        store.upsert_customers(account, [r.customer for r in written if r.customer is not None])
        save_write_record(store, account, record, at=now)
    return EnrichRun(report=report, plans=plans, customers=len(customers), since=since, dry_run=not write)


@dataclass(frozen=True, kw_only=True)
class SetupReport:
    vendor: str
    fields: list[FieldSpec]
    created: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "fields": [{"name": s.name, "key": s.key, "kind": s.kind, "max_length": s.max_length} for s in self.fields],
            "created": self.created,
            "existing": [s.name for s in self.fields if s.name not in self.created],
        }


async def run_setup(
    adapter: AsyncHelpdesk, *, settings: EnrichmentSettings, detail_keys: Iterable[str] = ()
) -> SetupReport:
    """`humansupport setup VENDOR`: the fields the allow-list can write, created where the API allows.

    Detail keys come from `detail_keys` and the columns of the consented details file.
    """
    keys = list(detail_keys)
    if settings.details_file is not None:
        for details in load_details_file(settings.details_file).values():
            keys.extend(details)
    specs = field_specs(settings, detail_keys=dict.fromkeys(keys))
    if not specs:
        raise ConfigError(
            "the consent allow-list lets no field through, so there is nothing to create; "
            "list fields in [enrichment] allowed_fields of humansupport.toml"
        )
    created = await ensure_fields(adapter, specs)
    return SetupReport(vendor=adapter.vendor, fields=specs, created=created)
