"""pytest fixtures for plugin authors, registered through the `pytest11` entry point."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..plugins import PluginRegistry, new_plugin_manager, reset_registry
from .clock import FakeClock
from .synthetic import HistoryConfig, SyntheticHistory, generate_history


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock whose sleep advances time instantly."""
    return FakeClock()


@pytest.fixture
def plugin_registry() -> Iterator[PluginRegistry]:
    """A registry holding only what the test registers; installed plugins are not loaded."""
    registry = PluginRegistry(new_plugin_manager())
    reset_registry(registry)
    try:
        yield registry
    finally:
        reset_registry(None)


@pytest.fixture(scope="session")
def synthetic_history() -> SyntheticHistory:
    """A small shared synthetic history (seeded, deterministic)."""
    return generate_history(HistoryConfig(customers=80, agents=8, groups=2))
