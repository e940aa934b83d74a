"""The humansupport adapter conformance kit, run against the Freshdesk fake."""

from __future__ import annotations

import httpx
from humansupport_freshdesk import FakeFreshdesk, FreshdeskAdapter
from pydantic import SecretStr

from humansupport.testing import AdapterConformance, FakeClock, KitConfig

from .contract import CONTRACT


class TestFreshdeskConformance(AdapterConformance):
    config = KitConfig(pages=6, page_size=10, secrets=(FakeFreshdesk.api_key,))

    def make_fake(self, clock: FakeClock) -> FakeFreshdesk:
        return FakeFreshdesk(clock=clock)

    def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> FreshdeskAdapter:
        return FreshdeskAdapter(
            domain=FakeFreshdesk.domain,
            api_key=SecretStr(FakeFreshdesk.api_key),
            transport=CONTRACT.wrap(transport),  # every request and fake response checked against our description
            clock=clock,
        )
