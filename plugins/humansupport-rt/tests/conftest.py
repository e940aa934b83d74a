"""The RT plugin's shared fixtures: one throwaway Request Tracker per test session, holding the kit's history."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from humansupport.testing import HistoryConfig, KitConfig, generate_history

from .live import Loaded, cache_dir, cache_key, load_history, loaded_from_json, loaded_to_json, user_field_names
from .rtserver import RTServer, in_ci, running_rt

#: small, so creating it in RT through the API takes seconds, yet with every pattern the kit's checks need
RT_HISTORY = HistoryConfig(customers=12, agents=4, groups=2, months=3, open_share=0.3)
RT_KIT = KitConfig(pages=4, page_size=5, history=RT_HISTORY, secrets=("password",))


@dataclass
class RTLive:
    server: RTServer
    loaded: Loaded
    snapshot: Path


@pytest.fixture(scope="session")
def rt_live() -> Iterator[RTLive]:
    """A real RT 5 on a free port for the session, holding the kit's history (built once, then cached by RT
    version and fixture source); in CI a server that cannot start fails the tests instead of skipping."""
    history = generate_history(RT_HISTORY)
    fields = user_field_names(RT_KIT.profile_attributes)
    key = cache_key(history, ",".join(fields))
    cached_db, cached_map = cache_dir() / f"{key}.db", cache_dir() / f"{key}.json"
    hit = cached_db.exists() and cached_map.exists()
    try:
        context = running_rt(cached_db if hit else None)
        server = context.__enter__()
    except RuntimeError as exc:
        if in_ci():
            pytest.fail(f"Request Tracker could not start (CI must run these tests): {exc}")
        pytest.skip(f"Request Tracker could not start: {exc}")
    try:
        if hit:
            loaded = loaded_from_json(cached_map.read_text())
        else:
            loaded = load_history(server, history, fields)
            cache_dir().mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache_dir(), suffix=".tmp")
            os.close(fd)
            server.snapshot(Path(tmp))
            cached_map.write_text(loaded_to_json(loaded))
            os.replace(tmp, cached_db)
        snapshot = server.root / "snapshot.db"
        shutil.copyfile(cached_db, snapshot)
        yield RTLive(server=server, loaded=loaded, snapshot=snapshot)
    finally:
        context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def rt_server(rt_live: RTLive) -> RTServer:
    return rt_live.server
