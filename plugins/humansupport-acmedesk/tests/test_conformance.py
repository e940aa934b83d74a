"""humansupport's conformance kit against FakeAcme, every exchange checked against tests/openapi.yaml."""

from __future__ import annotations

import httpx
from humansupport_acmedesk import AcmeAdapter, FakeAcme

from humansupport.testing import AdapterConformance, FakeClock, KitConfig

from .contract import CONTRACT


class TestAcmeConformance(AdapterConformance):
    config = KitConfig(pages=6, page_size=10, secrets=(FakeAcme.token,))

    def make_fake(self, clock: FakeClock) -> FakeAcme:
        return FakeAcme(clock=clock)

    def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> AcmeAdapter:
        return AcmeAdapter(api_token=FakeAcme.token, transport=CONTRACT.wrap(transport), clock=clock)
