"""Bad input and faults: each answer Intercom can give, and what the adapter makes of it."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import httpx
import pytest
from humansupport_intercom import FakeIntercom, IntercomAdapter

from humansupport import (
    AssignmentOutcome,
    AuthenticationError,
    ConflictError,
    HelpdeskError,
    NotFoundError,
    PermissionDeniedError,
    ProfilePatch,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from humansupport.models import Assignment
from humansupport.testing import FakeClock

T = TypeVar("T")
SEARCH = "/conversations/search"


async def collect(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]


def _open_pair(fake: FakeIntercom) -> tuple[str, str]:
    for conv in sorted(fake.conversations.values(), key=lambda c: int(c.id)):
        if conv.status.is_open:
            for agent in sorted(fake.agents.values(), key=lambda a: a.id):
                if agent.active and agent.id != conv.assignee_id:
                    return conv.id, agent.id
    raise AssertionError("no open conversation")


def _error_body(code: str, message: str, *, field: str | None = None, rid: str = "req-0001") -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"type": "error.list", "request_id": rid, "errors": [error]}


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert FakeIntercom.token not in text


# -- 401 / 403 ----------------------------------------------------------------------------------------


def test_401_names_the_setting_to_fix_and_the_request_id(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        fake.revoke_credentials()
        with pytest.raises(AuthenticationError) as info:
            await adapter.get_conversation("100001")
        err = info.value
        assert "HUMANSUPPORT_INTERCOM_ACCESS_TOKEN" in str(err) and "HUMANSUPPORT_INTERCOM_REGION" in str(err)
        assert err.request_id and err.request_id in str(err), "Intercom's request_id comes from the error body"
        _no_secret(str(err), repr(err), "".join(traceback.format_exception(err)), repr(adapter))

    run_intercom(scenario)


def test_403_is_permission_denied_with_a_hint(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        fake.fail_next(403, body=_error_body("api_plan_restricted", "Active subscription needed.", rid="rid-403"))
        with pytest.raises(PermissionDeniedError) as info:
            await collect(adapter.iter_agents())
        text = str(info.value)
        assert "Active subscription needed." in text and "rid-403" in text
        assert "HUMANSUPPORT_INTERCOM_ACCESS_TOKEN" in text and "docs/vendors/intercom.md" in text

    run_intercom(scenario)


# -- 404: deleted mid-run -----------------------------------------------------------------------------


def test_conversation_deleted_mid_run_is_skipped_and_reported(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        fake.page_size = 25
        ordered = sorted(fake.conversations, key=int)
        doomed_unlisted, doomed_listed = ordered[60], ordered[3]
        synced: dict[str, int] = {}
        skipped: list[str] = []
        async for page in adapter.iter_conversation_pages():
            if page.number == 1:
                fake.delete_conversation(doomed_unlisted)  # gone before its page is fetched
                fake.delete_conversation(doomed_listed)  # gone after it was listed
            for conv in page.conversations:
                try:
                    synced[conv.id] = len(await collect(adapter.iter_messages(conv.id)))
                except NotFoundError:
                    skipped.append(conv.id)
        assert skipped == [doomed_listed]
        assert doomed_unlisted not in synced
        assert set(synced) == set(ordered) - {doomed_listed, doomed_unlisted}, "the run went on past the 404"

    run_intercom(scenario)


def test_unknown_conversation_assign_is_not_found(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        with pytest.raises(NotFoundError):
            await adapter.assign("999999999", "2002")
        assert not [r for r in fake.requests if r.method == "POST"]

    run_intercom(scenario)


# -- 409 / stale --------------------------------------------------------------------------------------


def test_409_from_intercom_is_a_conflict_and_not_retried(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv_id, agent_id = _open_pair(fake)
        fake.fail_next(409, match="/parts", body=_error_body("conflict", "Conversation was modified"))
        with pytest.raises(ConflictError, match="Conversation was modified"):
            await adapter.assign(conv_id, agent_id)
        assert len([r for r in fake.requests if r.path.endswith("/parts")]) == 1
        assert fake.conversations[conv_id].assignee_id != agent_id

    run_intercom(scenario)


def test_a_human_change_between_plan_and_apply_is_never_overwritten(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, clock: FakeClock) -> None:
        conv_id, agent_id = _open_pair(fake)
        planned = await adapter.get_conversation(conv_id)
        clock.advance(2)
        fake.touch_conversation(conv_id, assignee_id=None)  # a human unassigned it in the inbox
        [result] = await adapter.assign_many(
            [Assignment(conversation_id=conv_id, agent_id=agent_id, expected_version=planned.version)]
        )
        assert result.outcome is AssignmentOutcome.CONFLICT
        assert fake.conversations[conv_id].assignee_id is None

    run_intercom(scenario)


# -- 400 / 422 ----------------------------------------------------------------------------------------


def test_422_field_errors_are_surfaced(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        cid = next(c.id for c in fake.customers.values() if "seats" in c.custom_attributes)
        assert fake.data_attributes["seats"]["data_type"] == "integer"
        with pytest.raises(ValidationError) as info:
            await adapter.update_customer(cid, ProfilePatch(custom_attributes={"seats": "many"}))
        err = info.value
        assert err.status == 422 and "seats" in err.field_errors
        assert "expects integer" in str(err) and err.request_id

    run_intercom(scenario)


def test_400_from_intercom_keeps_its_field(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        fake.fail_next(
            400, match="/reply", body=_error_body("parameter_invalid", "Body is too long", field="body", rid="r4")
        )
        with pytest.raises(ValidationError) as info:
            await adapter.add_internal_note(sorted(fake.conversations)[0], "x" * 10)
        assert info.value.field_errors == {"body": ["Body is too long"]}
        assert len([r for r in fake.requests if r.path.endswith("/reply")]) == 1

    run_intercom(scenario, admin_id="2002")


# -- 429 ----------------------------------------------------------------------------------------------


def test_429_waits_until_the_reset_time_then_succeeds(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, clock: FakeClock) -> None:
        reset = int(clock.now().timestamp()) + 7
        headers = {"X-RateLimit-Limit": "167", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
        fake.fail_next(429, headers=headers, body=_error_body("rate_limit_exceeded", "Exceeded rate limit"))
        before = clock.slept
        assert await collect(adapter.iter_groups())
        assert 6 <= clock.slept - before <= 8, "no Retry-After: the wait comes from X-RateLimit-Reset"

    run_intercom(scenario)


def test_429_storm_is_retried_within_the_cap_then_a_clear_rate_limit_error(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, clock: FakeClock) -> None:
        def headers() -> dict[str, str]:
            return {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(clock.now().timestamp()) + 3)}

        fake.fail_next(429, times=50, headers=headers())
        with pytest.raises(RateLimitError) as info:
            await collect(adapter.iter_agents())
        attempts = len([r for r in fake.requests if r.path == "/admins"])
        assert attempts == adapter.http.retry_policy.max_attempts
        assert clock.slept < 60, "the storm was not slept out for long"
        assert "rate limit" in str(info.value).lower()

    run_intercom(scenario)


def test_429_with_a_far_reset_fails_at_once(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, clock: FakeClock) -> None:
        reset = str(int(clock.now().timestamp()) + 3600)
        fake.fail_next(429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
        with pytest.raises(RateLimitError) as info:
            await collect(adapter.iter_groups())
        assert info.value.retry_after is not None and info.value.retry_after > 3000
        assert clock.slept == 0

    run_intercom(scenario)


def test_the_fakes_own_window_limit_answers_429_like_intercom(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, clock: FakeClock) -> None:
        fake.rate_limit_per_minute = 12  # 2 per 10-second window
        responses = [fake(httpx.Request("GET", "https://api.intercom.io/teams", headers=_auth())) for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 429]
        limited = responses[-1]
        assert "retry-after" not in limited.headers, "Intercom documents no Retry-After"
        assert limited.headers["x-ratelimit-remaining"] == "0"
        assert int(limited.headers["x-ratelimit-reset"]) > clock.now().timestamp()
        assert limited.json()["errors"][0]["message"] == "Exceeded rate limit of 2 in 10_seconds"

    run_intercom(scenario)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {FakeIntercom.token}", "Intercom-Version": "2.14"}


# -- 5xx and dropped connections mid-pagination -------------------------------------------------------


def test_5xx_and_dropped_connections_mid_pagination_are_retried_without_gaps(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        fake.page_size = 20
        fake.fail_next(503, skip=1, match=SEARCH)
        fake.drop_next(skip=3, match=SEARCH)
        fake.fail_next(502, times=2, skip=5, match=SEARCH)
        got = [c.id for c in await collect(adapter.iter_conversations())]
        assert len(got) == len(set(got)) and set(got) == set(fake.conversations)
        assert [r.status for r in fake.requests if r.status and r.status >= 500] == [503, 502, 502]
        assert not fake.faults, "every fault was hit"

    run_intercom(scenario)


def test_a_run_that_gives_up_resumes_from_the_last_page_checkpoint(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        fake.page_size = 20
        fake.fail_next(500, times=100, skip=3, match=SEARCH)
        seen: list[str] = []
        checkpoint: str | None = None
        failure: BaseException | None = None
        try:
            async for page in adapter.iter_conversation_pages():
                seen.extend(c.id for c in page.conversations)
                checkpoint = page.next_cursor  # saved after the page is stored
        except ServerError as exc:
            failure = exc
        assert isinstance(failure, ServerError), "the retries were exhausted"
        assert len(seen) == 60 and checkpoint
        fake.faults.clear()
        async for page in adapter.iter_conversation_pages(starting_after=checkpoint):
            seen.extend(c.id for c in page.conversations)
        assert len(seen) == len(set(seen)) and set(seen) == set(fake.conversations)

    run_intercom(scenario)


# -- malformed JSON -----------------------------------------------------------------------------------


def _corrupt(
    path_suffix: str, *, once: bool = True
) -> Callable[[FakeIntercom], Callable[[httpx.Request], httpx.Response]]:
    """A transport that lets the fake answer, then garbles the body of the first matching answer."""

    def wrap(fake: FakeIntercom) -> Callable[[httpx.Request], httpx.Response]:
        left = [1 if once else 10**9]

        def handler(request: httpx.Request) -> httpx.Response:
            response = fake(request)
            if request.url.path.endswith(path_suffix) and left[0] > 0:
                left[0] -= 1
                return httpx.Response(200, content=b'{"type": "conversation", "id": ', headers=response.headers)
            return response

        return handler

    return wrap


def test_malformed_json_is_a_clear_error(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        with pytest.raises(HelpdeskError, match=r"GET /conversations/100001 -> 200; malformed JSON") as info:
            await adapter.get_conversation("100001")
        assert info.value.__cause__ is None and info.value.__suppress_context__

    run_intercom(scenario, wrap=_corrupt("/conversations/100001"))


def test_garbled_answer_to_an_assignment_is_resolved_by_reading_back(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv_id, agent_id = _open_pair(fake)
        result = await adapter.assign(conv_id, agent_id)
        assert result.assignee_id == agent_id
        assert len([r for r in fake.requests if r.path.endswith("/parts")]) == 1, "never blindly retried"

    run_intercom(scenario, wrap=_corrupt("/parts"))


# -- assignment writes under faults -------------------------------------------------------------------


def test_assignment_5xx_before_it_landed_is_raised_after_a_read_back(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv_id, agent_id = _open_pair(fake)
        fake.fail_next(500, match="/parts")
        start = len(fake.requests)
        with pytest.raises(ServerError):
            await adapter.assign(conv_id, agent_id)
        sent = [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in fake.requests[start:]]
        assert sent == [("GET", conv_id, 200), ("GET", "me", 200), ("POST", "parts", 500), ("GET", conv_id, 200)]
        assert fake.conversations[conv_id].assignee_id != agent_id

    run_intercom(scenario)


def test_assignment_that_landed_but_lost_its_answer_is_not_repeated(run_intercom: Any) -> None:
    def wrap(fake: FakeIntercom) -> Callable[[httpx.Request], httpx.Response]:
        def handler(request: httpx.Request) -> httpx.Response:
            response = fake(request)
            if request.url.path.endswith("/parts"):
                raise httpx.ReadTimeout("answer lost", request=request)
            return response

        return handler

    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv_id, agent_id = _open_pair(fake)
        result = await adapter.assign(conv_id, agent_id)
        assert result.assignee_id == agent_id
        assert len(fake.event_parts[conv_id]) == 1, "the assignment was written exactly once"

    run_intercom(scenario, wrap=wrap)


def test_dropped_connection_on_assignment_is_not_retried(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv_id, agent_id = _open_pair(fake)
        fake.drop_next(match="/parts")
        with pytest.raises(TransportError):
            await adapter.assign(conv_id, agent_id)
        assert not fake.faults and conv_id not in fake.event_parts

    run_intercom(scenario)


# -- a customer or agent deleted while referenced -----------------------------------------------------


def test_deleted_customer_still_referenced_by_conversations(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv = sorted(fake.conversations.values(), key=lambda c: int(c.id))[0]
        customer = fake.customers[conv.customer_id or ""]
        fake.delete_contact(customer.id)
        assert (await adapter.get_conversation(conv.id)).customer_id == customer.id
        assert [m.author_id for m in await collect(adapter.iter_messages(conv.id))]
        with pytest.raises(NotFoundError):
            await adapter.get_customer(customer.id)
        with pytest.raises(NotFoundError):
            await adapter.update_customer(customer.id, ProfilePatch(tags=["hs-vip"]))
        assert await adapter.find_customer(email=customer.email or "") is None

    run_intercom(scenario)


def test_agent_removed_while_referenced(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv = next(c for c in sorted(fake.conversations.values(), key=lambda c: int(c.id)) if c.assignee_id)
        gone = conv.assignee_id or ""
        fake.remove_admin(gone)
        assert gone not in {a.id for a in await collect(adapter.iter_agents())}
        assert all(gone not in g.agent_ids for g in await collect(adapter.iter_groups()))
        assert (await adapter.get_conversation(conv.id)).assignee_id == gone, "history keeps the old assignee"
        messages = await collect(adapter.iter_messages(conv.id))
        assert any(m.author_id == gone for m in messages), "their replies still map"
        target = next(c for c in fake.conversations.values() if c.status.is_open)
        with pytest.raises(NotFoundError, match="Admin not found"):
            await adapter.assign(target.id, gone)
        [result] = await adapter.assign_many([Assignment(conversation_id=target.id, agent_id=gone)])
        assert result.outcome is AssignmentOutcome.NOT_FOUND

    run_intercom(scenario, admin_id="2002")


def test_a_version_intercom_does_not_know_is_a_clear_400(run_intercom: Any, contract: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        with pytest.raises(ValidationError, match="intercom_version_invalid") as info:
            await collect(adapter.iter_agents())
        assert info.value.status == 400 and "'3.0'" in str(info.value)

    with contract.paused():  # no description exists for 3.0: that is the point
        run_intercom(scenario, api_version="3.0")


def test_the_token_appears_in_no_log_record(run_intercom: Any, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        fake.fail_next(503, match=SEARCH)
        await collect(adapter.iter_conversations())
        fake.revoke_credentials()
        with pytest.raises(AuthenticationError):
            await adapter.check()

    with caplog.at_level(logging.DEBUG):
        run_intercom(scenario)
    assert any("retrying" in r.getMessage() for r in caplog.records), "the retry was logged"
    for record in caplog.records:
        assert FakeIntercom.token not in record.getMessage()
        assert "Bearer" not in record.getMessage()
