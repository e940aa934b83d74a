"""humansupport's conformance kit against FakeAcme, every exchange checked against tests/openapi.yaml."""

from __future__ import annotations

import httpx
import humansupport_acmedesk as plugin

from humansupport.testing import AdapterConformance, FakeClock, KitConfig

from .contract import CONTRACT


class TestAcmeConformance(AdapterConformance):
    config = KitConfig(pages=6, page_size=10, secrets=(plugin.FakeAcme.token,))

    def make_fake(self, clock: FakeClock) -> plugin.FakeAcme:
        return plugin.FakeAcme(clock=clock)

    def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> plugin.AcmeAdapter:
        return plugin.AcmeAdapter(
            api_token=plugin.FakeAcme.token,
            transport=CONTRACT.wrap(transport),
            clock=clock,
        )
