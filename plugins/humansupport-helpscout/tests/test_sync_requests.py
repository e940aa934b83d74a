"""Sync reads Help Scout's threads from the listing (`embed=threads`), not one request per conversation."""

from __future__ import annotations

from pathlib import Path

from humansupport_helpscout import FakeHelpScout

from humansupport.store import Store
from humansupport.sync import sync_helpdesk
from humansupport.testing import FakeClock

from .conftest import make_adapter


def _threads_calls(fake: FakeHelpScout) -> int:
    return sum(1 for r in fake.requests if r.path.endswith("/threads"))


async def test_sync_lists_threads_with_conversations_and_rereads_only_chats(
    fake: FakeHelpScout, clock: FakeClock, tmp_path: Path
) -> None:
    conversations = len(fake.conversations)
    chats = sum(1 for c in fake.conversations.values() if c.channel == "chat")
    assert conversations >= 60
    with Store.open(tmp_path / "s.db") as store:
        async with make_adapter(fake, clock) as adapter:
            report = await sync_helpdesk(adapter, store, clock=clock)
        # one request per conversation was the old way: 60 conversations cost 60 GET .../threads
        assert _threads_calls(fake) == chats, "only chats are re-read (the listing truncates chat threads)"
        listings = [r for r in fake.requests if r.path == "/v2/conversations"]
        assert listings and all(r.url_params.get("embed") == "threads" for r in listings)
        pages = -(-conversations // fake.page_size)
        assert report.streams["conversations"].requests == pages + chats
        assert report.items["conversations"] == conversations
        expected = sum(len(m) for m in fake.messages.values())
        assert report.messages == expected
        stored = {c.id for c in store.iter_conversations("helpscout")}
        assert stored == set(fake.conversations)
        assert store.counts("helpscout")["messages"] == expected
