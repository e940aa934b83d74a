"""The plugin's public surface is exactly its `__all__`, and the sync facade drives the adapter."""

from __future__ import annotations

from types import FunctionType, ModuleType

import humansupport_zendesk as zd

from humansupport import Helpdesk
from humansupport.testing import FakeClock

from .conftest import make_adapter  # type: ignore[import-not-found]


def test_all_is_exactly_the_public_surface() -> None:
    public = {n for n, v in vars(zd).items() if not n.startswith("_") and not isinstance(v, ModuleType)}
    assert [n for n in zd.__all__ if not n.startswith("_")] == sorted(public, key=str.casefold)


def test_exported_names_report_the_package_as_their_module() -> None:
    exported = [getattr(zd, n) for n in zd.__all__]
    assert {v.__module__ for v in exported if isinstance(v, type | FunctionType)} == {"humansupport_zendesk"}


def test_the_sync_facade_runs_the_adapter(fake: zd.FakeZendesk, clock: FakeClock) -> None:
    with Helpdesk(make_adapter(fake, clock)) as desk:
        assert desk.vendor == "zendesk" and desk.capabilities.bulk_assign
        first = next(iter(desk.iter_agents()))
        assert first.id in fake.agents
        assert desk.check().ok
