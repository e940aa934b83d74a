"""Help Scout webhooks: `X-HelpScout-Signature` is base64(HMAC-SHA1(secret, raw body)); `X-HelpScout-Event` names it.

Source: https://developer.helpscout.com/webhooks/ (headers, event list, the PHP verification sample).
Verification runs on the raw bytes as received (re-serialised JSON would not match), through the toolkit's
constant-time `humansupport.vendor.verify`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from humansupport.models import WebhookEvent
from humansupport.vendor import header
from humansupport.vendor import sign as hmac_sign
from humansupport.vendor import verify as hmac_verify

from .mapping import event_from_webhook

__all__ = ["EVENT_HEADER", "SIGNATURE_HEADER", "parse_webhook", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-HelpScout-Signature"
EVENT_HEADER = "X-HelpScout-Event"


def sign(body: bytes, secret: str) -> str:
    """The signature Help Scout sends for `body` under `secret`."""
    return hmac_sign(secret, body, algorithm="sha1", encoding="base64")


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """Constant-time check; False for a missing header, an empty secret or any mismatch (never raises)."""
    return hmac_verify(header(headers, SIGNATURE_HEADER), secret, body, algorithm="sha1", encoding="base64")


def parse_webhook(headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
    """One delivery as one event; a body that is not a JSON object gives an OTHER event with an empty raw."""
    try:
        data = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        data = {}
    return [event_from_webhook(header(headers, EVENT_HEADER), data)]
