"""Contract tests: what the adapter sends and what the fake answers match Intercom's official OAS.

The checker (conftest.py: the toolkit's ContractTransport per Intercom-Version) sees every exchange of this
test session; these tests prove it can fail, and that a run through every adapter method is checked request
by request, for 2.14 and 2.16.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import httpx
import pytest
from humansupport_intercom import FakeIntercom, IntercomAdapter

from humansupport import Assignment, ProfilePatch
from humansupport.testing import FakeClock

T = TypeVar("T")
BASE = "https://api.intercom.io"
HEADERS = {"Intercom-Version": "2.14", "Authorization": "Bearer x", "Content-Type": "application/json"}

#: every operation the adapter uses (OAS path templates)
OPERATIONS = {
    ("GET", "/me"),
    ("GET", "/admins"),
    ("GET", "/teams"),
    ("GET", "/tags"),
    ("POST", "/tags"),
    ("GET", "/data_attributes"),
    ("POST", "/data_attributes"),
    ("POST", "/conversations/search"),
    ("GET", "/conversations/{conversation_id}"),
    ("POST", "/conversations/{conversation_id}/parts"),
    ("POST", "/conversations/{conversation_id}/reply"),
    ("GET", "/contacts"),
    ("POST", "/contacts/search"),
    ("GET", "/contacts/{contact_id}"),
    ("PUT", "/contacts/{contact_id}"),
    ("GET", "/contacts/{contact_id}/tags"),
    ("POST", "/contacts/{contact_id}/tags"),
    ("POST", "/contacts/{contact_id}/notes"),
}


#: the Macros API exists from 2.16 on; the adapter sends it with `Intercom-Version: 2.16` in any case
MACRO_OPERATIONS = {("GET", "/macros"), ("GET", "/macros/{id}")}


async def collect(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]


def _ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json=data)


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        (httpx.Request("GET", f"{BASE}/conversations/1/mailbox", headers=HEADERS), "unknown path"),
        (httpx.Request("PATCH", f"{BASE}/conversations/1", headers=HEADERS, json={}), "unknown method"),
        (
            httpx.Request(
                "POST",
                f"{BASE}/conversations/1/parts",
                headers=HEADERS,
                json={"message_type": "assignment", "type": "admin", "admin_id": 5, "assignee_id": "6"},
            ),
            "admin_id must be a string",
        ),
        (
            httpx.Request(
                "POST",
                f"{BASE}/conversations/search",
                headers=HEADERS,
                json={"query": {"field": "state", "operator": "LIKE", "value": "open"}},
            ),
            "operator not in the enum",
        ),
        (httpx.Request("POST", f"{BASE}/conversations/search", headers=HEADERS, json={}), "query is required"),
        (httpx.Request("GET", f"{BASE}/admins", headers={**HEADERS, "Intercom-Version": "2.99"}), "unknown version"),
        (httpx.Request("GET", f"{BASE}/admins", headers={"Authorization": "Bearer x"}), "no version header"),
    ],
)
def test_requests_the_description_does_not_know_fail(contract: Any, request_: httpx.Request, why: str) -> None:
    with pytest.raises(AssertionError):
        contract(request_, _ok({}))


def test_an_answer_that_breaks_the_description_fails(contract: Any) -> None:
    request = httpx.Request("GET", f"{BASE}/conversations/1", headers=HEADERS)
    with pytest.raises(AssertionError, match="state"):
        contract(request, _ok({"type": "conversation", "id": "1", "state": "sleeping"}))
    with pytest.raises(AssertionError, match="'errors' is a required property"):
        contract(request, httpx.Response(404, json={"error": "nope"}))  # a documented status: the error schema
    with pytest.raises(AssertionError, match=r"error\.list"):
        contract(request, httpx.Response(429, json={"error": "slow down"}))  # undocumented: Intercom's error shape
    with pytest.raises(AssertionError, match="status not documented"):
        contract(request, httpx.Response(204))


@pytest.mark.parametrize("version", ["2.14", "2.16"])
def test_every_request_of_every_adapter_method_is_checked(run_intercom: Any, contract: Any, version: str) -> None:
    before_requests, before_ops = contract.requests_checked, set(contract.operations)

    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> int:
        convs = await collect(adapter.iter_conversations())
        await collect(adapter.iter_conversations(updated_since=convs[-1].updated_at, status=[convs[0].status]))
        await collect(adapter.iter_messages(convs[0].id))
        await collect(adapter.iter_agents())
        await collect(adapter.iter_groups())
        await collect(adapter.iter_ratings())
        customers = await collect(adapter.iter_customers())
        await collect(adapter.iter_customers(updated_since=customers[0].updated_at))
        target = next(c for c in customers if len(c.tags) == 0)
        fake.customers[customers[1].id] = fake.customers[customers[1].id].model_copy(
            update={"tags": [f"t{i}" for i in range(11)]}
        )
        await adapter.get_customer(customers[1].id)
        await adapter.find_customer(email=customers[0].email or "")
        patch = ProfilePatch(
            custom_attributes={"hs_new": "x"}, tags=["hs-tag"], note="n", avatar_url="https://a.test/p.png"
        )
        await adapter.update_customer(target.id, patch)
        open_conv = next(c for c in convs if c.status.is_open)
        agent = next(a for a in sorted(fake.agents) if a != open_conv.assignee_id and fake.agents[a].active)
        team = next(g for g in sorted(fake.groups) if g != open_conv.group_id)
        await adapter.assign(open_conv.id, agent, group_id=team)
        await adapter.assign_many([Assignment(conversation_id=open_conv.id, agent_id=None)])
        await adapter.add_internal_note(open_conv.id, "note")
        await adapter.check()
        assert [r async for r in adapter.iter_saved_replies()]
        fake.macro_body_limit = 0  # a listing without bodies: each macro is then read on its own
        assert [r async for r in adapter.iter_saved_replies()]
        return len(fake.requests)

    sent = run_intercom(scenario, api_version=version)
    assert contract.requests_checked - before_requests == sent, "a request went unchecked"
    seen = {(m, p) for v, m, p in contract.operations - before_ops if v == version} | {
        (m, p) for v, m, p in before_ops if v == version
    }
    assert seen >= OPERATIONS, f"not exercised: {sorted(OPERATIONS - seen)}"
    macros = {(m, p) for v, m, p in contract.operations if v == "2.16"}
    assert macros >= MACRO_OPERATIONS, "macro calls are checked against 2.16 whatever the adapter's version"


def test_descriptions_are_the_pinned_versions(contract: Any) -> None:
    for version in ("2.14", "2.16"):
        _, raw = contract.description(version)
        assert raw["info"]["version"] == version
        assert json.dumps(raw["components"]["schemas"]["intercom_version"]["enum"]).count(version) == 1
