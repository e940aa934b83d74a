"""Intercom specifics of the adapter: settings, headers, reads, writes, concurrency, limits and check()."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest
from humansupport_intercom import FakeIntercom, IntercomAdapter, IntercomSettings
from pydantic import SecretStr

from humansupport import (
    AgentAvailability,
    Assignment,
    AssignmentOutcome,
    AuthorRole,
    ConfigError,
    ConflictError,
    ConversationStatus,
    Message,
    ProfilePatch,
    RatingScore,
)
from humansupport.config import resolve_settings
from humansupport.testing import FakeClock, HistoryConfig, generate_history

T = TypeVar("T")


async def collect(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]


def _calls(fake: FakeIntercom, method: str, path_part: str) -> list[Any]:
    return [r for r in fake.requests if r.method == method and path_part in r.path]


def _open_pair(fake: FakeIntercom) -> tuple[str, str]:
    """An open conversation and an active admin (other than its assignee) in one of its teams."""
    for conv in sorted(fake.conversations.values(), key=lambda c: int(c.id)):
        if not conv.status.is_open:
            continue
        for agent in sorted(fake.agents.values(), key=lambda a: a.id):
            if agent.active and agent.id != conv.assignee_id:
                return conv.id, agent.id
    raise AssertionError("no open conversation")


# -- settings -----------------------------------------------------------------------------------------


def test_settings_come_from_the_environment_and_never_from_the_file() -> None:
    env = {"HUMANSUPPORT_INTERCOM_ACCESS_TOKEN": "tok-env-123", "HUMANSUPPORT_INTERCOM_REGION": "eu"}
    settings = resolve_settings(IntercomSettings, environ=env)
    assert settings.access_token.get_secret_value() == "tok-env-123"
    assert settings.region == "eu" and settings.api_version == "2.14" and settings.admin_id is None
    assert "tok-env-123" not in repr(settings)
    with pytest.raises(ConfigError, match="HUMANSUPPORT_INTERCOM_ACCESS_TOKEN"):
        resolve_settings(IntercomSettings, config={"helpdesks": {"intercom": {"access_token": "x"}}}, environ={})
    with pytest.raises(ConfigError, match="HUMANSUPPORT_INTERCOM_REGION"):
        resolve_settings(IntercomSettings, environ={**env, "HUMANSUPPORT_INTERCOM_REGION": "mars"})
    with pytest.raises(ConfigError, match="HUMANSUPPORT_INTERCOM_API_VERSION"):
        resolve_settings(IntercomSettings, environ={**env, "HUMANSUPPORT_INTERCOM_API_VERSION": "v2"})
    with pytest.raises(ConfigError, match="HUMANSUPPORT_INTERCOM_ADMIN_ID"):
        resolve_settings(IntercomSettings, environ={**env, "HUMANSUPPORT_INTERCOM_ADMIN_ID": "ada@example.test"})
    assert resolve_settings(IntercomSettings, environ={**env, "HUMANSUPPORT_INTERCOM_API_VERSION": "Preview"})


@pytest.mark.parametrize(
    ("region", "host"), [("us", "api.intercom.io"), ("eu", "api.eu.intercom.io"), ("au", "api.au.intercom.io")]
)
def test_region_picks_the_base_url(region: Any, host: str) -> None:
    adapter = IntercomAdapter(access_token=SecretStr("tok-region"), region=region)
    assert adapter.http.base_url == f"https://{host}"
    assert "tok-region" not in repr(adapter) and region in repr(adapter)


def test_from_settings_builds_a_working_adapter(run_intercom: Any) -> None:
    settings = IntercomSettings(access_token=SecretStr(FakeIntercom.token), admin_id="2003", capacity_default=9)
    fake = FakeIntercom(clock=FakeClock(), history=generate_history(HistoryConfig(customers=10, agents=4, groups=1)))
    adapter = IntercomAdapter.from_settings(settings, transport=fake.transport(), clock=fake.clock)

    async def go() -> list[Any]:
        async with adapter:
            return await collect(adapter.iter_agents())

    import asyncio

    agents = asyncio.run(go())
    assert agents and all(a.capacity == 9 for a in agents)


def test_every_request_names_the_version_and_bears_the_token(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        await collect(adapter.iter_groups())
        sent = fake.requests[-1].headers
        assert sent["intercom-version"] == "2.14"
        assert sent["authorization"] == f"Bearer {FakeIntercom.token}"
        assert sent["user-agent"].startswith("humansupport/")

    run_intercom(scenario)


def test_api_version_216_is_sent_and_validated_against_its_description(run_intercom: Any, contract: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        await collect(adapter.iter_agents())
        conv_id, agent_id = _open_pair(fake)
        await adapter.assign(conv_id, agent_id)
        assert {r.headers["intercom-version"] for r in fake.requests} == {"2.16"}

    run_intercom(scenario, api_version="2.16")
    assert ("2.16", "POST", "/conversations/{conversation_id}/parts") in contract.operations


# -- reads --------------------------------------------------------------------------------------------


def test_listing_uses_search_pages_of_150_and_the_cursor(run_intercom: Any) -> None:
    history = generate_history(HistoryConfig(customers=60, agents=6, groups=2))

    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        got = [c.id for c in await collect(adapter.iter_conversations())]
        assert sorted(got, key=int) == sorted(fake.conversations, key=int) and len(got) == len(set(got))
        searches = _calls(fake, "POST", "/conversations/search")
        assert len(searches) == -(-len(got) // 150)
        assert all(r.json["pagination"]["per_page"] == 150 for r in searches)
        assert "starting_after" not in searches[0].json["pagination"]
        assert all(r.json["pagination"]["starting_after"] for r in searches[1:])

    run_intercom(scenario, history=history)


def test_updated_since_asks_with_a_day_of_overlap_and_filters_exactly(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        times = sorted(c.updated_at for c in fake.conversations.values() if c.updated_at)
        since = times[len(times) // 2]
        got = {c.id for c in await collect(adapter.iter_conversations(updated_since=since))}
        expected = {c.id for c in fake.conversations.values() if c.updated_at and c.updated_at >= since}
        assert got == expected
        query = _calls(fake, "POST", "/conversations/search")[-1].json["query"]
        assert query == {"field": "updated_at", "operator": ">", "value": int(since.timestamp()) - 86_400 - 1}

    run_intercom(scenario)


def test_status_filter_maps_to_state_and_combines_with_updated_since(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        since = min(c.updated_at for c in fake.conversations.values() if c.updated_at)
        wanted = [ConversationStatus.OPEN, ConversationStatus.ON_HOLD]
        got = await collect(adapter.iter_conversations(updated_since=since, status=wanted))
        assert got and {c.status for c in got} <= set(wanted)
        query = _calls(fake, "POST", "/conversations/search")[-1].json["query"]
        assert query["operator"] == "AND"
        assert {"field": "state", "operator": "IN", "value": ["open", "snoozed"]} in query["value"]
        before = len(fake.requests)
        assert await collect(adapter.iter_conversations(status=[ConversationStatus.SOLVED])) == []
        assert len(fake.requests) == before, "a status Intercom cannot have needs no request"

    run_intercom(scenario)


def test_messages_come_from_source_and_parts_with_roles(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv_id = next(
            cid
            for cid, msgs in sorted(fake.messages.items())
            if {m.author_role for m in msgs} >= {AuthorRole.CUSTOMER, AuthorRole.AGENT, AuthorRole.SYSTEM}
        )
        messages = await collect(adapter.iter_messages(conv_id))
        expected = fake.messages[conv_id]
        assert [m.id for m in messages] == [m.id for m in expected]
        assert [m.author_role for m in messages] == [m.author_role for m in expected]
        assert [m.public for m in messages] == [m.public for m in expected]
        assert messages[0].raw.get("delivered_as") == "customer_initiated", "the opening message is the source"

    run_intercom(scenario)


def test_assignment_parts_are_not_messages(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv_id, agent_id = _open_pair(fake)
        before = [m.id for m in await collect(adapter.iter_messages(conv_id))]
        await adapter.assign(conv_id, agent_id)
        assert fake.event_parts[conv_id], "the fake records the assignment part"
        assert [m.id for m in await collect(adapter.iter_messages(conv_id))] == before

    run_intercom(scenario)


def test_over_500_parts_yields_the_newest_and_reports_the_gap(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, clock: FakeClock) -> None:
        conv_id = sorted(fake.messages, key=int)[0]
        first = fake.messages[conv_id][0]
        fake.messages[conv_id] = [first] + [
            Message(
                id=str(50_000_000 + i),
                conversation_id=conv_id,
                author_id=first.author_id,
                author_role=AuthorRole.CUSTOMER,
                body=f"message {i}",
                created_at=(first.created_at or clock.now()) + timedelta(minutes=i + 1),
            )
            for i in range(600)
        ]
        messages = await collect(adapter.iter_messages(conv_id))
        assert len(messages) == 1 + 500
        assert messages[1].body == "message 100" and messages[-1].body == "message 599"
        assert adapter.parts_truncated == {conv_id: 100}

    run_intercom(scenario)


def test_admins_away_mode_inbox_seats_and_teams(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        agents = {a.id: a for a in await collect(adapter.iter_agents())}
        assert set(agents) == set(fake.agents)
        for aid, core in fake.agents.items():
            away = core.availability in (AgentAvailability.AWAY, AgentAvailability.OFFLINE)
            assert agents[aid].availability is (AgentAvailability.AWAY if away else AgentAvailability.AVAILABLE)
            assert agents[aid].active is core.active, "no inbox seat means the admin cannot take conversations"
            assert agents[aid].group_ids == core.group_ids
        assert any(not a.active for a in agents.values()), "the history has a seatless admin"
        groups = {g.id: g for g in await collect(adapter.iter_groups())}
        assert {gid: g.agent_ids for gid, g in groups.items()} == {gid: g.agent_ids for gid, g in fake.groups.items()}

    run_intercom(scenario)


def test_customers_all_and_updated_since_by_day_granular_search(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        fake.page_size = 7
        everyone = await collect(adapter.iter_customers())
        assert sorted(c.id for c in everyone) == sorted(fake.customers)
        assert len(_calls(fake, "GET", "/contacts")) >= len(fake.customers) // 7
        times = sorted(c.updated_at for c in fake.customers.values() if c.updated_at)
        since = times[len(times) // 2]
        recent = {c.id for c in await collect(adapter.iter_customers(updated_since=since))}
        assert recent == {c.id for c in fake.customers.values() if c.updated_at and c.updated_at >= since}
        assert _calls(fake, "POST", "/contacts/search")[-1].json["query"]["operator"] == ">"

    run_intercom(scenario)


def test_customer_fields_and_tag_names(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        core = next(c for _, c in sorted(fake.customers.items()) if c.tags and c.custom_attributes)
        got = await adapter.get_customer(core.id)
        assert (got.name, got.email, got.tags) == (core.name, core.email, core.tags)
        assert got.custom_attributes == core.custom_attributes
        assert await adapter.find_customer(email=core.email or "") is not None
        assert await adapter.find_customer(email="nobody@nowhere.test") is None

    run_intercom(scenario)


def test_more_than_ten_tags_are_read_from_the_tag_list(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        cid = sorted(fake.customers)[0]
        names = [f"t{i:02d}" for i in range(13)]
        fake.customers[cid] = fake.customers[cid].model_copy(update={"tags": names})
        got = await adapter.get_customer(cid)
        assert got.tags == names
        assert _calls(fake, "GET", f"/contacts/{cid}/tags")

    run_intercom(scenario)


def test_ratings_ride_on_conversations(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        ratings = {r.conversation_id: r for r in await collect(adapter.iter_ratings())}
        expected = {
            r.conversation_id: r.score
            for r in fake.ratings.values()
            if r.score in (RatingScore.GOOD, RatingScore.BAD) and r.conversation_id in fake.conversations
        }
        assert {cid: r.score for cid, r in ratings.items()} == expected
        assert all(r.raw.get("rating") in (1, 5) for r in ratings.values())

    run_intercom(scenario)


# -- writes -------------------------------------------------------------------------------------------


def test_assign_rereads_first_then_posts_one_assignment_part(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv_id, agent_id = _open_pair(fake)
        start = len(fake.requests)
        result = await adapter.assign(conv_id, agent_id)
        sent = [(r.method, r.path) for r in fake.requests[start:]]
        assert sent == [
            ("GET", f"/conversations/{conv_id}"),
            ("GET", "/me"),
            ("POST", f"/conversations/{conv_id}/parts"),
        ]
        body = fake.requests[-1].json
        assert body == {
            "message_type": "assignment",
            "type": "admin",
            "admin_id": fake.acting_admin().id,
            "assignee_id": agent_id,
        }
        assert result.assignee_id == agent_id == fake.conversations[conv_id].assignee_id

    run_intercom(scenario)


def test_assign_with_team_posts_team_then_admin_and_unassign_sends_zero(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv_id, agent_id = _open_pair(fake)
        team = next(g for g in sorted(fake.groups) if g != fake.conversations[conv_id].group_id)
        await adapter.assign(conv_id, agent_id, group_id=team)
        posts = [r.json for r in _calls(fake, "POST", "/parts")]
        assert [(p["type"], p["assignee_id"]) for p in posts] == [("team", team), ("admin", agent_id)]
        cleared = await adapter.assign(conv_id, None)
        assert _calls(fake, "POST", "/parts")[-1].json["assignee_id"] == "0"
        assert cleared.assignee_id is None and fake.conversations[conv_id].assignee_id is None

    run_intercom(scenario, admin_id="2002")


def test_assign_as_asked_already_writes_nothing(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv = next(c for c in fake.conversations.values() if c.status.is_open and c.assignee_id)
        result = await adapter.assign(conv.id, conv.assignee_id)
        assert result.assignee_id == conv.assignee_id and not _calls(fake, "POST", "/parts")

    run_intercom(scenario)


def test_stale_by_version_or_time_is_a_conflict_and_writes_nothing(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, clock: FakeClock) -> None:
        conv_id, agent_id = _open_pair(fake)
        seen = await adapter.get_conversation(conv_id)
        assert seen.version == str(int(seen.updated_at.timestamp()))  # type: ignore[union-attr]
        clock.advance(30)
        human = next(a for a in sorted(fake.agents) if a not in (agent_id, seen.assignee_id))
        fake.touch_conversation(conv_id, assignee_id=human)
        for kwargs in ({"expected_version": seen.version}, {"expected_updated_at": seen.updated_at}):
            with pytest.raises(ConflictError, match="changed since it was read"):
                await adapter.assign(conv_id, agent_id, **kwargs)
        assert fake.conversations[conv_id].assignee_id == human, "a human's newer change was overwritten"
        assert not _calls(fake, "POST", "/parts")

    run_intercom(scenario)


def test_assign_many_writes_concurrently_and_reports_each(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, clock: FakeClock) -> None:
        agent = next(a for _, a in sorted(fake.agents.items()) if a.active)
        open_ids = [c.id for c in sorted(fake.conversations.values(), key=lambda c: int(c.id)) if c.status.is_open]
        targets = [cid for cid in open_ids if fake.conversations[cid].assignee_id != agent.id][:6]
        reads = [await adapter.get_conversation(cid) for cid in targets]
        clock.advance(10)
        fake.touch_conversation(targets[0])
        fake.delete_conversation(targets[1])
        batch = [Assignment(conversation_id=r.id, agent_id=agent.id, expected_updated_at=r.updated_at) for r in reads]
        results = {r.conversation_id: r for r in await adapter.assign_many(batch)}
        assert results[targets[0]].outcome is AssignmentOutcome.CONFLICT
        assert results[targets[1]].outcome is AssignmentOutcome.NOT_FOUND
        for cid in targets[2:]:
            assert results[cid].outcome is AssignmentOutcome.APPLIED
            assert fake.conversations[cid].assignee_id == agent.id
        assert IntercomAdapter.capabilities.bulk_assign is False

    run_intercom(scenario)


def test_internal_note_is_an_admin_note_reply(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv_id = sorted(fake.conversations, key=int)[0]
        note = await adapter.add_internal_note(conv_id, "Prefers email; spoke to Ada last week.")
        assert note.public is False and note.author_role is AuthorRole.AGENT and note.author_id == "2003"
        sent = _calls(fake, "POST", "/reply")[-1].json
        assert sent == {"message_type": "note", "type": "admin", "admin_id": "2003", "body": note.body}
        assert not _calls(fake, "GET", "/me"), "the configured admin_id is used as is"
        messages = await collect(adapter.iter_messages(conv_id))
        assert messages[-1].id == note.id and messages[-1].public is False

    run_intercom(scenario, admin_id="2003")


def test_update_customer_creates_attributes_tags_and_a_note(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        cid = sorted(fake.customers)[1]
        patch = ProfilePatch(
            custom_attributes={"hs_preferred_agent": "Ada", "hs_conversations": 7, "hs_vip": True, "hs_score": 0.5},
            tags=["hs-vip", "hs-returning"],
            note="Likes short answers.",
            avatar_url="https://avatars.example.test/c.png",
        )
        after = await adapter.update_customer(cid, patch)
        for key, value in patch.custom_attributes.items():
            assert after.custom_attributes[key] == value
        assert {"hs-vip", "hs-returning"} <= set(after.tags)
        assert after.avatar_url == "https://avatars.example.test/c.png"
        created = {r.json["name"]: r.json["data_type"] for r in _calls(fake, "POST", "/data_attributes")}
        assert created == {"hs_preferred_agent": "string", "hs_conversations": "integer", "hs_vip": "boolean"} | {
            "hs_score": "float",
            "humansupport_note_digest": "string",
        }
        assert fake.contact_notes[cid][-1]["body"] == "<p>Likes short answers.</p>"
        await adapter.update_customer(cid, ProfilePatch(custom_attributes={"hs_conversations": 8}, tags=["hs-vip"]))
        assert len(_calls(fake, "POST", "/data_attributes")) == 5, "attributes are created once"
        assert len(_calls(fake, "GET", "/data_attributes")) == 1, "the attribute list is read once"
        assert len([r for r in fake.requests if (r.method, r.path) == ("POST", "/tags")]) == 2, "tag ids are remembered"

    run_intercom(scenario)


def test_the_same_note_is_posted_once_notes_being_append_only(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        cid = sorted(fake.customers)[2]
        for _ in range(3):
            await adapter.update_customer(cid, ProfilePatch(note="Prefers email."))
        assert len(fake.contact_notes[cid]) == 1, "a nightly enrich must not stack identical notes"
        await adapter.update_customer(cid, ProfilePatch(note="Prefers chat now."))
        assert [n["body"] for n in fake.contact_notes[cid]] == ["<p>Prefers email.</p>", "<p>Prefers chat now.</p>"]

    run_intercom(scenario)


def test_update_customer_rejects_values_intercom_cannot_store(run_intercom: Any) -> None:
    from humansupport import ValidationError

    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        with pytest.raises(ValidationError, match="hs_list") as info:
            await adapter.update_customer(sorted(fake.customers)[0], ProfilePatch(custom_attributes={"hs_list": [1]}))
        assert "hs_list" in info.value.field_errors
        assert not _calls(fake, "PUT", "/contacts/")

    run_intercom(scenario)


# -- limits and check ---------------------------------------------------------------------------------


def test_rate_limit_headers_are_read_per_10_second_window(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        await collect(adapter.iter_agents())
        window = fake.window_limit()
        assert window == 167
        assert adapter.http.limiter.per_minute == pytest.approx(window * 6)
        assert adapter.http.limiter.headroom().remaining == window - 1

    run_intercom(scenario, rate_limit_per_minute=1000)


def test_a_long_listing_stays_under_the_window_limit(run_intercom: Any) -> None:
    history = generate_history(HistoryConfig(customers=60, agents=6, groups=2))

    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, clock: FakeClock) -> None:
        ids = [c.id for c in await collect(adapter.iter_conversations())]
        for cid in ids[:150]:
            await collect(adapter.iter_messages(cid))
        assert fake.rate_limited <= 1, "the bucket should pace below the window, not ride 429s"
        assert clock.slept > 0, "150+ requests at 60/min had to wait for windows"

    run_intercom(scenario, history=history, rate_limit_per_minute=600)


def test_check_reports_workspace_admin_and_headroom(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> dict[str, Any]:
        return (await adapter.check()).to_dict()

    report = run_intercom(scenario, rate_limit_per_minute=1200)
    assert report["ok"] is True and report["account"] == "fakews01"
    assert report["rate_limit"] == pytest.approx(1200)
    assert report["rate_remaining"] == pytest.approx(199 * 6)
    assert report["details"]["window_remaining"] == 199 and report["details"]["region"] == "US"


def test_capabilities_are_truthful() -> None:
    caps = IntercomAdapter.capabilities
    assert caps.enabled() == [
        "availability",
        "signed_webhooks",
        "satisfaction_ratings",
        "saved_replies",
        "append_only_notes",
    ]


def test_transport_is_used_for_every_call() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(200, json={"type": "team.list", "teams": []})

    adapter = IntercomAdapter(access_token=SecretStr("tok"), region="au", transport=httpx.MockTransport(handler))
    import asyncio

    assert asyncio.run(collect(adapter.iter_groups())) == []
    assert seen == ["api.au.intercom.io"]


def test_the_sync_facade_runs_the_adapter(run_intercom: Any) -> None:
    from humansupport import Helpdesk

    history = generate_history(HistoryConfig(customers=10, agents=3, groups=1))
    fake = FakeIntercom(clock=FakeClock(), history=history)
    adapter = IntercomAdapter(access_token=SecretStr(FakeIntercom.token), transport=fake.transport(), clock=fake.clock)
    with Helpdesk(adapter) as desk:
        assert {a.id for a in desk.iter_agents()} == set(fake.agents)
        conv = next(iter(desk.iter_conversations(status=[ConversationStatus.OPEN])))
        assert desk.get_conversation(conv.id).id == conv.id
        assert desk.check().ok


def test_one_rate_bucket_per_token_and_clock() -> None:
    clock = FakeClock()
    one = IntercomAdapter(access_token=SecretStr("tok-a"), clock=clock)
    two = IntercomAdapter(access_token=SecretStr("tok-a"), clock=clock)
    other = IntercomAdapter(access_token=SecretStr("tok-b"), clock=clock)
    elsewhere = IntercomAdapter(access_token=SecretStr("tok-a"), clock=FakeClock())
    assert one.http.limiter is two.http.limiter
    assert other.http.limiter is not one.http.limiter and elsewhere.http.limiter is not one.http.limiter


@pytest.mark.parametrize(
    ("headers", "per_minute", "remaining"),
    [
        ({"X-RateLimit-Limit": "167", "X-RateLimit-Remaining": "100"}, 1002.0, 100),
        ({"x-ratelimit-limit": "2000", "x-ratelimit-remaining": "0"}, 12000.0, 0),
        ({"X-RateLimit-Limit": "lots", "X-RateLimit-Remaining": "5"}, 10000.0, 5),
        ({}, 10000.0, None),
    ],
)
def test_limit_header_is_per_window(headers: dict[str, str], per_minute: float, remaining: float | None) -> None:
    from humansupport_intercom import IntercomRateLimiter
    from humansupport_intercom.adapter import RATE_HEADERS

    limiter = IntercomRateLimiter(per_minute=10_000, clock=FakeClock(), headers=RATE_HEADERS)
    limiter.observe(headers)
    room = limiter.headroom()
    assert room.limit_per_minute == pytest.approx(per_minute) and room.remaining == remaining


def test_settings_are_validated_once_and_with_options_copies() -> None:
    from humansupport import ConfigError

    clock = FakeClock()
    adapter = IntercomAdapter(access_token=SecretStr("tok-opts"), clock=clock)
    eu = adapter.with_options(region="eu", max_retry_wait=5)
    assert isinstance(eu, IntercomAdapter) and eu.http.base_url == "https://api.eu.intercom.io"
    assert eu.settings.access_token.get_secret_value() == "tok-opts" and eu.retry.max_retry_wait == 5
    narrow = adapter.with_options(max_concurrency=2)
    assert narrow.settings.max_concurrency == 2 and narrow.http._max_concurrency == 2  # the client honours it
    with pytest.raises(TypeError, match="regoin"):
        adapter.with_options(regoin="eu")
    with pytest.raises(ConfigError, match="HUMANSUPPORT_INTERCOM_REGION"):
        IntercomAdapter(access_token=SecretStr("tok-opts"), region="mars")
    with pytest.raises(ConfigError, match="HUMANSUPPORT_INTERCOM_MAX_CONCURRENCY"):
        IntercomAdapter(access_token=SecretStr("tok-opts"), max_concurrency=0)
