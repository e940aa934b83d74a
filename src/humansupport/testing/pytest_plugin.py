"""pytest fixtures for plugin authors, registered through the `pytest11` entry point."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from ..plugins import PluginRegistry, get_registry, new_plugin_manager, reset_registry
from .clock import FakeClock, LiveClock
from .fake import FakeHelpdesk
from .serving import ServedFake, served_fake
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


@pytest.fixture
def serve_fake() -> Iterator[Callable[..., ServedFake]]:
    """Starts installed plugins' fakes over HTTP for this test: `served = serve_fake("acmedesk", customers=50)`.

    `served.url` and `served.clients()` reach it from any client (the vendor's own too), `served.connect()`
    from ours; `served.fake` is the fake itself (its state, request log and fault injection). Stopped after the test.
    """
    with ExitStack() as stack:

        def start(
            vendor: str | FakeHelpdesk,
            *,
            customers: int = 80,
            seed: int = 7,
            rate_limit: int | None = None,
        ) -> ServedFake:
            if isinstance(vendor, FakeHelpdesk):
                fake = vendor
            else:
                fakes = get_registry().fakes()
                if vendor not in fakes:
                    raise LookupError(f"no fake for {vendor!r}; installed: {', '.join(sorted(fakes)) or 'none'}")
                fake = fakes[vendor](
                    history=generate_history(HistoryConfig(customers=customers, seed=seed)),
                    rate_limit_per_minute=rate_limit,
                    clock=LiveClock(),
                )
            return stack.enter_context(served_fake(fake))

        yield start
