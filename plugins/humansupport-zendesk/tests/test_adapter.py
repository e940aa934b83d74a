"""Zendesk specifics: exports and resumption, bulk comments, safe updates, update_many jobs, profiles, notes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from humansupport_zendesk import FakeZendesk, ZendeskAdapter

from humansupport import (
    AgentAvailability,
    Assignment,
    AssignmentOutcome,
    AuthorRole,
    ConflictError,
    ConversationStatus,
    NotFoundError,
    PermissionDeniedError,
    ProfilePatch,
    RatingScore,
    ValidationError,
)
from humansupport.testing import FakeClock
from humansupport.vendor import UNASSIGNED

from .conftest import make_adapter  # type: ignore[import-not-found]


def calls(fake: FakeZendesk, path_part: str) -> list[dict[str, str]]:
    return [r.url_params for r in fake.requests if path_part in r.path]


# -- reads -------------------------------------------------------------------------------------------


async def test_export_is_paced_on_its_own_limit_and_resumable(
    fake: FakeZendesk, adapter: ZendeskAdapter, clock: FakeClock
) -> None:
    fake.page_size = 25
    pages = [p async for p in adapter.iter_export_pages()]
    assert len(pages) >= 21 and pages[-1].end_of_stream and not pages[0].end_of_stream
    assert fake.export_limited == 0, "the adapter ran into the export's 10/min limit instead of pacing"
    # 10 a minute is a window (plus the 1 s transit margin): ten at once, then the next (not one every 6 s)
    minutes = (len(pages) - 1) // 10
    assert 61 * minutes <= clock.slept <= 61 * minutes + 1
    every = [c.id for p in pages for c in p.conversations]
    assert sorted(every) == sorted(fake.conversations)
    # resume from the third page's checkpoint: exactly the rest, no duplicates, no gaps
    checkpoint = pages[2].after_cursor
    assert checkpoint
    rest = [c.id for p in [p async for p in adapter.iter_export_pages(cursor=checkpoint)] for c in p.conversations]
    assert rest == every[len([c for p in pages[:3] for c in p.conversations]) :]
    resumed = calls(fake, "/incremental/tickets/cursor")[-1]
    assert "cursor" in resumed and "start_time" not in resumed


async def test_updated_since_starts_the_export_there(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    times = sorted(c.updated_at for c in fake.conversations.values() if c.updated_at)
    since = times[len(times) // 2]
    got = [c async for c in adapter.iter_conversations(updated_since=since)]
    assert got and all(c.updated_at is not None and c.updated_at >= since.replace(microsecond=0) for c in got)
    assert calls(fake, "/incremental/tickets/cursor")[0]["start_time"] == str(int(since.timestamp()))


async def test_status_filter_uses_the_search_export_not_offset_paging(
    fake: FakeZendesk, adapter: ZendeskAdapter
) -> None:
    got = [c async for c in adapter.iter_conversations(status=[ConversationStatus.ON_HOLD, ConversationStatus.OPEN])]
    assert {c.status for c in got} <= {ConversationStatus.ON_HOLD, ConversationStatus.OPEN}
    [query] = calls(fake, "/search/export")
    assert query["filter[type]"] == "ticket" and "status:hold" in query["query"] and "status:open" in query["query"]
    assert not any("page" in q and q.get("page", "").isdigit() for q in (r.url_params for r in fake.requests))
    assert [c async for c in adapter.iter_conversations(status=[ConversationStatus.OTHER])] == []


async def test_bulk_comments_need_about_one_request_per_thousand(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    fake.page_size = 1000
    expected = {m.id: (cid, m) for cid, msgs in fake.messages.items() for m in msgs}
    got = [m async for m in adapter.iter_all_messages()]
    assert len(got) == len({m.id for m in got}) == len(expected)
    for message in got:
        cid, original = expected[message.id]
        assert message.conversation_id == cid and message.public == original.public
        assert message.author_role is original.author_role, message
    requests = len(calls(fake, "/incremental/ticket_events"))
    assert requests <= len(expected) // 1000 + 2
    assert all(q.get("include") == "comment_events" for q in calls(fake, "/incremental/ticket_events"))


async def test_bulk_comments_across_small_pages_have_no_duplicates(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    fake.page_size = 97
    fake.export_limit_per_minute = None
    got = [m.id async for m in adapter.iter_all_messages()]
    assert len(got) == len(set(got)) == sum(len(v) for v in fake.messages.values())


async def test_single_ticket_comments_with_side_loaded_roles(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    cid = next(c for c, msgs in sorted(fake.messages.items()) if len(msgs) >= 3)
    got = [m async for m in adapter.iter_messages(cid)]
    assert [m.id for m in got] == [m.id for m in fake.messages[cid]]
    assert [m.author_role for m in got] == [m.author_role for m in fake.messages[cid]]
    assert calls(fake, f"/tickets/{cid}/comments")[0]["include"] == "users"


async def test_deleted_author_still_maps_and_reads_of_them_404(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    cid, msgs = next(
        (c, m) for c, m in sorted(fake.messages.items()) if any(x.author_role is AuthorRole.CUSTOMER for x in m)
    )
    customer = next(m.author_id for m in msgs if m.author_role is AuthorRole.CUSTOMER)
    assert customer is not None
    fake.delete_user(customer)
    got = [m async for m in adapter.iter_messages(cid)]
    assert [m.author_role for m in got] == [m.author_role for m in msgs]
    with pytest.raises(NotFoundError):
        await adapter.get_customer(customer)
    with pytest.raises(NotFoundError):
        await adapter.update_customer(customer, ProfilePatch(note="gone"))
    conv = await adapter.get_conversation(cid)
    assert conv.customer_id == fake.conversations[cid].customer_id, "a ticket whose requester is gone still maps"


async def test_agents_groups_ratings_and_customers(fake: FakeZendesk, history: object) -> None:
    async with make_adapter(fake, fake.clock, capacity_default=12) as adapter:
        agents = {a.id: a async for a in adapter.iter_agents()}
        assert set(agents) == set(fake.agents)
        for agent in agents.values():
            assert agent.group_ids == fake.agents[agent.id].group_ids
            assert agent.capacity == 12 and agent.availability is AgentAvailability.UNKNOWN
            assert agent.active == fake.agents[agent.id].active
        assert any(not a.active for a in agents.values()), "the deactivated agent is listed as inactive"
        groups = {g.id: g async for g in adapter.iter_groups()}
        assert {g: sorted(v.agent_ids) for g, v in groups.items()} == {
            g: sorted(a for a, ag in fake.agents.items() if g in ag.group_ids) for g in fake.groups
        }
        ratings = [r async for r in adapter.iter_ratings()]
        assert ratings and {r.score for r in ratings} <= {RatingScore.GOOD, RatingScore.BAD, RatingScore.OFFERED}
        customers = [c async for c in adapter.iter_customers()]
        assert {c.id for c in customers} == set(fake.customers)
        assert await adapter.find_customer(email="nobody@nowhere.test") is None


async def test_availability_and_capacity_from_omnichannel_routing(fake: FakeZendesk, clock: FakeClock) -> None:
    fake.omnichannel_routing = True
    async with make_adapter(fake, clock, omnichannel_routing=True, capacity_default=3) as adapter:
        agents = {a.id: a async for a in adapter.iter_agents()}
    for aid, agent in agents.items():
        original = fake.agents[aid]
        if original.active:
            assert agent.availability is original.availability
            assert agent.capacity == (original.capacity if original.capacity is not None else 3)
        else:  # deactivated agents have no availability record
            assert agent.availability is AgentAvailability.UNKNOWN and agent.capacity == 3
    kinds = {a.availability for a in agents.values()}
    assert AgentAvailability.AVAILABLE in kinds and len(kinds) >= 2, kinds


async def test_availability_without_omnichannel_routing(fake: FakeZendesk, clock: FakeClock) -> None:
    fake.omnichannel_routing = False
    async with make_adapter(fake, clock) as adapter:
        assert {a.availability async for a in adapter.iter_agents()} == {AgentAvailability.UNKNOWN}
    assert not calls(fake, "/agent_availabilities"), "the API is not called unless the setting says so"
    async with make_adapter(fake, clock, omnichannel_routing=True) as adapter:
        with pytest.raises(PermissionDeniedError):
            [a async for a in adapter.iter_agents()]


# -- writes ------------------------------------------------------------------------------------------


def open_ticket(fake: FakeZendesk, skip: int = 0) -> tuple[str, str]:
    """An open ticket and another active agent of its group."""
    found = 0
    for cid, conv in sorted(fake.conversations.items()):
        if not conv.status.is_open or conv.group_id is None:
            continue
        for aid, agent in sorted(fake.agents.items()):
            if agent.active and conv.group_id in agent.group_ids and aid != conv.assignee_id:
                if found == skip:
                    return cid, aid
                found += 1
                break
    raise AssertionError("no open ticket with another agent")


async def test_assign_sends_safe_update_with_the_stamp(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    cid, aid = open_ticket(fake)
    seen = await adapter.get_conversation(cid)
    after = await adapter.assign(cid, aid, expected_version=seen.version)
    body = next(r.json for r in reversed(fake.requests) if r.method == "PUT")
    assert body == {"ticket": {"assignee_id": int(aid), "safe_update": True, "updated_stamp": seen.version}}
    assert after.assignee_id == aid and after.updated_at is not None and seen.updated_at is not None
    assert after.updated_at > seen.updated_at


async def test_stale_assign_by_time_alone_is_a_conflict(
    fake: FakeZendesk, adapter: ZendeskAdapter, clock: FakeClock
) -> None:
    cid, aid = open_ticket(fake)
    seen = await adapter.get_conversation(cid)
    clock.advance(30)
    fake.touch_conversation(cid, assignee_id=None)
    with pytest.raises(ConflictError) as info:
        await adapter.assign(cid, aid, expected_updated_at=seen.updated_at)
    assert "Safe Update" in str(info.value)
    assert fake.conversations[cid].assignee_id is None, "a human's newer change was overwritten"


async def test_conflict_on_a_ticket_already_as_asked_is_success(
    fake: FakeZendesk, adapter: ZendeskAdapter, clock: FakeClock
) -> None:
    """A retried PUT whose first attempt landed gets 409; the ticket is as we wanted, so it is not an error."""
    cid, aid = open_ticket(fake)
    seen = await adapter.get_conversation(cid)
    clock.advance(5)
    fake.touch_conversation(cid, assignee_id=aid)
    after = await adapter.assign(cid, aid, expected_version=seen.version)
    assert after.assignee_id == aid


async def test_422_field_errors_are_surfaced(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    cid, _ = open_ticket(fake)
    other_group = next(g for g in fake.groups if g != fake.conversations[cid].group_id)
    outsider = next(a for a, ag in sorted(fake.agents.items()) if ag.active and other_group not in ag.group_ids)
    with pytest.raises(ValidationError) as info:
        await adapter.assign(cid, outsider, group_id=other_group)
    assert info.value.status == 422
    assert info.value.field_errors == {"assignee": ["Assignee is not a member of the group"]}
    assert "Assignee is not a member of the group" in str(info.value)
    inactive = next(a for a, ag in fake.agents.items() if not ag.active)
    with pytest.raises(ValidationError, match="not an active agent"):
        await adapter.assign(cid, inactive)
    with pytest.raises(ValidationError, match="not a Zendesk id"):
        await adapter.assign(cid, "agent-7")


async def test_assign_many_runs_batch_jobs_with_per_ticket_results(
    fake: FakeZendesk, adapter: ZendeskAdapter, clock: FakeClock
) -> None:
    fake.job_delay = 4.0  # the job finishes later: the adapter must poll
    picks = [open_ticket(fake, skip=n) for n in range(4)]
    reads = {cid: await adapter.get_conversation(cid) for cid, _ in picks}
    clock.advance(5)
    stale, deleted = picks[0][0], picks[1][0]
    fake.touch_conversation(stale)
    fake.delete_ticket(deleted)
    batch = [Assignment(conversation_id=c, agent_id=a, expected_version=reads[c].version) for c, a in picks]
    batch.append(Assignment(conversation_id="not-a-ticket", agent_id=picks[2][1]))
    before = clock.slept
    results = {r.conversation_id: r for r in await adapter.assign_many(batch)}
    assert results[stale].outcome is AssignmentOutcome.CONFLICT
    assert results[deleted].outcome is AssignmentOutcome.NOT_FOUND
    assert results["not-a-ticket"].outcome is AssignmentOutcome.FAILED
    for cid, aid in picks[2:]:
        assert results[cid].ok and results[cid].conversation is not None
        assert results[cid].agent_id == aid == fake.conversations[cid].assignee_id
    assert clock.slept - before >= fake.job_delay, "the job status was not polled on the clock"
    [job] = [r.json for r in fake.requests if r.path.endswith("/update_many")]
    assert all(set(t) == {"id", "assignee_id", "safe_update", "updated_stamp"} for t in job["tickets"])


async def test_assign_many_splits_into_jobs_of_100(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    agent = next(a for a, ag in sorted(fake.agents.items()) if ag.active)
    ids = sorted(fake.conversations)[:150]
    results = await adapter.assign_many([Assignment(conversation_id=c, agent_id=agent) for c in ids])
    assert len(results) == 150
    sizes = [len(r.json["tickets"]) for r in fake.requests if r.path.endswith("/update_many")]
    assert sizes == [100, 50]
    assert {r.conversation_id for r in results} == set(ids)


async def test_a_job_that_never_finishes_fails_its_tickets_not_the_run(fake: FakeZendesk, clock: FakeClock) -> None:
    fake.job_delay = 10_000
    async with make_adapter(fake, clock, job_timeout=20) as adapter:
        cid, aid = open_ticket(fake)
        [result] = await adapter.assign_many([Assignment(conversation_id=cid, agent_id=aid)])
    assert result.outcome is AssignmentOutcome.FAILED and "re-read" in (result.message or "")
    assert clock.slept < 40


async def test_profile_write_back(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    cid = next(c for c, cust in sorted(fake.customers.items()) if cust.tags)
    kept = list(fake.customers[cid].tags)
    patch = ProfilePatch(
        custom_attributes={"humansupport_preferred_agent": "Ada Lovelace", "humansupport_conversations": 7},
        note="Prefers email",
        tags=["humansupport-vip"],
        avatar_url="https://avatars.example.com/u/new.png",
    )
    after = await adapter.update_customer(cid, patch)
    assert set(kept) | {"humansupport-vip"} == set(after.tags), "tags agents set by hand must survive"
    assert after.custom_attributes["humansupport_conversations"] == 7 and after.notes == "Prefers email"
    assert after.avatar_url == "https://avatars.example.com/u/new.png"
    user_put = next(r.json for r in fake.requests if r.method == "PUT" and r.path == f"/api/v2/users/{cid}")
    assert "tags" not in user_put["user"], "the user PUT replaces tags; they go through the tags endpoint"
    assert user_put["user"]["remote_photo_url"] == patch.avatar_url


async def test_unknown_user_field_is_a_clear_error(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    cid = sorted(fake.customers)[0]
    with pytest.raises(ValidationError) as info:
        await adapter.update_customer(cid, ProfilePatch(custom_attributes={"favourite_colour": "teal"}))
    assert "favourite_colour" in str(info.value) and "docs/vendors/zendesk.md" in str(info.value)
    with pytest.raises(ValidationError) as bad:
        await adapter.update_customer(cid, ProfilePatch(avatar_url="ftp://nope"))
    assert bad.value.field_errors == {"photo": ["remote_photo_url is not a valid URL"]}


async def test_internal_note_is_a_private_comment(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    cid, _ = open_ticket(fake)
    note = await adapter.add_internal_note(cid, "Customer prefers Ada; see history.")
    assert (
        not note.public and note.author_role is AuthorRole.AGENT and note.body == "Customer prefers Ada; see history."
    )
    put = next(r.json for r in reversed(fake.requests) if r.method == "PUT")
    assert put == {"ticket": {"comment": {"body": "Customer prefers Ada; see history.", "public": False}}}
    listed = [m async for m in adapter.iter_messages(cid)]
    assert listed[-1].id == note.id and not listed[-1].public and listed[-1].author_role is AuthorRole.AGENT


async def test_check_reports_headroom_and_who(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    report = (await adapter.check()).to_dict()
    assert report["ok"] and report["account"] == "fake" and report["details"]["role"] == "admin"
    assert report["rate_limit"] == FakeZendesk.plan_limit and report["rate_remaining"] == FakeZendesk.plan_limit - 1


async def test_oauth_bearer_token(fake: FakeZendesk, clock: FakeClock) -> None:
    async with make_adapter(fake, clock, api_token=None, email=None, oauth_token=FakeZendesk.oauth_token) as adapter:
        assert (await adapter.check()).ok
    assert fake.requests[-1].headers["authorization"] == f"Bearer {FakeZendesk.oauth_token}"


async def test_anonymous_me_is_not_a_working_credential(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    """/users/me answers 200 for an end user's credential too (and for anonymous callers): check the role."""
    fake.fail_next(200, match="/users/me", body={"user": {"id": 5, "name": "Anonymous user", "role": "end-user"}})
    with pytest.raises(Exception, match="not an agent or admin") as info:
        await adapter.check()
    assert "HUMANSUPPORT_ZENDESK_API_TOKEN" in str(info.value)


def test_time_moves_forward_on_every_fake_write(fake: FakeZendesk) -> None:
    """The fake keeps Zendesk's second precision: two writes in one second still get different stamps."""
    cid = sorted(fake.conversations)[0]
    first = fake.touch_conversation(cid).updated_at
    second = fake.touch_conversation(cid).updated_at
    assert first is not None and second is not None and second - first >= timedelta(seconds=1)


async def test_single_ticket_updates_are_paced_on_their_own_limit(fake: FakeZendesk, clock: FakeClock) -> None:
    ids = sorted(fake.conversations)[:12]
    async with make_adapter(fake, clock, ticket_update_rate_per_minute=10) as adapter:
        for cid in ids:
            await adapter.assign(cid, None)
        assert clock.slept >= 6 * (len(ids) - 2), "12 updates at 10/min must take over a minute"
        before = clock.slept
        [a async for a in adapter.iter_agents()]
        assert clock.slept == before, "reads are not held back by the update bucket"
    assert all(fake.conversations[c].assignee_id is None for c in ids)


async def test_ratings_since_a_time(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    every = [r async for r in adapter.iter_ratings()]
    times = sorted(r.created_at for r in every if r.created_at)
    since = times[len(times) // 2]
    recent = [r async for r in adapter.iter_ratings(updated_since=since)]
    assert recent and len(recent) < len(every)
    assert all(r.created_at is not None and r.created_at >= since for r in recent)
    assert calls(fake, "/satisfaction_ratings")[-1]["start_time"] == str(int(since.timestamp()))


async def test_resume_after_tickets_changed_misses_nothing(
    fake: FakeZendesk, adapter: ZendeskAdapter, clock: FakeClock
) -> None:
    """Tickets updated between runs: one already exported comes again, none not yet exported is skipped."""
    fake.page_size = 100
    first: list[str] = []
    checkpoint = None
    async for page in adapter.iter_export_pages():
        first += [c.id for c in page.conversations]
        checkpoint = page.after_cursor
        if len(first) >= 200:
            break
    clock.advance(120)
    fake.touch_conversation(first[0])  # already exported: moves behind the cursor
    fake.touch_conversation(first[50])
    rest = [c.id async for p in adapter.iter_export_pages(cursor=checkpoint) for c in p.conversations]
    assert set(first) | set(rest) == set(fake.conversations)
    assert len(rest) == len(fake.conversations) - len(first) + 2
    assert rest[-2:] == [first[0], first[50]], "the updated tickets come again, with their newer state"


async def test_an_export_never_starts_in_the_last_minute(
    fake: FakeZendesk, adapter: ZendeskAdapter, clock: FakeClock
) -> None:
    """A sync cursor at (or past) now must not make Zendesk refuse the export as too recent."""
    got = [c async for c in adapter.iter_conversations(updated_since=clock.now() + timedelta(minutes=5))]
    assert got == []
    [m async for m in adapter.iter_all_messages(updated_since=clock.now())]
    [c async for c in adapter.iter_customers(updated_since=clock.now())]
    starts = [int(q["start_time"]) for q in (r.url_params for r in fake.requests) if "start_time" in q]
    assert starts and all(s <= int(clock.now().timestamp()) - 60 for s in starts)


async def test_expected_assignee_rereads_then_safe_updates_against_the_reread_stamp(
    fake: FakeZendesk, adapter: ZendeskAdapter
) -> None:
    """Zendesk cannot check an expected assignee: the adapter re-reads, and the write it then sends is a safe
    update against the re-read `updated_at`, so a change landing after the re-read is a 409, not overwritten."""
    conv = next(c for c in sorted(fake.conversations.values(), key=lambda c: int(c.id)) if c.status.is_open)
    agent = next(a for a in sorted(fake.agents) if fake.agents[a].active and a != conv.assignee_id)
    done = await adapter.assign(conv.id, agent, expected_assignee_id=conv.assignee_id or UNASSIGNED)
    assert done.assignee_id == agent
    put = [r for r in fake.requests if r.method == "PUT" and r.path == f"/api/v2/tickets/{conv.id}"][-1]
    assert put.json["ticket"]["safe_update"] is True
    assert put.json["ticket"]["updated_stamp"] == fake._ticket(conv)["updated_at"]


async def test_assign_many_sends_no_write_for_a_reassigned_ticket(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    open_ids = [c.id for c in sorted(fake.conversations.values(), key=lambda c: int(c.id)) if c.status.is_open][:2]
    stale, fine = (fake.conversations[i] for i in open_ids)
    agent = next(a for a in sorted(fake.agents) if fake.agents[a].active)
    human = next(a for a in sorted(fake.agents) if fake.agents[a].active and a != agent)
    fake.touch_conversation(stale.id, assignee_id=human)
    results = await adapter.assign_many(
        [
            Assignment(conversation_id=stale.id, agent_id=agent, expected_assignee_id=stale.assignee_id or UNASSIGNED),
            Assignment(conversation_id=fine.id, agent_id=agent, expected_assignee_id=fine.assignee_id or UNASSIGNED),
        ]
    )
    outcomes = {r.conversation_id: r.outcome for r in results}
    assert outcomes == {stale.id: AssignmentOutcome.CONFLICT, fine.id: AssignmentOutcome.APPLIED}
    job = next(r for r in fake.requests if r.path == "/api/v2/tickets/update_many")
    assert [t["id"] for t in job.json["tickets"]] == [int(fine.id)], "the reassigned ticket is not sent"
    assert fake.conversations[stale.id].assignee_id == human
