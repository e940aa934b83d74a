"""Faults from the issue: 429 storms, 5xx and dropped connections mid-pagination, malformed JSON, rate budget."""

from __future__ import annotations

import httpx
import pytest
from humansupport_helpscout import FakeHelpScout, HelpScoutAdapter

from humansupport import HelpdeskError, RateLimitError, ServerError
from humansupport.http import RetryPolicy
from humansupport.testing import FakeClock

from .conftest import make_adapter

LIST = r"/v2/conversations\Z"


async def test_429_with_vendor_retry_header_is_waited_out(
    adapter: HelpScoutAdapter, fake: FakeHelpScout, clock: FakeClock
) -> None:
    fake.fail_next(429, times=3, match=LIST, headers={"X-RateLimit-Retry-After": "5"})
    before = clock.slept
    got = [c.id async for c in adapter.iter_conversations()]
    assert sorted(got) == sorted(fake.conversations)
    assert clock.slept - before >= 15, "X-RateLimit-Retry-After was not honoured"


async def test_429_storm_ends_in_a_clear_rate_limit_error(
    adapter: HelpScoutAdapter, fake: FakeHelpScout, clock: FakeClock
) -> None:
    fake.fail_next(429, times=100, match=LIST, headers={"X-RateLimit-Retry-After": "5"})
    with pytest.raises(RateLimitError) as info:
        [c async for c in adapter.iter_conversations()]
    attempts = sum(1 for r in fake.requests if r.path == "/v2/conversations")
    assert attempts == adapter.http.retry_policy.max_attempts
    assert info.value.retry_after == 5
    assert "retry after 5s" in str(info.value)


async def test_429_asking_for_longer_than_the_cap_is_not_slept(
    adapter: HelpScoutAdapter, fake: FakeHelpScout, clock: FakeClock
) -> None:
    fake.fail_next(429, match=LIST, headers={"X-RateLimit-Retry-After": "3600"})
    with pytest.raises(RateLimitError) as info:
        [c async for c in adapter.iter_conversations()]
    assert info.value.retry_after == 3600
    assert clock.slept < 60


async def test_a_real_per_minute_limit_is_paced_with_writes_costing_double(clock: FakeClock) -> None:
    from .conftest import history

    fake = FakeHelpScout(clock=clock, history=history(), rate_limit_per_minute=30)
    async with make_adapter(fake, clock) as adapter:
        convs = [c async for c in adapter.iter_conversations()]
        agent = next(a for a in sorted(fake.agents) if fake.agents[a].active)
        for conv in convs[:10]:
            await adapter.assign(conv.id, agent)
    assert len(convs) == len(fake.conversations)
    assert fake.rate_limited <= 1, "the limiter learned nothing from X-RateLimit-*-Minute"
    patch = next(r for r in fake.requests if r.method == "PATCH")
    assert patch.status == 204
    remaining = [r for r in fake.requests if r.status in (200, 204)]
    assert remaining  # paced, not starved
    assert adapter.http.limiter.per_minute == 30


async def test_fake_charges_two_for_a_write() -> None:
    clock = FakeClock()
    from .conftest import history

    fake = FakeHelpScout(clock=clock, history=history(), rate_limit_per_minute=100)
    async with make_adapter(fake, clock) as adapter:
        cid = sorted(fake.conversations)[0]
        await adapter.get_conversation(cid)
        first = adapter.http.limiter.headroom().remaining
        agent = next(a for a in sorted(fake.agents) if fake.agents[a].active)
        await adapter.http.send_json(
            "PATCH", f"/v2/conversations/{cid}", json={"op": "replace", "path": "/assignTo", "value": int(agent)}
        )
        assert adapter.http.limiter.headroom().remaining == (first or 0) - 2


@pytest.mark.parametrize("fault", ["500", "503", "drop"])
async def test_fault_mid_pagination_has_no_duplicates_and_no_gaps(
    adapter: HelpScoutAdapter, fake: FakeHelpScout, fault: str
) -> None:
    fake.page_size = 7
    if fault == "drop":
        fake.drop_next(skip=2, match=LIST)
    else:
        fake.fail_next(int(fault), skip=2, match=LIST)
    got = [c.id async for c in adapter.iter_conversations()]
    assert len(got) == len(set(got))
    assert set(got) == set(fake.conversations)
    assert fake.faults == [], "the fault was never hit"
    listed = [r for r in fake.requests if r.path == "/v2/conversations" and r.status == 200]
    ok_pages = [int(r.url_params.get("page", "1")) for r in listed]
    assert ok_pages == list(range(1, len(ok_pages) + 1)), "a page was skipped or fetched twice"


async def test_listing_resumes_from_the_last_page_after_giving_up(fake: FakeHelpScout, clock: FakeClock) -> None:
    fake.page_size = 7
    fake.fail_next(500, times=50, skip=2, match=LIST)
    async with make_adapter(fake, clock, retry=RetryPolicy(max_attempts=2)) as adapter:
        seen: list[str] = []
        last_page = 0

        async def first_run() -> None:
            nonlocal seen, last_page
            async for page in adapter.iter_conversation_pages():
                seen += [str(item["id"]) for item in page.items]
                last_page = page.number

        with pytest.raises(ServerError):
            await first_run()
        assert last_page == 2
        fake.faults.clear()
        seen += [c.id async for c in adapter.iter_conversations(start_page=last_page + 1)]
    assert len(seen) == len(set(seen))
    assert set(seen) == set(fake.conversations)


async def test_malformed_json_is_a_clear_error(fake: FakeHelpScout, clock: FakeClock) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        response = fake(request)
        if request.url.path.startswith("/v2/conversations/"):
            return httpx.Response(200, content=b'{"id": 1, "status": ', headers={"Content-Type": "application/json"})
        return response

    async with HelpScoutAdapter(
        app_id=FakeHelpScout.app_id,
        app_secret=FakeHelpScout.app_secret,
        transport=httpx.MockTransport(broken),
        clock=clock,
    ) as adapter:
        with pytest.raises(HelpdeskError, match="malformed JSON"):
            await adapter.get_conversation(sorted(fake.conversations)[0])


async def test_token_endpoint_malformed_answer_is_a_clear_error(fake: FakeHelpScout, clock: FakeClock) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/oauth2/token":
            return httpx.Response(200, content=b"<html>maintenance</html>")
        return fake(request)

    async with HelpScoutAdapter(
        app_id=FakeHelpScout.app_id,
        app_secret=FakeHelpScout.app_secret,
        transport=httpx.MockTransport(broken),
        clock=clock,
    ) as adapter:
        with pytest.raises(HelpdeskError, match="no access_token"):
            await adapter.get_conversation(sorted(fake.conversations)[0])


async def test_records_without_ids_are_skipped_not_fatal(fake: FakeHelpScout, clock: FakeClock) -> None:
    def holes(request: httpx.Request) -> httpx.Response:
        response = fake(request)
        if request.url.path == "/v2/conversations" and response.status_code == 200:
            data = response.json()
            data["_embedded"]["conversations"].append({"subject": "no id", "status": "active"})
            return httpx.Response(200, json=data)
        return response

    async with HelpScoutAdapter(
        app_id=FakeHelpScout.app_id,
        app_secret=FakeHelpScout.app_secret,
        transport=httpx.MockTransport(holes),
        clock=clock,
    ) as adapter:
        got = [c.id async for c in adapter.iter_conversations()]
    assert sorted(got) == sorted(fake.conversations)


async def test_not_found_and_bad_page_answers(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    from humansupport import NotFoundError, ValidationError

    with pytest.raises(NotFoundError):
        await adapter.get_customer("99999999")
    with pytest.raises(ValidationError) as info:
        await adapter.http.get_json("/v2/conversations", params={"status": "Wrong"})
    assert "status" in info.value.field_errors


async def test_check_reports_account_and_headroom(clock: FakeClock) -> None:
    from .conftest import history

    fake = FakeHelpScout(clock=clock, history=history(), rate_limit_per_minute=120)
    async with make_adapter(fake, clock) as adapter:
        report = (await adapter.check()).to_dict()
    assert report["ok"] is True and report["vendor"] == "helpscout"
    assert report["rate_limit"] == 120
    assert report["rate_remaining"] == 118  # the token call and GET /v2/users/me
    assert report["account"] and "@" in report["account"]


async def test_a_409_from_the_vendor_is_a_conflict_outcome(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    from humansupport import Assignment, AssignmentOutcome

    cid = next(c.id for c in sorted(fake.conversations.values(), key=lambda c: int(c.id)) if c.status.is_open)
    agent = next(a for a in sorted(fake.agents) if fake.agents[a].active)
    fake.fail_next(409, match=lambda r: r.method == "PATCH")
    (result,) = await adapter.assign_many([Assignment(conversation_id=cid, agent_id=agent)])
    assert result.outcome is AssignmentOutcome.CONFLICT
    assert sum(1 for r in fake.requests if r.method == "PATCH") == 1, "a conflict must not be retried"


async def test_a_422_surfaces_the_vendor_field_errors(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    from humansupport import ProfilePatch, ValidationError

    body = {
        "logRef": "00000000-0000-0000-0000-000000000001",
        "message": "Unprocessable entity",
        "_embedded": {"errors": [{"path": "background", "message": "size must be between 0 and 200"}]},
    }
    fake.fail_next(422, match=lambda r: r.method == "PATCH", body=body)
    with pytest.raises(ValidationError) as info:
        await adapter.update_customer(sorted(fake.customers)[0], ProfilePatch(note="hi"))
    assert info.value.status == 422
    assert info.value.field_errors == {"background": ["size must be between 0 and 200"]}
    assert "size must be between 0 and 200" in str(info.value)
    assert info.value.request_id and info.value.request_id.startswith("fake-hs-")


async def test_a_conversation_moving_to_the_end_mid_listing_is_listed_once(
    adapter: HelpScoutAdapter, fake: FakeHelpScout, clock: FakeClock
) -> None:
    fake.page_size = 10
    got: list[str] = []
    async for conv in adapter.iter_conversations():
        got.append(conv.id)
        if len(got) == 3:
            clock.advance(1)
            fake.touch_conversation(got[0])  # newest modifiedAt now: it shows up again on the last page
    assert len(got) == len(set(got))
    assert set(got) <= set(fake.conversations)


async def test_find_customer_quotes_the_search(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    customer = next(c for c in fake.customers.values() if c.email)
    found = await adapter.find_customer(email=customer.email or "")
    assert found is not None and found.id == customer.id
    assert await adapter.find_customer(email='nobody"@example.com') is None
    queries = [r.url_params.get("query") for r in fake.requests if r.path == "/v2/customers"]
    assert queries[-1] == '(email:"nobody@example.com")'
