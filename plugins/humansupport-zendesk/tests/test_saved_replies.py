"""Macros as saved replies, webhook registration (idempotent, with Zendesk's signing secret), ticket links."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest
from humansupport_zendesk import FakeZendesk, ZendeskAdapter
from humansupport_zendesk.mapping import macro_to_saved_reply
from pydantic import SecretStr

from humansupport import WebhookEventType
from humansupport.testing import SAMPLE_SAVED_REPLIES, FakeClock

HOOK = "https://hooks.example.test/webhooks/zendesk/acme"


async def test_sample_macros_read_back_as_plain_text(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    replies = [r async for r in adapter.iter_saved_replies()]
    assert [(r.title, r.body) for r in replies] == [(s.title, s.body) for s in SAMPLE_SAVED_REPLIES]
    assert all(r.kind == "macro" and r.vendor == "zendesk" and r.updated_at is not None for r in replies)
    first = replies[0]
    assert first.url == f"https://fake.zendesk.com/admin/workspaces/agent-workspace/macros/{first.id}"
    assert "<p>" in str(first.raw["actions"])  # Zendesk keeps HTML; the body is its text


async def test_inactive_and_comment_less_macros_are_left_out(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    fake.seed_saved_replies([])
    fake.add_saved_reply(title="Retired", body="old text", active=False)
    fake.add_saved_reply(title="Just close", body="", actions=[{"field": "status", "value": "solved"}])
    plain = fake.add_saved_reply(
        title="Plain", body="", actions=[{"field": "comment_value", "value": "Line one\r\nLine two"}]
    )
    replies = {r.id: r.body async for r in adapter.iter_saved_replies()}
    assert replies == {plain: "Line one\nLine two"}
    macros = [r for r in fake.requests if r.path == "/api/v2/macros"]
    assert macros and all(r.url_params.get("active") == "true" for r in macros)


async def test_macros_page_by_cursor(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    fake.page_size = 3
    replies = [r async for r in adapter.iter_saved_replies()]
    assert len(replies) == len(SAMPLE_SAVED_REPLIES) == len({r.id for r in replies})
    pages = [r for r in fake.requests if r.path == "/api/v2/macros"]
    assert len(pages) == 4 and "page[after]" in pages[-1].url_params


async def test_register_webhook_subscribes_ticket_events_and_reads_secret(
    fake: FakeZendesk, adapter: ZendeskAdapter
) -> None:
    sub = await adapter.register_webhook(url=HOOK)
    assert sub.url == HOOK and sub.active and sub.vendor == "zendesk"
    assert sub.events == [
        "zen:event-type:ticket.created",
        "zen:event-type:ticket.agent_assignment_changed",
        "zen:event-type:ticket.comment_added",
        "zen:event-type:ticket.status_changed",
    ]
    assert sub.secret is not None and sub.secret.get_secret_value() == fake.webhook_secrets[sub.id]
    assert fake.webhook_secrets[sub.id] not in repr(sub)
    posted = fake.webhooks[sub.id]
    assert posted["http_method"] == "POST" and posted["request_format"] == "json"


async def test_register_webhook_twice_reuses_the_first(fake: FakeZendesk, adapter: ZendeskAdapter) -> None:
    first = await adapter.register_webhook(url=HOOK)
    again = await adapter.register_webhook(url=HOOK)
    assert again.id == first.id and len(fake.webhooks) == 1
    assert again.secret is not None and again.secret.get_secret_value() == fake.webhook_secrets[first.id]
    other = await adapter.register_webhook(url=HOOK + "-2", events=[WebhookEventType.CONVERSATION_CREATED])
    assert other.id != first.id and other.events == ["zen:event-type:ticket.created"]
    assert sum(1 for r in fake.requests if r.method == "POST" and r.path == "/api/v2/webhooks") == 2


async def test_a_given_secret_is_not_used_and_says_so(
    fake: FakeZendesk, adapter: ZendeskAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="humansupport.zendesk"):
        sub = await adapter.register_webhook(url=HOOK, secret="mine-not-zendesks")
    assert sub.secret is not None and sub.secret.get_secret_value() != "mine-not-zendesks"
    assert "generates webhook signing secrets" in caplog.text and "mine-not-zendesks" not in caplog.text


async def test_events_zendesk_cannot_send_are_refused(adapter: ZendeskAdapter) -> None:
    from humansupport import ValidationError

    with pytest.raises(ValidationError, match="is a Zendesk webhook event"):
        await adapter.register_webhook(url=HOOK, events=[WebhookEventType.AGENT_AVAILABILITY_CHANGED])


@pytest.mark.parametrize(
    "hook",
    [
        {"name": "x", "endpoint": "https://h.test", "http_method": "POST", "request_format": "json"},
        {"name": "x", "endpoint": "not a url", "http_method": "POST", "request_format": "json", "status": "active"},
        {
            "name": "x",
            "endpoint": "https://h.test",
            "http_method": "GET",
            "request_format": "json",
            "status": "active",
            "subscriptions": ["zen:event-type:ticket.created"],
        },
    ],
)
def test_the_fake_refuses_a_webhook_zendesk_would_refuse(fake: FakeZendesk, hook: dict[str, str]) -> None:
    auth = base64.b64encode(f"{fake.email}/token:{fake.token}".encode()).decode()
    request = httpx.Request(
        "POST",
        "https://fake.zendesk.com/api/v2/webhooks",
        json={"webhook": hook},
        headers={"Authorization": f"Basic {auth}"},
    )
    assert fake(request).status_code == 400
    assert not fake.webhooks


def test_legacy_list_comment_values_are_read() -> None:
    macro = {"id": 5, "title": "Legacy", "actions": [{"field": "comment_value", "value": ["channel:all", "Old style"]}]}
    reply = macro_to_saved_reply(macro)
    assert reply is not None and reply.body == "Old style" and reply.url is None


def test_conversation_url_comes_from_the_subdomain(clock: FakeClock) -> None:
    adapter = ZendeskAdapter(subdomain="acme", email="a@acme.test", api_token=SecretStr("t"), clock=clock)
    assert adapter.conversation_url("42") == "https://acme.zendesk.com/agent/tickets/42"
    assert adapter.conversation_url("../admin") is None
    eu = ZendeskAdapter(base_url="https://support.acme.eu/", email="a@acme.test", api_token=SecretStr("t"))
    assert eu.conversation_url("7") == "https://support.acme.eu/agent/tickets/7"
