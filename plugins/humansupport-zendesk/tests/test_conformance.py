"""The conformance kit against the Zendesk fake."""

from __future__ import annotations

import httpx
from humansupport_zendesk import FakeZendesk, ZendeskAdapter
from pydantic import SecretStr

from humansupport.testing import AdapterConformance, FakeClock, KitConfig


class TestZendeskConformance(AdapterConformance):
    config = KitConfig(pages=7, page_size=80, secrets=(FakeZendesk.token,))

    def make_fake(self, clock: FakeClock) -> FakeZendesk:
        fake = FakeZendesk(clock=clock)
        fake.export_limit_per_minute = 10  # the exports' own limit, as on a real account
        return fake

    def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> ZendeskAdapter:
        return ZendeskAdapter(
            subdomain=FakeZendesk.subdomain,
            email=FakeZendesk.email,
            api_token=SecretStr(FakeZendesk.token),
            transport=transport,
            clock=clock,
        )
