"""Reads: ticket time windows past the page cap, window edges, parameters sent, messages, agents, ratings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from humansupport_freshdesk import FreshdeskAdapter

from humansupport.errors import PaginationLoopError
from humansupport.models import AgentAvailability, AuthorRole, ConversationStatus, RatingScore

from .conftest import Env
from .contract import CONTRACT


async def collect_ids(env: Env, **kw: object) -> list[str]:
    return [c.id async for c in env.adapter.iter_conversations(**kw)]  # type: ignore[arg-type]


def ticket_list_requests(env: Env) -> list[dict[str, str]]:
    return [r.url_params for r in env.fake.requests if r.path == "/api/v2/tickets"]


async def test_keyset_reads_everything_once_without_meeting_the_cap(make_env: Callable[..., Env]) -> None:
    env = make_env({"page_cap": 3})
    env.fake.page_size = 10
    async with env.adapter:
        got = await collect_ids(env)
    assert len(got) == len(set(got)) and set(got) == set(env.fake.conversations)
    requests = ticket_list_requests(env)
    assert all(r.get("page", "1") == "1" for r in requests), "keyset restarts at the edge instead of paging"
    assert not any(r.status == 400 for r in env.fake.requests)
    windows = [r["updated_since"] for r in requests]
    assert windows == sorted(windows) and len(set(windows)) == len(windows)
    assert len(requests) <= len(got) / 9 + 1, "more than one re-read per page of 10"


async def _missed_under_edits(env: Env, mode: str) -> set[str]:
    """Reads every ticket while a human edits one already-read ticket after each list page."""
    env.fake.page_size = 10
    oldest_first = [c.id for c in sorted(env.fake.conversations.values(), key=lambda c: (c.updated_at, int(c.id)))]
    touched: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        response = env.fake(request)
        if request.url.path == "/api/v2/tickets" and response.status_code == 200:
            env.clock.advance(1)
            touched.append(oldest_first[len(touched)])
            env.fake.touch_conversation(touched[-1])  # already read: it jumps to the end of the list
        return response

    adapter = FreshdeskAdapter(
        domain="acme", api_key=env.fake.api_key, ticket_paging=mode, clock=env.clock,  # type: ignore[arg-type]
        transport=CONTRACT.wrap(httpx.MockTransport(handler)),
    )  # fmt: skip
    async with adapter:
        got = [c.id async for c in adapter.iter_conversations()]
    return set(env.fake.conversations) - set(got)


async def test_concurrent_updates_shift_pages_and_only_keyset_survives(make_env: Callable[..., Env]) -> None:
    """Each edit moves a ticket from behind our position to the end, so page N+1 starts one ticket late."""
    assert await _missed_under_edits(make_env(), "keyset") == set()
    assert await _missed_under_edits(make_env(), "windows"), "the scenario no longer shifts pages; it proves nothing"


async def test_windows_mode_walks_past_the_page_cap_without_gaps_or_duplicates(make_env: Callable[..., Env]) -> None:
    env = make_env({"page_cap": 3}, ticket_paging="windows")
    env.fake.page_size = 10
    async with env.adapter:
        got = await collect_ids(env)
    assert len(got) == len(set(got)), [i for i, n in Counter(got).items() if n > 1]
    assert set(got) == set(env.fake.conversations)
    capped = [r for r in env.fake.requests if r.path == "/api/v2/tickets" and r.status == 400]
    assert capped and all(r.url_params["page"] == "4" for r in capped), "the page-cap 400 was not the signal"
    windows = [p["updated_since"] for p in ticket_list_requests(env) if p.get("page", "1") == "1"]
    assert len(windows) == len(capped) + 1
    assert windows == sorted(windows), "windows must move forward"


async def test_keyset_follows_link_through_a_second_shared_by_many(make_env: Callable[..., Env]) -> None:
    env = make_env()
    env.fake.page_size = 10
    ordered = sorted(env.fake.conversations.values(), key=lambda c: (c.updated_at, int(c.id)))
    same = ordered[15].updated_at
    for conv in ordered[12:47]:  # 35 tickets in one second: pages that cannot move the edge
        env.fake.conversations[conv.id] = conv.model_copy(update={"updated_at": same})
    async with env.adapter:
        got = await collect_ids(env)
    assert len(got) == len(set(got)) and set(got) == set(env.fake.conversations)
    assert any(r.get("page") == "3" for r in ticket_list_requests(env)), "Link was not followed inside the second"


async def test_window_edge_inside_a_group_sharing_one_updated_at(make_env: Callable[..., Env]) -> None:
    env = make_env({"page_cap": 2}, ticket_paging="windows")
    env.fake.page_size = 10
    ordered = sorted(env.fake.conversations.values(), key=lambda c: (c.updated_at, int(c.id)))
    same = ordered[15].updated_at
    assert same is not None
    for conv in ordered[12:27]:  # 15 tickets at one instant, straddling the 20-ticket window edge
        env.fake.conversations[conv.id] = conv.model_copy(update={"updated_at": same})
    async with env.adapter:
        got = await collect_ids(env)
    assert len(got) == len(set(got))
    assert set(got) == set(env.fake.conversations)
    windows = [p["updated_since"] for p in ticket_list_requests(env) if p.get("page", "1") == "1"]
    assert windows[1] == same.strftime("%Y-%m-%dT%H:%M:%SZ"), "the second window must restart at the shared instant"


async def test_more_tickets_in_one_second_than_a_window_is_a_clear_error(make_env: Callable[..., Env]) -> None:
    env = make_env({"page_cap": 1})
    env.fake.page_size = 5
    same = datetime(2026, 10, 20, 12, 0, 0, tzinfo=UTC)
    for cid, conv in list(env.fake.conversations.items())[:12]:
        env.fake.conversations[cid] = conv.model_copy(update={"updated_at": same})
    async with env.adapter:
        with pytest.raises(PaginationLoopError, match="one updated_at second"):
            await collect_ids(env, updated_since=same)


async def test_list_always_sends_updated_since_in_z_form_sorted_ascending(env: Env) -> None:
    since = datetime(2026, 9, 1, 8, 30, tzinfo=UTC)
    got = await collect_ids(env, updated_since=since)
    expected = {c.id for c in env.fake.conversations.values() if c.updated_at and c.updated_at >= since}
    assert set(got) == expected
    first = ticket_list_requests(env)[0]
    assert first == {"updated_since": "2026-09-01T08:30:00Z", "order_by": "updated_at", "order_type": "asc",
                     "per_page": "100", "include": "description"}  # fmt: skip
    env.fake.requests.clear()
    await collect_ids(env)
    assert ticket_list_requests(env)[0]["updated_since"] == "2000-01-01T00:00:00Z", "no 30-day default window"


async def test_fake_lists_only_the_last_30_days_without_updated_since(env: Env) -> None:
    data = await env.adapter.http.get_json("/api/v2/tickets", params={"per_page": 100})
    floor = env.clock.now() - timedelta(days=30)
    recent = {c.id for c in env.fake.conversations.values() if c.created_at and c.created_at >= floor}
    assert {str(t["id"]) for t in data} == recent
    assert len(recent) < len(env.fake.conversations)


async def test_link_is_echoed_unencoded_so_a_plus_offset_breaks(env: Env) -> None:
    """Why we send `Z`: a `+00:00` comes back raw in Link and the `+` turns into a space."""
    env.fake.page_size = 5
    transport = env.fake.transport()
    async with httpx.AsyncClient(transport=transport, auth=(env.fake.api_key, "X")) as client:
        first = await client.get(
            "https://x.freshdesk.com/api/v2/tickets",
            params={"updated_since": "2026-01-01T00:00:00+00:00", "per_page": 5},
        )
        assert first.status_code == 200
        assert "+00:00" in first.headers["link"]
        second = await client.get(first.links["next"]["url"])
    assert second.status_code == 400
    assert second.json()["errors"][0]["field"] == "updated_since"


async def test_status_filter_is_applied_client_side(env: Env) -> None:
    wanted = [ConversationStatus.PENDING]
    got = [c async for c in env.adapter.iter_conversations(status=wanted)]
    assert got and all(c.status is ConversationStatus.PENDING for c in got)
    assert "status" not in ticket_list_requests(env)[0]


async def test_messages_start_with_the_description_then_conversations(env: Env) -> None:
    conv_id = next(cid for cid, msgs in sorted(env.fake.messages.items()) if len(msgs) >= 4)
    messages = [m async for m in env.adapter.iter_messages(conv_id)]
    source = env.fake.messages[conv_id]
    assert messages[0].id == f"{conv_id}:description"
    assert messages[0].author_role is AuthorRole.CUSTOMER
    assert messages[0].author_id == env.fake.conversations[conv_id].customer_id
    assert [m.id for m in messages[1:]] == [m.id for m in source[1:]]
    assert [m.public for m in messages] == [m.public for m in source]
    assert [m.author_role for m in messages[1:]] == [m.author_role for m in source[1:]]


async def test_agents_groups_availability_and_capacity(make_env: Callable[..., Env]) -> None:
    env = make_env(capacity_default=9)
    async with env.adapter:
        agents = {a.id: a async for a in env.adapter.iter_agents()}
        groups = {g.id: g async for g in env.adapter.iter_groups()}
    active = {a.id: a for a in env.fake.agents.values() if a.active}
    assert set(agents) == set(active)
    for aid, agent in agents.items():
        want = (
            AgentAvailability.AVAILABLE
            if active[aid].availability is AgentAvailability.AVAILABLE
            else AgentAvailability.AWAY
        )
        assert agent.availability is want
        assert agent.capacity == 9
        assert agent.group_ids == active[aid].group_ids
    assert set(groups) == set(env.fake.groups)
    assert all(set(g.agent_ids) <= set(active) for g in groups.values())


async def test_customers_find_by_email_and_updated_since(env: Env) -> None:
    customer = sorted(env.fake.customers.values(), key=lambda c: c.id)[3]
    assert customer.email
    found = await env.adapter.find_customer(email=customer.email.upper())
    assert found is not None and found.id == customer.id
    assert found.custom_attributes == customer.custom_attributes
    assert await env.adapter.find_customer(email="nobody@nowhere.test") is None
    since = sorted(c.updated_at for c in env.fake.customers.values() if c.updated_at)[-5]
    recent = [c.id async for c in env.adapter.iter_customers(updated_since=since)]
    assert set(recent) == {c.id for c in env.fake.customers.values() if c.updated_at and c.updated_at >= since}
    assert any("_updated_since" in r.url_params for r in env.fake.requests)


async def test_ratings_map_good_and_bad(env: Env) -> None:
    ratings = [r async for r in env.adapter.iter_ratings()]
    assert {r.id for r in ratings} == set(env.fake.ratings)
    for rating in ratings:
        source = env.fake.ratings[rating.id]
        if source.score in (RatingScore.GOOD, RatingScore.BAD):
            assert rating.score is source.score
        assert rating.conversation_id == source.conversation_id


async def test_check_reports_rate_headroom(env: Env) -> None:
    report = (await env.adapter.check()).to_dict()
    assert report["ok"] and report["account"] == env.fake.domain
    assert report["rate_limit"] == env.fake.nominal_limit, "X-RateLimit-Total was not learned"
    assert report["rate_remaining"] == env.fake.nominal_limit - 1
    assert report["details"]["tickets_list_per_minute"] == 18  # 90% of the growth plan's 20, the default
    assert report["details"]["credits_per_call"] == 1  # X-RateLimit-Used-CurrentRequest


async def test_fake_list_follows_changes_between_reads(env: Env) -> None:
    """The fake caches its sorted ticket list; every kind of change must still show in the next read."""
    before = await collect_ids(env)
    env.clock.advance(3600)
    touched = env.fake.touch_conversation(before[0])
    since = touched.updated_at
    assert await collect_ids(env, updated_since=since) == [before[0]]
    later = since + timedelta(hours=1) if since else None
    env.fake.conversations[before[1]] = env.fake.conversations[before[1]].model_copy(update={"updated_at": later})
    assert await collect_ids(env, updated_since=later) == [before[1]]
    env.fake.delete_ticket(before[1])
    assert await collect_ids(env, updated_since=later) == []


async def test_threads_of_listed_tickets_need_no_ticket_get(env: Env) -> None:
    listed = [c.id async for c in env.adapter.iter_conversations()][:5]
    env.fake.requests.clear()
    for tid in listed:
        messages = [m async for m in env.adapter.iter_messages(tid)]
        assert messages[0].id == f"{tid}:description" and messages[0].body == env.fake.messages[tid][0].body
    assert not any(r.path.startswith("/api/v2/tickets/") and r.path.count("/") == 4 for r in env.fake.requests)
    again = [m async for m in env.adapter.iter_messages(listed[0])]  # not cached twice: a fresh GET
    assert again[0].id == f"{listed[0]}:description"
    assert any(r.path == f"/api/v2/tickets/{listed[0]}" for r in env.fake.requests)


async def test_listing_costs_the_include_credits(env: Env) -> None:
    _ = [c async for c in env.adapter.iter_conversations()]
    listing = [r for r in env.fake.requests if r.path == "/api/v2/tickets"]
    assert listing and all(r.url_params["include"] == "description" for r in listing)
    assert env.adapter._budget.last_cost == 3
