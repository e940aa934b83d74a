"""The humansupport conformance kit against the Intercom fake, every exchange checked against OAS 2.14."""

from __future__ import annotations

import httpx
from humansupport_intercom import FakeIntercom, IntercomAdapter
from pydantic import SecretStr

from humansupport.testing import AdapterConformance, FakeClock, KitConfig


class TestIntercomConformance(AdapterConformance):
    config = KitConfig(pages=6, page_size=10, secrets=(FakeIntercom.token,))

    def make_fake(self, clock: FakeClock) -> FakeIntercom:
        return FakeIntercom(clock=clock)

    def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> IntercomAdapter:
        return IntercomAdapter(access_token=SecretStr(FakeIntercom.token), transport=transport, clock=clock)
