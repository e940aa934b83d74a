"""Freshdesk automation-rule webhooks: shared-secret check and event parsing.

Freshdesk signs nothing (no HMAC is documented; vendors/freshdesk.md §7). A webhook is the "Trigger
webhook" action of an automation rule, whose custom headers and JSON body the admin writes. So we ask the
admin to add a secret header (default `X-Humansupport-Webhook-Secret`) and compare it in constant time,
and we document the body template (docs/vendors/freshdesk.md). The header authenticates the sender, not
the body: it is not a signature, which is why `capabilities.signed_webhooks` is false.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from humansupport.models import WebhookEvent, WebhookEventType
from humansupport.vendor import as_id, as_time
from humansupport.vendor import header as header_value

__all__ = ["DEFAULT_SECRET_HEADER", "EVENT_TYPES", "parse_webhook_body", "verify_shared_secret"]

DEFAULT_SECRET_HEADER: Final = "X-Humansupport-Webhook-Secret"  # noqa: S105 - a header name, not a secret

#: `event` values of our documented rule templates (and Freshdesk app-event names, for payloads relayed
#: from a Marketplace app) -> core event types.
EVENT_TYPES: Final[Mapping[str, WebhookEventType]] = {
    "ticket_created": WebhookEventType.CONVERSATION_CREATED,
    "onticketcreate": WebhookEventType.CONVERSATION_CREATED,
    "agent_assigned": WebhookEventType.CONVERSATION_ASSIGNED,
    "ticket_assigned": WebhookEventType.CONVERSATION_ASSIGNED,
    "ticket_updated": WebhookEventType.CONVERSATION_UPDATED,
    "onticketupdate": WebhookEventType.CONVERSATION_UPDATED,
    "customer_replied": WebhookEventType.CUSTOMER_REPLIED,
    "onagentavailabilityupdate": WebhookEventType.AGENT_AVAILABILITY_CHANGED,
}

# `{{triggered_event}}` renders like `{responder_id:[null, 43000012]}` on an assignment change.
_RESPONDER_CHANGE: Final = re.compile(r"responder_id\W+\[?\s*(null|\d+)\s*,\s*(null|\d+)")


def verify_shared_secret(headers: Mapping[str, str], secret: str, *, header: str = DEFAULT_SECRET_HEADER) -> bool:
    """True when the delivery carries `secret` in `header`; constant-time, empty secrets never match."""
    given = header_value(headers, header)
    if not secret or given is None:
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), secret.encode("utf-8"))


def _id(value: Any) -> str | None:
    """An id, where the rule's placeholders may render `null`, `None` or stay unfilled (`{{ticket.id}}`)."""
    text = as_id(value)
    if text is None or text.lower() in ("null", "none") or text.startswith("{{"):
        return None
    return text


def parse_webhook_body(body: bytes, *, vendor: str = "freshdesk") -> list[WebhookEvent]:
    """One delivery -> events. Accepts our template, Freshdesk's `freshdesk_webhook` wrapper, and a
    nested `ticket` object; unknown `event` values become type `other`. A body that is not a JSON object
    gives no events (the receiver answers 400 rather than crash)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(data, dict):
        return []
    wrapped = data.get("freshdesk_webhook")
    payload: dict[str, Any] = wrapped if isinstance(wrapped, dict) else data
    nested = payload.get("ticket")
    ticket: dict[str, Any] = nested if isinstance(nested, dict) else {}
    raw_type = payload.get("event") or payload.get("event_type") or data.get("event")
    raw_type = str(raw_type) if raw_type is not None else None
    triggered = str(payload.get("triggered_event") or "")
    event_type = EVENT_TYPES.get((raw_type or "").strip().lower(), WebhookEventType.OTHER)
    agent_id = _id(payload.get("responder_id") or payload.get("agent_id") or ticket.get("responder_id"))
    previous = None
    change = _RESPONDER_CHANGE.search(triggered)
    if change:
        previous, agent_id = _id(change.group(1)), _id(change.group(2)) or agent_id
        if event_type is WebhookEventType.OTHER:
            event_type = WebhookEventType.CONVERSATION_ASSIGNED
    occurred = as_time(payload.get("updated_at") or ticket.get("updated_at") or payload.get("created_at"))
    return [
        WebhookEvent(
            id=hashlib.sha256(body).hexdigest()[:32],  # Freshdesk sends no delivery id; same body, same id
            vendor=vendor,
            type=event_type,
            conversation_id=_id(payload.get("ticket_id") or ticket.get("id")),
            customer_id=_id(payload.get("requester_id") or ticket.get("requester_id")),
            agent_id=agent_id,
            previous_agent_id=previous,
            occurred_at=occurred,
            raw_type=raw_type,
            raw=data,
        )
    ]
