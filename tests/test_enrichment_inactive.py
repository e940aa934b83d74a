"""Enrichment writes nothing into a deleted (inactive) customer, and never names as preferred agent one that
routing could not pick (suspended, deactivated): on the Zendesk fake through sync and `enrich --write`, and in
the store-independent library."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from humansupport.enrichment.enrichers import BUILTIN_ENRICHERS
from humansupport.enrichment.history import build_histories
from humansupport.enrichment.profile import EnrichmentSettings, Profile
from humansupport.enrichment.service import run_enrich
from humansupport.enrichment.writeback import plan_writeback
from humansupport.models import Agent, Customer
from humansupport.plugins import PluginRegistry
from humansupport.store import Store
from humansupport.sync import sync_helpdesk
from humansupport.testing import FakeClock, generate_history

HISTORY = generate_history(customers=20, agents=4, groups=2, seed=41)
END = HISTORY.config.end
SETTINGS = EnrichmentSettings(allowed_fields=frozenset({"conversation_count", "preferred_agent"}))


def _zendesk(registry: PluginRegistry, clock: FakeClock) -> tuple[Any, Any, Any]:
    fake = registry.fakes()["zendesk"](history=HISTORY, clock=clock)
    cls = registry.helpdesk("zendesk")
    return fake, cls, cls.settings_model.model_validate(fake.adapter_settings())


def _busiest_customer() -> str:
    counts: dict[str, int] = {}
    for c in HISTORY.conversations:
        if c.customer_id:
            counts[c.customer_id] = counts.get(c.customer_id, 0) + 1
    return max(sorted(counts), key=lambda cid: counts[cid])


def test_enrich_writes_nothing_into_a_soft_deleted_zendesk_user(
    installed_registry: PluginRegistry, tmp_path: Path
) -> None:
    clock = FakeClock(start=END + timedelta(minutes=30))
    fake, cls, settings = _zendesk(installed_registry, clock)
    gone = _busiest_customer()
    fake.soft_delete_user(gone)

    with Store.open(tmp_path / "s.db") as store:

        async def go() -> None:
            async with cls.from_settings(settings, transport=fake.transport(), clock=clock) as adapter:
                await sync_helpdesk(adapter, store, account="zendesk", clock=clock)
                stored = store.customer("zendesk", gone)
                assert stored is not None and stored.active is False
                sent = len(fake.requests)
                run = await run_enrich(
                    adapter,
                    store,
                    account="zendesk",
                    settings=SETTINGS,
                    enrichers=BUILTIN_ENRICHERS,
                    now=clock.now(),
                    write=True,
                )
                assert run.report.written, "nobody was written: the test would prove nothing"
                writes = [r for r in fake.requests[sent:] if r.method == "PUT" and gone in r.path]
                assert writes == []
                assert run.report.skipped >= 1

        asyncio.run(go())
    assert not any(k.startswith("humansupport_") for k in fake.customers[gone].custom_attributes)


def test_a_suspended_agent_is_never_written_as_preferred_agent(
    installed_registry: PluginRegistry, tmp_path: Path
) -> None:
    clock = FakeClock(start=END + timedelta(minutes=30))
    fake, cls, settings = _zendesk(installed_registry, clock)
    customer = _busiest_customer()
    field = "humansupport_preferred_agent"

    with Store.open(tmp_path / "s.db") as store:

        async def enrich() -> None:
            async with cls.from_settings(settings, transport=fake.transport(), clock=clock) as adapter:
                await sync_helpdesk(adapter, store, account="zendesk", clock=clock)
                await run_enrich(
                    adapter,
                    store,
                    account="zendesk",
                    settings=SETTINGS,
                    enrichers=BUILTIN_ENRICHERS,
                    now=clock.now(),
                    write=True,
                )

        asyncio.run(enrich())
        favourite = fake.customers[customer].custom_attributes[field]
        [agent_id] = [a.id for a in fake.agents.values() if a.name == favourite]
        fake.suspend_user(agent_id)
        clock.advance(3600)
        asyncio.run(enrich())
    now_preferred = fake.customers[customer].custom_attributes.get(field)
    assert now_preferred != favourite
    assert now_preferred is None or any(a.name == now_preferred and a.active for a in fake.agents.values())


def test_the_library_never_prefers_an_inactive_agent() -> None:
    histories = build_histories(
        conversations=HISTORY.conversations,
        messages=HISTORY.messages,
        ratings=HISTORY.ratings,
        agents=HISTORY.agents,
        now=END,
    )
    customer = _busiest_customer()
    first = histories[customer].preferred_agent_id
    assert first is not None
    agents = [a.model_copy(update={"active": False}) if a.id == first else a for a in HISTORY.agents]
    again = build_histories(
        conversations=HISTORY.conversations, messages=HISTORY.messages, ratings=HISTORY.ratings, agents=agents, now=END
    )
    assert again[customer].preferred_agent_id != first


def test_an_inactive_customer_gets_no_patch_at_all() -> None:
    customer = Customer(id="7", active=False, custom_attributes={"humansupport_conversations": 3}, notes="x")
    plan = plan_writeback(customer, Profile(customer_id="7", conversation_count=9), settings=SETTINGS)
    assert plan.empty and plan.skipped == "inactive" and plan.changes == []
    assert Agent(id="1").active is True and Customer(id="1").active is True
