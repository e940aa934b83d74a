"""The conformance kit run against the AcmeDesk example plugin: proves the kit itself."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from humansupport.testing import AdapterConformance, FakeClock, KitConfig

from .acmedesk import AcmeAdapter, FakeAcme


class TestAcmeConformance(AdapterConformance):
    config = KitConfig(pages=6, page_size=10, secrets=("acme-token",))

    def make_fake(self, clock: FakeClock) -> FakeAcme:
        return FakeAcme(clock=clock)

    def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> AcmeAdapter:
        return AcmeAdapter(api_token=SecretStr(FakeAcme.token), transport=transport, clock=clock)
