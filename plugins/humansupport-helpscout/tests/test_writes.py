"""Writes: JSON-Patch assignment guarded by a re-read, assign_many within the budget, profile write-back, notes."""

from __future__ import annotations

import pytest
from humansupport_helpscout import FakeHelpScout, HelpScoutAdapter

from humansupport import (
    Assignment,
    AssignmentOutcome,
    ConflictError,
    ConversationStatus,
    NotFoundError,
    ProfilePatch,
    ValidationError,
)
from humansupport.testing import FakeClock


def _open_pair(fake: FakeHelpScout) -> tuple[str, str]:
    for conv in sorted(fake.conversations.values(), key=lambda c: int(c.id)):
        if conv.status.is_open:
            for agent in sorted(fake.agents.values(), key=lambda a: int(a.id)):
                if agent.active and agent.id != conv.assignee_id:
                    return conv.id, agent.id
    raise AssertionError("no open conversation")


async def test_assign_sends_one_json_patch_replace_assign_to(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    cid, aid = _open_pair(fake)
    conv = await adapter.assign(cid, aid)
    assert conv.assignee_id == aid and conv.group_id is None
    patches = [r for r in fake.requests if r.method == "PATCH"]
    assert len(patches) == 1
    assert patches[0].path == f"/v2/conversations/{cid}"
    assert patches[0].json == {"op": "replace", "path": "/assignTo", "value": int(aid)}
    assert patches[0].status == 204


async def test_unassign_removes_assign_to(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    cid, _ = _open_pair(fake)
    conv = await adapter.assign(cid, None)
    assert conv.assignee_id is None
    assert [r.json for r in fake.requests if r.method == "PATCH"] == [{"op": "remove", "path": "/assignTo"}]


async def test_assign_to_team_maps_back_as_group_without_agent(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    cid, _ = _open_pair(fake)
    team = sorted(fake.groups)[0]
    conv = await adapter.assign(cid, None, group_id=team)
    assert conv.assignee_id is None and conv.group_id == team
    assert conv.raw["assignee"]["type"] == "team"


async def test_human_reassignment_since_planning_is_never_overwritten(
    adapter: HelpScoutAdapter, fake: FakeHelpScout, clock: FakeClock
) -> None:
    cid, aid = _open_pair(fake)
    planned = await adapter.get_conversation(cid)
    human = next(a for a in sorted(fake.agents) if a not in (aid, planned.assignee_id) and fake.agents[a].active)
    # The human changes only the assignee; userUpdatedAt stays, so only the fingerprint can tell.
    fake.conversations[cid] = fake.conversations[cid].model_copy(update={"assignee_id": human})
    with pytest.raises(ConflictError, match="changed since it was read"):
        await adapter.assign(cid, aid, expected_version=planned.version)
    assert fake.conversations[cid].assignee_id == human
    assert not any(r.method == "PATCH" for r in fake.requests), "a stale assign still wrote"


async def test_newer_updated_at_is_a_conflict(adapter: HelpScoutAdapter, fake: FakeHelpScout, clock: FakeClock) -> None:
    cid, aid = _open_pair(fake)
    planned = await adapter.get_conversation(cid)
    clock.advance(30)
    fake.touch_conversation(cid)
    with pytest.raises(ConflictError):
        await adapter.assign(cid, aid, expected_updated_at=planned.updated_at)


async def test_already_assigned_as_asked_spends_no_write(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    conv = next(c for c in fake.conversations.values() if c.assignee_id and c.status.is_open)
    seen = await adapter.get_conversation(conv.id)
    after = await adapter.assign(conv.id, conv.assignee_id, expected_version=seen.version)
    assert after.assignee_id == conv.assignee_id
    assert not any(r.method == "PATCH" for r in fake.requests)


async def test_assign_many_skips_deleted_and_stale_and_applies_the_rest(
    adapter: HelpScoutAdapter, fake: FakeHelpScout, clock: FakeClock
) -> None:
    agent = next(a for a in sorted(fake.agents.values(), key=lambda a: int(a.id)) if a.active)
    open_ids = [
        c.id
        for c in sorted(fake.conversations.values(), key=lambda c: int(c.id))
        if c.status.is_open and c.assignee_id != agent.id
    ][:6]
    assert len(open_ids) == 6
    reads = {cid: await adapter.get_conversation(cid) for cid in open_ids}
    clock.advance(10)
    del fake.conversations[open_ids[0]]  # deleted mid-run
    fake.touch_conversation(open_ids[1])  # a human edited it
    batch = [
        Assignment(conversation_id=cid, agent_id=agent.id, expected_version=reads[cid].version) for cid in open_ids
    ]
    results = {r.conversation_id: r for r in await adapter.assign_many(batch)}
    assert results[open_ids[0]].outcome is AssignmentOutcome.NOT_FOUND
    assert results[open_ids[1]].outcome is AssignmentOutcome.CONFLICT
    for cid in open_ids[2:]:
        assert results[cid].outcome is AssignmentOutcome.APPLIED, results[cid].message
        assert fake.conversations[cid].assignee_id == agent.id


async def test_unknown_agent_surfaces_the_vendor_field_error(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    cid, _ = _open_pair(fake)
    with pytest.raises(ValidationError) as info:
        await adapter.assign(cid, "999999")
    assert info.value.status == 400
    assert "assignTo" in info.value.field_errors
    assert "not found" in str(info.value)


async def test_assign_rejects_a_non_numeric_id_before_any_request(adapter: HelpScoutAdapter) -> None:
    with pytest.raises(NotFoundError):
        await adapter.assign("../users/me", "2001")
    with pytest.raises(ValueError, match="numeric"):
        await adapter.assign("100001", "agent-x")


async def test_merged_conversation_reads_as_the_survivor_and_refuses_writes(
    adapter: HelpScoutAdapter, fake: FakeHelpScout
) -> None:
    old, survivor = sorted(fake.conversations)[:2]
    fake.merge_conversation(old, survivor)
    conv = await adapter.get_conversation(old)
    assert conv.id == survivor
    with pytest.raises(NotFoundError):
        await adapter.assign(old, sorted(fake.agents)[0])


async def test_update_customer_writes_background_photo_properties_and_tags(
    adapter: HelpScoutAdapter, fake: FakeHelpScout
) -> None:
    cid = sorted(fake.customers)[0]
    before = await adapter.get_customer(cid)
    patch = ProfilePatch(
        custom_attributes={"humansupport_preferred_agent": "Ada Lovelace", "humansupport_conversations": 4},
        tags=["vip", "api"],
        note="x" * 250,
        avatar_url="https://avatars.example.com/new.png",
    )
    after = await adapter.update_customer(cid, patch)
    assert after.notes == "x" * 200  # Help Scout's background holds 200 characters
    assert after.avatar_url == "https://avatars.example.com/new.png"
    assert after.custom_attributes["humansupport_preferred_agent"] == "Ada Lovelace"
    assert set(before.tags) | {"vip", "api"} == set(after.tags)
    bodies = {r.path: r.json for r in fake.requests if r.method == "PATCH"}
    assert bodies[f"/v2/customers/{cid}"][0] == {"op": "replace", "path": "/background", "value": "x" * 200}
    assert {"op": "replace", "path": "/humansupport_conversations", "value": 4} in bodies[
        f"/v2/customers/{cid}/properties"
    ]


async def test_undefined_property_is_a_validation_error_naming_it(
    adapter: HelpScoutAdapter, fake: FakeHelpScout
) -> None:
    cid = sorted(fake.customers)[0]
    with pytest.raises(ValidationError) as info:
        await adapter.update_customer(cid, ProfilePatch(custom_attributes={"favourite_colour": "teal"}))
    assert "favourite_colour" in info.value.field_errors


async def test_removing_an_attribute_sends_a_remove_op(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    cid = sorted(fake.customers)[0]
    await adapter.update_customer(cid, ProfilePatch(custom_attributes={"humansupport_preferred_agent": "Ada"}))
    after = await adapter.update_customer(cid, ProfilePatch(custom_attributes={"humansupport_preferred_agent": None}))
    assert "humansupport_preferred_agent" not in after.custom_attributes


async def test_deleted_customer_is_not_found_while_conversations_still_name_it(
    adapter: HelpScoutAdapter, fake: FakeHelpScout
) -> None:
    conv = next(c for c in sorted(fake.conversations.values(), key=lambda c: int(c.id)) if c.customer_id)
    del fake.customers[conv.customer_id or ""]
    mapped = await adapter.get_conversation(conv.id)
    assert mapped.customer_id == conv.customer_id
    with pytest.raises(NotFoundError):
        await adapter.get_customer(conv.customer_id or "")
    with pytest.raises(NotFoundError):
        await adapter.update_customer(conv.customer_id or "", ProfilePatch(note="gone"))


async def test_deleted_agent_is_gone_from_agents_but_still_authors_old_threads(
    adapter: HelpScoutAdapter, fake: FakeHelpScout
) -> None:
    cid, msgs = next(
        (cid, msgs) for cid, msgs in sorted(fake.messages.items()) if any(m.author_role.value == "agent" for m in msgs)
    )
    author = next(m.author_id for m in msgs if m.author_role.value == "agent")
    assert author is not None
    fake.delete_agent(author)
    assert author not in {a.id async for a in adapter.iter_agents()}
    messages = [m async for m in adapter.iter_messages(cid)]
    assert author in {m.author_id for m in messages if m.author_role.value == "agent"}
    with pytest.raises(ValidationError):
        await adapter.assign(cid, author)


async def test_internal_note_is_private_and_takes_the_resource_id(
    adapter: HelpScoutAdapter, fake: FakeHelpScout
) -> None:
    cid = sorted(fake.conversations)[0]
    note = await adapter.add_internal_note(cid, "Customer prefers Ada.")
    assert note.public is False and note.author_role.value == "agent"
    assert note.id == fake.messages[cid][-1].id
    posted = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/notes")]
    assert posted[0].json == {"text": "Customer prefers Ada."} and posted[0].status == 201
    with pytest.raises(ValidationError) as info:
        await adapter.add_internal_note(cid, "  ")
    assert "text" in info.value.field_errors


async def test_note_is_not_retried_on_5xx(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    cid = sorted(fake.conversations)[0]
    fake.fail_next(503, match="/notes")
    before = len(fake.messages.get(cid, []))
    with pytest.raises(Exception, match="503"):
        await adapter.add_internal_note(cid, "once")
    assert sum(1 for r in fake.requests if r.path.endswith("/notes")) == 1
    assert len(fake.messages.get(cid, [])) == before


async def test_ensure_properties_creates_only_missing_definitions(
    adapter: HelpScoutAdapter, fake: FakeHelpScout
) -> None:
    created = await adapter.ensure_properties({"humansupport_tags": "text", "humansupport_churn_risk": "number"})
    assert created == ["humansupport_churn_risk"]
    assert fake.property_definitions["humansupport_churn_risk"]["type"] == "number"
    assert await adapter.ensure_properties({"humansupport_churn_risk": "number"}) == []


async def test_status_filter_maps_to_one_vendor_value_and_filters_after(
    adapter: HelpScoutAdapter, fake: FakeHelpScout
) -> None:
    got = [c async for c in adapter.iter_conversations(status=[ConversationStatus.PENDING])]
    assert all(c.status is ConversationStatus.PENDING for c in got)
    sent = [r for r in fake.requests if r.path == "/v2/conversations"]
    assert sent[0].url_params["status"] == "pending"
    assert sent[0].url_params["sortField"] == "modifiedAt" and sent[0].url_params["sortOrder"] == "asc"
    everything = [c async for c in adapter.iter_conversations()]
    assert [r for r in fake.requests if r.path == "/v2/conversations"][-1].url_params["status"] == "all"
    assert len(everything) == len(fake.conversations)


async def test_listing_with_embedded_threads_saves_a_request_per_conversation(
    adapter: HelpScoutAdapter, fake: FakeHelpScout
) -> None:
    pairs = [pair async for pair in adapter.iter_conversations_with_messages()]
    assert {conv.id for conv, _ in pairs} == set(fake.conversations)
    for conv, messages in pairs:
        assert len(messages) == len(fake.messages.get(conv.id, []))
        times = [m.created_at for m in messages if m.created_at is not None]
        assert times == sorted(times)
    chats = {conv.id for conv, _ in pairs if conv.channel == "chat"}
    thread_calls = {r.path.split("/")[3] for r in fake.requests if r.path.endswith("/threads")}
    assert thread_calls == chats, "only chats (truncated in the list view) may be read again"
    listings = [r for r in fake.requests if r.path == "/v2/conversations"]
    assert all(r.url_params.get("embed") == "threads" for r in listings)


async def test_mailboxes_and_ratings_read(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    from humansupport import RatingScore

    boxes = [m async for m in adapter.iter_mailboxes()]
    assert {m.id for m in boxes} == set(fake.mailboxes)
    assert all(m.email and m.name for m in boxes)
    rating_id, rating = sorted(fake.ratings.items())[0]
    got = await adapter.get_rating(rating_id)
    assert got.conversation_id == rating.conversation_id and got.agent_id == rating.agent_id
    assert got.score is rating.score and got.score in (RatingScore.GOOD, RatingScore.BAD)
    with pytest.raises(NotFoundError):
        await adapter.get_rating("1")


async def test_a_merged_conversation_in_a_batch_is_not_found_not_a_conflict(
    adapter: HelpScoutAdapter, fake: FakeHelpScout
) -> None:
    old, survivor = sorted(fake.conversations)[:2]
    planned = await adapter.get_conversation(old)
    fake.merge_conversation(old, survivor)
    agent = next(a for a in sorted(fake.agents) if fake.agents[a].active)
    (result,) = await adapter.assign_many(
        [Assignment(conversation_id=old, agent_id=agent, expected_version=planned.version)]
    )
    assert result.outcome is AssignmentOutcome.NOT_FOUND
    assert f"merged into {survivor}" in (result.message or "")
    assert not any(r.method == "PATCH" for r in fake.requests)


async def test_wrong_property_type_and_overlong_tags_are_rejected_by_field(
    adapter: HelpScoutAdapter, fake: FakeHelpScout
) -> None:
    cid = sorted(fake.customers)[0]
    with pytest.raises(ValidationError) as info:
        await adapter.update_customer(cid, ProfilePatch(custom_attributes={"humansupport_conversations": "many"}))
    assert "humansupport_conversations" in info.value.field_errors
    with pytest.raises(ValidationError) as info:
        await adapter.update_customer(cid, ProfilePatch(tags=[f"tag-{i:03d}-long-enough" for i in range(20)]))
    assert "humansupport_tags" in info.value.field_errors  # the text property holds 255 characters


async def test_an_empty_patch_writes_nothing(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    cid = sorted(fake.customers)[0]
    customer = await adapter.update_customer(cid, ProfilePatch())
    assert customer.id == cid
    assert not any(r.method == "PATCH" for r in fake.requests)


async def test_an_empty_note_leaves_the_background_alone(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    cid = sorted(fake.customers)[0]
    await adapter.update_customer(cid, ProfilePatch(note="Prefers email."))
    before = len(fake.requests)
    after = await adapter.update_customer(cid, ProfilePatch(note="", custom_attributes={"humansupport_locale": "fr"}))
    assert after.notes == "Prefers email."
    second = fake.requests[before:]
    assert not any(r.path == f"/v2/customers/{cid}" and r.method == "PATCH" for r in second)
    assert any(r.path.endswith("/properties") for r in second)


@pytest.mark.parametrize(
    ("slug", "value"),
    [("humansupport_last_contact", "last tuesday"), ("humansupport_picture_url", "javascript:alert(1)")],
)
async def test_dates_and_urls_are_checked_like_the_vendor(
    adapter: HelpScoutAdapter, fake: FakeHelpScout, slug: str, value: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await adapter.update_customer(sorted(fake.customers)[0], ProfilePatch(custom_attributes={slug: value}))
    assert slug in info.value.field_errors
