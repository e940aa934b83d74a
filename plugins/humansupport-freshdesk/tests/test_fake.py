"""The fake answers bad requests the way Freshdesk does: status, `Validation failed` body, field and code."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from humansupport_freshdesk import FakeFreshdesk

from .conftest import small_history

BASE = "https://humansupport-fake.freshdesk.com"
T = "/api/v2/tickets/{tid}"


@pytest.fixture
def fake() -> FakeFreshdesk:
    return FakeFreshdesk(history=small_history())


def send(fake: FakeFreshdesk, method: str, path: str, *, content: bytes | None = None, json_body: Any = None,
         params: dict[str, Any] | None = None, content_type: str | None = "application/json",
         auth: tuple[str, str] | None = None) -> httpx.Response:  # fmt: skip
    request = httpx.Request(method, BASE + path, params=params, json=json_body, content=content)
    if content_type is None:
        del request.headers["content-type"]
    elif content is not None:
        request.headers["content-type"] = content_type
    user, password = auth or (fake.api_key, "X")
    request.headers["authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return fake(request)


def ticket_id(fake: FakeFreshdesk) -> str:
    return sorted(fake.conversations)[0]


@pytest.mark.parametrize(
    ("method", "path", "kw", "status", "field", "code"),
    [
        ("GET", "/api/v2/tickets", {"params": {"per_page": 101}}, 400, "per_page", "invalid_value"),
        ("GET", "/api/v2/tickets", {"params": {"page": "x"}}, 400, "page", "datatype_mismatch"),
        ("GET", "/api/v2/tickets", {"params": {"status": 2}}, 400, "status", "invalid_field"),
        ("GET", "/api/v2/tickets", {"params": {"updated_since": "yesterday"}}, 400, "updated_since", "invalid_value"),
        ("GET", "/api/v2/tickets", {"params": {"order_type": "up"}}, 400, "order_type", "invalid_value"),
        ("PUT", T, {"json_body": {"assignee_id": 1}}, 400, "assignee_id", "invalid_field"),
        ("PUT", T, {"json_body": {"responder_id": "2001"}}, 400, "responder_id", "datatype_mismatch"),
        ("PUT", T, {"json_body": {"group_id": 999}}, 400, "group_id", "invalid_value"),
        ("PUT", T, {"json_body": {"status": 9}}, 400, "status", "invalid_value"),
        ("PUT", T, {"content": b"{not json"}, 400, "", "invalid_json"),
        ("PUT", T, {"content": b"{}", "content_type": "text/plain"}, 415, "", "invalid_content_type"),
        ("POST", "/api/v2/tickets/{tid}/notes", {"json_body": {"private": True}}, 400, "body", "missing_field"),
        ("POST", "/api/v2/tickets/{tid}/notes", {"json_body": {"body": "x", "private": "yes"}}, 400, "private",
         "datatype_mismatch"),
        ("POST", "/api/v2/tickets/bulk_update", {"json_body": {"bulk_action": {"ids": ["1"]}}}, 400, "ids",
         "datatype_mismatch"),
        ("POST", "/api/v2/tickets/bulk_update", {"json_body": {"ids": [1]}}, 400, "ids", "invalid_field"),
        ("PUT", "/api/v2/contacts/10001", {"json_body": {"custom_fields": {"nope": 1}}}, 400, "nope", "invalid_field"),
        ("PUT", "/api/v2/contacts/10001", {"json_body": {"tags": "vip"}}, 400, "tags", "datatype_mismatch"),
        ("PUT", "/api/v2/contacts/10001", {"json_body": {"email": "{other_email}"}}, 409, "email", "duplicate_value"),
        ("GET", "/api/v2/contacts", {"params": {"_updated_since": "2026-13-01T00:00:00Z"}}, 400, "_updated_since",
         "invalid_value"),
    ],
)  # fmt: skip
def test_validation_errors(
    fake: FakeFreshdesk, method: str, path: str, kw: dict[str, Any], status: int, field: str, code: str
) -> None:
    other = sorted(fake.customers.values(), key=lambda c: c.id)[1].email
    if "json_body" in kw and isinstance(kw["json_body"], dict) and kw["json_body"].get("email") == "{other_email}":
        kw = {"json_body": {"email": other}}
    response = send(fake, method, path.format(tid=ticket_id(fake)), **kw)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["description"] == "Validation failed"
    assert body["errors"][0]["code"] == code and body["errors"][0]["field"] == field


def test_page_cap_answers_the_vendor_message(fake: FakeFreshdesk) -> None:
    fake.page_cap = 2
    response = send(fake, "GET", "/api/v2/tickets", params={"page": 3, "updated_since": "2000-01-01T00:00:00Z"})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "page" and "You cannot access tickets beyond the 2th page" in error["message"]


@pytest.mark.parametrize(
    ("path", "status"), [("/api/v2/tickets/1", 404), ("/api/v2/jobs/nope", 404), ("/api/v2/nothing", 404)]
)
def test_not_found_shape(fake: FakeFreshdesk, path: str, status: int) -> None:
    response = send(fake, "GET", path)
    assert response.status_code == status and set(response.json()) == {"code", "message"}


def test_wrong_key_and_wrong_scheme_are_401(fake: FakeFreshdesk) -> None:
    assert send(fake, "GET", "/api/v2/agents/me", auth=("someone-else", "X")).status_code == 401
    request = httpx.Request("GET", BASE + "/api/v2/agents/me", headers={"Authorization": f"Bearer {fake.api_key}"})
    response = fake(request)
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"


def test_any_password_is_accepted(fake: FakeFreshdesk) -> None:
    assert send(fake, "GET", "/api/v2/agents/me", auth=(fake.api_key, "anything")).status_code == 200


def test_every_response_carries_rate_limit_headers(fake: FakeFreshdesk) -> None:
    first = send(fake, "GET", "/api/v2/agents/me")
    second = send(fake, "GET", "/api/v2/tickets/1")
    assert first.headers["X-RateLimit-Total"] == "700" and first.headers["X-RateLimit-Used-CurrentRequest"] == "1"
    assert int(second.headers["X-RateLimit-Remaining"]) == int(first.headers["X-RateLimit-Remaining"]) - 1


def test_account_limit_answers_429_with_retry_after(fake: FakeFreshdesk) -> None:
    fake.rate_limit_per_minute = 2
    assert [send(fake, "GET", "/api/v2/agents/me").status_code for _ in range(3)] == [200, 200, 429]
    limited = send(fake, "GET", "/api/v2/agents/me")
    assert int(limited.headers["Retry-After"]) > 0 and limited.headers["X-RateLimit-Remaining"] == "0"
    fake.clock.advance(61)
    assert send(fake, "GET", "/api/v2/agents/me").status_code == 200


def test_endpoint_limit_is_separate_from_other_endpoints(fake: FakeFreshdesk) -> None:
    fake.endpoint_limits = {"tickets_list": 1}
    params = {"updated_since": "2000-01-01T00:00:00Z"}
    assert send(fake, "GET", "/api/v2/tickets", params=params).status_code == 200
    assert send(fake, "GET", "/api/v2/tickets", params=params).status_code == 429
    assert send(fake, "GET", "/api/v2/agents").status_code == 200
    assert fake.endpoint_limited == {"tickets_list": 1}


def test_bulk_job_reports_progress_then_per_ticket_results(fake: FakeFreshdesk) -> None:
    agent = sorted(a.id for a in fake.agents.values() if a.active)[0]
    ids = [int(t) for t in sorted(fake.conversations)[:2]] + [999]
    started = send(fake, "POST", "/api/v2/tickets/bulk_update",
                   json_body={"bulk_action": {"ids": ids, "properties": {"responder_id": int(agent)}}})  # fmt: skip
    assert started.status_code == 202
    job = started.json()["job_id"]
    assert send(fake, "GET", f"/api/v2/jobs/{job}").json()["status"] == "IN PROGRESS"
    fake.clock.advance(fake.job_seconds)
    done = send(fake, "GET", f"/api/v2/jobs/{job}").json()
    assert done["status"] == "PARTIAL"
    assert [(d["id"], d["success"]) for d in done["data"]] == [(ids[0], True), (ids[1], True), (999, False)]
