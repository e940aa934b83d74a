"""Webhook helpers: HMAC signatures in every vendor shape, constant-time verify, find-or-create."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from humansupport import ValidationError, WebhookEventType
from humansupport.vendor import event_names, find_or_create, header, is_fresh, new_secret, sign, verify

BODY = b'{"event":"conversation.created"}'


def test_sign_matches_the_vendor_formulas() -> None:
    assert sign("s", BODY) == hmac.new(b"s", BODY, hashlib.sha256).hexdigest()
    assert sign("s", BODY, algorithm="sha1", prefix="sha1=") == "sha1=" + hmac.new(b"s", BODY, hashlib.sha1).hexdigest()
    zendesk_style = base64.b64encode(hmac.new(b"s", b"1700000000" + BODY, hashlib.sha256).digest()).decode()
    assert sign("s", BODY, encoding="base64", timestamp="1700000000") == zendesk_style


def test_verify_accepts_the_signature_and_refuses_everything_else() -> None:
    good = sign("secret", BODY)
    assert verify(good, "secret", BODY)
    assert verify(good.upper() + "\n", "secret", BODY)  # hex is case-blind, whitespace stripped
    assert not verify(good, "other", BODY)
    assert not verify(good, "secret", BODY + b" ")
    assert not verify(None, "secret", BODY) and not verify("", "secret", BODY) and not verify(good, "", BODY)
    b64 = sign("secret", BODY, encoding="base64")
    assert verify(b64, "secret", BODY, encoding="base64") and not verify(b64.lower(), "secret", BODY, encoding="base64")


def test_verify_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert not verify("00", "secret", BODY)
    assert calls, "verify must use hmac.compare_digest"


def test_header_and_freshness() -> None:
    assert header({"X-Acme-Signature": "v"}, "x-acme-signature") == "v" and header({}, "x") is None
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert is_fresh(now - timedelta(seconds=299), now=now) and is_fresh(now + timedelta(seconds=10), now=now)
    assert not is_fresh(now - timedelta(seconds=301), now=now) and not is_fresh(None, now=now)
    assert len(new_secret(40)) == 40 and new_secret() != new_secret()


def test_event_names() -> None:
    table = {
        WebhookEventType.CONVERSATION_CREATED: "created",
        WebhookEventType.CONVERSATION_ASSIGNED: ("assigned", "created"),
    }
    assert event_names(None, table, vendor="acmedesk") == ["created", "assigned"]
    assert event_names([WebhookEventType.CONVERSATION_ASSIGNED], table, vendor="acmedesk") == ["assigned", "created"]
    with pytest.raises(
        ValidationError,
        match=r"acmedesk has no webhook event for conversation\.customer_replied; use conversation\.created",
    ):
        event_names([WebhookEventType.CUSTOMER_REPLIED], table, vendor="acmedesk")


async def test_find_or_create_reuses_a_listed_webhook_and_creates_otherwise() -> None:
    created: list[str] = []

    async def listing() -> AsyncIterator[Mapping[str, Any]]:
        yield {"id": "1", "url": "https://a.test/hook"}

    async def create() -> Mapping[str, Any]:
        created.append("x")
        return {"id": "2", "url": "https://b.test/hook"}

    found, was_created = await find_or_create(
        listing(), matches=lambda h: h["url"] == "https://a.test/hook", create=create
    )
    assert found["id"] == "1" and not was_created and not created
    made, was_created = await find_or_create([], matches=lambda h: True, create=create)
    assert made["id"] == "2" and was_created and created == ["x"]
