"""A stateful fake of the Freshdesk API v2 for tests, the demo and benchmarks.

It renders the shared core-model state (seeded from the synthetic history) in Freshdesk's JSON shapes and
behaves like the vendor where the adapter depends on it: Basic auth with the API key as username,
`Link: <...>; rel="next"` paging with the URL echoed unencoded, `per_page` at most 100, the ticket list's
30-day default window and its page cap (a 400 on field `page`), per-endpoint per-minute limits with 429 +
`Retry-After`, `X-RateLimit-*` headers on every response, validation errors as
`{"description": "Validation failed", "errors": [{"field", "message", "code"}]}`, bulk-update jobs, and a
deleted agent turning into a contact with the same id. Sources: Freshdesk's API reference (docs/vendors/freshdesk.md).
"""

from __future__ import annotations

import base64
import bisect
import functools
import html
import itertools
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final

import httpx

from humansupport.models import (
    Agent,
    AgentAvailability,
    AuthorRole,
    Conversation,
    ConversationStatus,
    Customer,
    Group,
    Message,
    RatingScore,
    SatisfactionRating,
    to_utc,
)
from humansupport.testing import PRODUCT_AREA_FIELD, FakeClock, FakeHelpdesk, SyntheticHistory, route

from .mapping import fd_time, html_to_text, status_to_freshdesk, text_to_html
from .webhooks import DEFAULT_SECRET_HEADER

__all__ = ["FRESHDESK_PRODUCT_AREA_FIELD", "FakeFreshdesk"]

#: the ticket field name the fake gives the synthetic history's `product_area` (custom field names start `cf_`)
FRESHDESK_PRODUCT_AREA_FIELD: Final = "cf_product_area"

_API: Final = "/api/v2"
_MAX_PER_PAGE: Final = 100
_DEFAULT_WINDOW: Final = timedelta(days=30)
_EPOCH_TEXT: Final = "2024-01-01T00:00:00Z"
_MIN_TIME: Final = datetime(1970, 1, 1, tzinfo=UTC)
_VERSIONS: Final = itertools.count(1)
_CHANNEL_SOURCE: Final[Mapping[str, int]] = {"email": 1, "web": 2, "portal": 2, "phone": 3, "chat": 7}
_CUSTOM_STATUS: Final[Mapping[ConversationStatus, int]] = {ConversationStatus.ON_HOLD: 6, ConversationStatus.OTHER: 7}
_PAGE_CAP_MESSAGE: Final = "You cannot access tickets beyond the 300th page. Please provide a smaller page number."

_TICKET_LIST_PARAMS: Final = frozenset(
    {"filter", "requester_id", "email", "unique_external_id", "company_id", "updated_since", "order_by",
     "order_type", "include", "page", "per_page"}
)  # fmt: skip
_CONTACT_LIST_PARAMS: Final = frozenset(
    {"email", "mobile", "phone", "company_id", "state", "_updated_since", "page", "per_page"}
)
_TICKET_UPDATE_FIELDS: Final = frozenset(
    {"responder_id", "group_id", "status", "priority", "type", "tags", "custom_fields", "due_by", "fr_due_by",
     "subject", "description", "source", "product_id", "company_id", "email_config_id"}
)  # fmt: skip
_CONTACT_UPDATE_FIELDS: Final = frozenset(
    {"name", "email", "phone", "mobile", "twitter_id", "unique_external_id", "other_emails", "company_id",
     "view_all_tickets", "other_companies", "address", "avatar", "custom_fields", "description", "job_title",
     "language", "tags", "time_zone"}
)  # fmt: skip
_NOTE_FIELDS: Final = frozenset({"body", "private", "incoming", "notify_emails", "user_id", "attachments"})
_REPLY_FIELDS: Final = frozenset({"body", "from_email", "user_id", "cc_emails", "bcc_emails", "attachments"})
_TICKET_CREATE_FIELDS: Final = _TICKET_UPDATE_FIELDS | frozenset(
    {"name", "requester_id", "email", "phone", "twitter_id", "unique_external_id", "cc_emails", "attachments"}
)
_CONTACT_CREATE_FIELDS: Final = _CONTACT_UPDATE_FIELDS
#: contact fields the core model has no place for: kept per contact and rendered back
_CONTACT_PROPS: Final = ("job_title", "mobile", "address", "twitter_id", "unique_external_id", "view_all_tickets")
#: the ticket types of a new account (Admin > Ticket fields > Type)
TICKET_TYPES: Final = ("Question", "Incident", "Problem", "Feature Request", "Refund")
_SOURCES: Final[Mapping[str, int]] = {
    "Email": 1, "Portal": 2, "Phone": 3, "Chat": 7, "Feedback Widget": 9, "Outbound Email": 10, "Twitter": 5,
    "Facebook": 6,
}  # fmt: skip
_PRIORITIES: Final[Mapping[str, int]] = {"Low": 1, "Medium": 2, "High": 3, "Urgent": 4}
_STATUS_CHOICES: Final[Mapping[str, list[str]]] = {
    "2": ["Open", "Being Processed"], "3": ["Pending", "Awaiting your Reply"],
    "4": ["Resolved", "This ticket has been Resolved"], "5": ["Closed", "This ticket has been Closed"],
    "6": ["On hold", "Being Processed"], "7": ["Other", "Being Processed"],
}  # fmt: skip
_ROLES: Final = (
    (1, "Agent", "Can log, view, reply, update and resolve tickets and manage contacts.", True),
    (2, "Supervisor", "Can perform all agent related activities and access reports.", True),
    (3, "Administrator", "Can configure the helpdesk and manage agents.", True),
    (4, "Account Administrator", "Has complete control over the account, billing included.", True),
)
_RATING_ANSWERS: Final = (103, 102, 101, 100, -101, -102, -103)
_SEARCH_PAGE_SIZE: Final = 30
_SEARCH_MAX_PAGE: Final = 10
_TICKET_INCLUDES: Final = ("conversations", "requester", "company", "stats")


def _ticket_custom_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """`{cf_name: value}`, every key with Freshdesk's `cf_` prefix; `cf_product_area` is listed (null) even unset."""
    out: dict[str, Any] = {FRESHDESK_PRODUCT_AREA_FIELD: None}
    out.update({key if key.startswith("cf_") else f"cf_{key}": value for key, value in fields.items()})
    return out


class _Tracked(dict[str, Conversation]):
    """The conversations dict, counting changes, so the fake can cache its sorted ticket list safely."""

    version = 0

    def _bump(self) -> None:
        self.version = next(_VERSIONS)

    def __setitem__(self, key: str, value: Conversation) -> None:
        self._bump()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._bump()
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self._bump()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Conversation]:
        self._bump()
        return super().popitem()

    def clear(self) -> None:
        self._bump()
        super().clear()

    def update(self, *args: Any, **kw: Any) -> None:
        self._bump()
        super().update(*args, **kw)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._bump()
        return super().setdefault(key, default)


class _Invalid(Exception):
    """A Freshdesk validation error: rendered as 400 `Validation failed` with field errors."""

    def __init__(self, field: str, message: str, code: str = "invalid_value", *, status: int = 400) -> None:
        super().__init__(message)
        self.errors = [{"field": field, "message": message, "code": code}]
        self.status = status


Handler = Callable[..., httpx.Response]


def _validating(fn: Handler) -> Handler:
    """Turns `_Invalid` raised anywhere in a handler into the vendor's validation response."""

    @functools.wraps(fn)
    def wrapper(self: FakeFreshdesk, request: httpx.Request, **kw: Any) -> httpx.Response:
        try:
            return fn(self, request, **kw)
        except _Invalid as exc:
            return self.validation_error(exc.errors, status=exc.status)

    return wrapper


class FakeFreshdesk(FakeHelpdesk):
    """`FakeFreshdesk(history=..., clock=...)`; `page_cap`, `endpoint_limits`, `job_seconds` are knobs."""

    vendor: ClassVar[str] = "freshdesk"
    api_key: ClassVar[str] = "fd-fake-key-not-a-secret"
    domain: ClassVar[str] = "humansupport-fake"
    default_page_size: ClassVar[int] = _MAX_PER_PAGE

    def custom_field_key(self, name: str) -> str:
        return FRESHDESK_PRODUCT_AREA_FIELD if name == PRODUCT_AREA_FIELD else name

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        history: SyntheticHistory | None = None,
        rate_limit_per_minute: int | None = None,
        endpoint_limits: Mapping[str, int] | None = None,
        page_cap: int = 300,
        nominal_limit: int = 700,
        job_seconds: float = 2.0,
    ) -> None:
        self.page_cap = page_cap
        self.endpoint_limits: dict[str, int] = dict(endpoint_limits or {})
        self.nominal_limit = nominal_limit
        self.job_seconds = job_seconds
        self.contact_fields: set[str] = {"humansupport_preferred_agent", "humansupport_conversations"}
        self.agent_contacts: dict[str, Customer] = {}
        self.deleted_contacts: set[str] = set()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.endpoint_limited: dict[str, int] = {}
        self._endpoint_windows: dict[str, tuple[float, int]] = {}
        self._nominal_window: tuple[float, int] = (0.0, 0)
        self._next_message = 90_000_001
        self._sorted: dict[tuple[str, str], tuple[int, list[Conversation], list[Any]]] = {}
        #: canned response folders and responses by id (`content_html` as the editor stores it)
        self.canned_folders: dict[int, dict[str, Any]] = {}
        self.canned_responses: dict[int, dict[str, Any]] = {}
        #: False: folder listings leave out the text, so the adapter must read each response on its own
        self.canned_list_content = True
        #: vendor-only ticket properties the core model has no field for (priority, type, source) by ticket id
        self.ticket_props: dict[str, dict[str, Any]] = {}
        #: tickets deleted through the API (`DELETE /tickets/{id}`): in the trash, listed by `filter=deleted`
        self.trashed_tickets: dict[str, Conversation] = {}
        #: vendor-only contact properties (job_title, mobile, address, ...) by contact id
        self.contact_props: dict[str, dict[str, Any]] = {}
        #: ticket custom field names (`cf_...`) the account has; others are `invalid_field`
        self.ticket_custom_fields: set[str] = {FRESHDESK_PRODUCT_AREA_FIELD}
        #: the survey answers a rating was created with (`ratings`), rendered back as given
        self.rating_answers: dict[str, dict[str, int]] = {}
        super().__init__(clock=clock, history=history, rate_limit_per_minute=rate_limit_per_minute)

    @property
    def conversations(self) -> _Tracked:
        return self._conversations

    @conversations.setter
    def conversations(self, value: Mapping[str, Conversation]) -> None:
        self._conversations = value if isinstance(value, _Tracked) else _Tracked(value)
        self._conversations._bump()  # versions come from one counter: a new dict never matches a cached list

    @classmethod
    def adapter_settings(cls) -> dict[str, Any]:
        return {"domain": cls.domain, "api_key": cls.api_key}

    @classmethod
    def client_settings(cls, url: str) -> dict[str, dict[str, Any]]:
        """python-freshdesk (`freshdesk.v2.api.API`): it has no base-URL option and insists on a
        `*.freshdesk.com` domain, so the line builds it for the fake's domain and replaces its URL prefix."""
        python = (
            "from freshdesk.v2.api import API; "
            f'api = API("{cls.domain}.freshdesk.com", "{cls.api_key}"); '
            f'api._api_prefix = "{url.rstrip("/")}/api/v2/"'
        )
        return {"python-freshdesk": {"environment": {}, "python": python}}

    # -- state ---------------------------------------------------------------------------------------

    def load(self, history: SyntheticHistory) -> None:
        """Seeds the state; deactivated agents become contacts with the same id, as Freshdesk does."""
        super().load(history)
        for customer in history.customers:
            self.contact_fields.update(customer.custom_attributes)
        self.agent_contacts = {
            a.id: Customer(id=a.id, name=a.name, email=a.email, avatar_url=a.avatar_url)
            for a in history.agents
            if not a.active
        }
        for cid, conv in list(self.conversations.items()):
            self.conversations[cid] = conv.model_copy(update={"updated_at": _second(conv.updated_at)})
            self.ticket_custom_fields.update(_cf(key) for key in conv.custom_fields)

    def touch_conversation(self, conversation_id: str, **changes: Any) -> Conversation:
        """A change as Freshdesk records it: `updated_at` at one-second resolution, always moving forward."""
        conv = self.conversations[conversation_id]
        now = _second(self.clock.now())
        if conv.updated_at is not None and now <= conv.updated_at:
            now = conv.updated_at + timedelta(seconds=1)
        bumped = conv.model_copy(update={"updated_at": now, "version": fd_time(now), **changes})
        self.conversations[conversation_id] = bumped
        return bumped

    def delete_ticket(self, ticket_id: str) -> None:
        """A ticket deleted in the UI: gone from lists, 404 by id (the default list hides deleted ones)."""
        self.conversations.pop(ticket_id, None)
        self.messages.pop(ticket_id, None)

    def delete_contact(self, contact_id: str, *, hard: bool = False) -> None:
        """Soft delete (`deleted: true`, still readable by id) or hard delete (404)."""
        if hard:
            self.customers.pop(contact_id, None)
            self.agent_contacts.pop(contact_id, None)
            self.deleted_contacts.discard(contact_id)
        else:
            self.deleted_contacts.add(contact_id)

    def delete_agent(self, agent_id: str) -> None:
        """Deleting an agent turns them into a contact with the same id."""
        agent = self.agents.pop(agent_id)
        self.agent_contacts[agent_id] = Customer(id=agent.id, name=agent.name, email=agent.email)
        for gid, group in list(self.groups.items()):
            self.groups[gid] = group.model_copy(update={"agent_ids": [a for a in group.agent_ids if a != agent_id]})

    def webhook_delivery(
        self,
        *,
        secret: str,
        conversation_id: str,
        event: str = "ticket_created",
        header: str = DEFAULT_SECRET_HEADER,
    ) -> tuple[dict[str, str], bytes]:
        """A delivery as our documented automation-rule template renders it (no signature: Freshdesk has none)."""
        conv = self.conversations[conversation_id]
        payload: dict[str, Any] = {
            "event": event,
            "ticket_id": int(conv.id),
            "requester_id": _int_or_none(conv.customer_id),
            "responder_id": _int_or_none(conv.assignee_id),
            "group_id": _int_or_none(conv.group_id),
            "updated_at": fd_time(conv.updated_at or self.clock.now()),
        }
        if event == "agent_assigned":
            payload["triggered_event"] = f"{{responder_id:[null, {payload['responder_id'] or 'null'}]}}"
        return {header: secret, "Content-Type": "application/json"}, json.dumps({"freshdesk_webhook": payload}).encode()

    # -- vendor hooks --------------------------------------------------------------------------------

    def authenticate(self, request: httpx.Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, _password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.api_key  # any password; convention "X"

    def error_body(self, status: int, message: str, *, field: str | None = None) -> Any:
        if status in (400, 422):
            return {
                "description": "Validation failed",
                "errors": [{"field": field or "", "message": message, "code": "invalid_value"}],
            }
        codes = {401: "invalid_credentials", 403: "access_denied", 404: "not_found", 405: "method_not_allowed",
                 429: "rate_limit_exceeded"}  # fmt: skip
        return {"code": codes.get(status, "error"), "message": message}

    def validation_error(self, errors: list[dict[str, Any]], *, status: int = 400) -> httpx.Response:
        return httpx.Response(status, json={"description": "Validation failed", "errors": errors})

    def rate_limit_headers(self, *, limit: int, remaining: int, reset_seconds: float) -> dict[str, str]:
        return {
            "X-RateLimit-Total": str(limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Used-CurrentRequest": "1",
        }

    def request_id_headers(self) -> dict[str, str]:
        return {"X-Request-Id": f"fd-{len(self.requests):08x}"}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = super().__call__(request)
        includes = [v for v in request.url.params.get("include", "").split(",") if v]
        if "x-ratelimit-total" not in response.headers:
            # Real Freshdesk reports its budget on every response; unenforced here unless rate_limit_per_minute.
            start, count = self._nominal_window
            now = self.clock.monotonic()
            if now - start >= 60.0:
                start, count = now, 0
            count += 1 + 2 * len(includes) if request.url.path == f"{_API}/tickets" else 1
            self._nominal_window = (start, count)
            response.headers.update(
                self.rate_limit_headers(limit=self.nominal_limit, remaining=self.nominal_limit - count, reset_seconds=0)
            )
        if includes and request.url.path == f"{_API}/tickets":
            # each include= value costs 2 more credits (vendors/freshdesk.md section 5, treated as unconfirmed)
            response.headers["X-RateLimit-Used-CurrentRequest"] = str(1 + 2 * len(includes))
        return response

    # -- helpers -------------------------------------------------------------------------------------

    def _spend(self, endpoint: str) -> httpx.Response | None:
        """The per-endpoint per-minute limit: 429 with Retry-After when over."""
        limit = self.endpoint_limits.get(endpoint)
        if not limit:
            return None
        now = self.clock.monotonic()
        start, count = self._endpoint_windows.get(endpoint, (now, 0))
        if now - start >= 60.0:
            start, count = now, 0
        if count >= limit:
            self.endpoint_limited[endpoint] = self.endpoint_limited.get(endpoint, 0) + 1
            wait = max(1, int(60.0 - (now - start) + 0.999))
            headers = self.rate_limit_headers(
                limit=self.rate_limit_per_minute or self.nominal_limit, remaining=0, reset_seconds=wait
            )
            headers["Retry-After"] = str(wait)
            return self.error(429, "You have exceeded the limit of requests per minute", headers=headers)
        self._endpoint_windows[endpoint] = (start, count + 1)
        return None

    @staticmethod
    def _body(request: httpx.Request) -> dict[str, Any]:
        content_type = request.headers.get("content-type", "")
        if "application/json" not in content_type:
            raise _Invalid("", "Content-Type header should have application/json", "invalid_content_type", status=415)
        try:
            body = json.loads(request.content or b"null")
        except ValueError:
            raise _Invalid("", "Request body has invalid json format", "invalid_json") from None
        if not isinstance(body, dict):
            raise _Invalid("", "Request body has invalid json format", "invalid_json")
        return body

    @staticmethod
    def _unknown_fields(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
        for key in body:
            if key not in allowed:
                raise _Invalid(key, "Unexpected/invalid field in request", "invalid_field")

    @staticmethod
    def _page_params(request: httpx.Request) -> tuple[int, int]:
        params = request.url.params
        try:
            page = int(params.get("page", "1"))
        except ValueError:
            raise _Invalid("page", "It should be a/an Positive Integer", "datatype_mismatch") from None
        try:
            per_page = int(params.get("per_page", "30"))
        except ValueError:
            raise _Invalid("per_page", "It should be a/an Positive Integer", "datatype_mismatch") from None
        if page < 1:
            raise _Invalid("page", "It should be a/an Positive Integer", "invalid_value")
        if not 1 <= per_page <= _MAX_PER_PAGE:
            raise _Invalid("per_page", "It should be a Positive Integer less than or equal to 100", "invalid_value")
        return page, per_page

    def _link_page(
        self, request: httpx.Request, records: list[Any], render: Callable[[Any], Any] | None = None
    ) -> httpx.Response:
        """One page of `records` (rendered lazily, page only) with Freshdesk's `Link` header; the next URL
        echoes the query unencoded, as Freshdesk does."""
        page, per_page = self._page_params(request)
        size = min(per_page, self.page_size)
        chunk, more = self.paginate_list(records, page=page, per_page=size)
        if render is not None:
            chunk = [render(item) for item in chunk]
        headers: dict[str, str] = {}
        if more:
            parts = [(k, v) for k, v in request.url.params.multi_items() if k != "page"] + [("page", str(page + 1))]
            query = "&".join(f"{k}={v}" for k, v in parts)  # unencoded, as Freshdesk sends it
            base = f"{request.url.scheme}://{request.url.netloc.decode()}{request.url.path}"
            headers["Link"] = f'<{base}?{query}>; rel="next"'
        return self.json_response(chunk, headers=headers)

    @staticmethod
    def _time_param(request: httpx.Request, name: str) -> datetime | None:
        raw = request.url.params.get(name)
        if raw is None:
            return None
        try:
            value = to_utc(raw)
        except (ValueError, TypeError, OverflowError, OSError):
            value = None
        if value is None:
            raise _Invalid(name, "It should be in the 'valid date time' format", "invalid_value")
        return value

    def _contact(self, contact_id: str) -> Customer | None:
        return self.customers.get(contact_id) or self.agent_contacts.get(contact_id)

    def _owner(self) -> Agent:
        """The agent whose API key the fake accepts (the first active agent)."""
        return sorted((a for a in self.agents.values() if a.active), key=lambda a: int(a.id))[0]

    # -- rendering -----------------------------------------------------------------------------------

    def render_ticket(self, conv: Conversation, *, description: bool) -> dict[str, Any]:
        status = status_to_freshdesk(conv.status) or _CUSTOM_STATUS.get(conv.status, 7)
        created = fd_time(conv.created_at) if conv.created_at else _EPOCH_TEXT
        props = self.ticket_props.get(conv.id, {})
        data: dict[str, Any] = {
            "cc_emails": [],
            "fwd_emails": [],
            "reply_cc_emails": [],
            "ticket_cc_emails": [],
            "fr_escalated": False,
            "spam": False,
            "email_config_id": None,
            "group_id": _int_or_none(conv.group_id),
            "priority": props.get("priority", 1),
            "requester_id": _int_or_none(conv.customer_id),
            "responder_id": _int_or_none(conv.assignee_id),
            "source": props.get("source", _CHANNEL_SOURCE.get(conv.channel or "", 2)),
            "company_id": None,
            "status": status,
            "subject": conv.subject or "",
            "support_email": None,
            "to_emails": None,
            "product_id": None,
            "id": int(conv.id),
            "type": props.get("type"),
            "due_by": created,
            "fr_due_by": created,
            "is_escalated": False,
            "custom_fields": _ticket_custom_fields(conv.custom_fields),
            "created_at": created,
            "updated_at": fd_time(conv.updated_at) if conv.updated_at else created,
            "tags": list(conv.tags),
        }
        if conv.id in self.trashed_tickets:
            data["deleted"] = True
        if description:
            thread = self.messages.get(conv.id) or []
            text = thread[0].body if thread and thread[0].body else ""
            data["description"] = text_to_html(text)
            data["description_text"] = text
        return data

    def render_conversation(self, msg: Message) -> dict[str, Any]:
        created = fd_time(msg.created_at) if msg.created_at else _EPOCH_TEXT
        author = None if msg.author_role is AuthorRole.SYSTEM else _int_or_none(msg.author_id)
        return {
            "body": text_to_html(msg.body or ""),
            "body_text": msg.body or "",
            "id": int(msg.id),
            "incoming": msg.author_role is AuthorRole.CUSTOMER,
            "private": not msg.public,
            "user_id": author,
            "support_email": None,
            "source": 0 if msg.public else 2,
            "category": 2,
            "ticket_id": int(msg.conversation_id),
            "to_emails": [],
            "from_email": None,
            "cc_emails": [],
            "bcc_emails": None,
            "attachments": [],
            "created_at": created,
            "updated_at": created,
        }

    def render_agent(self, agent: Agent) -> dict[str, Any]:
        return {
            "available": agent.availability is AgentAvailability.AVAILABLE,
            "occasional": False,
            "id": int(agent.id),
            "ticket_scope": 1,
            "signature": None,
            "group_ids": [int(g) for g in agent.group_ids],
            "role_ids": [1],
            "skill_ids": [],
            "available_since": None,
            "type": "support_agent",
            "created_at": _EPOCH_TEXT,
            "updated_at": _EPOCH_TEXT,
            "contact": {
                "active": True,
                "email": agent.email,
                "job_title": None,
                "language": "en",
                "last_login_at": None,
                "mobile": None,
                "name": agent.name,
                "phone": None,
                "time_zone": "UTC",
                "created_at": _EPOCH_TEXT,
                "updated_at": _EPOCH_TEXT,
                "avatar": {"avatar_url": agent.avatar_url} if agent.avatar_url else None,
            },
        }

    def render_contact(self, customer: Customer) -> dict[str, Any]:
        created = fd_time(customer.created_at) if customer.created_at else _EPOCH_TEXT
        props = self.contact_props.get(customer.id, {})
        return {
            "active": True,
            "address": props.get("address"),
            "avatar": {"avatar_url": customer.avatar_url} if customer.avatar_url else None,
            "company_id": None,
            "view_all_tickets": props.get("view_all_tickets", False),
            "custom_fields": dict(customer.custom_attributes),
            "deleted": customer.id in self.deleted_contacts,
            "description": customer.notes,
            "email": customer.email,
            "id": int(customer.id),
            "job_title": props.get("job_title"),
            "language": (customer.locale or "en").split("-")[0],
            "mobile": props.get("mobile"),
            "name": customer.name or "",
            "other_emails": [e for e in customer.emails if e != customer.email],
            "phone": customer.phone,
            "tags": list(customer.tags),
            "time_zone": customer.timezone,
            "twitter_id": props.get("twitter_id"),
            "unique_external_id": props.get("unique_external_id"),
            "created_at": created,
            "updated_at": fd_time(customer.updated_at) if customer.updated_at else created,
        }

    # -- tickets -------------------------------------------------------------------------------------

    @route("GET", rf"{_API}/tickets")
    @_validating
    def list_tickets(self, request: httpx.Request) -> httpx.Response:
        limited = self._spend("tickets_list")
        if limited is not None:
            return limited
        params = request.url.params
        self._unknown_fields(dict(params), _TICKET_LIST_PARAMS)
        order_by = params.get("order_by", "created_at")
        if order_by not in ("created_at", "due_by", "updated_at", "status"):
            raise _Invalid("order_by", "It should be one of these values: 'created_at,due_by,updated_at,status'")
        order_type = params.get("order_type", "desc")
        if order_type not in ("asc", "desc"):
            raise _Invalid("order_type", "It should be one of these values: 'asc,desc'")
        named = params.get("filter")
        if named is not None and named not in ("new_and_my_open", "watching", "spam", "deleted"):
            raise _Invalid("filter", "It should be one of these values: 'new_and_my_open,watching,spam,deleted'")
        page, _ = self._page_params(request)
        if page > self.page_cap:
            raise _Invalid("page", _PAGE_CAP_MESSAGE.replace("300th", f"{self.page_cap}th"))
        since = self._time_param(request, "updated_since")
        ordered, keys = self._ordered(order_by, order_type)
        if named is not None:
            # the named views: no 30-day window; nobody watches or marks spam in the fake
            convs = self._named_view(named, ordered, order_by, order_type)
            if since is not None:
                convs = [c for c in convs if c.updated_at is not None and c.updated_at >= since]
        elif since is not None and order_by == "updated_at" and order_type == "asc":
            convs = ordered[bisect.bisect_left(keys, (since, -1)) :]  # the common sync case, without a scan
        elif since is not None:
            convs = [c for c in ordered if c.updated_at is not None and c.updated_at >= since]
        else:  # the documented default: tickets created in the last 30 days
            floor = self.clock.now() - _DEFAULT_WINDOW
            convs = [c for c in ordered if c.created_at is not None and c.created_at >= floor]
        includes = self._includes(request, ("description", "requester", "stats", "company"))
        return self._link_page(
            request,
            convs,
            lambda c: self._with_includes(self.render_ticket(c, description="description" in includes), c, includes),
        )

    def _named_view(
        self, named: str, ordered: list[Conversation], order_by: str, order_type: str
    ) -> list[Conversation]:
        if named == "new_and_my_open":
            me = self._owner().id
            return [c for c in ordered if c.status is ConversationStatus.OPEN and c.assignee_id in (None, me)]
        if named == "deleted":
            key = (
                (lambda c: c.updated_at or _MIN_TIME)
                if order_by == "updated_at"
                else (lambda c: c.created_at or _MIN_TIME)
            )
            return sorted(self.trashed_tickets.values(), key=key, reverse=order_type == "desc")
        return []

    def _ordered(self, order_by: str, order_type: str) -> tuple[list[Conversation], list[Any]]:
        """Tickets sorted for the list (cached until the conversations change) and their sort keys."""
        cached = self._sorted.get((order_by, order_type))
        if cached is not None and cached[0] == self.conversations.version:
            return cached[1], cached[2]

        def key(c: Conversation) -> tuple[Any, int]:
            if order_by == "status":
                return (status_to_freshdesk(c.status) or 7, int(c.id))
            value = c.updated_at if order_by == "updated_at" else c.created_at
            return (value or _MIN_TIME, int(c.id))

        ordered = sorted(self.conversations.values(), key=key, reverse=order_type == "desc")
        keys = [key(c) for c in ordered]
        self._sorted[(order_by, order_type)] = (self.conversations.version, ordered, keys)
        return ordered, keys

    @route("GET", rf"{_API}/tickets/(?P<tid>\d+)")
    @_validating
    def get_ticket(self, request: httpx.Request, tid: str) -> httpx.Response:
        conv = self.conversations.get(tid) or self.trashed_tickets.get(tid)
        if conv is None:
            return self.error(404, "Record not found")
        includes = self._includes(request, _TICKET_INCLUDES)
        return self.json_response(self._with_includes(self.render_ticket(conv, description=True), conv, includes))

    @staticmethod
    def _includes(request: httpx.Request, allowed: tuple[str, ...]) -> list[str]:
        values = [v for v in request.url.params.get("include", "").split(",") if v]
        for value in values:
            if value not in allowed:
                raise _Invalid("include", f"It should be one of these values: '{','.join(allowed)}'")
        return values

    def _with_includes(self, data: dict[str, Any], conv: Conversation, includes: list[str]) -> dict[str, Any]:
        """`include=` embeds: requester, stats, company (null: the fake has no companies), conversations (the
        first 10, oldest first, as Freshdesk caps them)."""
        if "requester" in includes:
            contact = self._contact(conv.customer_id or "")
            data["requester"] = (
                None
                if contact is None
                else {"id": int(contact.id), "name": contact.name, "email": contact.email, "mobile": None,
                      "phone": contact.phone}
            )  # fmt: skip
        if "stats" in includes:
            data["stats"] = self._stats(conv)
        if "company" in includes:
            data["company"] = None
        if "conversations" in includes:
            data["conversations"] = [self.render_conversation(m) for m in self.messages.get(conv.id, [])[1:11]]
        return data

    def _stats(self, conv: Conversation) -> dict[str, Any]:
        thread = self.messages.get(conv.id, [])
        agent = [m.created_at for m in thread[1:] if m.author_role is AuthorRole.AGENT and m.public and m.created_at]
        customer = [m.created_at for m in thread if m.author_role is AuthorRole.CUSTOMER and m.created_at]
        updated = fd_time(conv.updated_at) if conv.updated_at else None
        done = conv.status in (ConversationStatus.SOLVED, ConversationStatus.CLOSED)
        return {
            "agent_responded_at": fd_time(max(agent)) if agent else None,
            "requester_responded_at": fd_time(max(customer)) if customer else None,
            "first_responded_at": fd_time(min(agent)) if agent else None,
            "status_updated_at": updated,
            "reopened_at": None,
            "resolved_at": updated if done else None,
            "closed_at": updated if conv.status is ConversationStatus.CLOSED else None,
            "pending_since": updated if conv.status is ConversationStatus.PENDING else None,
        }

    @route("POST", rf"{_API}/tickets")
    @_validating
    def create_ticket(self, request: httpx.Request) -> httpx.Response:
        """A new ticket; the requester by `requester_id`, or by `email` (a contact is created when none has it)."""
        limited = self._spend("tickets_create")
        if limited is not None:
            return limited
        body = self._body(request)
        self._unknown_fields(body, _TICKET_CREATE_FIELDS)
        for name in ("subject", "description"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                raise _Invalid(name, "It should be a/an String", "missing_field")
        if "status" not in body or "priority" not in body:
            raise _Invalid(
                "status" if "status" not in body else "priority", "It should be a/an Integer", "missing_field"
            )
        requester = self._requester(body)
        now = _second(self.clock.now())
        tid = str(max((int(i) for i in [*self.conversations, *self.trashed_tickets]), default=0) + 1)
        placeholder = Conversation(id=tid, customer_id=requester.id, created_at=now, updated_at=now)
        changes = self._ticket_changes(body, placeholder)
        props = self._ticket_props(body)
        conv = placeholder.model_copy(update={"version": fd_time(now), "channel": "portal", **changes})
        self.conversations[tid] = conv
        self.ticket_props[tid] = props
        first = Message(
            id=str(self._next_message),
            conversation_id=tid,
            author_id=requester.id,
            author_role=AuthorRole.CUSTOMER,
            public=True,
            body=_strip_html(body["description"]),
            created_at=now,
        )
        self._next_message += 1
        self.messages[tid] = [first]
        return self.json_response(self.render_ticket(conv, description=True), 201)

    def _requester(self, body: Mapping[str, Any]) -> Customer:
        if body.get("requester_id") is not None:
            found = self._contact(str(body["requester_id"]))
            if found is None:
                raise _Invalid("requester_id", "There is no contact matching the given requester_id")
            return found
        email = body.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise _Invalid(
                "requester_id", "Please fill at least 1 of requester_id, phone, email, twitter_id, "
                "unique_external_id fields", "missing_field"
            )  # fmt: skip
        for contact in [*self.customers.values(), *self.agent_contacts.values()]:
            if email.lower() in {e.lower() for e in [contact.email or "", *contact.emails]}:
                return contact
        return self._new_contact({"name": body.get("name") or email.split("@")[0], "email": email})

    @route("DELETE", rf"{_API}/tickets/(?P<tid>\d+)")
    def trash_ticket(self, request: httpx.Request, tid: str) -> httpx.Response:
        """Moves the ticket to the trash (204): off the default lists, listed by `filter=deleted`."""
        conv = self.conversations.pop(tid, None)
        if conv is None:
            return self.error(404, "Record not found")
        self.trashed_tickets[tid] = conv
        return httpx.Response(204)

    @route("PUT", rf"{_API}/tickets/(?P<tid>\d+)/restore")
    def restore_ticket(self, request: httpx.Request, tid: str) -> httpx.Response:
        conv = self.trashed_tickets.pop(tid, None)
        if conv is None:
            return self.error(404, "Record not found")
        self.conversations[tid] = conv
        return httpx.Response(204)

    @route("PUT", rf"{_API}/tickets/(?P<tid>\d+)")
    @_validating
    def update_ticket(self, request: httpx.Request, tid: str) -> httpx.Response:
        limited = self._spend("tickets_update")
        if limited is not None:
            return limited
        if tid not in self.conversations:
            return self.error(404, "Record not found")
        body = self._body(request)
        self._unknown_fields(body, _TICKET_UPDATE_FIELDS)
        changes = self._ticket_changes(body, self.conversations[tid])
        props = self._ticket_props(body)
        conv = self.touch_conversation(tid, **changes)
        self.ticket_props.setdefault(tid, {}).update(props)
        return self.json_response(self.render_ticket(conv, description=True))

    def _ticket_changes(self, properties: Mapping[str, Any], current: Conversation | None = None) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if "subject" in properties:
            if not isinstance(properties["subject"], str) or not properties["subject"].strip():
                raise _Invalid("subject", "It should be a/an String", "datatype_mismatch")
            changes["subject"] = properties["subject"]
        if "custom_fields" in properties:
            custom = properties["custom_fields"]
            if not isinstance(custom, dict):
                raise _Invalid("custom_fields", "It should be a/an key/value pair", "datatype_mismatch")
            for name in custom:
                if name not in self.ticket_custom_fields:
                    raise _Invalid(name, "Unexpected/invalid field in request", "invalid_field")
            merged = dict(current.custom_fields) if current is not None else {}
            for name, value in custom.items():  # keys sent are updated, the others kept
                merged[_bare(name)] = value
            changes["custom_fields"] = {k: v for k, v in merged.items() if v is not None}
        if "responder_id" in properties:
            value = properties["responder_id"]
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise _Invalid("responder_id", "It should be a/an Positive Integer", "datatype_mismatch")
            if value is not None and str(value) not in self.agents:
                raise _Invalid("responder_id", "There is no agent matching the given responder_id")
            changes["assignee_id"] = None if value is None else str(value)
        if "group_id" in properties:
            value = properties["group_id"]
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise _Invalid("group_id", "It should be a/an Positive Integer", "datatype_mismatch")
            if value is not None and str(value) not in self.groups:
                raise _Invalid("group_id", "There is no group matching the given group_id")
            changes["group_id"] = None if value is None else str(value)
        if "status" in properties:
            value = properties["status"]
            if value not in (2, 3, 4, 5, 6, 7):
                raise _Invalid("status", "It should be one of these values: '2,3,4,5,6,7'")
            changes["status"] = {6: ConversationStatus.ON_HOLD, 7: ConversationStatus.OTHER}.get(
                value, {2: ConversationStatus.OPEN, 3: ConversationStatus.PENDING, 4: ConversationStatus.SOLVED,
                        5: ConversationStatus.CLOSED}.get(value)
            )  # fmt: skip
        if "tags" in properties:
            tags = properties["tags"]
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise _Invalid("tags", "It should be a/an Array", "datatype_mismatch")
            changes["tags"] = list(tags)
        return changes

    @staticmethod
    def _ticket_props(properties: Mapping[str, Any]) -> dict[str, Any]:
        """The vendor-only properties of a ticket write (priority, type, source), validated."""
        props: dict[str, Any] = {}
        if "priority" in properties:
            if properties["priority"] not in (1, 2, 3, 4):
                raise _Invalid("priority", "It should be one of these values: '1,2,3,4'")
            props["priority"] = properties["priority"]
        if "type" in properties:
            value = properties["type"]
            if value is not None and value not in TICKET_TYPES:
                raise _Invalid("type", f"It should be one of these values: '{','.join(TICKET_TYPES)}'")
            props["type"] = value
        if "source" in properties:
            if properties["source"] not in _SOURCES.values():
                raise _Invalid("source", "It should be one of these values: '1,2,3,5,6,7,9,10'")
            props["source"] = properties["source"]
        return props

    @route("POST", rf"{_API}/tickets/bulk_update")
    @_validating
    def bulk_update(self, request: httpx.Request) -> httpx.Response:
        limited = self._spend("tickets_update")
        if limited is not None:
            return limited
        body = self._body(request)
        self._unknown_fields(body, frozenset({"bulk_action"}))
        action = body.get("bulk_action")
        if not isinstance(action, dict):
            raise _Invalid("bulk_action", "It should be a/an key/value pair", "missing_field")
        self._unknown_fields(action, frozenset({"ids", "properties", "reply"}))
        ids = action.get("ids")
        if not isinstance(ids, list) or not ids:
            raise _Invalid("ids", "It should be a/an Array", "missing_field")
        if not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids):
            raise _Invalid("ids", "It should contain elements of type Positive Integer only", "datatype_mismatch")
        properties = action.get("properties") or {}
        if not isinstance(properties, dict):
            raise _Invalid("properties", "It should be a/an key/value pair", "datatype_mismatch")
        self._unknown_fields(properties, _TICKET_UPDATE_FIELDS)
        self._ticket_changes(properties)
        props = self._ticket_props(properties)
        data: list[dict[str, Any]] = []
        for ticket_id in ids:
            if str(ticket_id) in self.conversations:
                changes = self._ticket_changes(properties, self.conversations[str(ticket_id)])
                self.touch_conversation(str(ticket_id), **changes)
                self.ticket_props.setdefault(str(ticket_id), {}).update(props)
                data.append({"id": ticket_id, "success": True})
            else:
                data.append({"id": ticket_id, "success": False, "message": "Record not found"})
        job_id = f"{len(self.jobs) + 1:08x}-fake-job"
        self.jobs[job_id] = {"created": self.clock.monotonic(), "data": data, "created_at": fd_time(self.clock.now())}
        return self.json_response({"job_id": job_id}, 202)

    @route("GET", rf"{_API}/jobs/(?P<job_id>[^/]+)")
    def get_job(self, request: httpx.Request, job_id: str) -> httpx.Response:
        job = self.jobs.get(job_id)
        if job is None:
            return self.error(404, "Record not found")
        done = self.clock.monotonic() - job["created"] >= self.job_seconds
        body: dict[str, Any] = {"id": job_id, "created_at": job["created_at"], "updated_at": fd_time(self.clock.now())}
        if not done:
            body.update(status="IN PROGRESS", progress=50)
        else:
            failed = sum(1 for d in job["data"] if not d["success"])
            status = "SUCCESS" if not failed else ("FAILED" if failed == len(job["data"]) else "PARTIAL")
            body.update(status=status, progress=100, data=job["data"])
        return self.json_response(body)

    @route("GET", rf"{_API}/tickets/(?P<tid>\d+)/conversations")
    @_validating
    def list_conversations(self, request: httpx.Request, tid: str) -> httpx.Response:
        if tid not in self.conversations:
            return self.error(404, "Record not found")
        thread = self.messages.get(tid, [])[1:]  # the first message is the ticket's description
        return self._link_page(request, thread, self.render_conversation)

    @route("POST", rf"{_API}/tickets/(?P<tid>\d+)/notes")
    @_validating
    def add_note(self, request: httpx.Request, tid: str) -> httpx.Response:
        if tid not in self.conversations:
            return self.error(404, "Record not found")
        body = self._body(request)
        self._unknown_fields(body, _NOTE_FIELDS)
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            raise _Invalid("body", "It should be a/an String", "missing_field")
        private = body.get("private", True)
        if not isinstance(private, bool):
            raise _Invalid("private", "It should be a/an Boolean", "datatype_mismatch")
        msg = Message(
            id=str(self._next_message),
            conversation_id=tid,
            author_id=self._owner().id,
            author_role=AuthorRole.AGENT,
            public=not private,
            body=_strip_html(text),
            created_at=_second(self.clock.now()),
        )
        self._next_message += 1
        self.messages.setdefault(tid, []).append(msg)
        self.touch_conversation(tid)
        return self.json_response(self.render_conversation(msg), 201)

    @route("POST", rf"{_API}/tickets/(?P<tid>\d+)/reply")
    @_validating
    def add_reply(self, request: httpx.Request, tid: str) -> httpx.Response:
        """A public agent reply (201, the conversation: `private` false, `source` 0)."""
        if tid not in self.conversations:
            return self.error(404, "Record not found")
        body = self._body(request)
        self._unknown_fields(body, _REPLY_FIELDS)
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            raise _Invalid("body", "It should be a/an String", "missing_field")
        author = body.get("user_id")
        if author is not None and str(author) not in self.agents:
            raise _Invalid("user_id", "There is no agent matching the given user_id")
        msg = Message(
            id=str(self._next_message),
            conversation_id=tid,
            author_id=str(author) if author is not None else self._owner().id,
            author_role=AuthorRole.AGENT,
            public=True,
            body=_strip_html(text),
            created_at=_second(self.clock.now()),
        )
        self._next_message += 1
        self.messages.setdefault(tid, []).append(msg)
        self.touch_conversation(tid)
        return self.json_response(self.render_conversation(msg), 201)

    # -- agents and groups ---------------------------------------------------------------------------

    def _active_agents(self) -> list[Agent]:
        return sorted((a for a in self.agents.values() if a.active), key=lambda a: int(a.id))

    @route("GET", rf"{_API}/agents")
    @_validating
    def list_agents(self, request: httpx.Request) -> httpx.Response:
        return self._link_page(request, [self.render_agent(a) for a in self._active_agents()])

    @route("GET", rf"{_API}/agents/me")
    def get_me(self, request: httpx.Request) -> httpx.Response:
        return self.json_response(self.render_agent(self._owner()))

    @route("GET", rf"{_API}/agents/(?P<aid>\d+)")
    def get_agent(self, request: httpx.Request, aid: str) -> httpx.Response:
        agent = self.agents.get(aid)
        if agent is None or not agent.active:
            return self.error(404, "Record not found")
        return self.json_response(self.render_agent(agent))

    @route("GET", rf"{_API}/groups")
    @_validating
    def list_groups(self, request: httpx.Request) -> httpx.Response:
        return self._link_page(
            request, [self.render_group(g) for g in sorted(self.groups.values(), key=lambda g: int(g.id))]
        )

    def render_group(self, group: Group) -> dict[str, Any]:
        active = {a.id for a in self._active_agents()}
        return {
            "id": int(group.id),
            "name": group.name,
            "description": None,
            "business_hour_id": None,
            "escalate_to": None,
            "unassigned_for": None,
            "agent_ids": [int(a) for a in group.agent_ids if a in active],
            "auto_ticket_assign": False,
            "created_at": _EPOCH_TEXT,
            "updated_at": _EPOCH_TEXT,
        }

    @route("GET", rf"{_API}/groups/(?P<gid>\d+)")
    def get_group(self, request: httpx.Request, gid: str) -> httpx.Response:
        group = self.groups.get(gid)
        return self.json_response(self.render_group(group)) if group else self.error(404, "Record not found")

    @route("GET", rf"{_API}/roles")
    def list_roles(self, request: httpx.Request) -> httpx.Response:
        """The built-in roles (not paged); every fake agent has role 1, Agent."""
        return self.json_response([_render_role(r) for r in _ROLES])

    @route("GET", rf"{_API}/roles/(?P<rid>\d+)")
    def get_role(self, request: httpx.Request, rid: str) -> httpx.Response:
        found = [r for r in _ROLES if r[0] == int(rid)]
        return self.json_response(_render_role(found[0])) if found else self.error(404, "Record not found")

    # -- ticket fields -------------------------------------------------------------------------------

    @route("GET", rf"{_API}/ticket_fields")
    @_validating
    def list_ticket_fields(self, request: httpx.Request) -> httpx.Response:
        """The default ticket fields (with their choices) and the account's custom ones (`cf_...`)."""
        wanted = request.url.params.get("type")
        areas = sorted({str(v) for c in self.conversations.values() for k, v in c.custom_fields.items()
                        if _cf(k) == FRESHDESK_PRODUCT_AREA_FIELD})  # fmt: skip
        groups = {g.name or g.id: int(g.id) for g in self.groups.values()}
        agents = {a.name or a.id: int(a.id) for a in self._active_agents()}
        fields: list[dict[str, Any]] = [
            _ticket_field(1, "requester", "Search a requester", "default_requester"),
            _ticket_field(2, "subject", "Subject", "default_subject"),
            _ticket_field(3, "ticket_type", "Type", "default_ticket_type", choices=list(TICKET_TYPES)),
            _ticket_field(4, "source", "Source", "default_source", choices=dict(_SOURCES)),
            _ticket_field(5, "status", "Status", "default_status", choices=dict(_STATUS_CHOICES)),
            _ticket_field(6, "priority", "Priority", "default_priority", choices=dict(_PRIORITIES)),
            _ticket_field(7, "group", "Group", "default_group", choices=groups),
            _ticket_field(8, "agent", "Agent", "default_agent", choices=agents),
            _ticket_field(9, "description", "Description", "default_description"),
        ]  # fmt: skip
        for n, name in enumerate(sorted(self.ticket_custom_fields)):
            choices = areas if name == FRESHDESK_PRODUCT_AREA_FIELD else None
            kind = "custom_dropdown" if choices is not None else "custom_text"
            fields.append(
                _ticket_field(
                    100 + n, name, _bare(name).replace("_", " ").capitalize(), kind, choices=choices, default=False
                )
            )
        if wanted is not None:
            fields = [f for f in fields if f["type"] == wanted]
        return self.json_response(fields)

    # -- contacts ------------------------------------------------------------------------------------

    @route("GET", rf"{_API}/contacts")
    @_validating
    def list_contacts(self, request: httpx.Request) -> httpx.Response:
        limited = self._spend("contacts_list")
        if limited is not None:
            return limited
        params = request.url.params
        self._unknown_fields(dict(params), _CONTACT_LIST_PARAMS)
        since = self._time_param(request, "_updated_since")
        email = (params.get("email") or "").strip().lower()
        state = params.get("state")
        contacts = sorted([*self.customers.values(), *self.agent_contacts.values()], key=lambda c: int(c.id))
        out = []
        for contact in contacts:
            deleted = contact.id in self.deleted_contacts
            if deleted != (state == "deleted"):
                continue
            if email and email not in {e.lower() for e in [contact.email or "", *contact.emails]}:
                continue
            if since is not None and (contact.updated_at is None or contact.updated_at < since):
                continue
            out.append(contact)
        return self._link_page(request, out, self.render_contact)

    @route("GET", rf"{_API}/contacts/(?P<cid>\d+)")
    def get_contact(self, request: httpx.Request, cid: str) -> httpx.Response:
        contact = self._contact(cid)
        if contact is None:
            return self.error(404, "Record not found")
        return self.json_response(self.render_contact(contact))

    @route("PUT", rf"{_API}/contacts/(?P<cid>\d+)")
    @_validating
    def update_contact(self, request: httpx.Request, cid: str) -> httpx.Response:
        contact = self._contact(cid)
        if contact is None:
            return self.error(404, "Record not found")
        body = self._body(request)
        self._unknown_fields(body, _CONTACT_UPDATE_FIELDS)
        updated = self._apply_contact(contact, body)
        return self.json_response(self.render_contact(updated))

    def _apply_contact(self, contact: Customer, body: Mapping[str, Any]) -> Customer:
        """Validates a contact write and stores it (the core fields on the Customer, the rest in contact_props)."""
        cid = contact.id
        update: dict[str, Any] = {"updated_at": _second(self.clock.now())}
        custom = body.get("custom_fields")
        if custom is not None:
            if not isinstance(custom, dict):
                raise _Invalid("custom_fields", "It should be a/an key/value pair", "datatype_mismatch")
            for name in custom:
                if name not in self.contact_fields:
                    raise _Invalid(name, "Unexpected/invalid field in request", "invalid_field")
            update["custom_attributes"] = {**contact.custom_attributes, **custom}
        if "tags" in body:
            tags = body["tags"]
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise _Invalid("tags", "It should be a/an Array", "datatype_mismatch")
            update["tags"] = list(dict.fromkeys(tags))  # replaces the whole list
        if "description" in body:
            if body["description"] is not None and not isinstance(body["description"], str):
                raise _Invalid("description", "It should be a/an String", "datatype_mismatch")
            update["notes"] = body["description"]
        if "email" in body:
            email = body["email"]
            if email is not None and (not isinstance(email, str) or "@" not in email):
                raise _Invalid("email", "It should be a valid email address", "invalid_value")
            taken = {(c.email or "").lower() for c in self.customers.values() if c.id != cid}
            if email is not None and email.lower() in taken:
                raise _Invalid("email", "It should be a unique value", "duplicate_value", status=409)
            update["email"] = email
        if "name" in body:
            if not isinstance(body["name"], str) or not body["name"].strip():
                raise _Invalid("name", "It should be a/an String", "datatype_mismatch")
            update["name"] = body["name"]
        if "phone" in body:
            update["phone"] = None if body["phone"] is None else str(body["phone"])
        if "time_zone" in body:
            update["timezone"] = body["time_zone"]
        if "language" in body:
            update["locale"] = body["language"]
        if "other_emails" in body:
            update["emails"] = [e for e in [update.get("email", contact.email), *body["other_emails"]] if e]
        props = {k: body[k] for k in _CONTACT_PROPS if k in body}
        updated = contact.model_copy(update=update)
        if cid in self.agent_contacts:
            self.agent_contacts[cid] = updated
        else:
            self.customers[cid] = updated
        self.contact_props.setdefault(cid, {}).update(props)
        return updated

    def _new_contact(self, body: Mapping[str, Any]) -> Customer:
        known = [*self.customers, *self.agent_contacts]
        cid = str(max((int(i) for i in known), default=0) + 1)
        now = _second(self.clock.now())
        self.customers[cid] = Customer(id=cid, created_at=now, updated_at=now)
        try:
            return self._apply_contact(self.customers[cid], body)
        except _Invalid:
            del self.customers[cid]
            raise

    @route("POST", rf"{_API}/contacts")
    @_validating
    def create_contact(self, request: httpx.Request) -> httpx.Response:
        """A new contact (201); a name and one of email, phone, mobile, twitter_id, unique_external_id needed."""
        body = self._body(request)
        self._unknown_fields(body, _CONTACT_CREATE_FIELDS)
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            raise _Invalid("name", "It should be a/an String", "missing_field")
        if not any(body.get(k) for k in ("email", "phone", "mobile", "twitter_id", "unique_external_id")):
            raise _Invalid(
                "email", "Please fill at least 1 of email, mobile, phone, twitter_id, unique_external_id fields",
                "missing_field",
            )  # fmt: skip
        return self.json_response(self.render_contact(self._new_contact(body)), 201)

    @route("DELETE", rf"{_API}/contacts/(?P<cid>\d+)")
    def soft_delete_contact(self, request: httpx.Request, cid: str) -> httpx.Response:
        """Soft delete (204): the contact stays readable by id with `deleted: true`."""
        if self._contact(cid) is None or cid in self.deleted_contacts:
            return self.error(404, "Record not found")
        self.deleted_contacts.add(cid)
        return httpx.Response(204)

    @route("PUT", rf"{_API}/contacts/(?P<cid>\d+)/restore")
    def restore_contact(self, request: httpx.Request, cid: str) -> httpx.Response:
        if self._contact(cid) is None or cid not in self.deleted_contacts:
            return self.error(404, "Record not found")
        self.deleted_contacts.discard(cid)
        return httpx.Response(204)

    # -- search (filter) -----------------------------------------------------------------------------

    @route("GET", rf"{_API}/search/tickets")
    @_validating
    def search_tickets(self, request: httpx.Request) -> httpx.Response:
        """`query="..."` in Freshdesk's filter syntax over tickets (newest first), 30 a page, pages 1-10."""
        match = _query_predicate(request, _ticket_search_value)
        convs = sorted(self.conversations.values(), key=lambda c: (c.created_at or _MIN_TIME, int(c.id)), reverse=True)
        found = [data for data in (self.render_ticket(c, description=False) for c in convs) if match(data)]
        return self._search_page(request, found)

    @route("GET", rf"{_API}/search/contacts")
    @_validating
    def search_contacts(self, request: httpx.Request) -> httpx.Response:
        match = _query_predicate(request, _contact_search_value)
        contacts = sorted([*self.customers.values(), *self.agent_contacts.values()], key=lambda c: int(c.id))
        rendered = (self.render_contact(c) for c in contacts if c.id not in self.deleted_contacts)
        return self._search_page(request, [data for data in rendered if match(data)])

    def _search_page(self, request: httpx.Request, found: list[dict[str, Any]]) -> httpx.Response:
        raw = request.url.params.get("page", "1")
        if not raw.isdigit() or not 1 <= int(raw) <= _SEARCH_MAX_PAGE:
            raise _Invalid("page", f"It should be a Positive Integer less than or equal to {_SEARCH_MAX_PAGE}")
        start = (int(raw) - 1) * _SEARCH_PAGE_SIZE
        return self.json_response({"results": found[start : start + _SEARCH_PAGE_SIZE], "total": len(found)})

    @route("GET", rf"{_API}/contact_fields")
    def list_contact_fields(self, request: httpx.Request) -> httpx.Response:
        fields = [
            {"id": 1000 + n, "name": name, "label": name.replace("_", " ").capitalize(), "type": "custom_text",
             "default": False, "customers_can_edit": False, "position": n + 10}
            for n, name in enumerate(sorted(self.contact_fields))
        ]  # fmt: skip
        return self.json_response(fields)

    # -- canned responses ----------------------------------------------------------------------------

    def clear_saved_replies(self) -> None:
        now = fd_time(self.clock.now())
        self.canned_responses = {}
        self.canned_folders = {
            folder_id: {"id": folder_id, "name": name, "personal": personal, "responses_count": 0,
                        "created_at": now, "updated_at": now}
            for folder_id, name, personal in ((5001, "General", False), (5002, "Personal", True))
        }  # fmt: skip

    def add_saved_reply(self, *, title: str, body: str, folder_id: int = 5001) -> str:
        """A canned response in a folder (General unless `folder_id`), stored as HTML with its plain `content`."""
        if not self.canned_folders:
            self.clear_saved_replies()  # a fake built without a history has no folders yet
        if folder_id not in self.canned_folders:
            raise KeyError(f"no canned response folder {folder_id}")
        response_id = 7_000_001 + len(self.canned_responses)
        while response_id in self.canned_responses:
            response_id += 1
        now = fd_time(self.clock.now())
        self.canned_responses[response_id] = {
            "id": response_id,
            "title": title,
            "folder_id": folder_id,
            "content": body,
            "content_html": _canned_html(body),
            "attachments": [],
            "created_at": now,
            "updated_at": now,
        }
        self.canned_folders[folder_id]["responses_count"] += 1
        return str(response_id)

    @route("GET", rf"{_API}/canned_response_folders")
    def list_canned_folders(self, request: httpx.Request) -> httpx.Response:
        return self.json_response([dict(f) for f in sorted(self.canned_folders.values(), key=lambda f: f["id"])])

    @route("GET", rf"{_API}/canned_response_folders/(?P<fid>\d+)/responses")
    @_validating
    def list_canned_responses(self, request: httpx.Request, fid: str) -> httpx.Response:
        if int(fid) not in self.canned_folders:
            return self.error(404, "Record not found")
        rows = [dict(r) for r in self.canned_responses.values() if r["folder_id"] == int(fid)]
        if not self.canned_list_content:
            rows = [{k: v for k, v in r.items() if k not in ("content", "content_html")} for r in rows]
        return self._link_page(request, rows)

    @route("GET", rf"{_API}/canned_responses/(?P<rid>\d+)")
    def get_canned_response(self, request: httpx.Request, rid: str) -> httpx.Response:
        found = self.canned_responses.get(int(rid))
        return self.json_response(dict(found)) if found is not None else self.error(404, "Record not found")

    # -- satisfaction ratings ------------------------------------------------------------------------

    @route("GET", rf"{_API}/surveys/satisfaction_ratings")
    @_validating
    def list_ratings(self, request: httpx.Request) -> httpx.Response:
        since = self._time_param(request, "created_since")
        user = request.url.params.get("user_id")
        out = []
        for rating in sorted(self.ratings.values(), key=lambda r: int(r.id)):
            if since is not None and (rating.created_at is None or rating.created_at < since):
                continue
            if user and rating.customer_id != user:
                continue
            out.append(self.render_rating(rating))
        return self._link_page(request, out)

    def render_rating(self, rating: SatisfactionRating) -> dict[str, Any]:
        conv = self.conversations.get(rating.conversation_id or "")
        answer = {RatingScore.GOOD: 103, RatingScore.BAD: -103}.get(rating.score, 100)
        created = fd_time(rating.created_at) if rating.created_at else _EPOCH_TEXT
        return {
            "id": int(rating.id),
            "survey_id": 1,
            "user_id": _int_or_none(rating.customer_id),
            "agent_id": _int_or_none(rating.agent_id),
            "group_id": _int_or_none(conv.group_id) if conv else None,
            "ticket_id": _int_or_none(rating.conversation_id),
            "feedback": rating.comment,
            "ratings": self.rating_answers.get(rating.id) or {"default_question": answer},
            "created_at": created,
            "updated_at": created,
        }

    @route("GET", rf"{_API}/tickets/(?P<tid>\d+)/satisfaction_ratings")
    def list_ticket_ratings(self, request: httpx.Request, tid: str) -> httpx.Response:
        if tid not in self.conversations:
            return self.error(404, "Record not found")
        found = sorted((r for r in self.ratings.values() if r.conversation_id == tid), key=lambda r: int(r.id))
        return self.json_response([self.render_rating(r) for r in found])

    @route("POST", rf"{_API}/tickets/(?P<tid>\d+)/satisfaction_ratings")
    @_validating
    def create_ticket_rating(self, request: httpx.Request, tid: str) -> httpx.Response:
        """A rating on the ticket's behalf (`ratings` answers: 103 extremely happy .. -103 extremely unhappy)."""
        conv = self.conversations.get(tid)
        if conv is None:
            return self.error(404, "Record not found")
        body = self._body(request)
        self._unknown_fields(body, frozenset({"ratings", "feedback"}))
        ratings = body.get("ratings")
        if not isinstance(ratings, dict) or "default_question" not in ratings:
            raise _Invalid("ratings", "It should contain default_question", "missing_field")
        for key, value in ratings.items():
            if value not in _RATING_ANSWERS:
                raise _Invalid(key, f"It should be one of these values: '{','.join(map(str, _RATING_ANSWERS))}'")
        feedback = body.get("feedback")
        if feedback is not None and not isinstance(feedback, str):
            raise _Invalid("feedback", "It should be a/an String", "datatype_mismatch")
        answer = ratings["default_question"]
        score = RatingScore.GOOD if answer > 100 else RatingScore.BAD if answer < 100 else RatingScore.UNKNOWN
        rid = str(max((int(i) for i in self.ratings), default=0) + 1)
        rating = SatisfactionRating(
            id=rid,
            conversation_id=tid,
            customer_id=conv.customer_id,
            agent_id=conv.assignee_id,
            score=score,
            comment=feedback,
            created_at=_second(self.clock.now()),
        )
        self.ratings[rid] = rating
        self.rating_answers[rid] = dict(ratings)
        return self.json_response(self.render_rating(rating), 201)


def _render_role(role: tuple[int, str, str, bool]) -> dict[str, Any]:
    rid, name, description, default = role
    return {"id": rid, "name": name, "description": description, "default": default,
            "created_at": _EPOCH_TEXT, "updated_at": _EPOCH_TEXT}  # fmt: skip


def _ticket_field(
    fid: int, name: str, label: str, kind: str, *, choices: Any = None, default: bool = True
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": fid, "name": name, "label": label, "description": label, "position": fid, "type": kind,
        "default": default, "required_for_closure": False, "required_for_agents": name == "subject",
        "required_for_customers": name in ("requester", "subject"), "customers_can_edit": True,
        "label_for_customers": label, "displayed_to_customers": True, "portal_cc": False,
        "portal_cc_to": "company", "created_at": _EPOCH_TEXT, "updated_at": _EPOCH_TEXT,
    }  # fmt: skip
    if choices is not None:
        data["choices"] = choices
    return data


#: search fields (`agent_id` is the ticket's responder_id) and how each compares: number, text, date, list
_TICKET_SEARCH: Final[Mapping[str, tuple[str, str]]] = {
    "agent_id": ("responder_id", "number"), "group_id": ("group_id", "number"), "status": ("status", "number"),
    "priority": ("priority", "number"), "type": ("type", "text"), "tag": ("tags", "list"),
    "due_by": ("due_by", "date"), "fr_due_by": ("fr_due_by", "date"), "created_at": ("created_at", "date"),
    "updated_at": ("updated_at", "date"), "requester_id": ("requester_id", "number"),
    "company_id": ("company_id", "number"),
}  # fmt: skip
_CONTACT_SEARCH: Final[Mapping[str, tuple[str, str]]] = {
    "email": ("email", "email"), "name": ("name", "text"), "phone": ("phone", "text"), "mobile": ("mobile", "text"),
    "company_id": ("company_id", "number"), "tag": ("tags", "list"), "language": ("language", "text"),
    "time_zone": ("time_zone", "text"), "twitter_id": ("twitter_id", "text"), "active": ("active", "bool"),
    "created_at": ("created_at", "date"), "updated_at": ("updated_at", "date"),
}  # fmt: skip
_TOKEN = re.compile(r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<op>AND|OR)\b|"
                    r"(?P<field>[A-Za-z_][A-Za-z0-9_]*):(?P<cmp>[<>])?(?P<value>'[^']*'|[^\s()']+))")  # fmt: skip


def _ticket_search_value(data: Mapping[str, Any], field: str) -> tuple[Any, str]:
    if field.startswith("cf_"):
        return data["custom_fields"].get(field), "text"
    if field not in _TICKET_SEARCH:
        raise KeyError(field)
    key, kind = _TICKET_SEARCH[field]
    return data.get(key), kind


def _contact_search_value(data: Mapping[str, Any], field: str) -> tuple[Any, str]:
    if field in data.get("custom_fields", {}):
        return data["custom_fields"][field], "text"
    if field not in _CONTACT_SEARCH:
        raise KeyError(field)
    key, kind = _CONTACT_SEARCH[field]
    if kind == "email":
        return [data.get("email"), *data.get("other_emails", [])], kind
    return data.get(key), kind


def _query_predicate(
    request: httpx.Request, lookup: Callable[[Mapping[str, Any], str], tuple[Any, str]]
) -> Callable[[Mapping[str, Any]], bool]:
    """Parses `query="..."` (Freshdesk's filter syntax: `field:value`, `field:'text'`, `:>`/`:<` for >=/<= on
    numbers and 'YYYY-MM-DD' dates, `null`, AND/OR and parentheses) into a predicate on a rendered record."""
    raw = request.url.params.get("query")
    if raw is None:
        raise _Invalid("query", "It should be a/an String", "missing_field")
    if len(raw) < 2 or not (raw.startswith('"') and raw.endswith('"')):
        raise _Invalid("query", "It should be in double quotes", "invalid_value")
    text = raw[1:-1]
    if len(text) > 512:
        raise _Invalid("query", "Has 513 characters, it can have maximum of 512 characters", "invalid_size")
    tokens: list[re.Match[str]] = []
    pos = 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _Invalid("query", f"Given query is invalid near {text[pos : pos + 20]!r}", "invalid_value")
        tokens.append(m)
        pos = m.end()

    def condition(m: re.Match[str]) -> Callable[[Mapping[str, Any]], bool]:
        field, cmp, value = m["field"], m["cmp"], m["value"]
        probe: Mapping[str, Any] = {"custom_fields": {}}
        try:
            lookup(probe, field)
        except KeyError:
            raise _Invalid(field, f"'{field}' is not a valid field", "invalid_field") from None
        except (AttributeError, TypeError):
            pass
        quoted = value.startswith("'")
        wanted: str = value.strip("'")

        def test(data: Mapping[str, Any]) -> bool:
            have, kind = lookup(data, field)
            if not quoted and wanted == "null":
                return have in (None, [], "")
            if kind == "list":
                return wanted.lower() in {str(t).lower() for t in have or []}
            if kind == "email":
                return wanted.lower() in {str(e).lower() for e in have if e}
            if have is None:
                return False
            if kind == "date":
                day = str(have)[:10]
                return day >= wanted if cmp == ">" else day <= wanted if cmp == "<" else day == wanted
            if kind == "number" and not quoted:
                number = int(wanted) if wanted.lstrip("-").isdigit() else None
                if number is None:
                    return False
                return bool(have >= number if cmp == ">" else have <= number if cmp == "<" else have == number)
            if kind == "bool":
                return str(have).lower() == wanted.lower()
            return str(have) == wanted

        return test

    index = 0

    def expr() -> Callable[[Mapping[str, Any]], bool]:
        nonlocal index
        parts = [conj()]
        while index < len(tokens) and tokens[index]["op"] == "OR":
            index += 1
            parts.append(conj())
        return parts[0] if len(parts) == 1 else (lambda d: any(p(d) for p in parts))

    def conj() -> Callable[[Mapping[str, Any]], bool]:
        nonlocal index
        parts = [atom()]
        while index < len(tokens) and tokens[index]["op"] == "AND":
            index += 1
            parts.append(atom())
        return parts[0] if len(parts) == 1 else (lambda d: all(p(d) for p in parts))

    def atom() -> Callable[[Mapping[str, Any]], bool]:
        nonlocal index
        if index >= len(tokens):
            raise _Invalid("query", "Given query is invalid: it ends early", "invalid_value")
        token = tokens[index]
        index += 1
        if token["open"]:
            inner = expr()
            if index >= len(tokens) or not tokens[index]["close"]:
                raise _Invalid("query", "Given query is invalid: a parenthesis is not closed", "invalid_value")
            index += 1
            return inner
        if token["field"]:
            return condition(token)
        raise _Invalid("query", f"Given query is invalid near {token.group(0).strip()!r}", "invalid_value")

    predicate = expr()
    if index != len(tokens):
        raise _Invalid("query", "Given query is invalid", "invalid_value")
    return predicate


def _cf(name: str) -> str:
    return name if name.startswith("cf_") else f"cf_{name}"


def _bare(name: str) -> str:
    return name[3:] if name.startswith("cf_") else name


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _second(value: datetime | None) -> Any:
    return value.replace(microsecond=0) if value is not None else None


def _canned_html(text: str) -> str:
    """HTML as Freshdesk's editor saves it: a `<div>` per line, an empty `<div><br></div>` between paragraphs."""
    return "".join(
        f"<div>{html.escape(line, quote=False)}</div>" if line.strip() else "<div><br></div>"
        for line in text.strip().split("\n")
    )


def _strip_html(text: str) -> str:
    return html_to_text(text) or ""
