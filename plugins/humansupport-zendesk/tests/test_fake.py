"""The fake answers bad requests the way Zendesk does, and the user-field setup helper works against it."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from humansupport_zendesk import PROFILE_USER_FIELDS, FakeZendesk, ZendeskAdapter

from humansupport import ProfilePatch, ValidationError

AUTH = {
    "Authorization": "Basic " + base64.b64encode(f"{FakeZendesk.email}/token:{FakeZendesk.token}".encode()).decode()
}


def send(fake: FakeZendesk, method: str, path: str, body: Any = None) -> httpx.Response:
    return fake(httpx.Request(method, f"https://fake.zendesk.com{path}", json=body, headers=AUTH))


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/api/v2/incremental/tickets/cursor", None, 400),  # start_time or cursor required
        ("GET", "/api/v2/incremental/tickets/cursor?start_time=abc", None, 400),
        ("GET", "/api/v2/incremental/tickets/cursor?start_time=99999999999", None, 400),  # in the future
        ("GET", "/api/v2/incremental/tickets/cursor?cursor=bm9wZQ", None, 400),
        ("GET", "/api/v2/incremental/tickets/cursor?start_time=0&per_page=1001", None, 400),
        ("GET", "/api/v2/groups?page[size]=101", None, 400),
        ("GET", "/api/v2/search/export?query=type:ticket", None, 400),  # filter[type] required
        ("PUT", "/api/v2/tickets/100001", {"assignee_id": 2001}, 400),  # not wrapped in "ticket"
        ("PUT", "/api/v2/tickets/100001", {"ticket": {"safe_update": True, "updated_stamp": "yesterday"}}, 400),
        ("PUT", "/api/v2/tickets/100001", {"ticket": {"comment": {"public": False}}}, 422),
        ("PUT", "/api/v2/tickets/100001", {"ticket": {"group_id": 999}}, 422),
        ("PUT", "/api/v2/tickets/999999", {"ticket": {"assignee_id": None}}, 404),
        ("PUT", "/api/v2/tickets/update_many", {"tickets": [{"id": 100001, "safe_update": True}]}, 400),
        ("PUT", "/api/v2/tickets/update_many", {"tickets": [{"id": n} for n in range(1, 102)]}, 400),
        ("PUT", "/api/v2/tickets/update_many", {"nothing": True}, 400),
        ("PUT", "/api/v2/users/10001", {"user": {"user_fields": ["plan"]}}, 422),
        ("PUT", "/api/v2/users/10001/tags", {"tags": "vip"}, 400),
        ("PATCH", "/api/v2/tickets/100001", None, 405),  # Zendesk updates tickets with PUT only
        ("GET", "/api/v2/no_such_endpoint", None, 404),
    ],
)
def test_bad_requests_get_zendesks_answers(fake: FakeZendesk, method: str, path: str, body: Any, status: int) -> None:
    response = send(fake, method, path, body)
    assert response.status_code == status, response.text
    data = response.json()
    assert isinstance(data.get("error"), str) and data["error"]
    if status == 422:
        assert data["error"] == "RecordInvalid" and data["details"], "422s carry per-field details"


def test_bad_json_is_a_400(fake: FakeZendesk) -> None:
    request = httpx.Request("PUT", "https://fake.zendesk.com/api/v2/tickets/100001", content=b"{", headers=AUTH)
    assert fake(request).status_code == 400


def test_a_bulk_job_runs_later_on_the_clock(fake: FakeZendesk) -> None:
    agent = next(a for a, ag in sorted(fake.agents.items()) if ag.active)
    job = send(fake, "PUT", "/api/v2/tickets/update_many?ids=100001,100002", {"ticket": {"assignee_id": int(agent)}})
    status = job.json()["job_status"]
    assert status["status"] == "queued" and status["results"] is None
    assert send(fake, "GET", f"/api/v2/job_statuses/{status['id']}").json()["job_status"]["status"] != "completed"
    fake.clock.advance(fake.job_delay)
    done = send(fake, "GET", f"/api/v2/job_statuses/{status['id']}").json()["job_status"]
    assert done["status"] == "completed" and len(done["results"]) == 2
    assert send(fake, "GET", "/api/v2/job_statuses/V3-nope").status_code == 404


def test_export_429_after_ten_a_minute(fake: FakeZendesk) -> None:
    answers = [send(fake, "GET", "/api/v2/incremental/tickets/cursor?start_time=0").status_code for _ in range(11)]
    assert answers == [200] * 10 + [429]
    fake.clock.advance(60)
    assert send(fake, "GET", "/api/v2/incremental/tickets/cursor?start_time=0").status_code == 200


async def test_ensure_user_fields_creates_only_what_is_missing(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    for key in PROFILE_USER_FIELDS:
        fake.user_field_types.pop(key)
    customer = sorted(fake.customers)[0]
    with pytest.raises(ValidationError, match="humansupport_preferred_agent"):
        await adapter.update_customer(customer, ProfilePatch(custom_attributes={"humansupport_preferred_agent": "A"}))
    assert await adapter.ensure_user_fields(PROFILE_USER_FIELDS) == list(PROFILE_USER_FIELDS)
    assert await adapter.ensure_user_fields(PROFILE_USER_FIELDS) == [], "a second run creates nothing"
    after = await adapter.update_customer(
        customer, ProfilePatch(custom_attributes={"humansupport_preferred_agent": "A"})
    )
    assert after.custom_attributes["humansupport_preferred_agent"] == "A"
    with pytest.raises(ValidationError) as info:
        await adapter.ensure_user_fields({"bad key!": "text"})
    assert info.value.field_errors == {"key": ["Key is invalid"]}
