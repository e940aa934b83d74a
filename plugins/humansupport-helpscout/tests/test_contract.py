"""Contract tests: every request the adapter sends and every fake answer conforms to openapi/helpscout.yaml."""

from __future__ import annotations

import json
from typing import ClassVar

import httpx
import pytest
from humansupport_helpscout import FakeHelpScout, HelpScoutAdapter
from pydantic import SecretStr

from humansupport import Assignment, ConversationStatus, ProfilePatch
from humansupport.testing import AdapterConformance, ContractTransport, FakeClock, KitConfig

from .contract import CONTRACT, SPEC_PATH, request_errors, response_errors
from .test_mapping import SAMPLES


def test_the_description_is_valid_openapi() -> None:
    import yaml
    from openapi_core import OpenAPI

    # the transport loads descriptions leniently (vendors' are often invalid); ours must pass the validator
    assert OpenAPI.from_dict(yaml.safe_load(SPEC_PATH.read_text())) is not None


async def test_every_adapter_call_conforms(fake: FakeHelpScout, clock: FakeClock) -> None:
    transport = CONTRACT.wrap(fake.transport())
    async with HelpScoutAdapter(
        app_id=FakeHelpScout.app_id,
        app_secret=SecretStr(FakeHelpScout.app_secret),
        transport=transport,
        clock=clock,
        mailbox_ids=sorted(fake.mailboxes),
    ) as adapter:
        convs = [c async for c in adapter.iter_conversations(updated_since=clock.now().replace(year=2025))]
        assert convs
        [m async for m in adapter.iter_messages(convs[0].id)]
        assert [pair async for pair in adapter.iter_conversations_with_messages(status=[ConversationStatus.PENDING])]
        [a async for a in adapter.iter_agents()]
        [g async for g in adapter.iter_groups()]
        customers = [c async for c in adapter.iter_customers(updated_since=clock.now().replace(year=2020))]
        found = await adapter.find_customer(email=customers[0].email or "")
        assert found is not None
        await adapter.update_customer(
            customers[0].id,
            ProfilePatch(custom_attributes={"humansupport_conversations": 3}, tags=["vip"], note="n", avatar_url="u"),
        )
        agent = next(a for a in sorted(fake.agents) if fake.agents[a].active)
        seen = await adapter.get_conversation(convs[1].id)
        await adapter.assign(convs[1].id, agent, expected_version=seen.version)
        await adapter.assign(convs[2].id, None)
        await adapter.assign_many([Assignment(conversation_id=c.id, agent_id=agent) for c in convs[3:6]])
        await adapter.add_internal_note(convs[0].id, "checked")
        await adapter.ensure_properties({"humansupport_churn_risk": "number"})
        await adapter.get_rating(sorted(fake.ratings)[0])
        assert [m async for m in adapter.iter_mailboxes()]
        assert [r async for r in adapter.iter_saved_replies()]
        await adapter.register_webhook(url="https://hooks.example.test/helpscout")
        await adapter.register_webhook(url="https://hooks.example.test/helpscout", secret="rotated-secret")
        await adapter.check()
        fake.merge_conversation(convs[6].id, convs[7].id)
        await adapter.get_conversation(convs[6].id)
    assert transport.checked > 20
    assert transport.violations == []


class TestConformanceUnderContract(AdapterConformance):
    """The whole conformance kit again, every exchange validated (faults and noise included)."""

    config = KitConfig(pages=5, page_size=25, secrets=(FakeHelpScout.app_secret,))
    transports: ClassVar[list[ContractTransport]] = []

    def make_fake(self, clock: FakeClock) -> FakeHelpScout:
        return FakeHelpScout(clock=clock)

    def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> HelpScoutAdapter:
        checked = CONTRACT.wrap(transport)
        self.transports.append(checked)
        return HelpScoutAdapter(
            app_id=FakeHelpScout.app_id, app_secret=SecretStr(FakeHelpScout.app_secret), transport=checked, clock=clock
        )

    def teardown_method(self) -> None:
        violations = [v for t in self.transports for v in t.violations]
        self.transports.clear()
        assert violations == []


def _request(method: str, path: str, **kw: object) -> httpx.Request:
    headers = {"Authorization": "Bearer test-token"}
    return httpx.Request(method, "https://api.helpscout.net" + path, headers=headers, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("request_", "needle"),
    [
        (_request("GET", "/v2/tickets"), "not in the description"),
        (_request("DELETE", "/v2/customers/1"), "not in the description"),
        (_request("GET", "/v2/conversations", params={"per_page": "100"}), "undeclared query parameter 'per_page'"),
        (_request("GET", "/v2/conversations", params={"status": "open-ish"}), "status"),
        (_request("PATCH", "/v2/conversations/1", json=[{"op": "replace", "path": "/assignTo", "value": 1}]), "Body"),
        (_request("PATCH", "/v2/conversations/1", json={"op": "set", "path": "/assignTo", "value": 1}), "Body"),
        (_request("PATCH", "/v2/customers/1/properties", json={"slug": "x"}), "Body"),
        (_request("POST", "/v2/conversations/1/notes", json={"body": "x"}), "Body"),
        (_request("GET", "/v2/conversations/abc"), "conversationId"),
        (_request("POST", "/v2/webhooks", json={"url": "https://h.test", "events": ["convo.created"]}), "Body"),
        (
            _request("POST", "/v2/webhooks", json={"url": "https://h.test", "events": ["x"], "secret": "s"}),
            "Body",
        ),
        (
            _request(
                "POST", "/v2/webhooks", json={"url": "https://h.test", "events": ["convo.created"], "secret": "s" * 41}
            ),
            "Body",
        ),
        (_request("GET", "/v2/mailboxes/1/saved-replies/abc"), "savedReplyId"),
    ],
)
def test_requests_the_description_does_not_know_fail(request_: httpx.Request, needle: str) -> None:
    errors = request_errors(request_)
    assert errors, "the description accepted a request it does not describe"
    assert any(needle in e for e in errors), errors


def test_a_request_without_a_bearer_token_fails() -> None:
    bare = httpx.Request("GET", "https://api.helpscout.net/v2/users/me")
    assert any("Security" in e for e in request_errors(bare))


def test_a_response_outside_the_description_fails() -> None:
    request = _request("GET", "/v2/conversations/1")
    wrong_shape = httpx.Response(200, json={"conversation": {"id": 1}}, request=request)
    assert response_errors(request, wrong_shape)
    # a success the description does not document; undocumented error statuses pass (fakes inject 429s, 500s)
    wrong_status = httpx.Response(202, json={"message": "accepted"}, request=request)
    assert response_errors(request, wrong_status)


@pytest.mark.parametrize(
    ("path", "sample"),
    [
        ("/v2/conversations", "list_conversations.json"),
        ("/v2/conversations/10", "get_conversation.json"),
        ("/v2/conversations/10/threads", "conversations/list_threads.json"),
        ("/v2/customers", "list_customers.json"),
        ("/v2/customers/500", "get_customer.json"),
        ("/v2/users", "list_users.json"),
        ("/v2/users/me", "get_resource_owner.json"),
        ("/v2/teams", "list_teams.json"),
        ("/v2/teams/4/members", "list_team_members.json"),
        ("/v2/mailboxes", "list_mailboxes.json"),
        ("/v2/ratings/1", "get_rating.json"),
        ("/v2/webhooks", "list_webhooks.json"),
    ],
)
def test_vendor_samples_fit_the_description(path: str, sample: str) -> None:
    request = _request("GET", path)
    response = httpx.Response(200, json=json.loads((SAMPLES / sample).read_text()), request=request)
    assert response_errors(request, response) == []
