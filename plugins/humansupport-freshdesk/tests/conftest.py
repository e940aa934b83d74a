"""Shared set-up for the Freshdesk plugin tests: a seeded fake, an adapter on it, and the fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import pytest
from humansupport_freshdesk import FakeFreshdesk, FreshdeskAdapter
from pydantic import SecretStr

from humansupport.http import reset_limiters
from humansupport.testing import FakeClock, HistoryConfig, SyntheticHistory, generate_history

from .contract import CONTRACT, ContractTransport


@cache
def small_history() -> SyntheticHistory:
    return generate_history(HistoryConfig(customers=40, agents=6, groups=2))


@dataclass
class Env:
    fake: FakeFreshdesk
    adapter: FreshdeskAdapter
    clock: FakeClock
    contract: ContractTransport


def build(fake_kw: dict[str, Any] | None = None, **adapter_kw: Any) -> Env:
    history = small_history()
    clock = FakeClock(start=history.config.end + timedelta(hours=1))
    fake = FakeFreshdesk(clock=clock, history=history, **(fake_kw or {}))
    contract = CONTRACT.wrap(fake.transport())
    adapter = FreshdeskAdapter(
        domain=FakeFreshdesk.domain,
        api_key=SecretStr(FakeFreshdesk.api_key),
        transport=contract,
        clock=clock,
        **adapter_kw,
    )
    return Env(fake, adapter, clock, contract)


@pytest.fixture(autouse=True)
def _fresh_limiters() -> None:
    reset_limiters()


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    built = build()
    async with built.adapter:
        yield built


@pytest.fixture
def make_env() -> Callable[..., Env]:
    return build
