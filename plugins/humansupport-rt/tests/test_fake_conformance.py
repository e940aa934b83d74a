"""The same conformance kit against FakeRT, the in-memory REST2 that `humansupport demo` and `fake serve rt` use."""

from __future__ import annotations

import httpx
from humansupport_rt import FakeRT, RTAdapter

from humansupport.testing import AdapterConformance, FakeClock, KitConfig

from .conftest import RT_HISTORY


class TestFakeRTConformance(AdapterConformance):
    config = KitConfig(pages=4, page_size=5, history=RT_HISTORY, secrets=(FakeRT.password,))

    def make_fake(self, clock: FakeClock) -> FakeRT:
        return FakeRT(clock=clock)

    def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> RTAdapter:
        return RTAdapter(**FakeRT.adapter_settings(), transport=transport, clock=clock)
