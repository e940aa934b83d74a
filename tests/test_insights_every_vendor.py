"""Digest and avoidable on every first-party plugin's fake, synced through its adapter: the figures match the
synthetic history the fake was seeded with, quotes come through each vendor's message mapping, and a
conversation reopened in the helpdesk between two syncs is found."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from humansupport.insights import Period, ThemeMap, build_avoidable, build_digest
from humansupport.plugins import PluginRegistry
from humansupport.store import Store
from humansupport.sync import sync_helpdesk
from humansupport.testing import FakeClock, generate_history

HISTORY = generate_history(customers=30, agents=4, groups=2, seed=21)
END = HISTORY.config.end
PERIOD = Period(END - timedelta(days=120), END + timedelta(hours=2))
VENDORS = ["freshdesk", "helpscout", "intercom", "zendesk"]


def test_every_first_party_fake_is_covered(installed_registry: PluginRegistry) -> None:
    assert set(VENDORS) <= set(installed_registry.fakes())


@pytest.mark.parametrize("vendor", VENDORS)
def test_reports_on_a_synced_fake(installed_registry: PluginRegistry, vendor: str, tmp_path: Path) -> None:
    clock = FakeClock(start=END + timedelta(minutes=30))
    fake = installed_registry.fakes()[vendor](history=HISTORY, clock=clock)
    cls = installed_registry.helpdesk(vendor)
    settings = cls.settings_model.model_validate(fake.adapter_settings())
    solved = next(
        c
        for c in HISTORY.conversations
        if str(c.status) in ("solved", "closed") and PERIOD.contains(c.created_at)  # type: ignore[arg-type]
    )

    with Store.open(tmp_path / "s.db") as store:

        async def go() -> None:
            async with cls.from_settings(settings, transport=fake.transport(), clock=clock) as adapter:
                await sync_helpdesk(adapter, store, account=vendor, clock=clock)
                clock.advance(600)
                fake.touch_conversation(solved.id, status="open")  # the customer wrote back: reopened
                clock.advance(600)
                await sync_helpdesk(adapter, store, account=vendor, clock=clock)

        asyncio.run(go())
        themes = ThemeMap()
        digest = build_digest(store, vendor, period=PERIOD, themes=themes)
        avoidable = build_avoidable(store, vendor, period=PERIOD, themes=themes)

    inside = [c for c in HISTORY.conversations if c.created_at and PERIOD.contains(c.created_at)]
    assert digest.conversations == len(inside) > 0
    assert digest.customers == len({c.customer_id for c in inside})
    assert sum(t.conversations for t in digest.themes) == len(inside)
    rated = {r.conversation_id: str(r.score) for r in HISTORY.ratings}
    expected_rated = sum(rated.get(c.id) in ("good", "bad") for c in inside)
    if not cls.capabilities.satisfaction_ratings:  # Help Scout has no ratings list to sync from
        expected_rated = 0
    assert sum(t.good + t.bad for t in digest.themes) == expected_rated
    quotes = [e.quote for t in digest.themes for e in t.examples if e.quote]
    assert quotes, "no customer quote came through the vendor's messages"
    assert all("@" not in q for q in quotes)
    # reopened: the touched conversation (status history) and those the history tagged `reopened`
    expected: dict[str, set[tuple[str, str | None]]] = {}
    for c in [solved, *(c for c in inside if "reopened" in c.tags)]:
        expected.setdefault(c.tags[0], set()).add((c.id, c.customer_id))
    reopened = {f.theme: f for f in avoidable.of_kind("reopened")}
    assert {t: (f.conversations, f.customers) for t, f in reopened.items()} == {
        t: (len(ids), len({cust for _, cust in ids})) for t, ids in expected.items()
    }
    assert reopened[solved.tags[0]].detail["reopenings"] == len(expected[solved.tags[0]])
