"""Bad input and faults: 401/403 hints, 404 mid-run, 409, 422, 429 storms, 5xx and drops mid-pagination,
malformed JSON, and settings that cannot work."""

from __future__ import annotations

import traceback
from typing import Any

import httpx
import pytest
from humansupport_zendesk import FakeZendesk, ZendeskAdapter, ZendeskSettings
from pydantic import SecretStr

from humansupport import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    HelpdeskError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from humansupport.config import resolve_settings
from humansupport.testing import FakeClock

from .conftest import make_adapter  # type: ignore[import-not-found]

SECRET = "sekret-zendesk-token-123"


# -- settings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"email": "a@acme.test", "api_token": "t"}, "HUMANSUPPORT_ZENDESK_SUBDOMAIN"),
        ({"subdomain": "acme.zendesk.com", "email": "a@acme.test", "api_token": "t"}, "malformed"),
        ({"subdomain": "-acme", "email": "a@acme.test", "api_token": "t"}, "malformed"),
        ({"subdomain": "acme"}, "HUMANSUPPORT_ZENDESK_API_TOKEN"),
        ({"subdomain": "acme", "api_token": "t"}, "HUMANSUPPORT_ZENDESK_EMAIL"),
        ({"subdomain": "acme", "email": "a@acme.test", "api_token": ""}, "HUMANSUPPORT_ZENDESK_OAUTH_TOKEN"),
    ],
)
def test_unusable_settings_are_config_errors(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        ZendeskAdapter(**kwargs)


def test_settings_from_environment_and_secrets_never_from_the_file() -> None:
    env = {
        "HUMANSUPPORT_ZENDESK_SUBDOMAIN": "acme",
        "HUMANSUPPORT_ZENDESK_EMAIL": "agent@acme.test",
        "HUMANSUPPORT_ZENDESK_API_TOKEN": SECRET,
        "HUMANSUPPORT_ZENDESK_EXPORT_RATE_PER_MINUTE": "30",
    }
    settings = resolve_settings(ZendeskSettings, environ=env)
    assert settings.api_token is not None and settings.api_token.get_secret_value() == SECRET
    assert settings.export_rate_per_minute == 30.0
    assert SECRET not in repr(settings)
    adapter = ZendeskAdapter.from_settings(settings)
    assert SECRET not in repr(adapter) and "acme" in repr(adapter)
    with pytest.raises(ConfigError, match="HUMANSUPPORT_ZENDESK_API_TOKEN"):
        resolve_settings(ZendeskSettings, config={"helpdesks": {"zendesk": {"api_token": SECRET}}}, environ={})


# -- auth --------------------------------------------------------------------------------------------


async def test_401_names_the_settings_to_fix_and_leaks_nothing(fake: FakeZendesk, clock: FakeClock) -> None:
    async with make_adapter(fake, clock, api_token=SecretStr(SECRET)) as adapter:
        with pytest.raises(AuthenticationError) as info:
            await adapter.get_conversation(sorted(fake.conversations)[0])
        text = str(info.value) + repr(info.value) + "".join(traceback.format_exception(info.value)) + repr(adapter)
    assert "HUMANSUPPORT_ZENDESK_API_TOKEN" in str(info.value) and "Couldn't authenticate you" in str(info.value)
    assert SECRET not in text
    assert info.value.request_id and info.value.request_id.startswith("fakezd"), "the Zendesk request id is kept"


async def test_403_names_the_role_needed(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    fake.fail_next(403, match="/incremental/", body={"error": "Forbidden", "description": "You do not have access"})
    with pytest.raises(PermissionDeniedError) as info:
        [c async for c in adapter.iter_conversations()]
    assert "admin" in str(info.value) and "HUMANSUPPORT_ZENDESK_EMAIL" in str(info.value)
    assert "You do not have access" in str(info.value)


# -- 404, 409, 422 -----------------------------------------------------------------------------------


async def test_a_ticket_deleted_mid_run_is_skipped_and_reported(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    """A per-ticket read loop: the deleted ticket raises NotFoundError alone and the loop goes on."""
    ids = [c for c, msgs in sorted(fake.messages.items()) if msgs][:5]
    fake.delete_ticket(ids[2])
    read, skipped = {}, []
    for cid in ids:
        try:
            read[cid] = [m async for m in adapter.iter_messages(cid)]
        except NotFoundError as exc:
            skipped.append((cid, str(exc)))
    assert set(read) == set(ids) - {ids[2]}
    assert [s[0] for s in skipped] == [ids[2]]
    assert "Not found" in skipped[0][1] and f"/tickets/{ids[2]}/comments" in skipped[0][1]
    with pytest.raises(NotFoundError):
        await adapter.assign(ids[2], None)


async def test_a_plain_409_is_a_conflict(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    cid = sorted(fake.conversations)[0]
    fake.fail_next(409, match=f"/tickets/{cid}", body={"error": "UpdateConflict", "description": "changed"})
    fake.fail_next(200, match=f"/tickets/{cid}", body={"ticket": {"id": int(cid), "assignee_id": None}})
    with pytest.raises(ConflictError):
        await adapter.assign(cid, sorted(fake.agents)[0])


async def test_422_record_invalid_details_are_field_errors(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    body = {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {"base": [{"description": "Ticket is closed", "error": "ClosedTicket"}]},
    }
    fake.fail_next(422, match="/tickets/", body=body)
    with pytest.raises(ValidationError) as info:
        await adapter.add_internal_note(sorted(fake.conversations)[0], "x")
    assert info.value.field_errors == {"base": ["Ticket is closed"]}
    assert "Ticket is closed" in str(info.value)


# -- 429 ---------------------------------------------------------------------------------------------


async def test_429_storm_is_retried_within_the_cap_then_rate_limit_error(
    fake: FakeZendesk, adapter: ZendeskAdapter, clock: FakeClock
) -> None:
    cid = sorted(fake.conversations)[0]
    fake.fail_next(429, times=100, match="/tickets/", headers={"Retry-After": "3"})
    with pytest.raises(RateLimitError) as info:
        await adapter.get_conversation(cid)
    attempts = sum(1 for r in fake.requests if r.status == 429)
    assert attempts == adapter.http.retry_policy.max_attempts
    assert info.value.retry_after == 3 and clock.slept >= 3 * (attempts - 1)


async def test_429_without_retry_after_still_backs_off(
    fake: FakeZendesk, adapter: ZendeskAdapter, clock: FakeClock
) -> None:
    fake.fail_next(429, times=2, match="/users/me", body={"error": "TooManyRequests", "description": "slow down"})
    assert (await adapter.check()).ok
    assert clock.slept >= 2 * adapter.http.retry_policy.default_429_wait


async def test_a_retry_after_past_the_cap_is_raised_at_once(
    fake: FakeZendesk, adapter: ZendeskAdapter, clock: FakeClock
) -> None:
    fake.fail_next(429, match="/users/me", headers={"Retry-After": "3600"})
    with pytest.raises(RateLimitError) as info:
        await adapter.check()
    assert info.value.retry_after == 3600 and clock.slept < 60, "never sleep an hour"


async def test_export_429_is_honoured(fake: FakeZendesk, clock: FakeClock) -> None:
    """With a pacing bucket set too high (say, 100/min), the fake's 10/min 429s are waited out."""
    fake.page_size = 60
    async with make_adapter(fake, clock, export_rate_per_minute=100) as adapter:
        got = [c.id async for c in adapter.iter_conversations()]
    assert fake.export_limited > 0
    assert sorted(got) == sorted(fake.conversations)


# -- 5xx, drops, malformed JSON ----------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["503", "drop"])
async def test_fault_mid_export_no_duplicates_no_gaps(fake: FakeZendesk, adapter: ZendeskAdapter, fault: str) -> None:
    fake.page_size = 100
    if fault == "drop":
        fake.drop_next(times=2, skip=3, match="/incremental/tickets/cursor")
    else:
        fake.fail_next(503, times=2, skip=3, match="/incremental/tickets/cursor")
    got = [c.id async for c in adapter.iter_conversations()]
    assert len(got) == len(set(got)) and set(got) == set(fake.conversations)
    assert not fake.faults, "the fault was never hit"


async def test_fault_mid_comment_export_no_duplicates_no_gaps(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    fake.page_size = 500
    fake.fail_next(502, skip=2, match="/incremental/ticket_events")
    fake.drop_next(skip=4, match="/incremental/ticket_events")
    got = [m.id async for m in adapter.iter_all_messages()]
    assert len(got) == len(set(got)) == sum(len(v) for v in fake.messages.values())
    assert not fake.faults


async def test_5xx_on_a_note_is_not_retried(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    """Posting a comment is not idempotent: a retry after a lost answer would post the note twice."""
    cid = sorted(fake.conversations)[0]
    fake.fail_next(500, match=f"/tickets/{cid}")
    with pytest.raises(ServerError):
        await adapter.add_internal_note(cid, "once only")
    assert sum(1 for r in fake.requests if r.method == "PUT") == 1


async def test_malformed_json_is_a_clear_error(fake: FakeZendesk, clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "/incremental/" in request.url.path:
            return httpx.Response(200, content=b'{"tickets": [{"id": 1,', headers={"content-type": "application/json"})
        return fake(request)

    adapter = ZendeskAdapter(
        subdomain="fake",
        email=FakeZendesk.email,
        api_token=SecretStr(FakeZendesk.token),
        transport=httpx.MockTransport(handler),
        clock=clock,
    )
    async with adapter:
        with pytest.raises(HelpdeskError, match="malformed JSON") as info:
            [c async for c in adapter.iter_conversations()]
    assert "/api/v2/incremental/tickets/cursor" in str(info.value)


async def test_a_page_without_the_expected_keys_ends_the_listing(fake: FakeZendesk, clock: FakeClock) -> None:
    """A body without `end_of_stream` stops the export instead of looping (zenpy #451 kept requesting)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if "/incremental/tickets" in request.url.path:
            return httpx.Response(200, json={"tickets": [{"id": 5, "status": "open"}], "after_cursor": "abc"})
        return fake(request)

    async with ZendeskAdapter(
        subdomain="fake",
        email=FakeZendesk.email,
        api_token=FakeZendesk.token,
        transport=httpx.MockTransport(handler),
        clock=clock,
    ) as adapter:
        got = [c.id async for c in adapter.iter_conversations()]
    assert got == ["5"]


async def test_agent_deleted_while_referenced(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    cid, conv = next((c, v) for c, v in sorted(fake.conversations.items()) if v.assignee_id)
    assert conv.assignee_id is not None
    fake.delete_user(conv.assignee_id)
    again = await adapter.get_conversation(cid)
    assert again.assignee_id == conv.assignee_id, "the ticket still names the deleted agent"
    agents = {a.id async for a in adapter.iter_agents()}
    assert conv.assignee_id not in agents
    with pytest.raises(ValidationError, match="not an agent"):
        await adapter.assign(cid, conv.assignee_id)


async def test_a_failed_export_resumes_from_its_last_checkpoint(fake: FakeZendesk, clock: FakeClock) -> None:
    """Retries exhausted mid-export: the run stops; the next run resumes from the saved cursor, no gaps."""
    fake.page_size = 100
    fake.fail_next(503, times=50, skip=3, match="/incremental/tickets/cursor")
    seen: list[str] = []
    checkpoint = None

    async def first_run(adapter: ZendeskAdapter) -> None:
        nonlocal checkpoint
        async for page in adapter.iter_export_pages():
            seen.extend(c.id for c in page.conversations)
            checkpoint = page.after_cursor  # saved after the page is stored

    async with make_adapter(fake, clock) as adapter:
        with pytest.raises(ServerError):
            await first_run(adapter)
    assert checkpoint is not None and len(seen) == 300
    fake.faults.clear()
    async with make_adapter(fake, clock) as adapter:
        async for page in adapter.iter_export_pages(cursor=checkpoint):
            seen += [c.id for c in page.conversations]
    assert len(seen) == len(set(seen)) and set(seen) == set(fake.conversations)


async def test_time_based_pages_repeating_the_boundary_second_give_no_duplicates(clock: FakeClock) -> None:
    """Zendesk's next ticket-events page starts at the last page's end_time, so that second comes twice."""

    def event(eid: int, ts: int) -> dict[str, Any]:
        child = {"id": eid, "event_type": "Comment", "author_id": 7, "body": "b", "public": True}
        return {"id": eid + 1000, "ticket_id": 1, "timestamp": ts, "created_at": ts, "child_events": [child]}

    pages = {
        "0": {"ticket_events": [event(1, 100), event(2, 101)], "end_time": 101, "end_of_stream": False},
        "101": {"ticket_events": [event(2, 101), event(3, 102)], "end_time": 102, "end_of_stream": True},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/users":
            return httpx.Response(200, json={"users": [], "meta": {"has_more": False}})
        return httpx.Response(200, json=pages[request.url.params["start_time"]])

    async with ZendeskAdapter(
        subdomain="acme", email="a@acme.test", api_token="t", transport=httpx.MockTransport(handler), clock=clock
    ) as adapter:
        got = [m.id async for m in adapter.iter_all_messages()]
    assert got == ["1", "2", "3"]


async def test_a_refused_oauth_token_leaks_nowhere(fake: FakeZendesk, clock: FakeClock) -> None:
    token = "sekret-oauth-token-456"
    async with make_adapter(fake, clock, api_token=None, email=None, oauth_token=SecretStr(token)) as adapter:
        with pytest.raises(AuthenticationError) as info:
            await adapter.check()
        text = str(info.value) + repr(info.value) + "".join(traceback.format_exception(info.value)) + repr(adapter)
    assert token not in text and "HUMANSUPPORT_ZENDESK_OAUTH_TOKEN" in str(info.value)
    assert "oauth_token" in repr(adapter)


async def test_the_plan_limit_is_learned_from_headers_and_kept(history: Any, clock: FakeClock) -> None:
    """A 30/min account: X-Rate-Limit and X-Rate-Limit-Remaining slow us down before Zendesk has to refuse."""
    fake = FakeZendesk(clock=clock, history=history, rate_limit_per_minute=30)
    ids = sorted(fake.conversations)[:70]
    async with make_adapter(fake, clock) as adapter:
        got = [(await adapter.get_conversation(cid)).id for cid in ids]
        assert adapter.http.limiter.per_minute == 30
    assert got == ids
    assert fake.rate_limited == 0, f"{fake.rate_limited} requests were refused with 429"
    assert clock.slept >= 120, "70 requests at 30/min take more than two minutes"


async def test_with_options_changes_the_retry_cap(fake: FakeZendesk, adapter: ZendeskAdapter, clock: FakeClock) -> None:
    fake.fail_next(429, match="/users/me", headers={"Retry-After": "10"})
    async with adapter.with_options(max_retry_wait=5) as impatient:
        assert SECRET not in repr(impatient)
        with pytest.raises(RateLimitError):
            await impatient.check()
    assert clock.slept < 10
    fake.fail_next(429, match="/users/me", headers={"Retry-After": "10"})
    assert (await adapter.check()).ok, "the original keeps its own cap"
    with pytest.raises(TypeError, match="max_retry_wait"):
        adapter.with_options(max_retry_wiat=5)
