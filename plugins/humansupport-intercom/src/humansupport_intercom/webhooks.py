"""Intercom webhook deliveries: signature check and parsing into core events (fact sheet §7).

Intercom signs the raw body with HMAC-SHA1 keyed by the app's client secret and sends
`X-Hub-Signature: sha1=<hex>`. It sends no timestamp, so a replay cannot be told from a retry by the
signature; de-duplicate on the notification `id` instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from humansupport import ValidationError, WebhookEvent, WebhookEventType
from humansupport.vendor import webhooks as hook

from .mapping import as_id, conversation_from_intercom

__all__ = ["SIGNATURE_HEADER", "TOPIC_EVENT_TYPES", "parse_notification", "sign", "verify_signature"]

SIGNATURE_HEADER: Final = "X-Hub-Signature"

TOPIC_EVENT_TYPES: Final[Mapping[str, WebhookEventType]] = {
    "conversation.user.created": WebhookEventType.CONVERSATION_CREATED,
    "conversation.admin.single.created": WebhookEventType.CONVERSATION_CREATED,
    "conversation.admin.assigned": WebhookEventType.CONVERSATION_ASSIGNED,
    "conversation.admin.open.assigned": WebhookEventType.CONVERSATION_ASSIGNED,
    "conversation.user.replied": WebhookEventType.CUSTOMER_REPLIED,
    "admin.away_mode_updated": WebhookEventType.AGENT_AVAILABILITY_CHANGED,
}


def sign(body: bytes, secret: str) -> str:
    """The header value Intercom sends for this body: `sha1=` and the hex HMAC-SHA1."""
    return hook.sign(secret, body, algorithm="sha1", prefix="sha1=")


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """Constant-time check of `X-Hub-Signature` over the raw body; False for a missing or malformed header."""
    given = hook.header(headers, SIGNATURE_HEADER)
    return hook.verify(given, secret, body, algorithm="sha1", prefix="sha1=")


def _last_assignment_author(item: Mapping[str, Any]) -> str | None:
    parts_obj = item.get("conversation_parts")
    parts = parts_obj.get("conversation_parts") if isinstance(parts_obj, dict) else None
    for part in reversed(parts if isinstance(parts, list) else []):
        if isinstance(part, dict) and str(part.get("part_type", "")).startswith(("assign", "default_assignment")):
            author = part.get("author")
            return author.get("type") if isinstance(author, dict) else None
    return None


#: 9999-12-31T23:59:59Z, the last second a Python datetime holds (found by the property tests)
_LAST_EPOCH = 253_402_300_799


def _epoch_or_none(value: Any) -> int | None:
    """Unix seconds, or None for anything else (a bool is an int to Python: found by the property tests)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _LAST_EPOCH:
        return value
    return None


def parse_notification(body: bytes) -> list[WebhookEvent]:
    """One delivery as events: created, assigned, customer replied, availability; other topics as `other`."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError(vendor="intercom", vendor_message="webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise ValidationError(vendor="intercom", vendor_message="webhook body is not a JSON object")
    raw_topic = data.get("topic")
    topic = raw_topic if isinstance(raw_topic, str) else None
    inner = data.get("data")
    item = inner.get("item") if isinstance(inner, dict) else None
    item = item if isinstance(item, dict) else {}
    if topic is not None and topic in TOPIC_EVENT_TYPES:
        kind = TOPIC_EVENT_TYPES[topic]
    elif topic is not None and topic.startswith("conversation."):
        kind = WebhookEventType.CONVERSATION_UPDATED
    else:
        kind = WebhookEventType.OTHER
    event: dict[str, Any] = {
        "vendor": "intercom",
        "id": data.get("id") if isinstance(data.get("id"), str) else None,
        "type": kind,
        "raw_type": topic,
        "occurred_at": _epoch_or_none(data.get("created_at")),
        "raw": data,
    }
    if item.get("type") == "conversation":
        conv = conversation_from_intercom(item)
        event.update(conversation_id=conv.id or None, customer_id=conv.customer_id, agent_id=conv.assignee_id)
        if kind is WebhookEventType.CONVERSATION_ASSIGNED:
            author = _last_assignment_author(item)
            event["actor"] = "human" if author == "admin" else "system" if author == "bot" else "unknown"
        elif kind is WebhookEventType.CUSTOMER_REPLIED or kind is WebhookEventType.CONVERSATION_CREATED:
            event["actor"] = "human"
    elif item.get("type") == "admin":
        event.update(agent_id=as_id(item.get("id")), actor="human")
    elif item.get("type") in ("contact", "user", "lead"):
        event["customer_id"] = as_id(item.get("id"))
    return [WebhookEvent.model_validate(event)]
