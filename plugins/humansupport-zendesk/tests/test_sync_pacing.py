"""A window limit is spent as a window: a sync that finds nothing changed never waits on the export limit."""

from __future__ import annotations

from pathlib import Path

from humansupport_zendesk import FakeZendesk

from humansupport.store import Store
from humansupport.sync import sync_helpdesk
from humansupport.testing import FakeClock

from .conftest import make_adapter


def _exports(fake: FakeZendesk) -> int:
    return sum(1 for r in fake.requests if "/incremental/" in r.path)


async def test_a_no_change_sync_never_waits_before_the_export_window_is_spent(
    fake: FakeZendesk, clock: FakeClock, tmp_path: Path
) -> None:
    with Store.open(tmp_path / "s.db") as store:
        async with make_adapter(fake, clock) as adapter:
            await sync_helpdesk(adapter, store, clock=clock)
            first, before = _exports(fake), len(fake.requests)
            clock.advance(5)
            report = await sync_helpdesk(adapter, store, clock=clock)
    assert _exports(fake) <= 10, "more exports than one window holds: this test needs a smaller history"
    # the old pacing sent the exports one every 6 s from the very first request: 13.7 s for a no-change sync
    assert clock.sleeps == [], f"waited {clock.sleeps} with {_exports(fake)} of 10 exports in the window"
    assert fake.export_limited == 0
    assert _exports(fake) > first, "the second sync read the exports again"
    assert report.requests == len(fake.requests) - before
