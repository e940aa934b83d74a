"""humansupport's conformance kit (every check, the feature checks included) against the real RT server."""

from __future__ import annotations

import httpx
import pytest
from humansupport_rt import RTAdapter

from humansupport.testing import AdapterConformance, FakeClock

from .conftest import RT_KIT, RTLive
from .live import LiveRT


class TestRTConformance(AdapterConformance):
    config = RT_KIT
    live: RTLive

    @pytest.fixture(autouse=True)
    def _bind(self, rt_live: RTLive) -> None:
        self.live = rt_live

    def make_fake(self, clock: FakeClock) -> LiveRT:
        return LiveRT(self.live.server, self.live.loaded, self.live.snapshot, clock=clock)

    def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> RTAdapter:
        server = self.live.server
        return RTAdapter(base_url=server.url, username="root", password="password", transport=transport, clock=clock)
