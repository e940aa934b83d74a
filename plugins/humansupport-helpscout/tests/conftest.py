"""Shared fixtures: a small seeded Help Scout fake on a fake clock, and an adapter talking to it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import cache

import pytest
from humansupport_helpscout import FakeHelpScout, HelpScoutAdapter
from pydantic import SecretStr

from humansupport.testing import FakeClock, HistoryConfig, SyntheticHistory, generate_history

# never load whatever plugins happen to be installed unless a test registers them
os.environ.setdefault("HUMANSUPPORT_PLUGINS", "")

HISTORY = HistoryConfig(customers=40, agents=6, groups=2, seed=11)


@cache
def history() -> SyntheticHistory:
    return generate_history(HISTORY)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=HISTORY.end + timedelta(hours=1))


@pytest.fixture
def fake(clock: FakeClock) -> FakeHelpScout:
    return FakeHelpScout(clock=clock, history=history())


def make_adapter(fake: FakeHelpScout, clock: FakeClock, **kw: object) -> HelpScoutAdapter:
    return HelpScoutAdapter(
        app_id=FakeHelpScout.app_id,
        app_secret=SecretStr(FakeHelpScout.app_secret),
        transport=fake.transport(),
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
async def adapter(fake: FakeHelpScout, clock: FakeClock) -> AsyncIterator[HelpScoutAdapter]:
    async with make_adapter(fake, clock) as built:
        yield built
