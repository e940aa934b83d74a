"""Profile write-back against every first-party plugin's fake: written, read back, and idempotent."""

from __future__ import annotations

import asyncio

import pytest

from humansupport.enrichment.enrichers import BUILTIN_ENRICHERS
from humansupport.enrichment.jobs import enrich_customer
from humansupport.enrichment.profile import EnrichmentSettings, ProfileBuilder, history_from_synthetic
from humansupport.enrichment.writeback import WriteRecord
from humansupport.plugins import PluginRegistry
from humansupport.testing import FakeClock, generate_history

HISTORY = generate_history(customers=15, agents=4, groups=2, seed=8)
HISTORIES = history_from_synthetic(HISTORY)
SETTINGS = EnrichmentSettings(allowed_fields=frozenset({"conversation_count", "preferred_agent"}))
VENDORS = ["freshdesk", "helpscout", "intercom", "zendesk"]


@pytest.mark.parametrize("vendor", VENDORS)
def test_enrich_writes_once_and_then_nothing(installed_registry: PluginRegistry, vendor: str) -> None:
    fake = installed_registry.fakes()[vendor](history=HISTORY, clock=FakeClock(start=HISTORY.config.end))
    cls = installed_registry.helpdesk(vendor)
    settings = cls.settings_model.model_validate(fake.adapter_settings())
    builder = ProfileBuilder([c() for c in BUILTIN_ENRICHERS], settings=SETTINGS)
    record = WriteRecord()
    customer = HISTORY.customers[0]

    async def go() -> None:
        async with cls.from_settings(settings, transport=fake.transport(), clock=fake.clock) as adapter:
            first = await enrich_customer(
                adapter,
                customer.id,
                builder=builder,
                now=HISTORY.config.end,
                histories=HISTORIES,
                record=record,
                write=True,
            )
            assert first.result.written, first.result
            after_first = fake.customers[customer.id].model_copy()
            writes_before = sum(r.method in {"PUT", "PATCH", "POST"} for r in fake.requests)
            second = await enrich_customer(
                adapter,
                customer.id,
                builder=builder,
                now=HISTORY.config.end,
                histories=HISTORIES,
                record=record,
                write=True,
            )
            # append-only notes (Intercom) are compared with the write record, so they do not change either
            assert second.plan.changes == [], second.plan.changes
            assert fake.customers[customer.id].custom_attributes == after_first.custom_attributes
            assert sum(r.method in {"PUT", "PATCH", "POST"} for r in fake.requests) == writes_before

    asyncio.run(go())


def test_intercom_never_stacks_identical_notes(installed_registry: PluginRegistry) -> None:
    fake = installed_registry.fakes()["intercom"](history=HISTORY, clock=FakeClock(start=HISTORY.config.end))
    cls = installed_registry.helpdesk("intercom")
    settings = cls.settings_model.model_validate(fake.adapter_settings())
    builder = ProfileBuilder([c() for c in BUILTIN_ENRICHERS], settings=SETTINGS)
    customer = HISTORY.customers[0]

    async def go() -> None:
        async with cls.from_settings(settings, transport=fake.transport(), clock=fake.clock) as adapter:
            for _ in range(3):
                await enrich_customer(
                    adapter,
                    customer.id,
                    builder=builder,
                    now=HISTORY.config.end,
                    histories=HISTORIES,
                    record=WriteRecord(),
                    write=True,
                )

    asyncio.run(go())
    assert len(fake.contact_notes[customer.id]) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("vendor", VENDORS)
def test_setup_creates_the_fields_once_or_says_how(installed_registry: PluginRegistry, vendor: str) -> None:
    from humansupport.enrichment.setup import FieldSetupUnsupportedError, ensure_fields
    from humansupport.enrichment.writeback import field_specs

    fake = installed_registry.fakes()[vendor](history=HISTORY, clock=FakeClock(start=HISTORY.config.end))
    cls = installed_registry.helpdesk(vendor)
    settings = cls.settings_model.model_validate(fake.adapter_settings())
    specs = field_specs(SETTINGS)
    assert specs

    async def go() -> None:
        async with cls.from_settings(settings, transport=fake.transport(), clock=fake.clock) as adapter:
            if vendor == "freshdesk":  # contact fields cannot be created through Freshdesk's API (docs/vendors)
                with pytest.raises(FieldSetupUnsupportedError, match="Contact fields") as info:
                    await ensure_fields(adapter, specs)
                assert all(spec.name in str(info.value) for spec in specs)
                return
            await ensure_fields(adapter, specs)
            assert await ensure_fields(adapter, specs) == [], "a second setup creates nothing"

    asyncio.run(go())
