from __future__ import annotations

import os

# tests never load whatever plugins happen to be installed in the venv unless they ask for them
os.environ.setdefault("HUMANSUPPORT_PLUGINS", "")

# -- store backends: SQLite always, PostgreSQL from a server this session starts ------------------------

from collections.abc import Iterator
from pathlib import Path

import pytest

from humansupport.plugins import PluginRegistry

from .pgserver import PgServer, running_server
from .webhooks.support import first_party_registry


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer | None]:
    """One PostgreSQL server for the session; in CI failing to start it fails the tests instead of skipping."""
    try:
        with running_server() as server:
            yield server
    except RuntimeError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise
        pytest.skip(f"PostgreSQL cannot start here: {exc}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    server: PgServer | None = request.getfixturevalue("pg_server")
    assert server is not None
    return server.new_database()


@pytest.fixture(scope="session")
def installed_registry() -> PluginRegistry:
    """The plugins installed in this environment (the four first-party ones), ignoring HUMANSUPPORT_* settings."""
    return first_party_registry()
