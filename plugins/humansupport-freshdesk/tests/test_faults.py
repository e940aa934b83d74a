"""Bad input and faults from the issue, each tested: 401/403 hints, 404 mid-run, 409/stale, 400/422 field
errors, 429 storms and per-endpoint limits, 5xx and dropped connections mid-pagination, malformed JSON, and a
customer or agent deleted while referenced."""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest
from humansupport_freshdesk import FreshdeskAdapter

from humansupport.errors import (
    AuthenticationError,
    ConflictError,
    HelpdeskError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from humansupport.http import RetryPolicy
from humansupport.models import AuthorRole, Message, ProfilePatch

from .conftest import Env

ACCESS_DENIED = {"code": "access_denied", "message": "You are not authorized to perform this action."}


def assert_no_secret(env: Env, *texts: str) -> None:
    for text in texts:
        assert env.fake.api_key not in text


async def test_401_hint_names_the_key_setting_and_leaks_nothing(env: Env) -> None:
    env.fake.revoke_credentials()
    with pytest.raises(AuthenticationError) as info:
        await env.adapter.get_conversation(sorted(env.fake.conversations)[0])
    err = info.value
    assert "HUMANSUPPORT_FRESHDESK_API_KEY" in str(err)
    assert err.request_id is not None and err.request_id.startswith("fd-")
    assert_no_secret(env, str(err), repr(err), "".join(traceback.format_exception(err)), repr(env.adapter))


async def test_403_hint_says_which_role_to_use(env: Env) -> None:
    env.fake.fail_next(403, body=ACCESS_DENIED)
    with pytest.raises(PermissionDeniedError) as info:
        await env.adapter.add_internal_note(sorted(env.fake.conversations)[0], "hi")
    text = str(info.value)
    assert "not authorized" in text and "admin" in text and "HUMANSUPPORT_FRESHDESK_API_KEY" in text


async def test_conversation_deleted_mid_run_is_skipped_and_reported(env: Env) -> None:
    """The run reads threads ticket by ticket; a ticket deleted meanwhile is a NotFoundError for that ticket only."""
    tickets = [c.id async for c in env.adapter.iter_conversations()][:6]
    env.fake.delete_ticket(tickets[2])
    threads: dict[str, int] = {}
    skipped: dict[str, NotFoundError] = {}
    for tid in tickets:
        try:
            threads[tid] = len([m async for m in env.adapter.iter_messages(tid)])
        except NotFoundError as exc:
            skipped[tid] = exc
    assert list(skipped) == [tickets[2]]
    assert skipped[tickets[2]].status == 404 and f"/tickets/{tickets[2]}" in (skipped[tickets[2]].path or "")
    assert set(threads) == set(tickets) - {tickets[2]} and all(n >= 1 for n in threads.values())


async def test_deleted_between_listing_and_thread_page_two(env: Env) -> None:
    env.fake.page_size = 2
    tid = next(cid for cid, msgs in sorted(env.fake.messages.items()) if len(msgs) >= 6)
    seen: list[Message] = []

    async def read() -> None:
        async for msg in env.adapter.iter_messages(tid):
            seen.append(msg)
            if len(seen) == 2:
                env.fake.delete_ticket(tid)

    with pytest.raises(NotFoundError):
        await read()
    assert len(seen) >= 2


async def test_stale_data_is_a_conflict_never_an_overwrite(env: Env) -> None:
    conv = next(c for c in sorted(env.fake.conversations.values(), key=lambda c: int(c.id)) if c.status.is_open)
    seen = await env.adapter.get_conversation(conv.id)
    env.clock.advance(1)
    human = next(a for a in sorted(env.fake.agents) if env.fake.agents[a].active and a != conv.assignee_id)
    env.fake.touch_conversation(conv.id, assignee_id=human)
    target = next(
        a for a in sorted(env.fake.agents) if env.fake.agents[a].active and a not in (human, conv.assignee_id)
    )
    with pytest.raises(ConflictError):
        await env.adapter.assign(conv.id, target, expected_updated_at=seen.updated_at)
    assert env.fake.conversations[conv.id].assignee_id == human


async def test_vendor_409_is_conflict_error(env: Env) -> None:
    body = {"description": "Validation failed", "errors": [{"field": "email", "message": "It should be a unique value",
                                                           "code": "duplicate_value"}]}  # fmt: skip
    env.fake.fail_next(409, body=body)
    with pytest.raises(ConflictError, match="unique value"):
        await env.adapter.update_customer(sorted(env.fake.customers)[0], _patch())


async def test_400_field_errors_are_surfaced(env: Env) -> None:
    conv = sorted(env.fake.conversations)[0]
    with pytest.raises(ValidationError) as info:
        await env.adapter.assign(conv, "424242")
    assert info.value.field_errors == {"responder_id": ["There is no agent matching the given responder_id"]}
    assert "responder_id" in str(info.value)


async def test_422_is_a_validation_error_with_fields(env: Env) -> None:
    body = {"description": "Validation failed", "errors": [{"field": "tags", "message": "It should be a/an Array",
                                                           "code": "datatype_mismatch"}]}  # fmt: skip
    env.fake.fail_next(422, body=body, match="/contacts/")
    with pytest.raises(ValidationError) as info:
        await env.adapter.update_customer(sorted(env.fake.customers)[0], _patch())
    assert info.value.status == 422 and "tags" in info.value.field_errors


async def test_429_storm_is_retried_then_rate_limit_error(make_env: Callable[..., Env]) -> None:
    env = make_env(retry=RetryPolicy(max_attempts=4))
    async with env.adapter:
        env.fake.fail_next(429, times=50, headers={"Retry-After": "5"})
        with pytest.raises(RateLimitError) as info:
            await env.adapter.get_conversation(sorted(env.fake.conversations)[0])
    assert info.value.retry_after == 5
    assert sum(1 for r in env.fake.requests if r.status == 429) == 4
    assert env.clock.slept >= 15


async def test_429_within_the_cap_recovers(env: Env) -> None:
    env.fake.fail_next(429, times=3, headers={"Retry-After": "2"})
    conv = await env.adapter.get_conversation(sorted(env.fake.conversations)[0])
    assert conv.id and env.clock.slept >= 6


async def test_retry_after_beyond_the_cap_fails_at_once(make_env: Callable[..., Env]) -> None:
    env = make_env(retry=RetryPolicy(max_retry_wait=30))
    async with env.adapter:
        env.fake.fail_next(429, headers={"Retry-After": "3600"})
        with pytest.raises(RateLimitError, match="retry after 3600s"):
            await env.adapter.get_conversation(sorted(env.fake.conversations)[0])
    assert env.clock.slept < 1, "never sleep an hour"


async def test_endpoint_budget_keeps_ticket_listing_under_the_plan_limit(make_env: Callable[..., Env]) -> None:
    env = make_env({"endpoint_limits": {"tickets_list": 20}}, plan="growth")
    env.fake.page_size = 5
    async with env.adapter:
        got = [c.id async for c in env.adapter.iter_conversations()]
    assert set(got) == set(env.fake.conversations) and len(got) == len(set(got))
    pages = sum(1 for r in env.fake.requests if r.path == "/api/v2/tickets")
    assert pages > 60
    assert env.fake.endpoint_limited.get("tickets_list", 0) == 0, "the adapter sent faster than 20/min"
    assert env.clock.slept >= (pages - 20) * 60 / 20 * 0.9


async def test_a_plan_set_too_high_meets_429s_and_still_completes(make_env: Callable[..., Env]) -> None:
    env = make_env({"endpoint_limits": {"tickets_list": 20}}, plan="enterprise")
    env.fake.page_size = 10
    async with env.adapter:
        got = [c.id async for c in env.adapter.iter_conversations()]
    assert set(got) == set(env.fake.conversations) and len(got) == len(set(got))
    assert env.fake.endpoint_limited.get("tickets_list", 0) > 0


@pytest.mark.parametrize("fault", ["500", "503", "drop"])
async def test_5xx_or_dropped_connection_mid_pagination(env: Env, fault: str) -> None:
    env.fake.page_size = 10
    if fault == "drop":
        env.fake.drop_next(times=2, skip=3, match="/api/v2/tickets$")
    else:
        env.fake.fail_next(int(fault), times=2, skip=3, match="/api/v2/tickets$")
    got = [c.id async for c in env.adapter.iter_conversations()]
    assert len(got) == len(set(got)), "duplicates after a retried page"
    assert set(got) == set(env.fake.conversations), "gaps after a retried page"
    assert not env.fake.faults, "the fault was never hit"


async def test_resume_after_retries_run_out_continues_from_the_checkpoint(make_env: Callable[..., Env]) -> None:
    env = make_env(retry=RetryPolicy(max_attempts=2))
    env.fake.page_size = 10
    async with env.adapter:
        env.fake.fail_next(503, times=2, skip=4, match="/api/v2/tickets$")
        first: list[str] = []
        checkpoint: list[datetime | None] = [None]

        async def run() -> None:
            async for conv in env.adapter.iter_conversations():
                first.append(conv.id)
                checkpoint[0] = conv.updated_at

        with pytest.raises(HelpdeskError):
            await run()
        assert checkpoint[0] is not None and 30 <= len(first) <= 40  # four pages, less edge re-reads
        rest = [c.id async for c in env.adapter.iter_conversations(updated_since=checkpoint[0])]
    combined = set(first) | set(rest)
    assert combined == set(env.fake.conversations), "a gap after resuming"
    overlap = set(first) & set(rest)
    at_edge = {c.id for c in env.fake.conversations.values() if c.updated_at == checkpoint[0]}
    assert overlap <= at_edge, "only tickets at the checkpoint instant may repeat (updated_since is inclusive)"


class _Malformed(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/v2/tickets/"):
            return httpx.Response(200, content=b'{"id": 1, "subject": "trunc', headers={"X-Request-Id": "fd-bad"})
        return await self.inner.handle_async_request(request)


async def test_malformed_json_is_a_clear_error(make_env: Callable[..., Env]) -> None:
    env = make_env()
    adapter = FreshdeskAdapter(
        domain="acme", api_key=env.fake.api_key, transport=_Malformed(env.fake.transport()), clock=env.clock
    )
    async with adapter:
        with pytest.raises(HelpdeskError, match="malformed JSON") as info:
            await adapter.get_conversation("100001")
    assert info.value.request_id == "fd-bad"


async def test_unexpected_shape_is_a_clear_error(env: Env) -> None:
    env.contract.check_responses = False  # the broken response is the point of this test
    env.fake.fail_next(200, body=["not", "a", "ticket"], match="/tickets/")
    with pytest.raises(HelpdeskError, match="expected a ticket object"):
        await env.adapter.get_conversation(sorted(env.fake.conversations)[0])


async def test_customer_deleted_while_referenced(env: Env) -> None:
    conv = sorted(env.fake.conversations.values(), key=lambda c: int(c.id))[0]
    assert conv.customer_id
    env.fake.delete_contact(conv.customer_id)
    soft = await env.adapter.get_customer(conv.customer_id)
    assert soft.raw["deleted"] is True
    env.fake.delete_contact(conv.customer_id, hard=True)
    with pytest.raises(NotFoundError):
        await env.adapter.get_customer(conv.customer_id)
    again = await env.adapter.get_conversation(conv.id)
    assert again.customer_id == conv.customer_id, "the ticket still names its requester"
    messages = [m async for m in env.adapter.iter_messages(conv.id)]
    assert messages[0].author_id == conv.customer_id


async def test_agent_deleted_while_referenced_becomes_a_contact(env: Env) -> None:
    conv = next(c for c in sorted(env.fake.conversations.values(), key=lambda c: int(c.id)) if c.assignee_id
                and any(m.author_id == c.assignee_id for m in env.fake.messages[c.id][1:]))  # fmt: skip
    agent_id = conv.assignee_id
    assert agent_id is not None
    env.fake.delete_agent(agent_id)
    assert agent_id not in {a.id async for a in env.adapter.iter_agents()}
    assert all(agent_id not in g.agent_ids for g in [g async for g in env.adapter.iter_groups()])
    contact = await env.adapter.get_customer(agent_id)
    assert contact.id == agent_id and contact.email
    messages = [m async for m in env.adapter.iter_messages(conv.id)]
    theirs = [m for m in messages if m.author_id == agent_id]
    assert theirs and all(m.author_role is AuthorRole.AGENT for m in theirs), "role comes from `incoming`, not the id"
    with pytest.raises(ValidationError, match="responder_id"):
        await env.adapter.assign(conv.id, agent_id)


async def test_the_synthetic_deactivated_agent_is_a_contact(env: Env) -> None:
    former = next(a for a in env.fake.agents.values() if not a.active)
    assert former.id not in {a.id async for a in env.adapter.iter_agents()}
    assert (await env.adapter.get_customer(former.id)).name == former.name


def _patch() -> ProfilePatch:
    return ProfilePatch(tags=["x-new-tag"])


async def test_no_key_in_any_log_record(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env.fake.fail_next(503, times=1)
    _ = [c async for c in env.adapter.iter_conversations()]
    env.fake.revoke_credentials()
    with pytest.raises(AuthenticationError):
        await env.adapter.get_conversation(sorted(env.fake.conversations)[0])
    assert caplog.records, "nothing was logged; the check proves nothing"
    basic = base64.b64encode(f"{env.fake.api_key}:X".encode()).decode()
    for record in caplog.records:
        text = record.getMessage()
        assert env.fake.api_key not in text and basic not in text


@pytest.mark.parametrize(
    "link",
    ["https://evil.example.com/api/v2/agents?page=2", "http://humansupport-fake.freshdesk.com/api/v2/agents?page=2"],
)
async def test_next_link_to_another_origin_is_not_followed(env: Env, link: str) -> None:
    """The client sends the key with every request; a Link elsewhere would hand it over."""
    env.contract.check_responses = False  # the hostile Link header is the point
    agents = [env.fake.render_agent(a) for a in env.fake.agents.values() if a.active][:2]
    env.fake.fail_next(200, body=agents, headers={"Link": f'<{link}>; rel="next"'}, match="/api/v2/agents$")
    with pytest.raises(HelpdeskError, match="another origin") as info:
        _ = [a async for a in env.adapter.iter_agents()]
    assert env.fake.api_key not in str(info.value)
    assert all(r.path == "/api/v2/agents" for r in env.fake.requests), "the foreign link was requested"
    assert len(env.fake.requests) == 1


@pytest.mark.parametrize("bad", ["1/../../admin", "abc", "-5", "", "1e3", "٣"])
async def test_ids_that_are_not_freshdesk_ids_send_nothing(env: Env, bad: str) -> None:
    with pytest.raises(ValidationError, match="not a Freshdesk id"):
        await env.adapter.get_conversation(bad)
    with pytest.raises(ValidationError):
        await env.adapter.get_customer(bad)
    with pytest.raises(ValidationError):
        await env.adapter.assign(sorted(env.fake.conversations)[0], bad)
    assert env.fake.requests == []


async def test_note_post_is_not_retried_on_503_so_it_is_never_doubled(env: Env) -> None:
    tid = sorted(env.fake.conversations)[0]
    before = len(env.fake.messages[tid])
    env.fake.fail_next(503, match="/notes")
    with pytest.raises(ServerError):
        await env.adapter.add_internal_note(tid, "once")
    assert sum(1 for r in env.fake.requests if r.path.endswith("/notes")) == 1
    assert len(env.fake.messages[tid]) == before


async def test_note_post_is_retried_on_429_the_vendor_did_not_process_it(env: Env) -> None:
    tid = sorted(env.fake.conversations)[0]
    env.fake.fail_next(429, headers={"Retry-After": "1"}, match="/notes")
    msg = await env.adapter.add_internal_note(tid, "after the wait")
    assert msg.body == "after the wait" and sum(1 for r in env.fake.requests if r.path.endswith("/notes")) == 2


class _TimeoutOnce(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, *, on_call: int) -> None:
        self.inner, self.on_call, self.calls = inner, on_call, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls == self.on_call:
            raise httpx.ReadTimeout("read timed out", request=request)
        return await self.inner.handle_async_request(request)


async def test_read_timeout_mid_pagination_is_retried_without_gaps(make_env: Callable[..., Env]) -> None:
    env = make_env()
    env.fake.page_size = 10
    adapter = FreshdeskAdapter(
        domain="acme",
        api_key=env.fake.api_key,
        clock=env.clock,
        transport=_TimeoutOnce(env.fake.transport(), on_call=4),
    )
    async with adapter:
        got = [c.id async for c in adapter.iter_conversations()]
    assert len(got) == len(set(got)) and set(got) == set(env.fake.conversations)
