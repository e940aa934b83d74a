"""The functions the CLI commands will call, end to end against the AcmeDesk fake."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar

from humansupport_acmedesk import AcmeAdapter, FakeAcme
from pydantic import SecretStr

from humansupport.enrichment.enrichers import BUILTIN_ENRICHERS
from humansupport.enrichment.history import history_from_synthetic
from humansupport.enrichment.jobs import enrich_customer, enrich_customers, forget_customer
from humansupport.enrichment.profile import EnrichmentSettings, ProfileBuilder
from humansupport.enrichment.writeback import WriteRecord
from humansupport.models import Customer
from humansupport.testing import FakeClock, generate_history

HISTORY = generate_history(customers=15, agents=4, groups=2, seed=8)
HISTORIES = history_from_synthetic(HISTORY)
SETTINGS = EnrichmentSettings(allowed_fields=frozenset({"conversation_count", "preferred_agent", "top_tags"}))
NOW = HISTORY.config.end


def _setup() -> tuple[AcmeAdapter, FakeAcme, ProfileBuilder]:
    fake = FakeAcme(clock=FakeClock(), history=HISTORY)
    adapter = AcmeAdapter(api_token=SecretStr(FakeAcme.token), transport=fake.transport(), clock=fake.clock)
    return adapter, fake, ProfileBuilder([cls() for cls in BUILTIN_ENRICHERS], settings=SETTINGS)


async def test_profile_command_dry_run_then_write_then_nothing_to_do() -> None:
    adapter, fake, builder = _setup()
    customer = HISTORY.customers[0]
    assert customer.email is not None
    record = WriteRecord()
    run = partial(enrich_customer, adapter, builder=builder, now=NOW, histories=HISTORIES, record=record)
    dry = await run(customer.email)
    assert dry.result.dry_run and not dry.result.written and not dry.plan.patch.empty
    assert not [r for r in fake.requests if r.method == "PATCH"]
    assert dry.profile is not None and dry.profile.conversation_count == HISTORIES[customer.id].conversation_count
    json.dumps(dry.to_dict())  # --json output is plain JSON
    done = await run(customer.id, write=True)
    assert done.result.written
    again = await run(customer.id, write=True)
    assert again.plan.patch.empty and not again.result.written
    gone = await forget_customer(adapter, customer.id, settings=SETTINGS, record=record, write=True)
    assert gone.result.written and record.attributes == {}
    assert all(
        v is None for k, v in fake.customers[customer.id].custom_attributes.items() if k.startswith("humansupport_")
    )
    await adapter.aclose()


async def test_enrich_command_writes_only_changed_customers() -> None:
    adapter, fake, builder = _setup()
    record = WriteRecord()
    customers = list(fake.customers.values())
    report, plans = await enrich_customers(adapter, customers, builder=builder, now=NOW, histories=HISTORIES)
    assert report.written == 0 and len(plans) == len(customers)  # dry-run shows every diff
    report, _ = await enrich_customers(
        adapter, customers, builder=builder, now=NOW, histories=HISTORIES, record=record, write=True
    )
    assert report.written == len(customers)
    patches = len([r for r in fake.requests if r.method == "PATCH"])
    report, plans = await enrich_customers(
        adapter, list(fake.customers.values()), builder=builder, now=NOW, histories=HISTORIES.get, record=record,
        write=True,
    )  # fmt: skip
    assert (report.written, report.unchanged, plans) == (0, len(customers), [])
    assert len([r for r in fake.requests if r.method == "PATCH"]) == patches
    await adapter.aclose()


async def test_enrich_command_reports_a_customer_whose_enricher_fails_and_goes_on() -> None:
    adapter, fake, _ = _setup()

    class FlakyCrm:
        name: ClassVar[str] = "crm"
        provides: ClassVar[frozenset[str]] = frozenset({"organization"})

        async def enrich(self, customer: Customer, context: Mapping[str, Any]) -> Mapping[str, Any]:
            if customer.id == HISTORY.customers[2].id:
                raise TimeoutError("CRM did not answer")
            return {"organization": "From CRM"}

    builder = ProfileBuilder([*(cls() for cls in BUILTIN_ENRICHERS), FlakyCrm()], settings=SETTINGS)
    customers = list(fake.customers.values())
    report, _ = await enrich_customers(adapter, customers, builder=builder, now=NOW, histories=HISTORIES, write=True)
    flaky = HISTORY.customers[2].id
    assert list(report.failed) == [flaky] and "CRM did not answer" in report.failed[flaky]
    assert report.written == len(customers) - 1 and report.planned == len(customers)
    await adapter.aclose()
