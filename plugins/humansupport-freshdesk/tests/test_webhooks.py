"""Webhooks: the shared-secret header (Freshdesk signs nothing) and parsing of our rule templates."""

from __future__ import annotations

import json

import pytest
from humansupport_freshdesk.webhooks import DEFAULT_SECRET_HEADER, parse_webhook_body, verify_shared_secret

from humansupport.models import WebhookEventType

from .conftest import Env

SECRET = "whsec-test-value"


async def test_fake_delivery_verifies_and_parses(env: Env) -> None:
    conv = sorted(env.fake.conversations.values(), key=lambda c: int(c.id))[0]
    headers, body = env.fake.webhook_delivery(secret=SECRET, conversation_id=conv.id)
    assert env.adapter.verify_webhook(headers, body, SECRET)
    assert not env.adapter.verify_webhook(headers, body, SECRET + "x")
    assert not env.adapter.verify_webhook({"Content-Type": "application/json"}, body, SECRET)
    (event,) = env.adapter.parse_webhook(headers, body)
    assert event.type is WebhookEventType.CONVERSATION_CREATED and event.vendor == "freshdesk"
    assert (event.conversation_id, event.customer_id) == (conv.id, conv.customer_id)
    assert event.raw_type == "ticket_created"


async def test_agent_assigned_reads_previous_and_new_agent(env: Env) -> None:
    conv = next(c for c in sorted(env.fake.conversations.values(), key=lambda c: int(c.id)) if c.assignee_id)
    headers, body = env.fake.webhook_delivery(secret=SECRET, conversation_id=conv.id, event="agent_assigned")
    (event,) = env.adapter.parse_webhook(headers, body)
    assert event.type is WebhookEventType.CONVERSATION_ASSIGNED
    assert (event.agent_id, event.previous_agent_id) == (conv.assignee_id, None)


def test_custom_header_name_from_settings(make_env) -> None:  # type: ignore[no-untyped-def]
    env = make_env(webhook_secret_header="X-Acme-Token")
    assert env.adapter.verify_webhook({"x-acme-token": SECRET}, b"{}", SECRET)
    assert not env.adapter.verify_webhook({DEFAULT_SECRET_HEADER: SECRET}, b"{}", SECRET)


@pytest.mark.parametrize("secret", ["", " "])
def test_empty_or_blank_secret_never_verifies(secret: str) -> None:
    assert not verify_shared_secret({DEFAULT_SECRET_HEADER: secret}, secret.strip())


def test_triggered_event_alone_marks_an_assignment() -> None:
    body = json.dumps({"freshdesk_webhook": {"ticket_id": "42", "triggered_event": "{responder_id:[7, 9]}"}}).encode()
    (event,) = parse_webhook_body(body)
    assert event.type is WebhookEventType.CONVERSATION_ASSIGNED
    assert (event.conversation_id, event.previous_agent_id, event.agent_id) == ("42", "7", "9")


def test_unknown_event_and_unfilled_placeholders() -> None:
    body = json.dumps({"event": "ticket_merged", "ticket_id": "{{ticket.id}}", "responder_id": "null"}).encode()
    (event,) = parse_webhook_body(body)
    assert event.type is WebhookEventType.OTHER and event.raw_type == "ticket_merged"
    assert event.conversation_id is None and event.agent_id is None


def test_nested_ticket_object_and_same_body_same_id() -> None:
    ticket = {"id": 5, "requester_id": 77, "responder_id": None, "updated_at": "2026-01-02T03:04:05Z"}
    body = json.dumps({"event": "onTicketCreate", "ticket": ticket}).encode()
    first, second = parse_webhook_body(body)[0], parse_webhook_body(body)[0]
    assert first.type is WebhookEventType.CONVERSATION_CREATED
    assert (first.conversation_id, first.customer_id, first.agent_id) == ("5", "77", None)
    assert first.occurred_at is not None and first.occurred_at.year == 2026
    assert first.id == second.id


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b"\xff\xfe", b'"str"', b"null"])
def test_garbage_bodies_give_no_events(body: bytes) -> None:
    assert parse_webhook_body(body) == []
