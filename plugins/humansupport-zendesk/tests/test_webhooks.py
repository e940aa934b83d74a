"""Webhook signatures (timestamp + body, base64 HMAC-SHA256), stale timestamps, and event parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from humansupport_zendesk import FakeZendesk, ZendeskAdapter
from humansupport_zendesk.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    parse_webhook,
    sign_webhook,
    verify_webhook,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from humansupport import WebhookEventType
from humansupport.testing import FakeClock

SECRET = "dGhpc19zZWNyZXRfaXNfZmFrZQ=="
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def delivery(body: bytes, *, at: datetime = NOW, secret: str = SECRET) -> dict[str, str]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {SIGNATURE_HEADER: sign_webhook(secret, stamp, body), TIMESTAMP_HEADER: stamp}


def test_known_signature_vector() -> None:
    """Pins the algorithm: base64(HMAC-SHA256(secret, timestamp + body)), no separator."""
    # computed independently: printf '2021-01-01T00:00:00Z{}' | openssl dgst -sha256 -hmac secret -binary | base64
    assert sign_webhook("secret", "2021-01-01T00:00:00Z", b"{}") == "mCfJfOw3eaAHUNbdNKyzMC/4ejuuUcJWZ/Ax4uqw684="


def test_valid_delivery_verifies_with_lowercase_headers() -> None:
    body = b'{"type": "zen:event-type:ticket.created"}'
    headers = {k.lower(): v for k, v in delivery(body).items()}
    assert verify_webhook(headers, body, SECRET, now=NOW)


@pytest.mark.parametrize(
    ("age", "ok"), [(0, True), (299, True), (301, False), (-301, False), (-10, True), (86_400, False)]
)
def test_stale_or_future_timestamps_are_refused(age: int, ok: bool) -> None:
    body = b"{}"
    headers = delivery(body, at=NOW - timedelta(seconds=age))
    assert verify_webhook(headers, body, SECRET, now=NOW) is ok


@pytest.mark.parametrize(
    "mangle",
    [
        lambda h: {k: v for k, v in h.items() if k != SIGNATURE_HEADER},
        lambda h: {k: v for k, v in h.items() if k != TIMESTAMP_HEADER},
        lambda h: {**h, TIMESTAMP_HEADER: "yesterday-ish"},
        lambda h: {**h, SIGNATURE_HEADER: "not base64 at all"},
        lambda h: {**h, TIMESTAMP_HEADER: "2026-11-01T12:00:01Z"},  # signature was over another timestamp
    ],
)
def test_tampered_headers_are_refused(mangle: object) -> None:
    body = b"{}"
    headers = mangle(delivery(body))  # type: ignore[operator]
    assert not verify_webhook(headers, body, SECRET, now=NOW)


def test_empty_secret_never_verifies() -> None:
    assert not verify_webhook(delivery(b"{}", secret=""), b"{}", "", now=NOW)


def test_assignment_event_carries_current_and_previous_agent() -> None:
    body = json.dumps(
        {
            "type": "zen:event-type:ticket.agent_assignment_changed",
            "id": "c5a8e9b0-0000-4000-8000-000000000001",
            "time": "2026-11-01T11:59:58Z",
            "subject": "zen:ticket:35436",
            "detail": {"id": "35436", "requester_id": "20978392", "assignee_id": "235323"},
            "event": {"current": "235323", "previous": "98738"},
        }
    ).encode()
    [event] = parse_webhook({}, body)
    assert event.type is WebhookEventType.CONVERSATION_ASSIGNED
    assert (event.conversation_id, event.customer_id, event.agent_id, event.previous_agent_id) == (
        "35436",
        "20978392",
        "235323",
        "98738",
    )
    assert event.id == "c5a8e9b0-0000-4000-8000-000000000001" and event.occurred_at is not None


def test_unknown_event_kinds_are_other_and_garbage_is_no_events() -> None:
    [event] = parse_webhook({}, b'{"type": "zen:event-type:ticket.priority_changed", "subject": "zen:ticket:5"}')
    assert event.type is WebhookEventType.OTHER and event.raw_type == "zen:event-type:ticket.priority_changed"
    assert event.conversation_id == "5"
    assert parse_webhook({}, b"{not json") == []
    assert parse_webhook({}, b'"a string"') == []
    assert [e.type for e in parse_webhook({}, b'[{"type": "zen:event-type:ticket.created"}, 3]')] == [
        WebhookEventType.CONVERSATION_CREATED
    ]


async def test_adapter_uses_its_clock_for_freshness() -> None:
    clock = FakeClock(start=NOW)
    fake = FakeZendesk(clock=clock)
    fake.conversations = {}
    headers, body = fake.signed_webhook(secret=SECRET, conversation_id="100001")
    async with ZendeskAdapter(subdomain="acme", email="a@acme.test", api_token="x", clock=clock) as adapter:
        assert adapter.verify_webhook(headers, body, SECRET)
        clock.advance(301)
        assert not adapter.verify_webhook(headers, body, SECRET), "a replayed delivery must be refused"
        [event] = adapter.parse_webhook(headers, body)
        assert event.type is WebhookEventType.CONVERSATION_CREATED and event.conversation_id == "100001"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=80, deadline=None)
@given(payload=json_values, event_type=st.sampled_from(["zen:event-type:ticket.created", "x", None]))
def test_parsing_any_json_never_raises(payload: object, event_type: str | None) -> None:
    body = json.dumps({"type": event_type, "detail": payload, "event": payload, "subject": payload}).encode()
    for event in parse_webhook({}, body) + parse_webhook({}, json.dumps(payload).encode()):
        assert event.vendor == "zendesk"


@settings(max_examples=80, deadline=None)
@given(headers=st.dictionaries(st.sampled_from([SIGNATURE_HEADER, TIMESTAMP_HEADER, "x"]), st.text(max_size=40)))
def test_verifying_any_headers_never_raises(headers: dict[str, str]) -> None:
    assert verify_webhook(headers, b"{}", SECRET, now=NOW) in (True, False)


@pytest.mark.parametrize(
    ("author", "kind"),
    [
        ({"id": "42", "is_staff": False}, WebhookEventType.CUSTOMER_REPLIED),
        ({"id": "42"}, WebhookEventType.CUSTOMER_REPLIED),  # the requester wrote it
        ({"id": "7", "is_staff": True}, WebhookEventType.CONVERSATION_UPDATED),
        (None, WebhookEventType.CONVERSATION_UPDATED),
    ],
)
def test_comment_added_is_a_customer_reply_only_when_the_customer_wrote_it(author: object, kind: object) -> None:
    body = json.dumps(
        {
            "type": "zen:event-type:ticket.comment_added",
            "subject": "zen:ticket:9",
            "detail": {"id": "9", "requester_id": "42"},
            "event": {"comment": {"id": "1", "body": "hi", "author": author}},
        }
    ).encode()
    [event] = parse_webhook({}, body)
    assert event.type is kind
