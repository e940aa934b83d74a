"""Sync from the acmedesk fake into the store: incremental, idempotent, resumable at any page boundary."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from humansupport_acmedesk import AcmeAdapter, AcmeSettings, FakeAcme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humansupport import AuthenticationError, Message
from humansupport.store import Store
from humansupport.sync import sync_helpdesk
from humansupport.testing import FakeClock, route
from humansupport.testing.synthetic import HistoryConfig, SyntheticHistory, generate_history


class IncrementalAcme(FakeAcme):
    """Honours `updated_since` (the plain fake lists everything), in id order as many vendors page."""

    @route("GET", r"/api/conversations")
    def list_conversations(self, request: httpx.Request) -> httpx.Response:
        since = request.url.params.get("updated_since")
        floor = datetime.fromisoformat(since) if since else None
        convs = [
            self._conv(c)
            for _, c in sorted(self.conversations.items())
            if floor is None or (c.updated_at or c.created_at or floor) >= floor
        ]
        return self._page(request, convs)


SMALL = HistoryConfig(customers=6, agents=4, groups=2, seed=3)


def _fake(history: SyntheticHistory | None = None) -> IncrementalAcme:
    history = history or generate_history(SMALL)
    fake = IncrementalAcme(history=history, clock=FakeClock(start=history.config.end))
    fake.page_size = 7  # many page boundaries in a small history
    return fake


def _adapter(fake: FakeAcme) -> AcmeAdapter:
    return AcmeAdapter.from_settings(
        AcmeSettings(api_token=FakeAcme.token), transport=fake.transport(), clock=fake.clock
    )


def _sync(fake: FakeAcme, store: Store, **kw: object) -> object:
    async def go() -> object:
        async with _adapter(fake) as adapter:
            return await sync_helpdesk(adapter, store, clock=fake.clock, batch_size=5, **kw)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_full_sync_stores_everything(store_url: str) -> None:
    fake = _fake()
    with Store.open(store_url) as store:
        _sync(fake, store)
        counts = store.counts("acmedesk")
        assert counts["conversations"] == len(fake.conversations)
        assert counts["messages"] == sum(len(v) for v in fake.messages.values())
        assert counts["customers"] == len(fake.customers) and counts["agents"] == len(fake.agents)
        assert store.get_cursor("acmedesk", "conversations") is not None


def test_second_run_changes_nothing_and_fetches_no_messages(store_url: str) -> None:
    fake = _fake()
    with Store.open(store_url) as store:
        _sync(fake, store)
        before = store.dump("acmedesk")
        fake.requests.clear()
        report = _sync(fake, store)
        assert store.dump("acmedesk") == before
        assert not [r for r in fake.requests if r.path.endswith("/messages")]
        listed = report.items["conversations"]  # type: ignore[attr-defined]
        assert listed < len(fake.conversations)  # incremental: only the cursor's overlap is re-read
        assert report.message_fetches_skipped == listed  # type: ignore[attr-defined]


def test_incremental_run_picks_up_changes(tmp_path: Path) -> None:
    fake = _fake()
    with Store.open(tmp_path / "s.db") as store:
        _sync(fake, store)
        conv = next(iter(fake.conversations.values()))
        fake.clock.advance(3600)
        fake.messages[conv.id].append(
            Message(
                id="new-1", conversation_id=conv.id, author_id="2001", author_role="agent", created_at=fake.clock.now()
            )
        )
        fake.touch_conversation(conv.id, assignee_id="2001")
        _sync(fake, store)
        stored = store.conversation("acmedesk", conv.id)
        assert stored is not None and stored.assignee_id == "2001"
        assert any(r.conversation_id == conv.id and r.agent_id == "2001" for r in store.iter_replies("acmedesk"))


def test_deleted_agent_is_marked_and_keeps_history(tmp_path: Path) -> None:
    fake = _fake()
    with Store.open(tmp_path / "s.db") as store:
        _sync(fake, store)
        gone = next(iter(fake.agents))
        del fake.agents[gone]
        report = _sync(fake, store)
        assert report.deleted_agents == [gone]  # type: ignore[attr-defined]
        agents = {a.id: deleted for a, deleted in store.agents("acmedesk")}
        assert agents[gone] is not None


def test_merged_customers_history_follows_the_conversations(store_url: str) -> None:
    fake = _fake()
    with Store.open(store_url) as store:
        _sync(fake, store)
        by_customer: dict[str, list[str]] = {}
        for c in fake.conversations.values():
            by_customer.setdefault(c.customer_id or "", []).append(c.id)
        loser, winner = sorted(by_customer, key=lambda k: -len(by_customer[k]))[:2]
        fake.clock.advance(60)
        for cid in by_customer[loser]:  # the helpdesk re-points the merged customer's conversations
            fake.touch_conversation(cid, customer_id=winner)
        del fake.customers[loser]
        _sync(fake, store)
        replies = list(store.iter_replies("acmedesk"))
        assert not [r for r in replies if r.customer_id == loser]
        moved = {r.conversation_id for r in replies if r.customer_id == winner}
        assert moved & set(by_customer[loser])


def test_full_resync_ignores_cursors(tmp_path: Path) -> None:
    fake = _fake()
    with Store.open(tmp_path / "s.db") as store:
        _sync(fake, store)
        report = _sync(fake, store, full=True)
        assert report.full and report.items["conversations"] == len(fake.conversations)  # type: ignore[attr-defined]


def _baseline() -> tuple[dict[str, object], int]:
    fake = _fake()
    with tempfile.TemporaryDirectory() as d, Store.open(Path(d) / "s.db") as store:
        _sync(fake, store)
        return store.dump("acmedesk"), len(fake.requests)


BASELINE, REQUESTS = _baseline()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=0, max_value=REQUESTS - 1), min_size=1, max_size=3))
def test_interrupted_at_any_page_boundary_then_resumed_equals_an_uninterrupted_run(cuts: list[int]) -> None:
    """Each request is one page; a non-retriable failure at request k stops sync right at that boundary."""
    fake = _fake()
    with tempfile.TemporaryDirectory() as d, Store.open(Path(d) / "s.db") as store:
        for cut in cuts:
            fake.faults.clear()
            fake.fail_next(401, skip=cut)
            with contextlib.suppress(AuthenticationError):
                _sync(fake, store)
        fake.faults.clear()
        _sync(fake, store)
        assert store.dump("acmedesk") == BASELINE


def test_every_single_boundary_exhaustively() -> None:
    """Belt and braces for the property test: every request index once, on a smaller history."""
    history = generate_history(HistoryConfig(customers=2, agents=3, groups=1, seed=11, months=2))
    fake = _fake(history)
    with tempfile.TemporaryDirectory() as d, Store.open(Path(d) / "s.db") as store:
        _sync(fake, store)
        expected = store.dump("acmedesk")
        total = len(fake.requests)
    interrupted = 0
    for cut in range(total):
        fake = _fake(history)
        with tempfile.TemporaryDirectory() as d, Store.open(Path(d) / "s.db") as store:
            fake.fail_next(401, skip=cut)
            with pytest.raises(AuthenticationError):
                _sync(fake, store)
            interrupted += 1
            fake.faults.clear()
            _sync(fake, store)
            assert store.dump("acmedesk") == expected, f"differs after a cut at request {cut}"
    assert interrupted == total > 5


def test_since_overrides_the_cursor(tmp_path: Path) -> None:
    fake = _fake()
    with Store.open(tmp_path / "s.db") as store:
        _sync(fake, store)
        since = fake.clock.now() - timedelta(days=3)
        fake.requests.clear()
        _sync(fake, store, since=since)
        sent = [r for r in fake.requests if r.path == "/api/conversations"]
        assert sent and sent[0].url_params["updated_since"] == since.isoformat()


def test_report_counts_requests_429s_and_time_per_stream(tmp_path: Path) -> None:
    from humansupport.testing import Fault

    fake = _fake()
    fake.faults.append(
        Fault(status=429, times=2, headers={"Retry-After": "3"}, match=lambda r: r.url.path == "/api/customers")
    )
    with Store.open(tmp_path / "s.db") as store:
        report: Any = _sync(fake, store)
    streams = report.streams
    assert set(streams) == {"agents", "groups", "customers", "conversations", "ratings"}
    # every request the fake saw is in exactly one stream; the two 429s are the customers stream's
    assert sum(s.requests for s in streams.values()) == len(fake.requests) == report.requests
    customers = [r for r in fake.requests if r.path == "/api/customers"]
    assert streams["customers"].requests == len(customers) and streams["customers"].rate_limited == 2
    assert report.rate_limited == 2 and all(s.rate_limited == 0 for n, s in streams.items() if n != "customers")
    per_conversation = [r for r in fake.requests if r.path.startswith("/api/conversations")]
    assert streams["conversations"].requests == len(per_conversation)
    assert streams["customers"].seconds >= 6.0  # the two waits on the injected clock
    data = report.to_dict()
    assert data["streams"]["customers"] == {
        "items": streams["customers"].items,
        "requests": len(customers),
        "rate_limited": 2,
        "seconds": pytest.approx(streams["customers"].seconds, abs=0.001),
    }
    assert data["requests"] == len(fake.requests) and data["rate_limited"] == 2 and data["seconds"] >= 6.0
