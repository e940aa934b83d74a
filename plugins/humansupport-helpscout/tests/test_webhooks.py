"""Webhooks: X-HelpScout-Signature (base64 HMAC-SHA1 of the raw body) and convo.* event parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from humansupport_helpscout import FakeHelpScout, HelpScoutAdapter
from humansupport_helpscout.webhooks import parse_webhook, sign, verify_signature
from hypothesis import given
from hypothesis import strategies as st

from humansupport import WebhookEventType

SECRET = "whsec-test-only"


def test_signature_matches_the_documented_algorithm() -> None:
    body = b'{"id": 1}'
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha1).digest()).decode()
    assert sign(body, SECRET) == expected


@pytest.mark.parametrize(
    ("headers", "body", "secret", "ok"),
    [
        ({"X-HelpScout-Signature": sign(b"{}", SECRET)}, b"{}", SECRET, True),
        ({"x-helpscout-signature": sign(b"{}", SECRET)}, b"{}", SECRET, True),  # header names are case-free
        ({"X-HelpScout-Signature": sign(b"{}", SECRET)}, b"{ }", SECRET, False),  # re-serialised body
        ({"X-HelpScout-Signature": sign(b"{}", SECRET)}, b"{}", SECRET + "x", False),
        ({}, b"{}", SECRET, False),
        ({"X-HelpScout-Signature": ""}, b"{}", SECRET, False),
        ({"X-HelpScout-Signature": "not base64 at all"}, b"{}", SECRET, False),
        ({"X-HelpScout-Signature": sign(b"{}", "")}, b"{}", "", False),  # an empty secret never verifies
    ],
)
def test_verify(headers: dict[str, str], body: bytes, secret: str, ok: bool) -> None:
    assert verify_signature(headers, body, secret) is ok


def test_fake_deliveries_verify_and_parse(fake: FakeHelpScout, adapter: HelpScoutAdapter) -> None:
    conv = next(c for c in fake.conversations.values() if c.assignee_id and c.customer_id)
    headers, body = fake.signed_webhook(secret=SECRET, conversation_id=conv.id, event="convo.assigned")
    assert adapter.verify_webhook(headers, body, SECRET)
    (event,) = adapter.parse_webhook(headers, body)
    assert event.type is WebhookEventType.CONVERSATION_ASSIGNED
    assert event.conversation_id == conv.id and event.agent_id == conv.assignee_id
    assert event.customer_id == conv.customer_id and event.raw_type == "convo.assigned"


def test_created_event_and_team_assignee() -> None:
    body = json.dumps({"id": 42, "assignee": {"id": 7, "type": "team"}, "primaryCustomer": {"id": 9}}).encode()
    (event,) = parse_webhook({"X-HelpScout-Event": "convo.created"}, body)
    assert event.type is WebhookEventType.CONVERSATION_CREATED
    assert event.conversation_id == "42" and event.agent_id is None and event.customer_id == "9"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("convo.customer.reply.created", WebhookEventType.CUSTOMER_REPLIED),
        ("convo.status", WebhookEventType.CONVERSATION_UPDATED),
        ("convo.deleted", WebhookEventType.OTHER),
        ("beacon.chat.created", WebhookEventType.OTHER),
        ("", WebhookEventType.OTHER),
    ],
)
def test_event_kinds(name: str, expected: WebhookEventType) -> None:
    (event,) = parse_webhook({"X-HelpScout-Event": name}, b'{"id": 5}')
    assert event.type is expected


def test_customer_and_rating_events_name_their_records() -> None:
    (deleted,) = parse_webhook({"X-HelpScout-Event": "customer.deleted"}, b'{"id": 77}')
    assert deleted.customer_id == "77" and deleted.conversation_id is None
    rating = {"id": 1, "conversationId": 5, "customer": {"id": 6}, "user": {"id": 2001}, "rating": "great"}
    (event,) = parse_webhook({"X-HelpScout-Event": "satisfaction.ratings"}, json.dumps(rating).encode())
    assert (event.conversation_id, event.customer_id, event.agent_id) == ("5", "6", "2001")


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b"\xff\xfe", b"null"])
def test_malformed_bodies_give_an_other_event_not_an_exception(body: bytes) -> None:
    (event,) = parse_webhook({"X-HelpScout-Event": "convo.created"}, body)
    assert event.conversation_id is None and event.raw == {}


@given(
    st.dictionaries(st.text(max_size=30), st.text(max_size=60), max_size=4),
    st.binary(max_size=200),
    st.text(max_size=40),
)
def test_verify_and_parse_never_raise(headers: dict[str, str], body: bytes, secret: str) -> None:
    assert verify_signature(headers, body, secret) in (True, False)
    events = parse_webhook(headers, body)
    assert len(events) == 1 and events[0].vendor == "helpscout"


@given(st.binary(max_size=200), st.text(min_size=1, max_size=40))
def test_only_the_right_signature_verifies(body: bytes, secret: str) -> None:
    good = {"X-HelpScout-Signature": sign(body, secret)}
    assert verify_signature(good, body, secret)
    assert not verify_signature(good, body + b"x", secret)
