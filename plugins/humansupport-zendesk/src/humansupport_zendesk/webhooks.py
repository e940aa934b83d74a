"""Zendesk webhook signatures and event parsing (vendors/zendesk.md §7, Zendesk "Verifying webhook authenticity").

Signature = base64(HMAC-SHA256(key=signing secret, msg=timestamp + raw body)), no separator, sent in
`X-Zendesk-Webhook-Signature` with the timestamp in `X-Zendesk-Webhook-Signature-Timestamp`. A delivery
whose timestamp is further than `tolerance` from now is refused, so a captured delivery cannot be replayed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from humansupport import WebhookEvent, WebhookEventType
from humansupport.vendor.webhooks import header, is_fresh, sign, verify

from .mapping import zendesk_id, zendesk_time

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "parse_webhook",
    "sign_webhook",
    "verify_webhook",
]

SIGNATURE_HEADER: Final = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER: Final = "X-Zendesk-Webhook-Signature-Timestamp"
DEFAULT_TOLERANCE: Final = 300.0

_EVENT_TYPES: Final[Mapping[str, WebhookEventType]] = {
    "ticket.created": WebhookEventType.CONVERSATION_CREATED,
    "ticket.agent_assignment_changed": WebhookEventType.CONVERSATION_ASSIGNED,
    "ticket.group_assignment_changed": WebhookEventType.CONVERSATION_UPDATED,
    "ticket.status_changed": WebhookEventType.CONVERSATION_UPDATED,
    "ticket.comment_added": WebhookEventType.CONVERSATION_UPDATED,  # a customer reply only if they wrote it
}


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """The signature Zendesk sends for this body at this timestamp."""
    return sign(secret, body, encoding="base64", timestamp=timestamp)


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    now: datetime,
    tolerance: float = DEFAULT_TOLERANCE,
) -> bool:
    """True when the signature matches (constant-time) and the timestamp is within `tolerance` of `now`."""
    timestamp = header(headers, TIMESTAMP_HEADER)
    if not timestamp or not is_fresh(zendesk_time(timestamp), now=now, tolerance=tolerance):
        return False
    return verify(header(headers, SIGNATURE_HEADER), secret, body, encoding="base64", timestamp=timestamp)


def _ticket_id(subject: Any, detail: Mapping[str, Any]) -> str | None:
    if isinstance(subject, str) and subject.startswith("zen:ticket:"):
        found = zendesk_id(subject.rsplit(":", 1)[-1])
        if found is not None:
            return found
    return zendesk_id(detail.get("id"))


def _by_requester(change: Mapping[str, Any], detail: Mapping[str, Any]) -> bool:
    """Whether an added comment is the customer's: its author is the requester, or is not staff.

    The comment sits in `event.comment` with an `author` {id, is_staff} (Zendesk ticket event docs; the exact
    shape is not documented, so anything else counts as not the customer's).
    """
    comment = change.get("comment")
    author = comment.get("author") if isinstance(comment, Mapping) else None
    if not isinstance(author, Mapping):
        return False
    requester = zendesk_id(detail.get("requester_id"))
    if requester is not None and zendesk_id(author.get("id")) == requester:
        return True
    return author.get("is_staff") is False


def _one(data: Mapping[str, Any]) -> WebhookEvent:
    raw_type = data.get("type") if isinstance(data.get("type"), str) else None
    short = raw_type.removeprefix("zen:event-type:") if raw_type else ""
    detail: Mapping[str, Any] = data["detail"] if isinstance(data.get("detail"), Mapping) else {}
    change: Mapping[str, Any] = data["event"] if isinstance(data.get("event"), Mapping) else {}
    kind = _EVENT_TYPES.get(short, WebhookEventType.OTHER)
    if short == "ticket.comment_added" and _by_requester(change, detail):
        kind = WebhookEventType.CUSTOMER_REPLIED
    agent = zendesk_id(detail.get("assignee_id"))
    previous = None
    if kind is WebhookEventType.CONVERSATION_ASSIGNED:
        agent = zendesk_id(change.get("current")) or agent
        previous = zendesk_id(change.get("previous"))
    return WebhookEvent(
        id=data.get("id") if isinstance(data.get("id"), str) else None,
        vendor="zendesk",
        type=kind,
        conversation_id=_ticket_id(data.get("subject"), detail),
        customer_id=zendesk_id(detail.get("requester_id")),
        agent_id=agent,
        previous_agent_id=previous,
        occurred_at=zendesk_time(data.get("time")) or zendesk_time(detail.get("updated_at")),
        raw_type=raw_type,
        raw=dict(data),
    )


def parse_webhook(headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
    """Events from one delivery: a Zendesk event object, or a list of them; unknown kinds are `other`.

    Malformed JSON gives no events (the receiver answers 400); it never raises into the web server.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    items = data if isinstance(data, list) else [data]
    return [_one(item) for item in items if isinstance(item, Mapping)]
