"""Erasure is a tombstone: after `profile --forget`, no later sync (incremental or full, any stream) or enrich
brings the customer back, on every first-party plugin's fake."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from humansupport.enrichment.enrichers import BUILTIN_ENRICHERS
from humansupport.enrichment.lookup import CustomerErasedError
from humansupport.enrichment.profile import EnrichmentSettings
from humansupport.enrichment.service import run_enrich, run_forget, run_profile
from humansupport.plugins import PluginRegistry
from humansupport.store import SCHEMA_VERSION, Store, build_metadata
from humansupport.store.schema import ERASURES_VERSION
from humansupport.sync import sync_helpdesk
from humansupport.testing import FakeClock, generate_history

HISTORY = generate_history(customers=20, agents=4, groups=2, seed=31)
END = HISTORY.config.end
VENDORS = ["freshdesk", "helpscout", "intercom", "zendesk"]
SETTINGS = EnrichmentSettings(allowed_fields=frozenset({"conversation_count", "preferred_agent"}))
WRITES = {"PUT", "PATCH", "POST"}


def _victim() -> str:
    """A customer with several conversations and at least one rating, so every stream has something of theirs."""
    rated = {r.customer_id for r in HISTORY.ratings}
    counts: dict[str, int] = {}
    for c in HISTORY.conversations:
        if c.customer_id in rated:
            counts[c.customer_id] = counts.get(c.customer_id, 0) + 1
    return max(sorted(counts), key=lambda cid: counts[cid])


def _holdings(store: Store, account: str, customer_id: str) -> dict[str, int]:
    """Rows of the customer in every table a sync writes."""
    conversations = {c.id for c in store.conversations_of(account, customer_id)}
    dump = store.dump(account)
    return {
        "customers": int(store.customer(account, customer_id) is not None),
        "conversations": len(conversations),
        "messages": sum(1 for row in dump["messages"] if row[2] in conversations),
        "ratings": sum(1 for r in store.ratings(account) if r.customer_id == customer_id),
    }


@pytest.mark.parametrize("vendor", VENDORS)
def test_forget_survives_full_and_incremental_sync_and_enrich(
    installed_registry: PluginRegistry, vendor: str, tmp_path: Path
) -> None:
    clock = FakeClock(start=END + timedelta(minutes=30))
    fake = installed_registry.fakes()[vendor](history=HISTORY, clock=clock)
    cls = installed_registry.helpdesk(vendor)
    settings = cls.settings_model.model_validate(fake.adapter_settings())
    victim = _victim()
    theirs = [c for c in HISTORY.conversations if c.customer_id == victim]

    with Store.open(tmp_path / "s.db") as store:

        async def go() -> None:
            async with cls.from_settings(settings, transport=fake.transport(), clock=clock) as adapter:
                await sync_helpdesk(adapter, store, account=vendor, clock=clock)
                before = _holdings(store, vendor, victim)
                assert before["customers"] == 1 and before["conversations"] == len(theirs) > 0
                assert before["messages"] > 0

                await run_forget(adapter, store, victim, account=vendor, settings=SETTINGS)
                assert _holdings(store, vendor, victim) == dict.fromkeys(before, 0)
                assert victim in store.erased_customers(vendor)
                sent = len(fake.requests)

                clock.advance(600)
                fake.touch_conversation(theirs[0].id, status="open")  # the customer wrote back
                clock.advance(600)
                await sync_helpdesk(adapter, store, account=vendor, clock=clock)  # incremental
                assert _holdings(store, vendor, victim) == dict.fromkeys(before, 0)

                await sync_helpdesk(adapter, store, account=vendor, clock=clock, full=True)
                assert _holdings(store, vendor, victim) == dict.fromkeys(before, 0)
                kept = {c.id for c in store.customers(vendor)}
                assert victim not in kept and len(kept) >= len(HISTORY.customers) - 1  # the others are all back

                run = await run_enrich(
                    adapter,
                    store,
                    account=vendor,
                    settings=SETTINGS,
                    enrichers=BUILTIN_ENRICHERS,
                    now=clock.now(),
                    write=True,
                )
                assert run.report.written, "enrich wrote nobody: the test would prove nothing"
                assert victim not in {p.customer_id for p in run.plans}
                written_to_victim = [
                    r for r in fake.requests[sent:] if r.method in WRITES and victim in r.path.split("/")
                ]
                assert written_to_victim == []

                with pytest.raises(CustomerErasedError):
                    await run_profile(
                        adapter,
                        store,
                        victim,
                        account=vendor,
                        settings=SETTINGS,
                        enrichers=BUILTIN_ENRICHERS,
                        now=clock.now(),
                        write=True,
                    )
                assert _holdings(store, vendor, victim) == dict.fromkeys(before, 0)

        asyncio.run(go())


def test_the_tombstone_migration_keeps_a_store_of_the_previous_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        build_metadata(ERASURES_VERSION - 1).create_all(conn)
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)"))
        conn.execute(sa.text("INSERT INTO meta VALUES ('schema_version', :v)"), {"v": str(ERASURES_VERSION - 1)})
    engine.dispose()
    with Store.open(url) as store:
        assert store.schema_version() == SCHEMA_VERSION >= ERASURES_VERSION
        assert store.erased_customers("acme") == {}
        store.erase_customer("acme", "c1")
        assert set(store.erased_customers("acme")) == {"c1"}
