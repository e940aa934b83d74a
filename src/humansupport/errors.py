"""One exception hierarchy for the SDK, the plugins and the CLI.

```text
HumansupportError
├── ConfigError                 bad or missing settings (exit code 3)
│   └── UnsupportedOperationError   the vendor's API cannot do this; the message says how to by hand
├── PluginError                 a plugin failed to load or two plugins claim one vendor
├── PaginationLoopError         a pager saw a cursor/URL twice or passed max_pages
├── LockHeldError               another run holds the lock (exit code 7)
├── StoreError                  the history store is corrupt, from a newer version, or unreachable
│   ├── NoHistoryError          no store yet, or no such account in it: run sync first (also a ConfigError)
│   └── StoreConflictError      a deadlock or serialization failure rolled back: safe to run again
└── HelpdeskError               the helpdesk answered with an error
    ├── AuthenticationError     401: the credential is wrong or expired
    ├── PermissionDeniedError   403: the credential lacks a role or scope
    ├── NotFoundError           404: the record does not exist (any more)
    ├── ConflictError           409/412: stale update, someone changed the record since it was read
    ├── ValidationError         400/422: the helpdesk rejected the request body
    ├── RateLimitError          429: over the rate limit (`retry_after` seconds), retriable
    ├── ServerError             5xx, retriable
    └── TransportError          no response at all (DNS, reset, timeout), retriable
```

Messages name vendor, method, path (never the query string), status, request id and the vendor's own
error text. Header values never appear: a Basic header decodes to the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

if TYPE_CHECKING:  # only in annotations: `humansupport --version` should not pay for importing httpx
    import httpx

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "ConflictError",
    "HelpdeskError",
    "HumansupportError",
    "LockHeldError",
    "NoHistoryError",
    "NotFoundError",
    "PaginationLoopError",
    "PermissionDeniedError",
    "PluginError",
    "RateLimitError",
    "ServerError",
    "StoreConflictError",
    "StoreError",
    "TransportError",
    "UnsupportedOperationError",
    "ValidationError",
    "error_from_response",
]

_BODY_LIMIT: Final = 500


class HumansupportError(Exception):
    """Base of every error this SDK raises on purpose."""

    retriable: ClassVar[bool] = False


class ConfigError(HumansupportError):
    """Settings are missing or malformed; the message names the setting and how to set it."""


class UnsupportedOperationError(ConfigError):
    """The helpdesk's API cannot do this (create a field, register a webhook, list saved replies).

    The message gives the exact manual steps, so a CLI can print it and exit with the config code.
    """

    def __init__(self, message: str, *, vendor: str, operation: str) -> None:
        super().__init__(message)
        self.vendor = vendor
        self.operation = operation


class PluginError(HumansupportError):
    """A plugin failed to import or register; other plugins keep working."""

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class PaginationLoopError(HumansupportError):
    """A pager was handed a page token it had already seen, or passed its max_pages guard."""

    def __init__(self, *, vendor: str, token: str, pages: int, reason: str = "loop detected") -> None:
        super().__init__(f"{vendor}: pagination stopped after {pages} pages: {reason} (token {token!r})")
        self.vendor = vendor
        self.token = token
        self.pages = pages


class LockHeldError(HumansupportError):
    """Another run holds the lock for this job; cron should try again later."""


class StoreError(HumansupportError):
    """The history store cannot be used as is (corrupt file, newer schema, bad URL); nothing was overwritten."""


class NoHistoryError(StoreError, ConfigError):
    """The store has no history for this yet (no store file, or no such account): run `humansupport sync` first.

    A `ConfigError` too, so every "sync first" case exits 3 in the CLI.
    """


class StoreConflictError(StoreError):
    """The database rolled a transaction back to resolve a conflict with another one (a deadlock or a
    serialization failure): nothing was written, and running the same transaction again is safe."""


class HelpdeskError(HumansupportError):
    """The helpdesk answered with an error status (or, for TransportError, not at all)."""

    hint: ClassVar[str | None] = None
    retry_after: float | None = None
    """Seconds the helpdesk asked us to wait (Retry-After or a reset header); set on 429 and some 5xx."""

    def __init__(
        self,
        message: str | None = None,
        *,
        vendor: str,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
        body: str | None = None,
        vendor_message: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.vendor = vendor
        self.status = status
        self.method = method
        self.path = path
        self.request_id = request_id
        self.body = body
        self.vendor_message = vendor_message
        self.extra_hint = hint
        super().__init__(message or self._compose())

    def _compose(self) -> str:
        where = " ".join(p for p in (self.method, self.path) if p)
        head = f"{self.vendor}: {where}" if where else self.vendor
        if self.status is not None:
            head += f" -> {self.status}"
        parts = [head]
        if self.vendor_message:
            parts.append(self.vendor_message)
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        text = "; ".join(parts)
        hint = self.extra_hint or self.hint
        if hint:
            text += f". Hint: {hint.format(vendor=self.vendor, VENDOR=self.vendor.upper())}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(vendor={self.vendor!r}, status={self.status!r}, method={self.method!r}, "
            f"path={self.path!r}, request_id={self.request_id!r})"
        )


class AuthenticationError(HelpdeskError):
    hint = "the credential was refused; check HUMANSUPPORT_{VENDOR}_* credentials in the environment"


class PermissionDeniedError(HelpdeskError):
    hint = "the credential works but lacks a role or scope for this call; see docs/vendors/{vendor}.md"


class NotFoundError(HelpdeskError):
    hint = "the record does not exist or was deleted; check the id, subdomain or base_url"


class ConflictError(HelpdeskError):
    """Someone changed the record since it was read; re-read and re-plan instead of overwriting."""


class ValidationError(HelpdeskError):
    """The helpdesk rejected the request; `field_errors` holds what it said per field."""

    def __init__(self, message: str | None = None, *, field_errors: Mapping[str, Any] | None = None, **kw: Any):
        self.field_errors = dict(field_errors or {})
        super().__init__(message, **kw)


class RateLimitError(HelpdeskError):
    hint = "over the helpdesk's rate limit; try again later or lower concurrency"
    retriable = True

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)

    def _compose(self) -> str:
        text = super()._compose()
        if self.retry_after is not None:
            text += f" (retry after {self.retry_after:.0f}s)"
        return text


class ServerError(HelpdeskError):
    retriable = True


class TransportError(HelpdeskError):
    retriable = True


_BY_STATUS: Final[Mapping[int, type[HelpdeskError]]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: ConflictError,  # a stale If-Match: the optimistic-concurrency refusal of ETag vendors
    422: ValidationError,
    429: RateLimitError,
}


def _clipped_body(resp: httpx.Response) -> str:
    try:
        text = resp.text
    except Exception:  # body not read or undecodable: say nothing rather than fail while failing
        return ""
    return text[:_BODY_LIMIT]


def _vendor_message(body: Any) -> tuple[str | None, dict[str, Any]]:
    """Finds the vendor's own error text in the shapes the four vendors use."""
    if not isinstance(body, dict):
        return None, {}
    fields: dict[str, Any] = {}
    msgs: list[str] = []
    for key in ("description", "message", "error_description", "title"):
        val = body.get(key)
        if isinstance(val, str) and val:
            msgs.append(val)
            break
    err = body.get("error")
    if isinstance(err, str) and not msgs:
        msgs.append(err)
    elif isinstance(err, dict):
        for key in ("message", "title", "description"):
            if isinstance(err.get(key), str):
                msgs.append(err[key])
                break
    errors = body.get("errors")
    if isinstance(errors, list):  # a list of {field|path|code, message}
        for e in errors[:10]:
            if isinstance(e, dict):
                field = e.get("field") or e.get("path") or e.get("code") or "error"
                fields.setdefault(str(field), []).append(e.get("message") or e.get("code"))
    details = body.get("details")
    if isinstance(details, dict):  # {field: [{description}]}
        for field, items in list(details.items())[:10]:
            if isinstance(items, list):
                fields[str(field)] = [i.get("description") if isinstance(i, dict) else i for i in items]
    embedded = body.get("_embedded")
    if isinstance(embedded, dict) and isinstance(embedded.get("errors"), list):  # HAL: _embedded.errors
        for e in embedded["errors"][:10]:
            if isinstance(e, dict):
                fields.setdefault(str(e.get("path") or "error"), []).append(e.get("message"))
    if fields:
        msgs.append("; ".join(f"{k}: {', '.join(str(v) for v in vs)}" for k, vs in fields.items()))
    return (" — ".join(msgs) or None), fields


def error_from_response(
    vendor: str,
    resp: httpx.Response,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
    hint: str | None = None,
) -> HelpdeskError:
    """Builds the right HelpdeskError subclass for an error response; the one place statuses map to types."""
    status = resp.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else HelpdeskError)
    body_text = _clipped_body(resp)
    try:
        parsed = json.loads(resp.content) if resp.content else None
    except Exception:  # unread stream, bad JSON, bad encoding: the status still says enough
        parsed = None
    vendor_msg, field_errors = _vendor_message(parsed)
    if vendor_msg is None and body_text and not body_text.lstrip().startswith("<"):
        vendor_msg = body_text[:200]
    try:
        method: str | None = resp.request.method
        path: str | None = resp.request.url.path
    except RuntimeError:  # a response built without a request
        method = path = None
    kw: dict[str, Any] = {
        "vendor": vendor,
        "status": status,
        "method": method,
        "path": path,
        "request_id": request_id,
        "body": body_text,
        "vendor_message": vendor_msg,
        "hint": hint,
    }
    if cls is RateLimitError:
        return RateLimitError(retry_after=retry_after, **kw)
    if cls is ValidationError:
        return ValidationError(field_errors=field_errors, **kw)
    return cls(**kw)
