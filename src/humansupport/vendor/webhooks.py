"""Webhook helpers: HMAC signatures (sign, verify in constant time), headers, freshness, find-or-create.

Vendors sign a delivery with HMAC over the raw body (sometimes a timestamp first), in hex or base64, sometimes
with a prefix such as `sha1=`. `sign` and `verify` cover those shapes with one call each; `verify` compares in
constant time and refuses an empty secret or signature. `find_or_create` registers a webhook once: it walks the
vendor's listing first, so a rerun of `humansupport webhooks register` adds nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from humansupport.errors import ValidationError
from humansupport.models import WebhookEventType

__all__ = ["event_names", "find_or_create", "header", "is_fresh", "new_secret", "sign", "verify"]

Encoding = Literal["hex", "base64"]


def sign(
    secret: str,
    body: bytes,
    *,
    algorithm: str = "sha256",
    encoding: Encoding = "hex",
    prefix: str = "",
    timestamp: str | None = None,
) -> str:
    """The signature a vendor sends: `prefix` + HMAC(`secret`, `timestamp` + `body`) in hex or base64."""
    message = (timestamp or "").encode() + body
    digest = hmac.new(secret.encode(), message, getattr(hashlib, algorithm)).digest()
    text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    return prefix + text


def verify(
    given: str | None,
    secret: str,
    body: bytes,
    *,
    algorithm: str = "sha256",
    encoding: Encoding = "hex",
    prefix: str = "",
    timestamp: str | None = None,
) -> bool:
    """True when `given` is the signature of `body` under `secret` (constant-time; hex compares case-blind)."""
    if not given or not secret:
        return False
    expected = sign(secret, body, algorithm=algorithm, encoding=encoding, prefix=prefix, timestamp=timestamp)
    got = given.strip()
    if encoding == "hex":
        got, expected = got.lower(), expected.lower()
    return hmac.compare_digest(got.encode(), expected.encode())


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever its case (webhook receivers hand over plain dicts), or None."""
    lowered = name.lower()
    return next((str(v) for k, v in headers.items() if str(k).lower() == lowered), None)


def is_fresh(sent_at: datetime | None, *, now: datetime, tolerance: float = 300.0) -> bool:
    """Whether a delivery's timestamp is within `tolerance` seconds of now (either side), so a replay is refused."""
    return sent_at is not None and abs((now - sent_at).total_seconds()) <= tolerance


def new_secret(length: int = 32) -> str:
    """A random signing secret of `length` URL-safe characters, for vendors that take the caller's secret."""
    return secrets.token_urlsafe(length)[:length]


def event_names(
    events: Sequence[WebhookEventType] | None,
    table: Mapping[WebhookEventType, str | Sequence[str]],
    *,
    vendor: str,
) -> list[str]:
    """The vendor's event names for core events (all of `table` when `events` is None), in order, deduplicated.

    Raises `ValidationError` when none of the asked events exists at the vendor, naming the ones that do.
    """
    names: list[str] = []
    for event in events or list(table):
        found = table.get(event, ())
        names.extend([found] if isinstance(found, str) else found)
    if not names:
        asked = ", ".join(str(e) for e in events or ())
        raise ValidationError(
            vendor=vendor,
            vendor_message=f"{vendor} has no webhook event for {asked}; use {', '.join(str(e) for e in table)}",
        )
    return list(dict.fromkeys(names))


async def find_or_create(
    existing: AsyncIterable[Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    *,
    matches: Callable[[Mapping[str, Any]], bool],
    create: Callable[[], Awaitable[Mapping[str, Any]]],
) -> tuple[Mapping[str, Any], bool]:
    """The first listed webhook that `matches` (typically: same URL), else the one `create()` makes.

    Returns `(webhook, created)`: a found one is returned as the vendor lists it (its secret is usually not shown
    again), so the caller can tell the user which secret applies.
    """
    if isinstance(existing, AsyncIterable):
        async for item in existing:
            if matches(item):
                return item, False
    else:
        for item in existing:
            if matches(item):
                return item, False
    return await create(), True
