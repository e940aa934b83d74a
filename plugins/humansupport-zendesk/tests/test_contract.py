"""The contract check itself: it refuses what Zendesk's description does not allow, and it saw every endpoint.

Every other test here already runs through the kit's `ContractTransport` (`CONTRACT` in conftest.py); these
tests prove the check can fail, and that the adapter's whole surface went through it.
"""

from __future__ import annotations

import base64
import re

import httpx
import pytest
from humansupport_zendesk import FakeZendesk, ZendeskAdapter

from humansupport import Assignment, ProfilePatch

from .conftest import ContractViolation, check_request, check_response  # type: ignore[import-not-found]

AUTH = {"Authorization": "Basic " + base64.b64encode(b"a@fake.test/token:x").decode()}
BASE = "https://fake.zendesk.com"

#: Every endpoint the adapter uses, as the description names it.
ENDPOINTS = {
    ("GET", "/api/v2/incremental/tickets/cursor"),
    ("GET", "/api/v2/incremental/ticket_events"),
    ("GET", "/api/v2/incremental/users/cursor"),
    ("GET", "/api/v2/search/export"),
    ("GET", "/api/v2/tickets/{ticket_id}"),
    ("PUT", "/api/v2/tickets/{ticket_id}"),
    ("GET", "/api/v2/tickets/{ticket_id}/comments"),
    ("GET", "/api/v2/tickets/show_many"),
    ("PUT", "/api/v2/tickets/update_many"),
    ("GET", "/api/v2/job_statuses/{job_status_id}"),
    ("GET", "/api/v2/users"),
    ("GET", "/api/v2/users/me"),
    ("GET", "/api/v2/users/search"),
    ("GET", "/api/v2/users/{user_id}"),
    ("PUT", "/api/v2/users/{user_id}"),
    ("PUT", "/api/v2/users/{user_id}/tags"),
    ("GET", "/api/v2/groups"),
    ("GET", "/api/v2/group_memberships"),
    ("GET", "/api/v2/satisfaction_ratings"),
    ("GET", "/api/v2/user_fields"),
    ("POST", "/api/v2/user_fields"),
    ("GET", "/api/v2/macros"),
    ("GET", "/api/v2/webhooks"),
    ("POST", "/api/v2/webhooks"),
    ("GET", "/api/v2/webhooks/{webhook_id}/signing_secret"),
}


def _template(path: str) -> str:
    if path in {p for _, p in ENDPOINTS}:
        return path
    path = re.sub(r"^/api/v2/tickets/\d+", "/api/v2/tickets/{ticket_id}", path)
    path = re.sub(r"^/api/v2/users/\d+", "/api/v2/users/{user_id}", path)
    path = re.sub(r"^/api/v2/webhooks/[^/]+/signing_secret$", "/api/v2/webhooks/{webhook_id}/signing_secret", path)
    return re.sub(r"^/api/v2/job_statuses/[^/]+$", "/api/v2/job_statuses/{job_status_id}", path)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v2/tickets/1/not_an_endpoint", None),
        ("PATCH", "/api/v2/tickets/1", {"ticket": {"assignee_id": 1}}),
        ("GET", "/api/v3/tickets", None),
        ("PUT", "/api/v2/tickets/1", {"ticket": {"assignee_id": "two"}}),
        ("PUT", "/api/v2/tickets/1", {"ticket": {"status": "snoozed"}}),
        ("PUT", "/api/v2/tickets/update_many", {"tickets": [{"assignee_id": 5}]}),
        ("PUT", "/api/v2/users/1", {"profile": {}}),
        ("GET", "/api/v2/groups?page[size]=0", None),
        ("GET", "/api/v2/macros?active=maybe", None),
        ("POST", "/api/v2/webhooks", {"webhook": {"name": "x", "endpoint": "https://h.test", "status": "active"}}),
        (
            "POST",
            "/api/v2/webhooks",
            {
                "webhook": {
                    "name": "x",
                    "endpoint": "https://h.test",
                    "status": "active",
                    "http_method": "POST",
                    "request_format": "json",
                    "subscriptions": ["ticket.created"],
                }
            },
        ),
        ("GET", "/api/v2/webhooks?sort=name", None),
    ],
)
def test_requests_the_description_does_not_allow_fail(method: str, path: str, body: object) -> None:
    request = httpx.Request(method, BASE + path, json=body, headers=AUTH)
    with pytest.raises(ContractViolation):
        check_request(request)


def test_a_request_without_credentials_fails() -> None:
    with pytest.raises(ContractViolation):
        check_request(httpx.Request("GET", BASE + "/api/v2/groups"))


def test_responses_the_description_does_not_allow_fail() -> None:
    request = httpx.Request("GET", BASE + "/api/v2/tickets/1", headers=AUTH)
    check_response(request, httpx.Response(200, json={"ticket": {"id": 1, "status": "open"}}))
    with pytest.raises(ContractViolation):
        check_response(request, httpx.Response(200, json={"ticket": {"id": 1, "status": "snoozed"}}))
    with pytest.raises(ContractViolation):
        check_response(request, httpx.Response(200, json={"ticket": {"id": "one"}}))
    with pytest.raises(ContractViolation):  # write-only fields never come back
        check_response(request, httpx.Response(200, json={"ticket": {"id": 1, "safe_update": True}}))


async def test_every_endpoint_the_adapter_uses_was_validated(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    fake.page_size = 200
    fake.export_limit_per_minute = None
    every = [c async for c in adapter.iter_conversations()]
    conv = next(c for c in every if c.status.is_open and c.group_id)
    [c async for c in adapter.iter_conversations(status=[conv.status])]
    await adapter.get_conversation(conv.id)
    [m async for m in adapter.iter_messages(conv.id)]
    [m async for m in adapter.iter_all_messages()]
    [a async for a in adapter.iter_agents()]
    [g async for g in adapter.iter_groups()]
    [r async for r in adapter.iter_ratings()]
    customers = [c async for c in adapter.iter_customers()]
    await adapter.find_customer(email=customers[0].email or "x@example.com")
    await adapter.get_customer(customers[0].id)
    await adapter.update_customer(customers[0].id, ProfilePatch(note="n", tags=["t"]))
    agent = next(a for a, ag in sorted(fake.agents.items()) if ag.active and conv.group_id in ag.group_ids)
    await adapter.assign(conv.id, agent, expected_version=conv.version)
    fake.job_delay = 2
    await adapter.assign_many([Assignment(conversation_id=conv.id, agent_id=agent)])
    await adapter.add_internal_note(conv.id, "note")
    await adapter.check()
    await adapter.ensure_user_fields({"humansupport_contract_check": "text"})
    assert [r async for r in adapter.iter_saved_replies()]
    await adapter.register_webhook(url="https://hooks.example.test/zendesk")
    seen = {(r.method, _template(r.path)) for r in fake.requests}
    assert seen == ENDPOINTS, f"unexpected: {seen - ENDPOINTS}, never exercised: {ENDPOINTS - seen}"
    assert all(r.status is not None and r.status < 400 for r in fake.requests), "every answer was a success"
