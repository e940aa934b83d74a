"""Contract tests: the description knows every request the adapter sends, and the checker really checks.

Every other test in this folder talks to the fake through `ContractTransport`; these tests prove the
checker rejects what Freshdesk would reject, that a full run exercises every operation described, and that
the vendor's own sample payloads fit the response schemas we wrote.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS31Validator

from humansupport.models import Assignment, ProfilePatch

from .conftest import Env
from .contract import CONTRACT, check_request, check_response, description
from .vendor_files import samples_dir

BASE = "https://acme.freshdesk.com"


def req(method: str, path: str, *, params: dict[str, Any] | None = None, json_body: Any = None) -> httpx.Request:
    request = httpx.Request(method, BASE + path, params=params, json=json_body)
    request.headers["Authorization"] = "Basic ZmFrZTpY"  # base64("fake:X")
    return request


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "why"),
    [
        ("GET", "/api/v2/tickets/5/export", None, None, "not in the description"),
        ("GET", "/api/v2/tickets/export", None, None, "request"),  # the id must be a number
        ("DELETE", "/api/v2/tickets/5", None, None, "not in the description"),
        ("GET", "/api/v2/tickets", {"status": "2"}, None, "undeclared query"),
        ("GET", "/api/v2/tickets", {"updated_since": "2026-01-01T00:00:00+00:00"}, None, "updated_since"),
        ("GET", "/api/v2/tickets", {"per_page": "101"}, None, "per_page"),
        ("GET", "/api/v2/tickets", {"order_by": "priority"}, None, "order_by"),
        ("PUT", "/api/v2/tickets/5", None, {"assignee_id": 7}, "request"),
        ("PUT", "/api/v2/tickets/5", None, {"responder_id": "7"}, "request"),
        ("PUT", "/api/v2/tickets/5", None, {}, "request"),
        ("POST", "/api/v2/tickets/bulk_update", None, {"bulk_action": {"ids": []}}, "request"),
        ("POST", "/api/v2/tickets/5/notes", None, {"private": True}, "request"),
        ("PUT", "/api/v2/contacts/9", None, {"custom_fields": {}, "avatar_url": "x"}, "request"),
    ],
)
def test_checker_rejects_what_freshdesk_would(
    method: str, path: str, params: dict[str, Any] | None, body: Any, why: str
) -> None:
    with pytest.raises(AssertionError, match=why):
        check_request(req(method, path, params=params, json_body=body))


def test_checker_accepts_what_the_adapter_sends() -> None:
    check_request(req("GET", "/api/v2/tickets", params={"updated_since": "2026-01-01T00:00:00Z",
                                                        "order_by": "updated_at", "order_type": "asc",
                                                        "per_page": 100, "page": 2}))  # fmt: skip
    check_request(req("PUT", "/api/v2/tickets/5", json_body={"responder_id": None, "group_id": 3}))
    check_request(req("POST", "/api/v2/tickets/bulk_update",
                      json_body={"bulk_action": {"ids": [1, 2], "properties": {"responder_id": 4}}}))  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, {"id": 1}),  # a ticket without status/created_at/updated_at
        (200, {"id": "1", "status": 2, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}),
        (400, {"message": "bad"}),  # validation errors carry description + errors
    ],
)
def test_checker_rejects_bad_responses(status: int, body: Any) -> None:
    request = req("GET", "/api/v2/tickets/1")
    with pytest.raises(AssertionError, match="contract: response"):
        check_response(request, httpx.Response(status, json=body, request=request))


async def test_a_full_run_exercises_every_described_operation(env: Env) -> None:
    env.fake.page_size = 20
    convs = [c async for c in env.adapter.iter_conversations()]
    open_ = [c for c in convs if c.status.is_open][:3]
    await env.adapter.get_conversation(open_[0].id)
    _ = [m async for m in env.adapter.iter_messages(open_[0].id)]
    agents = [a async for a in env.adapter.iter_agents()]
    _ = [g async for g in env.adapter.iter_groups()]
    _ = [r async for r in env.adapter.iter_ratings()]
    customers = [c async for c in env.adapter.iter_customers()]
    assert customers[0].email
    await env.adapter.find_customer(email=customers[0].email)
    await env.adapter.update_customer(customers[0].id, ProfilePatch(tags=["contract"]))
    await env.adapter.assign(open_[0].id, agents[0].id, expected_version=open_[0].version)
    await env.adapter.assign_many([Assignment(conversation_id=c.id, agent_id=agents[1].id) for c in open_[1:]])
    await env.adapter.add_internal_note(open_[0].id, "contract")
    await env.adapter.check()
    await env.adapter.http.get_json("/api/v2/contact_fields")
    assert [r async for r in env.adapter.iter_saved_replies()]
    env.fake.canned_list_content = False
    assert [r async for r in env.adapter.iter_saved_replies()]
    used = {(r.method.lower(), _template(r.path)) for r in env.fake.requests}
    described = {(m, p) for p, item in description()["paths"].items() for m in item if m != "parameters"}
    assert described <= used, f"operations never exercised: {sorted(described - used)}"
    assert env.contract.checked == len(env.fake.requests)


def _template(path: str) -> str:
    """The described path template a concrete path belongs to; literal paths win over `{id}` ones."""
    templates = sorted(description()["paths"], key=lambda t: t.count("{"))
    for template in templates:
        parts, given = template.split("/"), path.split("/")
        if len(parts) == len(given) and all(p.startswith("{") or p == g for p, g in zip(parts, given, strict=True)):
            return template
    return path


_SCHEMA_FOR = {
    "ticket_1.json": "Ticket",
    "ticket_1_updated.json": "Ticket",
    "agent_1.json": "Agent",
    "agents.json": "Agent",
    "contact_updated.json": "Contact",
    "conversations.json": "Conversation",
    "note_1.json": "Conversation",
    "reply_1.json": "Conversation",
    "group_1.json": "Group",
    "groups.json": "Group",
    "role_1.json": "Role",
    "roles.json": "Role",
    "contacts.json": "Contact",
}


@pytest.mark.parametrize("name", sorted(_SCHEMA_FOR))
def test_vendor_samples_fit_our_response_schemas(name: str) -> None:
    spec = description()
    validator = OAS31Validator({"$ref": f"#/components/schemas/{_SCHEMA_FOR[name]}", "components": spec["components"]})
    data = json.loads((samples_dir() / name).read_text())
    for record in data if isinstance(data, list) else [data]:
        errors = [e.message for e in validator.iter_errors(record)]
        assert not errors, errors


def test_contract_transport_counts_what_it_checked() -> None:
    transport = CONTRACT.wrap(httpx.MockTransport(lambda r: httpx.Response(200, json=[])))
    assert transport.check_responses and transport.checked == 0
