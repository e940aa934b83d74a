"""Credentials from settings (token or basic), and incremental sync on the real RT: a second run reads only what
changed, in a handful of requests."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from humansupport_rt import FakeRT, RTAdapter
from humansupport_rt.mapping import status, ticketsql_time

from humansupport import ConversationStatus
from humansupport.errors import ConfigError
from humansupport.store import Store
from humansupport.sync import sync_helpdesk
from humansupport.testing import FakeClock, generate_history

from .conftest import RT_HISTORY, RTLive
from .live import LiveRT


def _headers_sent(**settings: str) -> httpx.Headers:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"Version": "5.0.3"})

    async def go() -> None:
        transport = httpx.MockTransport(handler)
        async with RTAdapter(base_url="https://rt.example.test", transport=transport, **settings) as adapter:
            await adapter.check()

    asyncio.run(go())
    assert seen[0].url.path == "/REST/2.0/rt"
    return seen[0].headers


def test_token_auth_header_and_basic_fallback() -> None:
    assert _headers_sent(token="test-token")["authorization"] == "token test-token"
    assert _headers_sent(username="root", password="test-pass")["authorization"].startswith("Basic ")
    with pytest.raises(ConfigError, match="HUMANSUPPORT_RT_TOKEN"):
        RTAdapter(base_url="https://rt.example.test")
    with pytest.raises(ConfigError, match="HUMANSUPPORT_RT_BASE_URL"):
        RTAdapter(token="test-token")
    assert "test-token" not in repr(RTAdapter(base_url="https://rt.example.test", token="test-token"))


def test_statuses_and_times() -> None:
    assert [status(w) for w in ("new", "open", "stalled", "resolved", "rejected", "deleted")] == [
        ConversationStatus.NEW, ConversationStatus.OPEN, ConversationStatus.PENDING,
        ConversationStatus.SOLVED, ConversationStatus.CLOSED, ConversationStatus.CLOSED,
    ]  # fmt: skip
    assert status("awaiting legal") is ConversationStatus.OTHER  # a custom lifecycle's word: kept in raw
    from datetime import UTC, datetime, timezone

    cet = timezone(timedelta(hours=1))
    assert ticketsql_time(datetime(2026, 3, 1, 10, 0, tzinfo=cet)) == "2026-03-01T09:00:00Z"
    assert ticketsql_time(datetime(2026, 3, 1, 9, 0, tzinfo=UTC)) == "2026-03-01T09:00:00Z"


def test_fake_settings_reach_the_fake() -> None:
    assert FakeRT.adapter_settings()["username"] == "root"


def test_incremental_sync_on_the_real_rt(rt_live: RTLive, tmp_path: Path) -> None:
    history = generate_history(RT_HISTORY)
    clock = FakeClock(start=history.config.end + timedelta(hours=1))
    live = LiveRT(rt_live.server, rt_live.loaded, rt_live.snapshot, clock=clock)
    live.load(history)
    server = rt_live.server
    count = {"n": 0}

    async def hook(request: httpx.Request) -> None:
        count["n"] += 1

    async def sync(store: Store) -> int:
        count["n"] = 0
        async with RTAdapter(base_url=server.url, username="root", password="password", clock=clock) as adapter:
            adapter.http._http.event_hooks["request"].append(hook)
            await sync_helpdesk(adapter, store, account="rt", clock=clock)
        return count["n"]

    with Store.open(tmp_path / "hs.db") as store:
        first = asyncio.run(sync(store))
        assert len(list(store.iter_conversations("rt"))) == len(history.conversations)
        clock.advance(3600)
        changed = next(c for c in history.conversations if c.status.is_open)
        live.touch_conversation(changed.id, status=ConversationStatus.PENDING)
        second = asyncio.run(sync(store))
        assert second <= first, (first, second)
        again = store.conversation("rt", changed.id)
        assert again is not None and again.status is ConversationStatus.PENDING


def test_bulk_messages_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Across chunk boundaries every message comes once, with its text."""
    import humansupport_rt.adapter as adapter_module

    monkeypatch.setattr(adapter_module, "_CHUNK", 7)
    history = generate_history(RT_HISTORY)
    fake = FakeRT(history=history)

    async def go() -> list[tuple[str, str | None]]:
        async with RTAdapter(**FakeRT.adapter_settings(), transport=fake.transport()) as adapter:
            return [(m.id, m.body) async for m in adapter.iter_all_messages()]

    got = asyncio.run(go())
    expected = sorted((m.id, m.body) for msgs in history.messages.values() for m in msgs)
    assert sorted(got) == expected
