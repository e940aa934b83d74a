"""Property test of the ticket walk: any spread of `updated_at` ties, page size and page cap, both strategies,
every ticket exactly once (or a clear error when one second holds more than a window)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from humansupport_freshdesk import FakeFreshdesk, FreshdeskAdapter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from humansupport.errors import PaginationLoopError
from humansupport.http import reset_limiters
from humansupport.testing import FakeClock, HistoryConfig, generate_history

HISTORY = generate_history(HistoryConfig(customers=12, agents=3, groups=1))
BASE = datetime(2026, 6, 1, tzinfo=UTC)


async def _walk(fake: FakeFreshdesk, paging: str) -> list[str]:
    reset_limiters()
    adapter = FreshdeskAdapter(
        domain="acme", api_key=SecretStr(fake.api_key), ticket_paging=paging,  # type: ignore[arg-type]
        transport=fake.transport(), clock=fake.clock,
    )  # fmt: skip
    async with adapter:
        return [c.id async for c in adapter.iter_conversations(updated_since=BASE)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seconds=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=80),
    page_size=st.integers(min_value=1, max_value=7),
    page_cap=st.integers(min_value=1, max_value=5),
    paging=st.sampled_from(["keyset", "windows"]),
)
def test_every_ticket_once_for_any_ties(seconds: list[int], page_size: int, page_cap: int, paging: str) -> None:
    convs = sorted(HISTORY.conversations, key=lambda c: int(c.id))
    assert len(seconds) <= len(convs), "seed a larger history"
    fake = FakeFreshdesk(clock=FakeClock(start=BASE + timedelta(days=1)), history=HISTORY, page_cap=page_cap)
    fake.page_size = page_size
    fake.conversations = {
        c.id: c.model_copy(update={"updated_at": BASE + timedelta(seconds=s)})
        for c, s in zip(convs, seconds, strict=False)
    }
    crowded = max(Counter(seconds).values()) >= page_size * page_cap
    try:
        got = asyncio.run(_walk(fake, paging))
    except PaginationLoopError:
        assert crowded, "gave up although every second fits in a window"
        return  # one second holds a whole window: a clear error, never a loop
    assert Counter(got).most_common(1)[0][1] == 1, "a ticket was read twice"
    assert set(got) == set(fake.conversations), "a ticket was missed"
