"""Intercom notes are separate append-only records: enriching again, even with a lost write record, never stacks
a second identical note (the kit's enrich check covers the kept-record case for every plugin)."""

from __future__ import annotations

import asyncio

from humansupport_intercom import FakeIntercom, IntercomAdapter, IntercomSettings

from humansupport.enrichment.enrichers import BUILTIN_ENRICHERS
from humansupport.enrichment.jobs import enrich_customer
from humansupport.enrichment.profile import EnrichmentSettings, ProfileBuilder, history_from_synthetic
from humansupport.enrichment.writeback import WriteRecord
from humansupport.testing import FakeClock, generate_history

HISTORY = generate_history(customers=15, agents=4, groups=2, seed=8)
SETTINGS = EnrichmentSettings(allowed_fields=frozenset({"conversation_count", "preferred_agent"}))


def test_never_stacks_identical_notes() -> None:
    fake = FakeIntercom(history=HISTORY, clock=FakeClock(start=HISTORY.config.end))
    settings = IntercomSettings.model_validate(fake.adapter_settings())
    builder = ProfileBuilder([c() for c in BUILTIN_ENRICHERS], settings=SETTINGS)
    customer = HISTORY.customers[0]

    async def go() -> None:
        async with IntercomAdapter.from_settings(settings, transport=fake.transport(), clock=fake.clock) as adapter:
            for _ in range(3):
                await enrich_customer(
                    adapter,
                    customer.id,
                    builder=builder,
                    now=HISTORY.config.end,
                    histories=history_from_synthetic(HISTORY),
                    record=WriteRecord(),
                    write=True,
                )

    asyncio.run(go())
    assert len(fake.contact_notes[customer.id]) == 1
