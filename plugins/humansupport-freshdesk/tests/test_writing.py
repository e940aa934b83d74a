"""Writes: assign after a fresh read, bulk_update jobs with per-ticket results, contact write-back, notes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from humansupport_freshdesk.mapping import DESCRIPTION_MARKER_START

from humansupport.errors import ConflictError, ValidationError
from humansupport.models import Assignment, AssignmentOutcome, Conversation, ProfilePatch

from .conftest import Env


def open_tickets(env: Env, n: int) -> list[Conversation]:
    convs = [c for c in sorted(env.fake.conversations.values(), key=lambda c: int(c.id)) if c.status.is_open]
    assert len(convs) >= n
    return convs[:n]


def other_agent(env: Env, conv: Conversation) -> str:
    return next(
        a.id for a in sorted(env.fake.agents.values(), key=lambda a: a.id) if a.active and a.id != conv.assignee_id
    )


def writes(env: Env) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in env.fake.requests if r.method != "GET"]


async def test_assign_puts_responder_and_group_as_ints(env: Env) -> None:
    conv = open_tickets(env, 1)[0]
    agent = other_agent(env, conv)
    group = sorted(env.fake.groups)[0]
    after = await env.adapter.assign(conv.id, agent, group_id=group)
    assert (after.assignee_id, after.group_id) == (agent, group)
    put = next(r for r in env.fake.requests if r.method == "PUT")
    assert put.json == {"responder_id": int(agent), "group_id": int(group)}
    assert not any(r.method == "GET" for r in env.fake.requests), "no guard asked for, no re-read needed"


async def test_unassign_sends_null(env: Env) -> None:
    conv = next(c for c in open_tickets(env, 5) if c.assignee_id)
    after = await env.adapter.assign(conv.id, None)
    assert after.assignee_id is None and env.fake.conversations[conv.id].assignee_id is None


async def test_stale_assign_reads_first_and_never_writes(env: Env) -> None:
    conv = open_tickets(env, 1)[0]
    seen = await env.adapter.get_conversation(conv.id)
    env.clock.advance(3)
    env.fake.touch_conversation(conv.id, assignee_id=None)  # a human unassigned it meanwhile
    with pytest.raises(ConflictError, match="changed since it was read") as info:
        await env.adapter.assign(conv.id, other_agent(env, conv), expected_updated_at=seen.updated_at)
    assert info.value.vendor == "freshdesk"
    assert writes(env) == []
    assert env.fake.conversations[conv.id].assignee_id is None


async def test_unchanged_ticket_with_guard_is_assigned(env: Env) -> None:
    conv = open_tickets(env, 1)[0]
    seen = await env.adapter.get_conversation(conv.id)
    agent = other_agent(env, conv)
    after = await env.adapter.assign(conv.id, agent, expected_version=seen.version)
    assert after.assignee_id == agent


async def test_assign_many_uses_one_bulk_job_and_polls_it(env: Env) -> None:
    convs = open_tickets(env, 5)
    agent = sorted(a.id for a in env.fake.agents.values() if a.active)[0]
    convs = [c for c in convs if c.assignee_id != agent][:4]
    reads = [await env.adapter.get_conversation(c.id) for c in convs]
    slept = env.clock.slept
    batch = [Assignment(conversation_id=r.id, agent_id=agent, expected_updated_at=r.updated_at) for r in reads]
    results = await env.adapter.assign_many(batch)
    assert [r.outcome for r in results] == [AssignmentOutcome.APPLIED] * len(convs)
    bulk = [r for r in env.fake.requests if r.path == "/api/v2/tickets/bulk_update"]
    assert len(bulk) == 1
    assert bulk[0].json == {
        "bulk_action": {"ids": [int(c.id) for c in convs], "properties": {"responder_id": int(agent)}}
    }
    polls = [r for r in env.fake.requests if r.path.startswith("/api/v2/jobs/")]
    assert len(polls) >= 2, "the job was not polled until it finished"
    assert env.clock.slept - slept >= env.fake.job_seconds
    assert all(env.fake.conversations[c.id].assignee_id == agent for c in convs)


async def test_assign_many_settles_stale_deleted_and_unchanged_before_the_job(env: Env) -> None:
    convs = open_tickets(env, 6)
    agent = sorted(a.id for a in env.fake.agents.values() if a.active)[1]
    convs = [c for c in convs if c.assignee_id != agent][:5]
    reads = [await env.adapter.get_conversation(c.id) for c in convs]
    env.clock.advance(2)
    env.fake.touch_conversation(convs[0].id)  # stale
    env.fake.delete_ticket(convs[1].id)  # deleted
    env.fake.touch_conversation(convs[2].id, assignee_id=agent)  # a human already did it
    batch = [Assignment(conversation_id=r.id, agent_id=agent, expected_updated_at=r.updated_at) for r in reads]
    batch[2] = batch[2].model_copy(update={"expected_updated_at": None, "expected_assignee_id": reads[2].assignee_id})
    results = await env.adapter.assign_many(batch)
    outcomes = [r.outcome for r in results]
    assert outcomes[:2] == [AssignmentOutcome.CONFLICT, AssignmentOutcome.NOT_FOUND]
    assert outcomes[2] is AssignmentOutcome.CONFLICT  # the assignee moved since planning: never overwritten
    assert outcomes[3:] == [AssignmentOutcome.APPLIED] * 2
    bulk = next(r for r in env.fake.requests if r.path == "/api/v2/tickets/bulk_update")
    assert bulk.json["bulk_action"]["ids"] == [int(convs[3].id), int(convs[4].id)]


async def test_assign_many_reports_tickets_the_job_failed(env: Env) -> None:
    convs = open_tickets(env, 3)
    agent = sorted(a.id for a in env.fake.agents.values() if a.active)[0]
    batch = [Assignment(conversation_id=c.id, agent_id=agent) for c in convs[:2]]
    batch.append(Assignment(conversation_id="999999", agent_id=agent))
    results = {r.conversation_id: r for r in await env.adapter.assign_many(batch)}
    assert results["999999"].outcome is AssignmentOutcome.FAILED
    assert "Record not found" in (results["999999"].message or "")
    assert all(results[c.id].ok for c in convs[:2])


async def test_single_target_uses_put_and_bad_ids_fail_alone(env: Env) -> None:
    conv = open_tickets(env, 1)[0]
    agent = other_agent(env, conv)
    results = await env.adapter.assign_many(
        [Assignment(conversation_id=conv.id, agent_id=agent), Assignment(conversation_id="abc", agent_id=agent)]
    )
    assert results[0].outcome is AssignmentOutcome.APPLIED
    assert results[1].outcome is AssignmentOutcome.FAILED and "not a Freshdesk id" in (results[1].message or "")
    assert writes(env) == [("PUT", f"/api/v2/tickets/{conv.id}")]


async def test_job_that_never_finishes_fails_with_advice(make_env: Callable[..., Env]) -> None:
    env = make_env({"job_seconds": 10_000}, job_timeout=30)
    async with env.adapter:
        convs = open_tickets(env, 2)
        agent = sorted(a.id for a in env.fake.agents.values() if a.active)[0]
        results = await env.adapter.assign_many([Assignment(conversation_id=c.id, agent_id=agent) for c in convs])
    assert all(r.outcome is AssignmentOutcome.FAILED for r in results)
    assert "re-read" in (results[0].message or "")
    assert env.clock.slept <= 60, "polling must stop at job_timeout"


async def test_update_customer_merges_tags_and_keeps_human_description(env: Env) -> None:
    cid = sorted(env.fake.customers)[0]
    env.fake.customers[cid] = env.fake.customers[cid].model_copy(update={"tags": ["vip"], "notes": "Met at the fair."})
    patch = ProfilePatch(
        custom_attributes={"humansupport_conversations": 7}, tags=["humansupport-regular"], note="Prefers Ada."
    )
    after = await env.adapter.update_customer(cid, patch)
    assert after.tags == ["vip", "humansupport-regular"]
    assert after.custom_attributes["humansupport_conversations"] == 7
    assert after.custom_attributes["plan"] == env.fake.customers[cid].custom_attributes["plan"]
    assert after.notes is not None and after.notes.startswith("Met at the fair.")
    again = await env.adapter.update_customer(cid, ProfilePatch(note="Prefers Grace now."))
    assert again.notes is not None
    assert again.notes.count(DESCRIPTION_MARKER_START) == 1 and "Prefers Grace now." in again.notes
    assert "Prefers Ada." not in again.notes and "Met at the fair." in again.notes


async def test_unchanged_profile_sends_no_write(env: Env) -> None:
    cid = sorted(env.fake.customers)[1]
    env.fake.customers[cid] = env.fake.customers[cid].model_copy(update={"tags": ["a"]})
    await env.adapter.update_customer(cid, ProfilePatch(tags=["a"]))
    assert writes(env) == []


async def test_unknown_custom_field_surfaces_the_vendor_field_error(env: Env) -> None:
    cid = sorted(env.fake.customers)[0]
    with pytest.raises(ValidationError) as info:
        await env.adapter.update_customer(cid, ProfilePatch(custom_attributes={"favourite_colour": "teal"}))
    err = info.value
    assert err.status == 400 and "favourite_colour" in err.field_errors
    assert "Unexpected/invalid field" in str(err)


async def test_internal_note_is_private_html(env: Env) -> None:
    conv = open_tickets(env, 1)[0]
    before = env.fake.conversations[conv.id].updated_at
    msg = await env.adapter.add_internal_note(conv.id, "Customer <b>asked</b>\nfor Ada")
    post = next(r for r in env.fake.requests if r.method == "POST")
    assert post.path == f"/api/v2/tickets/{conv.id}/notes"
    assert post.json == {"body": "<div>Customer &lt;b&gt;asked&lt;/b&gt;<br>for Ada</div>", "private": True}
    assert not msg.public and msg.conversation_id == conv.id and msg.body == "Customer <b>asked</b>\nfor Ada"
    assert env.fake.conversations[conv.id].updated_at != before


async def test_missing_contact_fields_reads_the_definitions(env: Env) -> None:
    wanted = ["humansupport_preferred_agent", "humansupport_favourite_colour", "plan", "plan"]
    assert await env.adapter.missing_contact_fields(wanted) == ["humansupport_favourite_colour"]


async def test_job_without_per_ticket_data_is_read_back(env: Env) -> None:
    convs = open_tickets(env, 3)
    agent = sorted(a.id for a in env.fake.agents.values() if a.active)[2]
    env.fake.fail_next(200, body={"id": "j", "status": "SUCCESS"}, match="/api/v2/jobs/")
    results = await env.adapter.assign_many([Assignment(conversation_id=c.id, agent_id=agent) for c in convs])
    assert all(r.outcome is AssignmentOutcome.APPLIED and r.conversation is not None for r in results)
    reads = [r.path for r in env.fake.requests if r.method == "GET" and r.path.startswith("/api/v2/tickets/")]
    assert sorted(reads) == sorted(f"/api/v2/tickets/{c.id}" for c in convs)


async def test_job_that_failed_as_a_whole_fails_every_ticket(env: Env) -> None:
    convs = open_tickets(env, 2)
    agent = sorted(a.id for a in env.fake.agents.values() if a.active)[2]
    env.fake.fail_next(200, body={"id": "j", "status": "FAILED", "message": "quota"}, match="/api/v2/jobs/")
    results = await env.adapter.assign_many([Assignment(conversation_id=c.id, agent_id=agent) for c in convs])
    assert [r.outcome for r in results] == [AssignmentOutcome.FAILED] * 2
    assert all("quota" in (r.message or "") for r in results)


async def test_bulk_post_rejected_fails_the_chunk_only(env: Env) -> None:
    convs = open_tickets(env, 4)
    agents = sorted(a.id for a in env.fake.agents.values() if a.active)
    batch = [Assignment(conversation_id=c.id, agent_id=agents[0]) for c in convs[:2]]
    batch += [Assignment(conversation_id=c.id, agent_id=agents[1]) for c in convs[2:]]
    body = {"description": "Validation failed", "errors": [{"field": "ids", "message": "bad", "code": "invalid_value"}]}
    env.fake.fail_next(400, body=body, match="/bulk_update")
    results = await env.adapter.assign_many(batch)
    assert [r.outcome for r in results[:2]] == [AssignmentOutcome.FAILED] * 2
    assert [r.outcome for r in results[2:]] == [AssignmentOutcome.APPLIED] * 2
