"""A stateful fake of the Zendesk Support API, seeded from the shared synthetic history.

It answers the endpoints the adapter uses with Zendesk's paths, JSON shapes, cursor and export pagination,
error bodies (`{"error": "RecordInvalid", "description": ..., "details": {...}}`), rate-limit headers and
429s, `safe_update` conflicts (409), `update_many` jobs that finish later on the fake clock, and webhook
signatures. Request bodies are validated the way Zendesk does (400/422). Shapes follow
tests/specs/openapi.yaml (the contract tests check them) and docs/vendors/zendesk.md.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, Final

import httpx

from humansupport import (
    Agent,
    AgentAvailability,
    Conversation,
    ConversationStatus,
    Customer,
    Group,
    Message,
    RatingScore,
)
from humansupport.testing import PRODUCT_AREA_FIELD, FakeBadRequest, FakeClock, FakeHelpdesk, SyntheticHistory, route
from humansupport.text import text_to_html

from .mapping import CORE_TO_STATUS, STATUS_TO_CORE, stamp, zendesk_time
from .webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_webhook

__all__ = ["ZENDESK_PRODUCT_AREA_FIELD", "ZENDESK_TICKET_FIELDS", "FakeZendesk"]

#: the ticket field id the fake gives the synthetic history's `product_area` (tickets name fields by id only)
ZENDESK_PRODUCT_AREA_FIELD: Final = 360000101
#: the ticket fields every fake ticket lists, by the core key they hold (unset ones show `value: null`, as in Zendesk)
ZENDESK_TICKET_FIELDS: Final[Mapping[str, int]] = {PRODUCT_AREA_FIELD: ZENDESK_PRODUCT_AREA_FIELD}

_ONE_SECOND: Final = timedelta(seconds=1)
_CONFLICT_TEXT: Final = (
    "Safe Update prevented the update due to outdated ticket data. Please fetch the latest ticket data and try again."
)
_ERROR_NAMES: Final[Mapping[int, str]] = {
    400: "InvalidValue",
    401: "Couldn't authenticate you",
    403: "Forbidden",
    404: "RecordNotFound",
    409: "UpdateConflict",
    422: "RecordInvalid",
    429: "TooManyRequests",
}
_LIST_CAP: Final = 100
_PRIORITIES: Final = frozenset({"urgent", "high", "normal", "low"})
_TICKET_TYPES: Final = frozenset({"problem", "incident", "question", "task"})
_USER_FIELD_TYPES: Final = frozenset(
    {"text", "textarea", "checkbox", "date", "integer", "decimal", "regexp", "dropdown", "lookup", "multiselect"}
)
_EXPORT_CAP: Final = 1000
_WEBHOOK_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_WEBHOOK_FORMATS: Final = frozenset({"json", "xml", "form_encoded"})
_WEBHOOK_EVENTS: Final[Mapping[str, str]] = {
    "conversation.created": "zen:event-type:ticket.created",
    "conversation.assigned": "zen:event-type:ticket.agent_assignment_changed",
}


def _ticket_custom_fields(fields: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`[{id, value}]`: every declared field (null when unset), then any other field already keyed by its id."""
    out = [{"id": fid, "value": fields.get(key)} for key, fid in ZENDESK_TICKET_FIELDS.items()]
    out.extend({"id": int(key), "value": value} for key, value in fields.items() if key.isdigit())
    return out


def _iso(value: datetime | None) -> str | None:
    return stamp(value) if value is not None else None


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise FakeBadRequest("cursor is invalid", status=400) from None
    if not text.startswith("o:") or not text[2:].isdigit():
        raise FakeBadRequest("cursor is invalid", status=400)
    return int(text[2:])


def _encode_position(position: tuple[int, int]) -> str:
    return base64.urlsafe_b64encode(f"p:{position[0]}:{position[1]}".encode()).decode()


def _decode_position(cursor: str) -> tuple[int, int]:
    try:
        kind, ts, rid = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        if kind != "p":
            raise ValueError(kind)
        return int(ts), int(rid)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise FakeBadRequest("cursor is invalid", status=400) from None


def _body(request: httpx.Request) -> dict[str, Any]:
    try:
        data = json.loads(request.content or b"null")
    except ValueError:
        raise FakeBadRequest("Request body is not valid JSON", status=400) from None
    if not isinstance(data, dict):
        raise FakeBadRequest("Request body must be a JSON object", status=400)
    return data


def _int_param(request: httpx.Request, name: str, *, default: int | None = None) -> int | None:
    raw = request.url.params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise FakeBadRequest(f"{name} must be an integer", status=400) from None


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _tag_list(raw: Any) -> list[str]:
    """Tags as Zendesk stores them: lower case, a space splits a tag in two."""
    if isinstance(raw, str):
        raw = raw.split()
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise FakeBadRequest("tags must be a list of strings", status=422, field="tags")
    return list(dict.fromkeys(part.lower() for tag in raw for part in tag.split() if part))


_SEARCH_CAP: Final = 1000
_SYSTEM_TICKET_FIELDS: Final = ("subject", "description", "status", "tickettype", "priority", "group", "assignee")
_MACRO_FIELDS: Final = frozenset(
    {
        "status",
        "priority",
        "type",
        "assignee_id",
        "group_id",
        "set_tags",
        "current_tags",
        "remove_tags",
        "comment_value",
        "comment_value_html",
        "comment_mode_is_public",
        "subject",
    }
)
_STATUS_ORDER: Final[Mapping[str, int]] = {"new": 0, "open": 1, "pending": 2, "hold": 3, "solved": 4, "closed": 5}
_SEARCH_TERM: Final = re.compile(r'(-?)([a-z_0-9]*?)(:|>=|<=|>|<)("[^"]*"|\S+)|(-?)("[^"]*"|\S+)')


def _search_terms(query: str) -> list[tuple[str, str, str, bool]]:
    """`(keyword, operator, value, negated)` per term; free text has the keyword `""`."""
    terms = []
    for m in _SEARCH_TERM.finditer(query):
        if m.group(3):
            terms.append((m.group(2).lower(), m.group(3), m.group(4).strip('"'), m.group(1) == "-"))
        else:
            terms.append(("", ":", m.group(6).strip('"'), m.group(5) == "-"))
    return terms


def _matches(terms: list[tuple[str, str, str, bool]], test: Any) -> bool:
    """Terms of one keyword and operator match any of their values; every keyword must match; `-` negates."""
    groups: dict[tuple[str, str, bool], list[str]] = {}
    for key, op, value, negated in terms:
        groups.setdefault((key, op, negated), []).append(value)
    for (key, op, negated), values in groups.items():
        if negated:
            if any(test(key, op, v) for v in values):
                return False
        elif key == "":
            if not all(test(key, op, v) for v in values):
                return False
        elif not any(test(key, op, v) for v in values):
            return False
    return True


def _compare(left: Any, op: str, right: Any) -> bool:
    outcome = {
        ":": left == right,
        ">": left > right,
        "<": left < right,
        ">=": left >= right,
        "<=": left <= right,
    }[op]
    return bool(outcome)


def _search_time(value: str) -> datetime | None:
    return zendesk_time(value if "T" in value else f"{value}T00:00:00Z")


def _group_matches(group: Mapping[str, Any], key: str, op: str, value: str) -> bool:
    return key in ("", "name") and value.lower() in str(group.get("name") or "").lower()


def _user_matches(user: Mapping[str, Any], key: str, op: str, value: str) -> bool:
    low = value.lower()
    if key == "":
        return low in f"{user.get('name') or ''} {user.get('email') or ''}".lower()
    if key == "email":
        return str(user.get("email") or "").lower() == low
    if key == "role":
        return bool(user.get("role") == low)
    if key == "name":
        return low in str(user.get("name") or "").lower()
    if key in ("tags", "tag"):
        return low in (user.get("tags") or [])
    if key == "id":
        return str(user.get("id")) == value
    return False


class FakeZendesk(FakeHelpdesk):
    """Zendesk as the adapter sees it; `export_limit_per_minute` turns on the exports' own 10/min bucket."""

    vendor: ClassVar[str] = "zendesk"
    #: caps every page; lists are also capped at Zendesk's 100 and exports at its 1,000
    default_page_size: ClassVar[int] = 1000
    subdomain: ClassVar[str] = "fake"
    email: ClassVar[str] = "api-agent@fake.test"
    token: ClassVar[str] = "fake-zendesk-api-token"  # noqa: S105 - a fake's credential, not a secret
    oauth_token: ClassVar[str] = "fake-zendesk-oauth-token"  # noqa: S105
    plan_limit: ClassVar[int] = 700

    def custom_field_key(self, name: str) -> str:
        return str(ZENDESK_PRODUCT_AREA_FIELD) if name == PRODUCT_AREA_FIELD else name

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        history: SyntheticHistory | None = None,
        rate_limit_per_minute: int | None = None,
    ) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.job_delay = 1.0
        self.export_limit_per_minute: int | None = None
        self.omnichannel_routing = False
        self.export_limited = 0
        self._export_window = (0.0, 0)
        #: user fields defined in the account (key -> type); values for other keys are ignored, as Zendesk does
        self.user_field_types: dict[str, str] = {
            "plan": "text",
            "seats": "integer",
            "signup_source": "dropdown",
            "account_id": "text",
            "humansupport_preferred_agent": "text",
            "humansupport_conversations": "integer",
        }
        self.deleted_users: set[str] = set()
        self.soft_deleted_users: set[str] = set()  # end users deleted but still readable (`active: false`)
        self.suspended_users: set[str] = set()
        self._next_message = 90_000_001
        self._events_cache: list[dict[str, Any]] | None = None
        self._rows_cache: tuple[tuple[int, int, int], list[tuple[int, int, dict[str, Any]]]] | None = None
        self._writes = 0
        #: macros by id, as Zendesk renders them (the reply text in a `comment_value_html` action)
        self.macros: dict[str, dict[str, Any]] = {}
        #: webhooks by id, and the signing secret Zendesk generated for each
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.webhook_secrets: dict[str, str] = {}
        #: ticket attributes the core model has no place for (priority, type), by ticket id
        self.ticket_extras: dict[str, dict[str, Any]] = {}
        #: custom ticket fields by id, as `GET /api/v2/ticket_fields` lists them (after the system fields)
        self.ticket_fields: dict[int, dict[str, Any]] = {
            ZENDESK_PRODUCT_AREA_FIELD: {"type": "tagger", "title": "Product area", "key": PRODUCT_AREA_FIELD}
        }
        super().__init__(clock=clock, history=history, rate_limit_per_minute=rate_limit_per_minute)

    @classmethod
    def adapter_settings(cls) -> dict[str, Any]:
        return {
            "subdomain": cls.subdomain,
            "email": cls.email,
            "api_token": cls.token,
            "base_url": f"https://{cls.subdomain}.zendesk.com",
        }

    @classmethod
    def client_settings(cls, url: str) -> dict[str, dict[str, Any]]:
        """zenpy (2.0.57) reaches a served fake through its own `ZENPY_FORCE_SCHEME` / `ZENPY_FORCE_NETLOC`."""
        scheme, _, netloc = url.partition("://")
        return {
            "zenpy": {
                "environment": {"ZENPY_FORCE_SCHEME": scheme, "ZENPY_FORCE_NETLOC": netloc},
                "python": f"Zenpy(subdomain={cls.subdomain!r}, email={cls.email!r}, token={cls.token!r})",
            }
        }

    def load(self, history: SyntheticHistory) -> None:
        super().load(history)
        self._events_cache = None
        self._writes = getattr(self, "_writes", 0) + 1

    @property
    def me_id(self) -> str:
        """The API user: the first active agent (rendered as an admin), so notes it writes have an agent author."""
        active = [aid for aid, agent in self.agents.items() if agent.active]
        return min(active or self.agents or ["1"], key=int)

    # -- vendor hooks --------------------------------------------------------------------------------

    def authenticate(self, request: httpx.Request) -> bool:
        header = request.headers.get("authorization", "")
        if header == f"Bearer {self.oauth_token}":
            return True
        expected = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        return bool(header == f"Basic {expected}")

    def error_body(self, status: int, message: str, *, field: str | None = None) -> Any:
        if status == 401:
            return {"error": "Couldn't authenticate you"}
        name = _ERROR_NAMES.get(status, "InternalServerError" if status >= 500 else "InvalidValue")
        if field is not None:
            return {
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": {field: [{"description": message, "error": "InvalidValue"}]},
            }
        return {"error": name, "description": message}

    def rate_limit_headers(self, *, limit: int, remaining: int, reset_seconds: float) -> dict[str, str]:
        return {
            "X-Rate-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(max(0, remaining)),
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": str(max(0, remaining)),
            "ratelimit-reset": str(max(1, int(reset_seconds + 0.999))),
        }

    def request_id_headers(self) -> dict[str, str]:
        return {"X-Zendesk-Request-Id": f"fakezd{len(self.requests):08x}"}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = super().__call__(request)
        if "x-rate-limit" not in response.headers:
            # Zendesk states the plan limit on every response. With no limit enforced (`rate_limit_per_minute`
            # unset) the fake has all of it to give: a served fake's clock stands still, so a counted window
            # would never reset and would throttle clients for nothing.
            response.headers.update(
                self.rate_limit_headers(limit=self.plan_limit, remaining=self.plan_limit - 1, reset_seconds=60.0)
            )
        return response

    def _export_gate(self) -> httpx.Response | None:
        """The incremental exports' own bucket (10/min): a 429 with Retry-After past it."""
        limit = self.export_limit_per_minute
        if not limit:
            return None
        start, count = self._export_window
        now = self.clock.monotonic()
        if now - start >= 60.0:
            start, count = now, 0
        if count >= limit:
            self.export_limited += 1
            wait = max(1, int(60.0 - (now - start) + 0.999))
            headers = {"Retry-After": str(wait), "Zendesk-RateLimit-incremental-exports": f"total={limit}; remaining=0"}
            return self.error(429, "Too many requests to the incremental export API", headers=headers)
        self._export_window = (start, count + 1)
        return None

    # -- rendering -----------------------------------------------------------------------------------

    def _url(self, request: httpx.Request, path: str) -> str:
        return f"{request.url.scheme}://{request.url.netloc.decode()}{path}"

    def _ticket(self, conv: Conversation) -> dict[str, Any]:
        thread = self.messages.get(conv.id) or []
        first = thread[0] if thread else None
        updated = conv.updated_at or conv.created_at or self.clock.now()
        return {
            "id": int(conv.id),
            "url": f"https://{self.subdomain}.zendesk.com/api/v2/tickets/{conv.id}.json",
            "subject": conv.subject,
            "raw_subject": conv.subject or "",
            "description": (first.body if first is not None and first.body else "") or "",
            "status": CORE_TO_STATUS.get(conv.status, "open"),
            "priority": self.ticket_extras.get(conv.id, {}).get("priority", "normal"),
            "type": self.ticket_extras.get(conv.id, {}).get("type", "question"),
            "requester_id": int(conv.customer_id) if conv.customer_id else None,
            "submitter_id": int(conv.customer_id) if conv.customer_id else None,
            "assignee_id": int(conv.assignee_id) if conv.assignee_id else None,
            "group_id": int(conv.group_id) if conv.group_id else None,
            "organization_id": None,
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "tags": list(conv.tags),
            "custom_fields": _ticket_custom_fields(conv.custom_fields),
            "via": {"channel": conv.channel or "email", "source": {"from": {}, "to": {}, "rel": None}},
            "external_id": None,
            "is_public": True,
            "has_incidents": False,
            "created_at": _iso(conv.created_at or updated),
            "updated_at": _iso(updated),
            "generated_timestamp": int(updated.timestamp()),
        }

    def _user(self, uid: str) -> dict[str, Any] | None:
        if uid in self.agents:
            agent = self.agents[uid]
            return {
                "id": int(uid),
                "url": f"https://{self.subdomain}.zendesk.com/api/v2/users/{uid}.json",
                "name": agent.name or "",
                "email": agent.email or f"agent{uid}@fake.test",
                "role": "admin" if uid == self.me_id else "agent",
                "active": agent.active,
                "suspended": uid in self.suspended_users,
                "verified": True,
                "photo": {"content_url": agent.avatar_url} if agent.avatar_url else None,
                "tags": [],
                "user_fields": {},
                "notes": "",
                "default_group_id": int(agent.group_ids[0]) if agent.group_ids else None,
                "time_zone": "UTC",
                "iana_time_zone": "Etc/UTC",
                "locale": "en-US",
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z",
            }
        if uid in self.customers:
            return self._customer(self.customers[uid])
        return None

    def _customer(self, cust: Customer) -> dict[str, Any]:
        return {
            "id": int(cust.id),
            "url": f"https://{self.subdomain}.zendesk.com/api/v2/users/{cust.id}.json",
            "name": cust.name or "",
            "email": cust.email,
            "phone": cust.phone,
            "role": "end-user",
            "active": cust.id not in self.soft_deleted_users,
            "suspended": cust.id in self.suspended_users,
            "verified": True,
            "photo": {"content_url": cust.avatar_url} if cust.avatar_url else None,
            "tags": list(cust.tags),
            "user_fields": {k: v for k, v in cust.custom_attributes.items() if k in self.user_field_types},
            "notes": cust.notes or "",
            "time_zone": cust.timezone or "UTC",
            "iana_time_zone": cust.timezone or "Etc/UTC",
            "locale": cust.locale or "en-US",
            "created_at": _iso(cust.created_at) or "2024-01-01T00:00:00Z",
            "updated_at": _iso(cust.updated_at or cust.created_at) or "2024-01-01T00:00:00Z",
        }

    def _comment(self, msg: Message) -> dict[str, Any]:
        return {
            "id": int(msg.id),
            "type": "Comment",
            "author_id": int(msg.author_id) if msg.author_id else None,
            "body": msg.body or "",
            "html_body": f"<p>{msg.body or ''}</p>",
            "plain_body": msg.body or "",
            "public": msg.public,
            "attachments": [],
            "created_at": _iso(msg.created_at),
        }

    # -- paging helpers ------------------------------------------------------------------------------

    def _cursor_page(
        self, request: httpx.Request, key: str, records: list[dict[str, Any]], *, extra: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """Zendesk cursor pagination: `page[size]` (max 100), `page[after]`, `meta` and `links`."""
        size = _int_param(request, "page[size]", default=_LIST_CAP) or _LIST_CAP
        if not 1 <= size <= _LIST_CAP:
            raise FakeBadRequest(f"page[size] must be between 1 and {_LIST_CAP}", status=400)
        after = request.url.params.get("page[after]")
        start = _decode(after) if after else 0
        size = min(size, self.page_size)
        chunk = records[start : start + size]
        end = start + len(chunk)
        more = end < len(records)
        next_url = str(request.url.copy_merge_params({"page[after]": _encode(end)})) if more else None
        body = {
            key: chunk,
            "meta": {"has_more": more, "after_cursor": _encode(end) if chunk else None, "before_cursor": None},
            "links": {"next": next_url, "prev": None},
            **(extra or {}),
        }
        return self.json_response(body)

    def _export_page(
        self, request: httpx.Request, key: str, records: list[tuple[int, int, dict[str, Any]]]
    ) -> httpx.Response:
        """The cursor export: records sorted by (generated time, id); `start_time` first, then `cursor`."""
        limited = self._export_gate()
        if limited is not None:
            return limited
        per_page = _int_param(request, "per_page", default=_EXPORT_CAP) or _EXPORT_CAP
        if not 1 <= per_page <= _EXPORT_CAP:
            raise FakeBadRequest(f"per_page must be between 1 and {_EXPORT_CAP}", status=400)
        cursor = request.url.params.get("cursor")
        if cursor:
            position = _decode_position(cursor)
        else:
            start_time = _int_param(request, "start_time")
            if start_time is None:
                raise FakeBadRequest("start_time or cursor is required", status=400)
            if start_time > int(self.clock.now().timestamp()):
                raise FakeBadRequest("start_time is too recent", status=400)
            position = (start_time, -1)
        # The cursor is a position in (generated time, id) order, not an offset: a ticket updated after it
        # was exported moves behind the cursor and comes again; nothing ahead of the cursor is skipped.
        start = bisect.bisect_right(records, position, key=lambda r: (r[0], r[1]))
        size = max(1, min(per_page, self.page_size, _EXPORT_CAP))
        chunk = records[start : start + size]
        end = start + len(chunk)
        after = _encode_position((chunk[-1][0], chunk[-1][1]) if chunk else position)
        base = self._url(request, request.url.path)
        return self.json_response(
            {
                key: [r[2] for r in chunk],
                "after_cursor": after,
                "after_url": f"{base}?cursor={after}",
                "before_cursor": None,
                "before_url": None,
                "end_of_stream": end >= len(records),
            }
        )

    # -- tickets -------------------------------------------------------------------------------------

    def _ticket_rows(self) -> list[tuple[int, int, dict[str, Any]]]:
        """Tickets in export order, rendered once per state (writes through the fake's methods invalidate)."""
        key = (id(self.conversations), len(self.conversations), self._writes)
        if self._rows_cache is None or self._rows_cache[0] != key:
            rendered = (self._ticket(c) for c in self.conversations.values())
            rows = sorted(((t["generated_timestamp"], t["id"], t) for t in rendered), key=lambda r: (r[0], r[1]))
            self._rows_cache = (key, rows)
        return self._rows_cache[1]

    @route("GET", r"/api/v2/incremental/tickets/cursor(?:\.json)?")
    def export_tickets(self, request: httpx.Request) -> httpx.Response:
        return self._export_page(request, "tickets", self._ticket_rows())

    @route("GET", r"/api/v2/search/export(?:\.json)?")
    def search_export(self, request: httpx.Request) -> httpx.Response:
        kind = request.url.params.get("filter[type]")
        if kind not in ("ticket", "user", "organization", "group"):
            raise FakeBadRequest("filter[type] is required: ticket, user, organization or group", status=400)
        query = request.url.params.get("query") or ""
        return self._cursor_page(request, "results", self._search(f"type:{kind} {query}"))

    @route("GET", r"/api/v2/search(?:\.json)?")
    def search(self, request: httpx.Request) -> httpx.Response:
        """Offset pages (`page`, `per_page` up to 100) with `next_page`; past 1,000 results a 422 `invalid`."""
        query = request.url.params.get("query")
        if not query:
            raise FakeBadRequest("query is required", status=400)
        found = self._search(query)
        sort_by = request.url.params.get("sort_by")
        if sort_by in ("updated_at", "created_at", "priority", "status", "ticket_type"):
            key = "type" if sort_by == "ticket_type" else sort_by
            found.sort(key=lambda r: str(r.get(key) or ""), reverse=request.url.params.get("sort_order") != "asc")
        page = _int_param(request, "page", default=1) or 1
        per_page = _int_param(request, "per_page", default=_LIST_CAP) or _LIST_CAP
        if not 1 <= per_page <= _LIST_CAP or page < 1:
            raise FakeBadRequest(f"per_page must be between 1 and {_LIST_CAP}", status=400)
        per_page = min(per_page, self.page_size)
        if (page - 1) * per_page >= _SEARCH_CAP:
            body = {
                "error": "invalid",
                "description": "Invalid search: Requested response size was greater than Search Response Limits",
            }
            return self.json_response(body, 422)
        chunk, more = self.paginate_list(found, page=page, per_page=per_page)
        more = more and page * per_page < _SEARCH_CAP
        next_url = str(request.url.copy_merge_params({"page": str(page + 1), "per_page": str(per_page)}))
        prev_url = str(request.url.copy_merge_params({"page": str(page - 1), "per_page": str(per_page)}))
        return self.json_response(
            {
                "results": chunk,
                "facets": None,
                "count": len(found),
                "next_page": next_url if more else None,
                "previous_page": prev_url if page > 1 else None,
            }
        )

    @route("GET", r"/api/v2/search/count(?:\.json)?")
    def search_count(self, request: httpx.Request) -> httpx.Response:
        query = request.url.params.get("query")
        if not query:
            raise FakeBadRequest("query is required", status=400)
        return self.json_response({"count": len(self._search(query))})

    def _search(self, query: str) -> list[dict[str, Any]]:
        """Zendesk's search syntax for the common fields: `type:`, `status:`/`status<`, `priority:`,
        `ticket_type:`, `assignee:` (id, email, `none`, `me`), `group:`, `requester:`, `tags:`, `subject:`,
        `created>`/`updated<` (dates or times), `custom_field_<id>:`, `email:`, `role:`, `name:`, `-term`
        negation and free text. Several values of one keyword match any of them; keywords all must match."""
        terms = _search_terms(query)
        kinds = {v for k, op, v, neg in terms if k == "type" and op == ":" and not neg}
        terms = [t for t in terms if t[0] != "type"]
        results: list[dict[str, Any]] = []
        if not kinds or "ticket" in kinds:
            for conv in sorted(self.conversations.values(), key=lambda c: int(c.id)):
                ticket = self._ticket(conv)
                if _matches(terms, partial(self._ticket_matches, conv, ticket)):
                    results.append({**ticket, "result_type": "ticket"})
        if not kinds or "user" in kinds:
            for uid in [*sorted(self.agents, key=int), *sorted(self.customers, key=int)]:
                user = self._user(uid)
                if user is not None and _matches(terms, partial(_user_matches, user)):
                    results.append({**user, "result_type": "user"})
        if not kinds or "group" in kinds:
            for group in sorted(self.groups.values(), key=lambda g: int(g.id)):
                rendered = self._group(group)
                if _matches(terms, partial(_group_matches, rendered)):
                    results.append({**rendered, "result_type": "group"})
        return results

    def _ticket_matches(self, conv: Conversation, ticket: Mapping[str, Any], key: str, op: str, value: str) -> bool:
        low = value.lower()
        if key == "":
            text = f"{ticket.get('subject') or ''} {ticket.get('description') or ''}".lower()
            return low.strip('"') in text
        if key == "status":
            if op == ":":
                return bool(ticket["status"] == low)
            rank = _STATUS_ORDER.get(low)
            mine = _STATUS_ORDER[ticket["status"]]
            return rank is not None and _compare(mine, op, rank)
        if key in ("priority", "ticket_type"):
            name = "type" if key == "ticket_type" else key
            return str(ticket.get(name) or "none") == low
        if key in ("assignee", "requester", "submitter"):
            field = {"assignee": conv.assignee_id, "requester": conv.customer_id, "submitter": conv.customer_id}[key]
            if low == "none":
                return field is None
            if low == "me":
                return field == self.me_id
            if field is None:
                return False
            user = self._user(field) or {}
            return low in (field, str(user.get("email") or "").lower(), str(user.get("name") or "").lower())
        if key == "group":
            if low == "none":
                return conv.group_id is None
            group = self.groups.get(conv.group_id or "")
            return group is not None and low in (group.id, (group.name or "").lower())
        if key in ("tags", "tag"):
            return low in conv.tags
        if key in ("subject", "description"):
            return low.strip('"') in str(ticket.get(key) or "").lower()
        if key in ("created", "updated"):
            stamp_ = zendesk_time(ticket[f"{key}_at"])
            when = _search_time(value)
            return stamp_ is not None and when is not None and _compare(stamp_, op, when)
        if key.startswith("custom_field_"):
            wanted = {str(f["id"]): f["value"] for f in ticket["custom_fields"]}.get(key.removeprefix("custom_field_"))
            return str(wanted).lower() == low if wanted is not None else low == "none"
        if key == "id":
            return str(ticket["id"]) == value
        return False

    @route("GET", r"/api/v2/tickets(?:\.json)?")
    def list_tickets(self, request: httpx.Request) -> httpx.Response:
        """Cursor pages (`page[size]` up to 100) in id order; offset paging is not offered by the fake."""
        tickets = [self._ticket(c) for c in sorted(self.conversations.values(), key=lambda c: int(c.id))]
        return self._cursor_page(request, "tickets", tickets)

    @route("POST", r"/api/v2/tickets(?:\.json)?")
    def create_ticket(self, request: httpx.Request) -> httpx.Response:
        """A ticket with its first comment (`comment.body`, or `description`), as the API user (the submitter
        authors the first comment); `requester_id`, or `requester: {email, name}` finding or creating the user."""
        ticket = _body(request).get("ticket")
        if not isinstance(ticket, dict):
            raise FakeBadRequest("ticket is required", status=400)
        comment = ticket.get("comment")
        text = (comment.get("body") or comment.get("html_body")) if isinstance(comment, dict) else None
        text = text or ticket.get("description")
        if not isinstance(text, str) or not text.strip():
            raise FakeBadRequest("Description: cannot be blank", status=422, field="description")
        public = comment.get("public", True) if isinstance(comment, dict) else True
        requester = self._requester(ticket)
        tid = str(max((int(i) for i in self.conversations), default=0) + 1)
        now = self.clock.now().replace(microsecond=0)
        conv = Conversation(
            id=tid, status=ConversationStatus.NEW, customer_id=requester, created_at=now, updated_at=now
        )
        fields = {k: v for k, v in ticket.items() if k not in ("comment", "description", "requester", "requester_id")}
        changes, extras = self._ticket_changes(conv, fields)
        if "status" not in fields and changes.get("assignee_id"):
            changes["status"] = ConversationStatus.OPEN  # a new ticket with an assignee is open
        changes.setdefault("channel", "api")
        self.conversations[tid] = conv.model_copy(update=changes)
        if extras:
            self.ticket_extras[tid] = dict(extras)
        author = str(ticket.get("submitter_id") or self.me_id)
        msg = Message(
            id=str(self._next_message),
            conversation_id=tid,
            author_id=author,
            author_role="agent" if author in self.agents else "customer",
            public=bool(public),
            body=text,
            created_at=now,
        )
        self._next_message += 1
        self.messages[tid] = [msg]
        self._events_cache = None
        self._writes += 1
        audit = {
            "id": self._next_message,
            "ticket_id": int(tid),
            "author_id": int(author),
            "created_at": _iso(now),
            "events": [
                {"id": int(msg.id), "type": "Comment", "body": text, "public": msg.public, "author_id": int(author)}
            ],
            "via": {"channel": "api"},
        }
        self._next_message += 1
        ticket_url = self._url(request, f"/api/v2/tickets/{tid}.json")
        return self.json_response(
            {"ticket": self._ticket(self.conversations[tid]), "audit": audit}, 201, headers={"Location": ticket_url}
        )

    def _requester(self, ticket: Mapping[str, Any]) -> str:
        if "requester_id" in ticket:
            rid = ticket["requester_id"]
            if not _is_id(rid) or self._user(str(rid)) is None:
                raise FakeBadRequest("Requester is invalid", status=422, field="requester")
            return str(rid)
        who = ticket.get("requester")
        if isinstance(who, dict) and isinstance(who.get("email"), str):
            email = who["email"].lower()
            for cid, cust in self.customers.items():
                if (cust.email or "").lower() == email:
                    return cid
            return self._new_customer({"name": who.get("name") or email.split("@")[0], "email": who["email"]})
        return self.me_id

    @route("DELETE", r"/api/v2/tickets/(?P<tid>\d+)(?:\.json)?")
    def destroy_ticket(self, request: httpx.Request, tid: str) -> httpx.Response:
        if tid not in self.conversations:
            return self.error(404, "Not found")
        self.delete_ticket(tid)
        return httpx.Response(204)

    @route("GET", r"/api/v2/tickets/(?P<tid>\d+)/tags(?:\.json)?")
    def ticket_tags(self, request: httpx.Request, tid: str) -> httpx.Response:
        if tid not in self.conversations:
            return self.error(404, "Not found")
        return self.json_response({"tags": list(self.conversations[tid].tags)})

    @route("POST", r"/api/v2/tickets/(?P<tid>\d+)/tags(?:\.json)?")
    def set_ticket_tags(self, request: httpx.Request, tid: str) -> httpx.Response:
        return self._change_tags(request, tid, "tags", 201)

    @route("PUT", r"/api/v2/tickets/(?P<tid>\d+)/tags(?:\.json)?")
    def add_ticket_tags(self, request: httpx.Request, tid: str) -> httpx.Response:
        return self._change_tags(request, tid, "additional_tags", 200)

    @route("DELETE", r"/api/v2/tickets/(?P<tid>\d+)/tags(?:\.json)?")
    def remove_ticket_tags(self, request: httpx.Request, tid: str) -> httpx.Response:
        return self._change_tags(request, tid, "remove_tags", 200)

    def _change_tags(self, request: httpx.Request, tid: str, how: str, status: int) -> httpx.Response:
        """Set (POST), add (PUT) or remove (DELETE) ticket tags; `safe_update` + `updated_stamp` guard them."""
        body = _body(request) if request.content else {}
        if "tags" not in body:
            raise FakeBadRequest("tags is required", status=400)
        if tid not in self.conversations:
            return self.error(404, "Not found")
        conv = self.conversations[tid]
        if self._stale(conv, body):
            return self.error(409, _CONFLICT_TEXT)
        changes, extras = self._ticket_changes(conv, {how: body["tags"]})
        conv = self._apply(conv, changes, extras)
        return self.json_response({"tags": list(conv.tags)}, status)

    @route("GET", r"/api/v2/tickets/(?P<tid>\d+)(?:\.json)?")
    def show_ticket(self, request: httpx.Request, tid: str) -> httpx.Response:
        if tid not in self.conversations:
            return self.error(404, "Not found")
        return self.json_response({"ticket": self._ticket(self.conversations[tid])})

    @route("GET", r"/api/v2/tickets/show_many(?:\.json)?")
    def show_many(self, request: httpx.Request) -> httpx.Response:
        ids = [i for i in (request.url.params.get("ids") or "").split(",") if i]
        if len(ids) > 100:
            raise FakeBadRequest("ids: at most 100", status=400)
        return self.json_response(
            {"tickets": [self._ticket(self.conversations[i]) for i in ids if i in self.conversations]}
        )

    def _bump(self, conv: Conversation, **changes: Any) -> Conversation:
        """Applies a change the way Zendesk does: `updated_at` moves forward to a later second."""
        before = (conv.updated_at or self.clock.now()).replace(microsecond=0)
        now = self.clock.now().replace(microsecond=0)
        updated = now if now > before else before + _ONE_SECOND
        bumped = conv.model_copy(update={"updated_at": updated, **changes})
        self.conversations[conv.id] = bumped
        self._events_cache = None
        self._writes += 1
        return bumped

    def touch_conversation(self, conversation_id: str, **changes: Any) -> Conversation:
        """A human edits the ticket in the agent workspace: like the base, with Zendesk's second precision."""
        conv = super().touch_conversation(conversation_id, **changes)
        return self._bump(conv)

    def _validate_assignment(self, conv: Conversation, ticket: Mapping[str, Any]) -> dict[str, Any]:
        """Checks assignee/group the way Zendesk does; returns the core changes."""
        changes: dict[str, Any] = {}
        group = conv.group_id
        if "group_id" in ticket:
            gid = ticket["group_id"]
            if gid is not None and (not _is_id(gid) or str(gid) not in self.groups):
                raise FakeBadRequest("Group is invalid", status=422, field="group")
            group = str(gid) if gid is not None else None
            changes["group_id"] = group
        if "assignee_id" in ticket:
            aid = ticket["assignee_id"]
            if aid is None:
                changes["assignee_id"] = None
            else:
                if not _is_id(aid) or str(aid) not in self.agents:
                    raise FakeBadRequest("Assignee is not an agent", status=422, field="assignee")
                agent = self.agents[str(aid)]
                if not agent.active:
                    raise FakeBadRequest("Assignee is not an active agent", status=422, field="assignee")
                if group is not None and group not in agent.group_ids:
                    if "group_id" in ticket:
                        raise FakeBadRequest("Assignee is not a member of the group", status=422, field="assignee")
                    # assignee only: Zendesk moves the ticket to the assignee's default group
                    changes["group_id"] = agent.group_ids[0] if agent.group_ids else None
                changes["assignee_id"] = str(aid)
        return changes

    def _ticket_changes(self, conv: Conversation, ticket: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Validates a ticket body (update, batch item or create) as Zendesk does; returns the core changes and
        the changes to `ticket_extras` (priority, type)."""
        changes = self._validate_assignment(conv, ticket)
        extras: dict[str, Any] = {}
        if "status" in ticket:
            status = ticket["status"]
            if status not in STATUS_TO_CORE:
                raise FakeBadRequest(f"Status: {status} is not valid", status=422, field="status")
            changes["status"] = STATUS_TO_CORE[status]
            if status in ("solved", "closed") and not changes.get("assignee_id", conv.assignee_id):
                changes["assignee_id"] = self.me_id  # Zendesk assigns a ticket an agent solves to that agent
        for key, allowed in (("priority", _PRIORITIES), ("type", _TICKET_TYPES)):
            if key in ticket:
                if ticket[key] is not None and ticket[key] not in allowed:
                    raise FakeBadRequest(f"{key.capitalize()}: {ticket[key]} is not valid", status=422, field=key)
                extras[key] = ticket[key]
        if "subject" in ticket:
            if not isinstance(ticket["subject"], str | None):
                raise FakeBadRequest("Subject must be text", status=422, field="subject")
            changes["subject"] = ticket["subject"]
        if "requester_id" in ticket:
            rid = ticket["requester_id"]
            if not _is_id(rid) or self._user(str(rid)) is None:
                raise FakeBadRequest("Requester is invalid", status=422, field="requester")
            changes["customer_id"] = str(rid)
        tags = list(conv.tags)
        if "tags" in ticket:
            tags = _tag_list(ticket["tags"])
        if "additional_tags" in ticket:
            tags = [*tags, *_tag_list(ticket["additional_tags"])]
        if "remove_tags" in ticket:
            gone = set(_tag_list(ticket["remove_tags"]))
            tags = [t for t in tags if t not in gone]
        if tags != list(conv.tags):
            changes["tags"] = list(dict.fromkeys(tags))
        if "custom_fields" in ticket:
            changes["custom_fields"] = self._custom_field_values(conv, ticket["custom_fields"])
        return changes, extras

    def _custom_field_values(self, conv: Conversation, raw: Any) -> dict[str, Any]:
        """`custom_fields: [{id, value}]` merged into the ticket's values (core keys for the declared fields)."""
        if not isinstance(raw, list) or not all(isinstance(f, dict) and _is_id(f.get("id")) for f in raw):
            raise FakeBadRequest("custom_fields must be a list of {id, value}", status=422, field="custom_fields")
        by_id = {fid: key for key, fid in ZENDESK_TICKET_FIELDS.items()}
        values = dict(conv.custom_fields)
        for field in raw:
            fid = field["id"]
            if fid not in by_id and fid not in self.ticket_fields:
                continue  # Zendesk ignores values for fields that do not exist
            key = by_id.get(fid, str(fid))
            if field.get("value") is None:
                values.pop(key, None)
            else:
                values[key] = field["value"]
        return values

    def _apply(self, conv: Conversation, changes: Mapping[str, Any], extras: Mapping[str, Any]) -> Conversation:
        if extras:
            self.ticket_extras.setdefault(conv.id, {}).update(extras)
        return self._bump(conv, **changes)

    def _stale(self, conv: Conversation, ticket: Mapping[str, Any]) -> bool:
        if ticket.get("safe_update") not in (True, "true"):
            return False
        raw = ticket.get("updated_stamp")
        sent = zendesk_time(raw) if isinstance(raw, str) else None
        if sent is None:
            raise FakeBadRequest("updated_stamp must be a date-time when safe_update is set", status=400)
        current = (conv.updated_at or sent).replace(microsecond=0)
        return current > sent

    @route("PUT", r"/api/v2/tickets/(?P<tid>\d+)(?:\.json)?")
    def update_ticket(self, request: httpx.Request, tid: str) -> httpx.Response:
        body = _body(request)
        ticket = body.get("ticket")
        if not isinstance(ticket, dict):
            raise FakeBadRequest("ticket is required", status=400)
        if tid not in self.conversations:
            return self.error(404, "Not found")
        conv = self.conversations[tid]
        if self._stale(conv, ticket):
            return self.error(409, _CONFLICT_TEXT)
        changes, extras = self._ticket_changes(conv, ticket)
        events: list[dict[str, Any]] = []
        comment = ticket.get("comment")
        if comment is not None:
            if not isinstance(comment, dict) or not isinstance(comment.get("body") or comment.get("html_body"), str):
                raise FakeBadRequest("Comment body can't be blank", status=422, field="comment")
            if len(self.messages.get(tid, [])) >= 5000:
                raise FakeBadRequest("Ticket has reached the 5000 comment limit", status=422, field="comment")
            public = comment.get("public", True)
            if not isinstance(public, bool):
                raise FakeBadRequest("public must be a boolean", status=422, field="comment")
            msg = Message(
                id=str(self._next_message),
                conversation_id=tid,
                author_id=str(comment.get("author_id") or self.me_id),
                author_role="agent",
                public=public,
                body=comment.get("body") or comment.get("html_body"),
                created_at=self.clock.now().replace(microsecond=0),
            )
            self._next_message += 1
            self.messages.setdefault(tid, []).append(msg)
            events.append(
                {
                    "id": int(msg.id),
                    "type": "Comment",
                    "body": msg.body,
                    "public": public,
                    "author_id": int(msg.author_id or self.me_id),
                }
            )
        for name, value in changes.items():
            events.append(
                {
                    "id": self._next_message,
                    "type": "Change",
                    "field_name": name,
                    "value": str(value) if value is not None else "",
                }
            )
            self._next_message += 1
        conv = self._apply(conv, changes, extras)
        audit = {
            "id": self._next_message,
            "ticket_id": int(tid),
            "author_id": int(self.me_id),
            "created_at": _iso(conv.updated_at),
            "events": events,
            "via": {"channel": "api"},
        }
        self._next_message += 1
        return self.json_response({"ticket": self._ticket(conv), "audit": audit})

    @route("PUT", r"/api/v2/tickets/update_many(?:\.json)?")
    def update_many(self, request: httpx.Request) -> httpx.Response:
        body = _body(request)
        items: list[dict[str, Any]]
        if isinstance(body.get("tickets"), list):
            items = body["tickets"]
            for item in items:
                if not isinstance(item, dict) or not _is_id(item.get("id")):
                    raise FakeBadRequest("every ticket needs an integer id", status=400)
                if ("safe_update" in item) != ("updated_stamp" in item):
                    raise FakeBadRequest("safe_update and updated_stamp go together in a batch", status=400)
        elif isinstance(body.get("ticket"), dict):
            ids = [i for i in (request.url.params.get("ids") or "").split(",") if i]
            if not ids or not all(i.isdigit() for i in ids):
                raise FakeBadRequest("ids is required with the ticket form", status=400)
            items = [{**body["ticket"], "id": int(i)} for i in ids]
        else:
            raise FakeBadRequest("tickets or ticket is required", status=400)
        if len(items) > 100:
            raise FakeBadRequest("A job can update at most 100 tickets", status=400)
        job_id = f"V3-{uuid.UUID(int=len(self.jobs) + 1).hex[:20]}"
        self.jobs[job_id] = {"created": self.clock.monotonic(), "items": items, "results": None}
        return self.json_response({"job_status": self._job(request, job_id)})

    def _run_job(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        results = []
        for item in job["items"]:
            tid = str(item["id"])
            if tid not in self.conversations:
                results.append(
                    {
                        "id": int(tid),
                        "action": "update",
                        "success": False,
                        "error": "RecordNotFound",
                        "details": "Ticket not found",
                    }
                )
                continue
            conv = self.conversations[tid]
            try:
                if self._stale(conv, item):
                    results.append(
                        {
                            "id": int(tid),
                            "action": "update",
                            "success": False,
                            "error": "UpdateConflict",
                            "details": _CONFLICT_TEXT,
                        }
                    )
                    continue
                changes, extras = self._ticket_changes(conv, item)
            except FakeBadRequest as exc:
                results.append(
                    {
                        "id": int(tid),
                        "action": "update",
                        "success": False,
                        "error": "RecordInvalid",
                        "details": str(exc),
                    }
                )
                continue
            self._apply(conv, changes, extras)
            results.append({"id": int(tid), "action": "update", "success": True, "status": "Updated"})
        return results

    def _job(self, request: httpx.Request, job_id: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        elapsed = self.clock.monotonic() - job["created"]
        if job["results"] is None and elapsed >= self.job_delay:
            job["results"] = self._run_job(job)  # applied when the job runs, not when it was queued
        done = job["results"] is not None
        total = len(job["items"])
        return {
            "id": job_id,
            "url": self._url(request, f"/api/v2/job_statuses/{job_id}.json"),
            "job_type": "bulk_update",
            "status": "completed" if done else ("working" if elapsed > 0 else "queued"),
            "total": total,
            "progress": total if done else 0,
            "message": f"Completed at {_iso(self.clock.now())}" if done else None,
            "results": job["results"],
        }

    @route("GET", r"/api/v2/job_statuses/(?P<job_id>[^/]+?)(?:\.json)?")
    def job_status(self, request: httpx.Request, job_id: str) -> httpx.Response:
        if job_id not in self.jobs:
            return self.error(404, "Not found")
        return self.json_response({"job_status": self._job(request, job_id)})

    # -- comments ------------------------------------------------------------------------------------

    @route("GET", r"/api/v2/tickets/(?P<tid>\d+)/comments(?:\.json)?")
    def list_comments(self, request: httpx.Request, tid: str) -> httpx.Response:
        if tid not in self.conversations:
            return self.error(404, "Not found")
        msgs = sorted(self.messages.get(tid, []), key=lambda m: (m.created_at or self.clock.now(), int(m.id)))
        if request.url.params.get("sort_order") == "desc":
            msgs.reverse()
        comments = [self._comment(m) for m in msgs]
        extra: dict[str, Any] = {}
        if "users" in (request.url.params.get("include") or "").split(","):
            authors = {str(c["author_id"]) for c in comments if c["author_id"]}
            extra["users"] = [u for u in (self._user(a) for a in sorted(authors)) if u is not None]
        return self._cursor_page(request, "comments", comments, extra=extra)

    def _events(self) -> list[dict[str, Any]]:
        if self._events_cache is None:
            events = []
            for tid, msgs in self.messages.items():
                for msg in msgs:
                    when = msg.created_at or self.clock.now()
                    events.append(
                        {
                            "id": int(msg.id) + 500_000_000,
                            "ticket_id": int(tid),
                            "timestamp": int(when.timestamp()),
                            "created_at": _iso(when),
                            "updater_id": int(msg.author_id) if msg.author_id else -1,
                            "via": "Web form",
                            "event_type": "Audit",
                            "child_events": [
                                {
                                    "id": int(msg.id),
                                    "event_type": "Comment",
                                    "via": "Web form",
                                    "author_id": int(msg.author_id) if msg.author_id else -1,
                                    "body": msg.body or "",
                                    "html_body": f"<p>{msg.body or ''}</p>",
                                    "public": msg.public,
                                    "attachments": [],
                                }
                            ],
                        }
                    )
            events.sort(key=lambda e: (e["timestamp"], e["id"]))
            self._events_cache = events
        return self._events_cache

    @route("GET", r"/api/v2/incremental/ticket_events(?:\.json)?")
    def export_ticket_events(self, request: httpx.Request) -> httpx.Response:
        """Time-based export: a page ends on a whole second (same-second events stay together)."""
        limited = self._export_gate()
        if limited is not None:
            return limited
        start_time = _int_param(request, "start_time")
        if start_time is None:
            raise FakeBadRequest("start_time is required", status=400)
        with_comments = "comment_events" in (request.url.params.get("include") or "").split(",")
        events = self._events()
        lo = next((i for i, e in enumerate(events) if e["timestamp"] >= start_time), len(events))
        size = max(1, min(_EXPORT_CAP, self.page_size))
        hi = min(lo + size, len(events))
        while 0 < hi < len(events) and hi > lo and events[hi]["timestamp"] == events[hi - 1]["timestamp"]:
            hi += 1
        chunk = events[lo:hi]
        if not with_comments:
            chunk = [{**e, "child_events": []} for e in chunk]
        end_time = chunk[-1]["timestamp"] if chunk else start_time
        end_of_stream = hi >= len(events)
        base = self._url(request, request.url.path)
        next_time = end_time + 1 if chunk else end_time
        return self.json_response(
            {
                "ticket_events": chunk,
                "next_page": f"{base}?start_time={next_time}",
                "count": len(chunk),
                "end_time": next_time,
                "end_of_stream": end_of_stream,
            }
        )

    # -- users and groups ----------------------------------------------------------------------------

    @route("GET", r"/api/v2/users/me(?:\.json)?")
    def me(self, request: httpx.Request) -> httpx.Response:
        user = self._user(self.me_id) or {"id": 1, "name": "API user", "role": "admin"}
        return self.json_response({"user": {**user, "email": self.email}})

    @route("GET", r"/api/v2/users(?:\.json)?")
    def list_users(self, request: httpx.Request) -> httpx.Response:
        roles = set(request.url.params.get_list("role[]"))
        if request.url.params.get("role") is not None:
            roles.add(request.url.params["role"])
        if not roles <= {"agent", "admin", "end-user"}:
            raise FakeBadRequest("role must be end-user, agent or admin", status=400)
        users = [u for u in (self._user(uid) for uid in sorted(self.agents, key=int)) if u]
        users += [self._customer(c) for c in sorted(self.customers.values(), key=lambda c: int(c.id))]
        return self._cursor_page(request, "users", [u for u in users if not roles or u["role"] in roles])

    @route("POST", r"/api/v2/users(?:\.json)?")
    def create_user(self, request: httpx.Request) -> httpx.Response:
        """An end user (`name` required; an email another user has is a 422), or an agent with `role`."""
        user = _body(request).get("user")
        if not isinstance(user, dict):
            raise FakeBadRequest("user is required", status=400)
        if user.get("role", "end-user") in ("agent", "admin"):
            if not isinstance(user.get("name"), str) or not user["name"].strip():
                raise FakeBadRequest("Name: is too short (minimum is 1 character)", status=422, field="name")
            self._check_email_free(user.get("email"))
            aid = self._next_user_id()
            self.agents[aid] = Agent(id=aid, name=user["name"], email=user.get("email"))
            self._writes += 1
            return self.json_response({"user": self._user(aid)}, 201)
        uid = self._new_customer(user)
        return self.json_response({"user": self._customer(self.customers[uid])}, 201)

    def _next_user_id(self) -> str:
        return str(max((int(i) for i in [*self.agents, *self.customers, *self.deleted_users]), default=0) + 1)

    def _check_email_free(self, email: Any) -> None:
        if email is None:
            return
        if not isinstance(email, str) or "@" not in email:
            raise FakeBadRequest(f"Email: {email} is not properly formatted", status=422, field="email")
        taken = [c.email for c in self.customers.values() if c.email]
        taken += [a.email for a in self.agents.values() if a.email]
        if email.lower() in (t.lower() for t in taken):
            raise FakeBadRequest(f"Email: {email} is already being used by another user", status=422, field="email")

    def _new_customer(self, user: Mapping[str, Any]) -> str:
        name = user.get("name")
        if not isinstance(name, str) or not name.strip():
            raise FakeBadRequest("Name: is too short (minimum is 1 character)", status=422, field="name")
        self._check_email_free(user.get("email"))
        fields = user.get("user_fields") or {}
        if not isinstance(fields, dict):
            raise FakeBadRequest("user_fields must be an object", status=422, field="user_fields")
        uid = self._next_user_id()
        now = self.clock.now().replace(microsecond=0)
        self.customers[uid] = Customer(
            id=uid,
            name=name,
            email=user.get("email"),
            phone=user.get("phone"),
            tags=_tag_list(user.get("tags") or []),
            notes=user.get("notes"),
            custom_attributes={k: v for k, v in fields.items() if k in self.user_field_types},
            created_at=now,
            updated_at=now,
        )
        self._writes += 1
        return uid

    @route("GET", r"/api/v2/incremental/users/cursor(?:\.json)?")
    def export_users(self, request: httpx.Request) -> httpx.Response:
        rows = []
        for uid in [*self.agents, *self.customers]:
            user = self._user(uid)
            if user is not None:
                when = zendesk_time(user.get("updated_at"))
                rows.append((int(when.timestamp()) if when else 0, user["id"], user))
        rows.sort(key=lambda r: (r[0], r[1]))
        return self._export_page(request, "users", rows)

    @route("GET", r"/api/v2/users/search(?:\.json)?")
    def search_users(self, request: httpx.Request) -> httpx.Response:
        query = (request.url.params.get("query") or "").strip()
        if not query:
            raise FakeBadRequest("query is required", status=400)
        wanted = query.removeprefix("email:").strip('"').lower()
        users = [self._customer(c) for c in self.customers.values() if (c.email or "").lower() == wanted]
        users += [u for uid, a in self.agents.items() if (a.email or "").lower() == wanted and (u := self._user(uid))]
        return self.json_response({"users": users, "next_page": None, "previous_page": None, "count": len(users)})

    @route("GET", r"/api/v2/users/(?P<uid>\d+)(?:\.json)?")
    def show_user(self, request: httpx.Request, uid: str) -> httpx.Response:
        user = self._user(uid)
        if user is None:
            return self.error(404, "Not found")
        return self.json_response({"user": user})

    @route("PUT", r"/api/v2/users/(?P<uid>\d+)(?:\.json)?")
    def update_user(self, request: httpx.Request, uid: str) -> httpx.Response:
        body = _body(request)
        user = body.get("user")
        if not isinstance(user, dict):
            raise FakeBadRequest("user is required", status=400)
        if uid not in self.customers:
            return self.error(404, "Not found")
        cust = self.customers[uid]
        update: dict[str, Any] = {"updated_at": self.clock.now().replace(microsecond=0)}
        if "user_fields" in user:
            fields = user["user_fields"]
            if not isinstance(fields, dict):
                raise FakeBadRequest("user_fields must be an object", status=422, field="user_fields")
            # Zendesk stores only keys of user fields created in the admin centre and ignores the rest.
            known = {k: v for k, v in fields.items() if k in self.user_field_types}
            update["custom_attributes"] = {**cust.custom_attributes, **known}
        if "notes" in user:
            if not isinstance(user["notes"], str | None):
                raise FakeBadRequest("notes must be text", status=422, field="notes")
            update["notes"] = user["notes"]
        if "remote_photo_url" in user:
            url = user["remote_photo_url"]
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise FakeBadRequest("remote_photo_url is not a valid URL", status=422, field="photo")
            update["avatar_url"] = url
        if "tags" in user:
            if not isinstance(user["tags"], list) or not all(isinstance(t, str) for t in user["tags"]):
                raise FakeBadRequest("tags must be a list of strings", status=422, field="tags")
            update["tags"] = list(user["tags"])  # the user PUT replaces tags (vendors/zendesk.md §4)
        self.customers[uid] = cust.model_copy(update=update)
        return self.json_response({"user": self._customer(self.customers[uid])})

    @route("PUT", r"/api/v2/users/(?P<uid>\d+)/tags(?:\.json)?")
    def add_user_tags(self, request: httpx.Request, uid: str) -> httpx.Response:
        body = _body(request)
        tags = body.get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
            raise FakeBadRequest("tags must be a list of strings", status=400)
        if uid not in self.customers:
            return self.error(404, "Not found")
        cust = self.customers[uid]
        merged = [*cust.tags, *(t.strip().lower().replace(" ", "_") for t in tags if t not in cust.tags)]
        self.customers[uid] = cust.model_copy(update={"tags": list(dict.fromkeys(merged))})
        return self.json_response({"tags": self.customers[uid].tags})

    def _group(self, group: Group) -> dict[str, Any]:
        return {
            "id": int(group.id),
            "url": f"https://{self.subdomain}.zendesk.com/api/v2/groups/{group.id}.json",
            "name": group.name or f"Group {group.id}",
            "description": "",
            "default": group.id == min(self.groups, key=int),
            "deleted": False,
            "is_public": True,
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
        }

    @route("GET", r"/api/v2/groups(?:\.json)?")
    def list_groups(self, request: httpx.Request) -> httpx.Response:
        groups = [self._group(g) for g in sorted(self.groups.values(), key=lambda g: int(g.id))]
        return self._cursor_page(request, "groups", groups)

    @route("GET", r"/api/v2/groups/(?P<gid>\d+)(?:\.json)?")
    def show_group(self, request: httpx.Request, gid: str) -> httpx.Response:
        if gid not in self.groups:
            return self.error(404, "Not found")
        return self.json_response({"group": self._group(self.groups[gid])})

    @route("POST", r"/api/v2/groups(?:\.json)?")
    def create_group(self, request: httpx.Request) -> httpx.Response:
        group = _body(request).get("group")
        if not isinstance(group, dict):
            raise FakeBadRequest("group is required", status=400)
        name = group.get("name")
        if not isinstance(name, str) or not name.strip():
            raise FakeBadRequest("Name: cannot be blank", status=422, field="name")
        if any((g.name or "").lower() == name.lower() for g in self.groups.values()):
            raise FakeBadRequest("Name: has already been taken", status=422, field="name")
        gid = str(max((int(g) for g in self.groups), default=0) + 1)
        self.groups[gid] = Group(id=gid, name=name)
        return self.json_response({"group": self._group(self.groups[gid])}, 201)

    # -- ticket fields -------------------------------------------------------------------------------

    @route("GET", r"/api/v2/ticket_fields(?:\.json)?")
    def list_ticket_fields(self, request: httpx.Request) -> httpx.Response:
        """The system fields, then the custom ones (`custom_fields` on tickets name these ids)."""
        rows = [
            {"id": 360_000_001 + n, "type": kind, "title": kind.capitalize(), "active": True, "removable": False}
            for n, kind in enumerate(_SYSTEM_TICKET_FIELDS)
        ]
        rows += [
            {
                "id": fid,
                "type": field["type"],
                "title": field["title"],
                "active": True,
                "removable": True,
                "required": False,
                "custom_field_options": [],
            }
            for fid, field in sorted(self.ticket_fields.items())
        ]
        for row in rows:
            row.setdefault("url", f"https://{self.subdomain}.zendesk.com/api/v2/ticket_fields/{row['id']}.json")
            row.setdefault("position", rows.index(row))
        if request.url.params.get("page[size]") is not None:
            return self._cursor_page(request, "ticket_fields", rows)
        return self.json_response({"ticket_fields": rows, "next_page": None, "previous_page": None, "count": len(rows)})

    @route("GET", r"/api/v2/group_memberships(?:\.json)?")
    def list_memberships(self, request: httpx.Request) -> httpx.Response:
        rows = []
        for agent in sorted(self.agents.values(), key=lambda a: int(a.id)):
            for n, gid in enumerate(agent.group_ids):
                if gid in self.groups:
                    rows.append(
                        {
                            "id": int(agent.id) * 1000 + int(gid),
                            "user_id": int(agent.id),
                            "group_id": int(gid),
                            "default": n == 0,
                            "created_at": "2024-01-01T00:00:00Z",
                            "updated_at": "2024-01-01T00:00:00Z",
                        }
                    )
        return self._cursor_page(request, "group_memberships", rows)

    @route("GET", r"/api/v2/satisfaction_ratings(?:\.json)?")
    def list_ratings(self, request: httpx.Request) -> httpx.Response:
        since = _int_param(request, "start_time")
        rows = []
        for rating in sorted(self.ratings.values(), key=lambda r: int(r.id)):
            conv = self.conversations.get(rating.conversation_id or "")
            agent = rating.agent_id or (conv.assignee_id if conv else None)
            group = conv.group_id if conv else None
            requester = rating.customer_id or (conv.customer_id if conv else None)
            if not (rating.conversation_id and agent and group and requester):
                continue  # Zendesk rates solved tickets, which always have these
            if since is not None and rating.created_at is not None and rating.created_at.timestamp() < since:
                continue
            score = {RatingScore.GOOD: "good", RatingScore.BAD: "bad"}.get(rating.score, "offered")
            rows.append(
                {
                    "id": int(rating.id),
                    "url": f"https://{self.subdomain}.zendesk.com/api/v2/satisfaction_ratings/{rating.id}.json",
                    "score": score,
                    "comment": rating.comment or "",
                    "ticket_id": int(rating.conversation_id),
                    "assignee_id": int(agent),
                    "group_id": int(group),
                    "requester_id": int(requester),
                    "created_at": _iso(rating.created_at),
                    "updated_at": _iso(rating.created_at),
                }
            )
        return self._cursor_page(request, "satisfaction_ratings", rows)

    @route("GET", r"/api/v2/agent_availabilities(?:\.json)?")
    def list_availabilities(self, request: httpx.Request) -> httpx.Response:
        """The Agent Availability API (JSON:API), on accounts with omnichannel routing only."""
        if not self.omnichannel_routing:
            return self.error(403, "Omnichannel routing is not enabled for this account")
        names = {
            AgentAvailability.AVAILABLE: (3, "online"),
            AgentAvailability.AWAY: (4, "away"),
            AgentAvailability.OFFLINE: (2, "offline"),
        }
        load: dict[str, int] = {}
        for conv in self.conversations.values():
            if conv.assignee_id and conv.status.is_open:
                load[conv.assignee_id] = load.get(conv.assignee_id, 0) + 1
        rows = []
        for aid, agent in sorted(self.agents.items(), key=lambda kv: int(kv[0])):
            if not agent.active:
                continue
            status_id, name = names.get(agent.availability, (9, "lunch break"))
            channel = f"agent_availabilities|{aid}|channels|support"
            rows.append(
                {
                    "type": "agent_availabilities",
                    "id": f"agent_availabilities|{aid}",
                    "attributes": {
                        "agent_id": int(aid),
                        "agent_status": {"id": status_id, "name": name, "reason": "UNKNOWN"},
                        "group_ids": [int(g) for g in agent.group_ids],
                        "version": 1,
                    },
                    "relationships": {"channels": {"data": [{"id": channel, "type": "channels"}]}},
                    "links": {"self": self._url(request, f"/api/v2/agent_availabilities/{aid}")},
                    "_channel": {
                        "type": "channels",
                        "id": channel,
                        "attributes": {
                            "name": "support",
                            "status": "online" if name == "online" else "offline",
                            "work_item_count": load.get(aid, 0),
                            **({"max_capacity": agent.capacity} if agent.capacity is not None else {}),
                        },
                    },
                }
            )
        response = self._cursor_page(request, "data", rows)
        body = json.loads(response.content)
        body["included"] = [row.pop("_channel") for row in body["data"]]
        return self.json_response(body)

    @route("GET", r"/api/v2/user_fields(?:\.json)?")
    def list_user_fields(self, request: httpx.Request) -> httpx.Response:
        rows = [
            {
                "id": 360_000_000 + n,
                "url": f"https://{self.subdomain}.zendesk.com/api/v2/user_fields/{360_000_000 + n}.json",
                "key": key,
                "type": kind,
                "title": key.replace("_", " ").capitalize(),
                "active": True,
                "position": n,
            }
            for n, (key, kind) in enumerate(sorted(self.user_field_types.items()))
        ]
        return self._cursor_page(request, "user_fields", rows)

    @route("POST", r"/api/v2/user_fields(?:\.json)?")
    def create_user_field(self, request: httpx.Request) -> httpx.Response:
        field = _body(request).get("user_field")
        if not isinstance(field, dict):
            raise FakeBadRequest("user_field is required", status=400)
        key, kind, title = field.get("key"), field.get("type"), field.get("title")
        if not isinstance(title, str) or not title:
            raise FakeBadRequest("Title can't be blank", status=422, field="title")
        if kind not in _USER_FIELD_TYPES:
            raise FakeBadRequest(
                f"Type must be one of {', '.join(sorted(_USER_FIELD_TYPES))}", status=422, field="type"
            )
        if not isinstance(key, str) or not key or not all(c.isalnum() or c == "_" for c in key):
            raise FakeBadRequest("Key is invalid", status=422, field="key")
        if key in self.user_field_types:
            raise FakeBadRequest("Key has already been taken", status=422, field="key")
        self.user_field_types[key] = kind
        n = len(self.user_field_types)
        created = {"id": 360_000_000 + n, "key": key, "type": kind, "title": title, "active": True, "position": n}
        return self.json_response({"user_field": created}, 201)

    # -- macros --------------------------------------------------------------------------------------

    def clear_saved_replies(self) -> None:
        self.macros = {}

    def add_saved_reply(
        self, *, title: str, body: str, active: bool = True, actions: list[dict[str, Any]] | None = None
    ) -> str:
        """A shared macro that writes `body` as a public comment (HTML, as the macro editor stores it)."""
        mid = str(360_100_000 + len(self.macros) + 1)
        while mid in self.macros:
            mid = str(int(mid) + 1)
        now = _iso(self.clock.now())
        if actions is None:
            actions = [
                {"field": "comment_value_html", "value": text_to_html(body)},
                {"field": "comment_mode_is_public", "value": "true"},
                {"field": "status", "value": "pending"},
            ]
        self.macros[mid] = {
            "id": int(mid),
            "url": f"https://{self.subdomain}.zendesk.com/api/v2/macros/{mid}.json",
            "title": title,
            "raw_title": title,
            "description": None,
            "active": active,
            "default": False,
            "position": len(self.macros) + 1,
            "restriction": None,
            "actions": actions,
            "created_at": now,
            "updated_at": now,
        }
        return mid

    @route("GET", r"/api/v2/macros(?:\.json)?")
    def list_macros(self, request: httpx.Request) -> httpx.Response:
        active = request.url.params.get("active")
        if active not in (None, "true", "false"):
            raise FakeBadRequest("active must be true or false", status=400)
        rows = [m for _, m in sorted(self.macros.items(), key=lambda kv: int(kv[0]))]
        if active is not None:
            rows = [m for m in rows if m["active"] is (active == "true")]
        return self._cursor_page(request, "macros", rows)

    @route("GET", r"/api/v2/macros/(?P<mid>\d+)(?:\.json)?")
    def show_macro(self, request: httpx.Request, mid: str) -> httpx.Response:
        if mid not in self.macros:
            return self.error(404, "Not found")
        return self.json_response({"macro": self.macros[mid]})

    @route("POST", r"/api/v2/macros(?:\.json)?")
    def create_macro(self, request: httpx.Request) -> httpx.Response:
        macro = _body(request).get("macro")
        if not isinstance(macro, dict):
            raise FakeBadRequest("macro is required", status=400)
        title, actions = macro.get("title"), macro.get("actions")
        if not isinstance(title, str) or not title.strip():
            raise FakeBadRequest("Title: cannot be blank", status=422, field="title")
        if not isinstance(actions, list) or not actions:
            raise FakeBadRequest("Actions: cannot be blank", status=422, field="actions")
        for action in actions:
            if not isinstance(action, dict) or action.get("field") not in _MACRO_FIELDS:
                raise FakeBadRequest(f"Actions: {action} is not a valid action", status=422, field="actions")
        mid = self.add_saved_reply(title=title, body="", active=macro.get("active", True), actions=actions)
        return self.json_response({"macro": self.macros[mid]})  # 200, as the description documents

    @route("GET", r"/api/v2/tickets/(?P<tid>\d+)/macros/(?P<mid>\d+)/apply(?:\.json)?")
    def apply_macro(self, request: httpx.Request, tid: str, mid: str) -> httpx.Response:
        """The ticket as it would be after the macro (nothing changes), and the comment it would add."""
        if tid not in self.conversations or mid not in self.macros:
            return self.error(404, "Not found")
        ticket = self._ticket(self.conversations[tid])
        comment: dict[str, Any] = {}
        for action in self.macros[mid]["actions"]:
            field, value = action["field"], action.get("value")
            if field in ("status", "priority", "type"):
                ticket[field] = value
            elif field in ("assignee_id", "group_id"):
                ticket[field] = int(value) if str(value).isdigit() else None
            elif field == "set_tags":
                ticket["tags"] = _tag_list(value or "")
            elif field == "current_tags":
                ticket["tags"] = list(dict.fromkeys([*ticket["tags"], *_tag_list(value or "")]))
            elif field == "remove_tags":
                ticket["tags"] = [t for t in ticket["tags"] if t not in _tag_list(value or "")]
            elif field in ("comment_value", "comment_value_html"):
                text = value[-1] if isinstance(value, list) else value
                comment["body" if field == "comment_value" else "html_body"] = text
            elif field == "comment_mode_is_public":
                comment["public"] = str(value).lower() == "true"
        result: dict[str, Any] = {"ticket": ticket}
        if comment:
            comment.setdefault("public", True)
            comment.setdefault("body", comment.get("html_body", ""))
            result["comment"] = comment
        return self.json_response({"result": result})

    # -- webhooks ------------------------------------------------------------------------------------

    @route("GET", r"/api/v2/webhooks/(?P<hook_id>[A-Za-z0-9]+)")
    def show_webhook(self, request: httpx.Request, hook_id: str) -> httpx.Response:
        if hook_id not in self.webhooks:
            return self.error(404, "webhook not found")
        return self.json_response({"webhook": self.webhooks[hook_id]})

    @route("DELETE", r"/api/v2/webhooks/(?P<hook_id>[A-Za-z0-9]+)")
    def delete_webhook(self, request: httpx.Request, hook_id: str) -> httpx.Response:
        if hook_id not in self.webhooks:
            return self.error(404, "webhook not found")
        del self.webhooks[hook_id]
        self.webhook_secrets.pop(hook_id, None)
        return httpx.Response(204)

    @route("GET", r"/api/v2/webhooks")
    def list_webhooks(self, request: httpx.Request) -> httpx.Response:
        name = request.url.params.get("filter[name_contains]")
        rows = [w for w in self.webhooks.values() if name is None or name in w["name"]]
        return self._cursor_page(request, "webhooks", rows)

    @route("POST", r"/api/v2/webhooks")
    def create_webhook(self, request: httpx.Request) -> httpx.Response:
        """Validates as Zendesk does: name, endpoint, http_method, request_format and status are required, and a
        webhook subscribed to Zendesk events must POST JSON."""
        hook = _body(request).get("webhook")
        if not isinstance(hook, dict):
            raise FakeBadRequest("webhook is required", status=400)
        for key in ("name", "endpoint", "http_method", "request_format", "status"):
            if not isinstance(hook.get(key), str) or not hook[key]:
                raise FakeBadRequest(f"{key} is required", status=400, field=key)
        endpoint = httpx.URL(hook["endpoint"])
        if endpoint.scheme not in ("http", "https") or not endpoint.host:
            raise FakeBadRequest("endpoint must be an absolute http(s) URL", status=400, field="endpoint")
        if hook["http_method"] not in _WEBHOOK_METHODS:
            raise FakeBadRequest("http_method is invalid", status=400, field="http_method")
        if hook["request_format"] not in _WEBHOOK_FORMATS:
            raise FakeBadRequest("request_format is invalid", status=400, field="request_format")
        if hook["status"] not in ("active", "inactive"):
            raise FakeBadRequest("status must be active or inactive", status=400, field="status")
        subscriptions = hook.get("subscriptions", [])
        if not isinstance(subscriptions, list) or not all(isinstance(x, str) for x in subscriptions):
            raise FakeBadRequest("subscriptions must be a list of strings", status=400, field="subscriptions")
        # trigger- and automation-connected webhooks subscribe to `conversation_events` (or the legacy name)
        events = [x for x in subscriptions if x not in ("conditional_ticket_events", "conversation_events")]
        if any(not x.startswith("zen:event-type:") for x in events):
            raise FakeBadRequest("subscriptions has an unknown event type", status=400, field="subscriptions")
        if events and (hook["http_method"] != "POST" or hook["request_format"] != "json"):
            raise FakeBadRequest("event subscriptions need POST and json", status=400, field="http_method")
        hook_id = "01" + hashlib.sha256(f"{len(self.webhooks)}:{hook['endpoint']}".encode()).hexdigest()[:24].upper()
        now = _iso(self.clock.now())
        created = {
            "id": hook_id,
            "name": hook["name"],
            "description": hook.get("description"),
            "status": hook["status"],
            "endpoint": hook["endpoint"],
            "http_method": hook["http_method"],
            "request_format": hook["request_format"],
            "subscriptions": subscriptions,
            "created_at": now,
            "created_by": self.me_id,
            "updated_at": now,
            "updated_by": self.me_id,
        }
        self.webhooks[hook_id] = created
        self.webhook_secrets[hook_id] = base64.b64encode(hashlib.sha256(hook_id.encode()).digest()).decode()
        return self.json_response({"webhook": created}, 201)

    @route("GET", r"/api/v2/webhooks/(?P<hook_id>[A-Za-z0-9]+)/signing_secret")
    def webhook_signing_secret(self, request: httpx.Request, hook_id: str) -> httpx.Response:
        if hook_id not in self.webhooks:
            return self.error(404, "webhook not found")
        return self.json_response({"signing_secret": {"algorithm": "SHA256", "secret": self.webhook_secrets[hook_id]}})

    def signed_webhook(
        self, *, secret: str, conversation_id: str, event: str = "conversation.created"
    ) -> tuple[dict[str, str], bytes]:
        """A Zendesk event-webhook delivery, signed as Zendesk signs it (timestamp + body)."""
        conv = self.conversations.get(conversation_id)
        detail: dict[str, Any] = {"id": conversation_id}
        change: dict[str, Any] = {}
        if conv is not None:
            detail.update(
                assignee_id=conv.assignee_id,
                group_id=conv.group_id,
                requester_id=conv.customer_id,
                status=CORE_TO_STATUS.get(conv.status, "open").upper(),
                updated_at=_iso(conv.updated_at),
            )
            change = {"current": conv.assignee_id, "previous": None}
        payload = {
            "type": _WEBHOOK_EVENTS.get(event, f"zen:event-type:{event}"),
            "account_id": 1,
            "id": str(uuid.UUID(int=len(self.requests) + 1)),
            "time": stamp(self.clock.now()),
            "zendesk_event_version": "2022-06-20",
            "subject": f"zen:ticket:{conversation_id}",
            "detail": detail,
            "event": change,
        }
        body = json.dumps(payload).encode()
        timestamp = stamp(self.clock.now())
        return {SIGNATURE_HEADER: sign_webhook(secret, timestamp, body), TIMESTAMP_HEADER: timestamp}, body

    # -- test helpers --------------------------------------------------------------------------------

    def delete_ticket(self, ticket_id: str) -> None:
        """Deletes a ticket as an admin would mid-run: later reads and writes get 404."""
        self.conversations.pop(ticket_id, None)
        self.messages.pop(ticket_id, None)
        self._events_cache = None
        self._writes += 1

    def soft_delete_user(self, user_id: str) -> None:
        """Deletes an end user as Zendesk does first: still readable, with `active: false` (until scrubbed)."""
        self.soft_deleted_users.add(user_id)
        if user_id in self.customers:  # the incremental users export shows the change
            self.customers[user_id] = self.customers[user_id].model_copy(update={"updated_at": self.clock.now()})
        self._writes += 1

    def suspend_user(self, user_id: str) -> None:
        """Suspends a user (`suspended: true`): an agent who cannot sign in or take tickets."""
        self.suspended_users.add(user_id)
        self._writes += 1

    def delete_user(self, user_id: str) -> None:
        """Permanently deletes a user: tickets and comments still reference the id, reads of it get 404."""
        self.customers.pop(user_id, None)
        self.agents.pop(user_id, None)
        self.deleted_users.add(user_id)
