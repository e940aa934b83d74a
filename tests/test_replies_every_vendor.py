"""`replies lint` on every first-party plugin's fake: each vendor's saved replies (Zendesk macros, Help Scout saved
replies, Freshdesk canned responses, Intercom macros) come through its adapter as plain text, and the linter
finds in each sample exactly the problem kinds the sample declares (`SAMPLE_SAVED_REPLIES[i].issues`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from humansupport.insights.replies import Linter, ReplyReport
from humansupport.insights.reply_sources import lint_saved_replies
from humansupport.plugins import PluginRegistry
from humansupport.testing import SAMPLE_SAVED_REPLIES, FakeClock, generate_history

VENDORS = ["freshdesk", "helpscout", "intercom", "zendesk"]
HISTORY = generate_history(customers=5, agents=2, groups=1, seed=3)
#: the samples name problem families; the linter's rule ids for them
RULE_FOR = {"apology": "reflexive-apology", "hedging": "hedging", "false-hope": "false-hope", "blame": "blame"}


@pytest.mark.parametrize("vendor", VENDORS)
def test_lint_reads_every_vendors_saved_replies(installed_registry: PluginRegistry, vendor: str) -> None:
    clock = FakeClock(start=HISTORY.config.end + timedelta(minutes=5))
    fake = installed_registry.fakes()[vendor](history=HISTORY, clock=clock)
    cls = installed_registry.helpdesk(vendor)
    assert cls.capabilities.saved_replies
    settings = cls.settings_model.model_validate(fake.adapter_settings())
    linter = Linter(rules=installed_registry.reply_rules())

    async def go() -> list[ReplyReport]:
        async with cls.from_settings(settings, transport=fake.transport(), clock=clock) as adapter:
            return [report async for report in lint_saved_replies(adapter, linter)]

    reports = asyncio.run(go())
    by_title = {r.source.title: r for r in reports}
    assert set(by_title) == {s.title for s in SAMPLE_SAVED_REPLIES}
    for sample in SAMPLE_SAVED_REPLIES:
        found = {f.rule for f in by_title[sample.title].findings}
        assert found == {RULE_FOR[i] for i in sample.issues}, (vendor, sample.title, found)
    assert all(r.source.vendor == vendor for r in reports)
