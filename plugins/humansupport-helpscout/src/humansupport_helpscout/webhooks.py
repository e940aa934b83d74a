"""Help Scout webhooks: `X-HelpScout-Signature` is base64(HMAC-SHA1(secret, raw body)); `X-HelpScout-Event` names it.

Source: https://developer.helpscout.com/webhooks/ (headers, event list, the PHP verification sample).
Verification runs on the raw bytes as received; re-serialised JSON would not match.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping

from humansupport.models import WebhookEvent

from .mapping import event_from_webhook

__all__ = ["SIGNATURE_HEADER", "EVENT_HEADER", "parse_webhook", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-HelpScout-Signature"
EVENT_HEADER = "X-HelpScout-Event"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return str(value)
    return None


def sign(body: bytes, secret: str) -> str:
    """The signature Help Scout sends for `body` under `secret`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """Constant-time check; False for a missing header, an empty secret or any mismatch (never raises)."""
    given = _header(headers, SIGNATURE_HEADER)
    if not given or not secret:
        return False
    return hmac.compare_digest(given.strip().encode(), sign(body, secret).encode())


def parse_webhook(headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
    """One delivery as one event; a body that is not a JSON object gives an OTHER event with an empty raw."""
    try:
        data = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        data = {}
    return [event_from_webhook(_header(headers, EVENT_HEADER), data)]
