"""The humansupport conformance kit against the Help Scout fake."""

from __future__ import annotations

import httpx
from humansupport_helpscout import FakeHelpScout, HelpScoutAdapter
from pydantic import SecretStr

from humansupport.testing import AdapterConformance, FakeClock, KitConfig


class TestHelpScoutConformance(AdapterConformance):
    config = KitConfig(
        pages=5,
        page_size=25,
        secrets=(FakeHelpScout.app_secret, "fake-hs-token-"),
    )

    def make_fake(self, clock: FakeClock) -> FakeHelpScout:
        return FakeHelpScout(clock=clock)

    def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> HelpScoutAdapter:
        return HelpScoutAdapter(
            app_id=FakeHelpScout.app_id,
            app_secret=SecretStr(FakeHelpScout.app_secret),
            transport=transport,
            clock=clock,
        )
