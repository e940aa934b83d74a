"""Vendors with a bulk message export (capabilities.bulk_messages) sync messages in one stream, not per conversation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from humansupport_acmedesk import AcmeAdapter, FakeAcme
from pydantic import SecretStr

from humansupport import Capabilities, Message
from humansupport.helpdesk import Helpdesk
from humansupport.http import CursorPaginator, PageRequest, paginate
from humansupport.store import Store
from humansupport.sync import sync_helpdesk
from humansupport.testing import FakeClock, route
from humansupport.testing.synthetic import HistoryConfig, generate_history


class BulkAcme(FakeAcme):
    """Adds an export of every message created since a time, oldest first."""

    @route("GET", r"/api/messages")
    def all_messages(self, request: httpx.Request) -> httpx.Response:
        since = request.url.params.get("created_since")
        floor = datetime.fromisoformat(since) if since else None
        every = [m for ms in self.messages.values() for m in ms]
        msgs = sorted(
            (m for m in every if floor is None or (m.created_at and m.created_at >= floor)),
            key=lambda m: (m.created_at, m.id),
        )
        return self._page(request, [m.model_dump(mode="json", exclude={"raw"}) for m in msgs])


class BulkAcmeAdapter(AcmeAdapter):
    capabilities = Capabilities(optimistic_concurrency=True, signed_webhooks=True, bulk_messages=True)

    async def iter_all_messages(self, *, updated_since: datetime | None = None) -> AsyncIterator[Message]:
        params = {"created_since": updated_since.isoformat()} if updated_since else {}
        pager = CursorPaginator(items="data", next_cursor="next_cursor", cursor_param="cursor")
        async for item in paginate(self.http, PageRequest(url="/api/messages", params=params), pager):
            yield Message.model_validate({**item, "raw": item})


def _run(fake: BulkAcme, store: Store, adapter_cls: type[AcmeAdapter]) -> object:
    async def go() -> object:
        token = SecretStr(FakeAcme.token)
        async with adapter_cls(api_token=token, transport=fake.transport(), clock=fake.clock) as adapter:
            return await sync_helpdesk(adapter, store, clock=fake.clock)

    return asyncio.run(go())


def test_bulk_export_stores_the_same_messages_with_far_fewer_requests(tmp_path: Path) -> None:
    history = generate_history(HistoryConfig(customers=25, agents=4, groups=2, seed=5))
    per_conversation, bulk = (BulkAcme(history=history, clock=FakeClock(start=history.config.end)) for _ in "ab")
    with Store.open(f"sqlite:///{tmp_path / 'a.db'}") as a, Store.open(f"sqlite:///{tmp_path / 'b.db'}") as b:
        _run(per_conversation, a, AcmeAdapter)
        report = _run(bulk, b, BulkAcmeAdapter)
        assert a.counts("acmedesk")["messages"] == b.counts("acmedesk")["messages"] == history.message_count()
        assert a.dump("acmedesk")["messages"] == b.dump("acmedesk")["messages"]
        assert report.items["messages"] == history.message_count()  # type: ignore[attr-defined]
        assert b.get_cursor("acmedesk", "messages") is not None
    per_conv_paths = [r.path for r in per_conversation.requests if r.path.endswith("/messages")]
    assert len(per_conv_paths) == len(history.conversations)
    assert not any(r.path.endswith("/messages") and r.path != "/api/messages" for r in bulk.requests)
    assert len(bulk.requests) * 5 < len(per_conversation.requests)


def test_second_bulk_run_reads_only_new_messages(tmp_path: Path) -> None:
    history = generate_history(HistoryConfig(customers=10, agents=4, groups=2, seed=6))
    fake = BulkAcme(history=history, clock=FakeClock(start=history.config.end))
    with Store.open(f"sqlite:///{tmp_path / 'c.db'}") as store:
        _run(fake, store, BulkAcmeAdapter)
        before = len(fake.requests)
        second = _run(fake, store, BulkAcmeAdapter)
        export_calls = [r for r in fake.requests[before:] if r.path == "/api/messages"]
        assert export_calls and "created_since" in export_calls[0].url_params
        assert second.items["messages"] < history.message_count()  # type: ignore[attr-defined]
        assert store.counts("acmedesk")["messages"] == history.message_count()


def test_adapters_without_the_capability_say_so() -> None:
    adapter = AcmeAdapter(api_token=SecretStr(FakeAcme.token))
    with pytest.raises(NotImplementedError, match="bulk_messages"):
        adapter.iter_all_messages()
    desk = Helpdesk(adapter)
    try:
        with pytest.raises(NotImplementedError):
            list(desk.iter_all_messages())
    finally:
        desk.close()
