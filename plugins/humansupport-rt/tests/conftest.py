"""The RT plugin's shared fixtures: one throwaway Request Tracker per test session (see rtserver.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .rtserver import RTServer, in_ci, running_rt


@pytest.fixture(scope="session")
def rt_server() -> Iterator[RTServer]:
    """A real RT 5 on a free port for the session; in CI a server that cannot start fails the tests."""
    try:
        context = running_rt()
        server = context.__enter__()
    except RuntimeError as exc:
        if in_ci():
            pytest.fail(f"Request Tracker could not start (CI must run these tests): {exc}")
        pytest.skip(f"Request Tracker could not start: {exc}")
    try:
        yield server
    finally:
        context.__exit__(None, None, None)
