"""Webhook deliveries: X-Hub-Signature (HMAC-SHA1 of the raw body) and topic parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from humansupport_intercom import FakeIntercom, IntercomAdapter
from humansupport_intercom.webhooks import parse_notification, sign, verify_signature

from humansupport import ValidationError, WebhookEventType
from humansupport.testing import FakeClock

SECRET = "client-secret-for-tests"


def test_signature_is_sha1_hmac_of_the_raw_body() -> None:
    body = b'{"type":"notification_event"}'
    # computed independently: printf '%s' "$body" | openssl dgst -sha1 -hmac client-secret-for-tests
    import hashlib
    import hmac

    expected = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert sign(body, SECRET) == expected
    assert verify_signature({"X-Hub-Signature": expected}, body, SECRET)
    assert verify_signature({"x-hub-signature": expected.upper().replace("SHA1=", "sha1=")}, body, SECRET)


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Hub-Signature": ""}, {"X-Hub-Signature": "sha256=abc"}, {"X-Hub-Signature": "garbage"}],
)
def test_missing_or_malformed_signatures_do_not_verify(headers: dict[str, str]) -> None:
    assert not verify_signature(headers, b"{}", SECRET)


def test_empty_secret_never_verifies() -> None:
    body = b"{}"
    assert not verify_signature({"X-Hub-Signature": sign(body, "")}, body, "")


def test_assigned_and_created_topics_from_the_fake(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        conv = next(c for c in sorted(fake.conversations.values(), key=lambda c: int(c.id)) if c.assignee_id)
        await adapter.assign(conv.id, next(a for a in sorted(fake.agents) if a != conv.assignee_id))
        headers, body = fake.signed_webhook(secret=SECRET, conversation_id=conv.id, event="conversation.assigned")
        assert adapter.verify_webhook(headers, body, SECRET)
        [event] = adapter.parse_webhook(headers, body)
        assert event.type is WebhookEventType.CONVERSATION_ASSIGNED
        assert event.raw_type == "conversation.admin.assigned" and event.id and event.id.startswith("notif_")
        assert event.conversation_id == conv.id and event.customer_id == conv.customer_id
        assert event.agent_id == fake.conversations[conv.id].assignee_id
        assert event.actor == "human", "assigned by an admin through the API"
        headers, body = fake.signed_webhook(secret=SECRET, conversation_id=conv.id)
        [created] = adapter.parse_webhook(headers, body)
        assert created.type is WebhookEventType.CONVERSATION_CREATED
        assert created.raw_type == "conversation.user.created" and created.occurred_at is not None

    run_intercom(scenario, admin_id="2002")


def _envelope(topic: Any, item: Any) -> bytes:
    return json.dumps(
        {
            "type": "notification_event",
            "id": "notif_1",
            "topic": topic,
            "created_at": 1700000000,
            "data": {"type": "notification_event_data", "item": item},
        }
    ).encode()


@pytest.mark.parametrize(
    ("topic", "item", "kind"),
    [
        ("conversation.user.replied", {"type": "conversation", "id": "5"}, WebhookEventType.CUSTOMER_REPLIED),
        ("conversation.admin.closed", {"type": "conversation", "id": "5"}, WebhookEventType.CONVERSATION_UPDATED),
        ("admin.away_mode_updated", {"type": "admin", "id": 42}, WebhookEventType.AGENT_AVAILABILITY_CHANGED),
        ("contact.user.created", {"type": "contact", "id": "c1"}, WebhookEventType.OTHER),
        ("ping", {"type": "ping", "message": "hi"}, WebhookEventType.OTHER),
        ("made.up.topic", None, WebhookEventType.OTHER),
        (None, "not an object", WebhookEventType.OTHER),
    ],
)
def test_topics(topic: Any, item: Any, kind: WebhookEventType) -> None:
    [event] = parse_notification(_envelope(topic, item))
    assert event.type is kind and event.vendor == "intercom"
    if kind is WebhookEventType.AGENT_AVAILABILITY_CHANGED:
        assert event.agent_id == "42"


def test_assignment_by_a_bot_is_a_system_action() -> None:
    item = {
        "type": "conversation",
        "id": "5",
        "admin_assignee_id": 7,
        "conversation_parts": {"conversation_parts": [{"part_type": "assignment", "author": {"type": "bot"}}]},
    }
    [event] = parse_notification(_envelope("conversation.admin.assigned", item))
    assert event.actor == "system" and event.agent_id == "7"


@pytest.mark.parametrize("body", [b"", b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_bodies_are_a_validation_error(body: bytes) -> None:
    with pytest.raises(ValidationError, match="webhook body"):
        parse_notification(body)


def test_any_json_envelope_parses_into_one_event() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
        max_leaves=8,
    )
    envelope = st.fixed_dictionaries(
        {},
        optional={
            "id": json_values,
            "topic": st.sampled_from(["conversation.admin.assigned", "admin.away_mode_updated", "x"]) | json_values,
            "created_at": json_values,
            "data": st.fixed_dictionaries(
                {},
                optional={
                    "item": json_values
                    | st.fixed_dictionaries(
                        {"type": st.sampled_from(["conversation", "admin", "contact"])},
                        optional={
                            "id": json_values,
                            "contacts": json_values,
                            "conversation_parts": json_values,
                            "admin_assignee_id": json_values,
                        },
                    )
                },
            ),
        },
    )

    @settings(max_examples=150, deadline=None)
    @given(body=envelope)
    def check(body: dict[str, Any]) -> None:
        events = parse_notification(json.dumps(body).encode())
        assert len(events) == 1 and events[0].raw == body

    check()
