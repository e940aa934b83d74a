"""A stateful fake of Intercom's REST API, rendering the shared core-model state in Intercom's JSON.

It implements every endpoint the adapter uses with Intercom's paths, payload shapes, status codes, cursor
pagination (`pages.next.starting_after`), `error.list` bodies with `request_id`, `X-RateLimit-*` headers on
10-second windows and 429s without Retry-After, and the search semantics of the filters we use (contact
dates matched by calendar day, `>=`/`<=`/`!=`/`IN`/`NIN` rejected on contact dates). It validates request
bodies and answers 400/404/422 the way Intercom does. Facts: docs/vendors/intercom.md.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final

import httpx

from humansupport import (
    AgentAvailability,
    AuthorRole,
    Conversation,
    ConversationStatus,
    Customer,
    Message,
    RatingScore,
)
from humansupport.testing import FakeBadRequest, FakeClock, FakeHelpdesk, SyntheticHistory, route
from humansupport.text import text_to_html

from .mapping import STATE_FOR_STATUS
from .webhooks import sign

__all__ = ["FakeIntercom", "IntercomApiError"]

_ID: Final = r"(?P<{}>[^/]+)"
WORKSPACE_ID: Final = "fakews01"
SUPPORTED_VERSIONS: Final = frozenset({"2.11", "2.12", "2.13", "2.14", "2.15", "2.16", "Preview"})
_CONTACT_DATE_FIELDS: Final = frozenset({"created_at", "updated_at", "signed_up_at", "last_seen_at"})
_DATE_REJECTED_OPERATORS: Final = frozenset({"!=", ">=", "<=", "IN", "NIN"})
_OPERATORS: Final = frozenset({"=", "!=", "IN", "NIN", "<", ">", "<=", ">=", "~", "!~", "^", "$"})
_DAY: Final = 86_400
_CODE_FOR_STATUS: Final[Mapping[int, str]] = {
    400: "parameter_invalid",
    401: "unauthorized",
    403: "action_forbidden",
    404: "not_found",
    409: "conflict",
    422: "data_invalid",
    429: "rate_limit_exceeded",
}


class IntercomApiError(FakeBadRequest):
    """An Intercom error answer with its `code` (`parameter_invalid`, `admin_not_found`, ...)."""

    def __init__(self, message: str, *, status: int = 400, code: str | None = None, field: str | None = None):
        super().__init__(message, status=status, field=field)
        self.code = code or _CODE_FOR_STATUS.get(status, "server_error")


Handler = Callable[..., httpx.Response]


def _answers(fn: Handler) -> Handler:
    """Turns an IntercomApiError raised anywhere in a handler into Intercom's error answer."""

    @functools.wraps(fn)
    def wrapper(self: FakeIntercom, request: httpx.Request, **kw: Any) -> httpx.Response:
        try:
            return fn(self, request, **kw)
        except IntercomApiError as exc:
            return self.ic_error(exc.status, exc.code, str(exc), field=exc.field)

    return wrapper


def _ts(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _int_id(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([last_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise IntercomApiError("starting_after is invalid", field="starting_after") from None
    if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], str)):
        raise IntercomApiError("starting_after is invalid", field="starting_after")
    return value[0]


def _macro_time(macro: Mapping[str, Any]) -> float:
    return datetime.strptime(str(macro["updated_at"]), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def _sort_key(record_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order, then any others; the cursor is the last id seen (keyset paging)."""
    number = _int_id(record_id)
    return (0, number, "") if number is not None else (1, 0, record_id)


class FakeIntercom(FakeHelpdesk):
    """Intercom's API as a MockTransport handler; `FakeIntercom.token` is the only accepted access token."""

    vendor = "intercom"
    token: ClassVar[str] = "ic-fake-token-not-a-secret"  # noqa: S105 - the fake's own test value
    default_page_size = 150
    #: Intercom returns at most this many (the most recent) parts of a conversation (fact sheet §2)
    parts_cap: ClassVar[int] = 500
    #: the per-minute app limit the fake enforces when none is given (private apps, fact sheet §5)
    default_rate_limit_per_minute: ClassVar[int] = 10_000
    #: called with every answered request and its response (contract tests check both against the OAS)
    observers: ClassVar[list[Callable[[httpx.Request, httpx.Response], None]]] = []

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        history: SyntheticHistory | None = None,
        rate_limit_per_minute: int | None = None,
    ) -> None:
        self.tags: dict[str, str] = {}  # tag id -> name
        self.data_attributes: dict[str, dict[str, Any]] = {}  # contact attribute name -> definition
        self.contact_notes: dict[str, list[dict[str, Any]]] = {}
        self.event_parts: dict[str, list[dict[str, Any]]] = {}  # assignment parts, by conversation
        self.removed_admins: set[str] = set()
        #: away settings set through `PUT /admins/{id}/away`: reassign flag and reason id, by admin id
        self.away_settings: dict[str, dict[str, Any]] = {}
        self._sequence = 0
        #: the Intercom-Version of the request being answered; shapes differ between versions
        self.version = "2.14"
        self._rating_index: tuple[int, dict[str, Any]] = (-1, {})
        self._ic_window = -1
        self._ic_count = 0
        #: macros (saved replies) by id: `body` HTML, `body_text` plain text, ISO times
        self.macros: dict[str, dict[str, Any]] = {}
        #: a list page with more macros than this leaves `body`/`body_text` null, as Intercom does for speed
        self.macro_body_limit = 30
        super().__init__(clock=clock, history=history, rate_limit_per_minute=rate_limit_per_minute)

    @classmethod
    def adapter_settings(cls) -> dict[str, Any]:
        """The acting admin comes from `GET /me` (the token's admin), so the token is all the adapter needs."""
        return {"access_token": cls.token}

    @classmethod
    def client_settings(cls, url: str) -> dict[str, dict[str, Any]]:
        """python-intercom 5.x (`intercom` package) takes the address as `base_url`; pin the version as in
        production (without the header Intercom uses the app's version)."""
        python = (
            f"from intercom import Intercom\nclient = Intercom(token={cls.token!r}, base_url={url!r}, "
            'headers={"Intercom-Version": "2.14"})'
        )
        return {"python-intercom": {"environment": {}, "python": python}}

    # -- state ---------------------------------------------------------------------------------------

    def load(self, history: SyntheticHistory) -> None:
        super().load(history)
        self.tags = {}
        for name in sorted({t for c in self.customers.values() for t in c.tags} | self._conversation_tags()):
            self.tag_id(name)
        self.data_attributes = {}
        for customer in self.customers.values():
            for key, value in customer.custom_attributes.items():
                if key not in self.data_attributes:
                    self._define_attribute(key, _data_type_of(value))
        self.contact_notes = {}
        self.event_parts = {}
        self._rating_index = (-1, {})

    def _conversation_tags(self) -> set[str]:
        return {t for c in self.conversations.values() for t in c.tags}

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    def tag_id(self, name: str) -> str:
        """The id of the tag with this name, created when missing (what `POST /tags` does)."""
        for tid, existing in self.tags.items():
            if existing == name:
                return tid
        tid = str(900_000 + len(self.tags) + 1)
        self.tags[tid] = name
        return tid

    def _define_attribute(self, name: str, data_type: str) -> dict[str, Any]:
        now = _ts(self.clock.now())
        attribute = {
            "type": "data_attribute",
            "id": 5_000 + len(self.data_attributes) + 1,
            "model": "contact",
            "name": name,
            "full_name": f"custom_attributes.{name}",
            "label": name,
            "data_type": data_type,
            "api_writable": True,
            "ui_writable": True,
            "messenger_writable": False,
            "custom": True,
            "archived": False,
            "created_at": now,
            "updated_at": now,
            "admin_id": self.acting_admin().id if self.agents else "0",
        }
        self.data_attributes[name] = attribute
        return attribute

    def acting_admin(self) -> Any:
        """The token's admin (`GET /me`): the first admin with an inbox seat."""
        seated = [a for a in self.agents.values() if a.active] or list(self.agents.values())
        return min(seated, key=lambda a: _sort_key(a.id))

    def delete_conversation(self, conversation_id: str) -> None:
        """A teammate deleted the conversation: it 404s and leaves search results."""
        self.conversations.pop(conversation_id, None)
        self.messages.pop(conversation_id, None)

    def delete_contact(self, contact_id: str) -> None:
        """The contact was deleted (or merged away): it 404s; conversations still reference its id."""
        self.customers.pop(contact_id, None)

    def remove_admin(self, admin_id: str) -> None:
        """The teammate left the workspace: gone from `/admins` and teams, 404 `admin_not_found` when named."""
        self.agents.pop(admin_id, None)
        self.removed_admins.add(admin_id)
        for gid, group in self.groups.items():
            self.groups[gid] = group.model_copy(update={"agent_ids": [a for a in group.agent_ids if a != admin_id]})

    # -- vendor hooks --------------------------------------------------------------------------------

    def authenticate(self, request: httpx.Request) -> bool:
        return bool(request.headers.get("authorization") == f"Bearer {self.token}")

    def _request_uuid(self) -> str:
        return f"00000000-0000-4000-8000-{self._next():012d}"

    def error_body(self, status: int, message: str, *, field: str | None = None) -> Any:
        return self._error_json(_CODE_FOR_STATUS.get(status, "server_error"), message, field=field)

    def _error_json(self, code: str, message: str, *, field: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"code": code, "message": message}
        if field is not None:
            error["field"] = field
        return {"type": "error.list", "request_id": self._request_uuid(), "errors": [error]}

    def ic_error(self, status: int, code: str, message: str, *, field: str | None = None) -> httpx.Response:
        return httpx.Response(status, json=self._error_json(code, message, field=field))

    def request_id_headers(self) -> dict[str, str]:
        return {}  # Intercom's request id is in the error body (fact sheet §6)

    def rate_limit_headers(self, *, limit: int, remaining: int, reset_seconds: float) -> dict[str, str]:
        reset_at = int(self.clock.now().timestamp() + reset_seconds)
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset": str(reset_at),
        }

    def window_limit(self) -> int:
        """Requests allowed per 10-second window: a sixth of the per-minute limit (1000/min -> 167)."""
        per_minute = self.rate_limit_per_minute or self.default_rate_limit_per_minute
        return max(1, round(per_minute / 6))

    def _rate_limit(self) -> httpx.Response | dict[str, str]:
        """Intercom counts in fixed 10-second windows; a 429 names the window and sends no Retry-After."""
        now = self.clock.now().timestamp()
        window = int(now // 10)
        if window != self._ic_window:
            self._ic_window, self._ic_count = window, 0
        limit = self.window_limit()
        reset_seconds = (window + 1) * 10 - now
        if self._ic_count >= limit:
            self.rate_limited += 1
            headers = self.rate_limit_headers(limit=limit, remaining=0, reset_seconds=reset_seconds)
            body = self._error_json("rate_limit_exceeded", f"Exceeded rate limit of {limit} in 10_seconds")
            return httpx.Response(429, json=body, headers=headers)
        self._ic_count += 1
        return self.rate_limit_headers(limit=limit, remaining=limit - self._ic_count, reset_seconds=reset_seconds)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = super().__call__(request)
        for observe in list(self.observers):
            observe(request, response)
        return response

    def _handle(self, request: httpx.Request) -> httpx.Response:
        version = request.headers.get("intercom-version")
        self.version = version or "2.14"  # without the header Intercom uses the app's version; ours is 2.14
        if version is not None and version not in SUPPORTED_VERSIONS and self.authenticate(request):
            return self.ic_error(400, "intercom_version_invalid", f"Requested version {version!r} is not valid")
        return super()._handle(request)

    # -- request helpers -----------------------------------------------------------------------------

    @staticmethod
    def _body(request: httpx.Request) -> dict[str, Any]:
        try:
            body = json.loads(request.content or b"null")
        except (ValueError, UnicodeDecodeError):
            raise IntercomApiError("Request body is not valid JSON", code="parameter_invalid") from None
        if not isinstance(body, dict):
            raise IntercomApiError("Request body must be a JSON object", code="parameter_invalid")
        return body

    def _admin(self, admin_id: Any, *, field: str) -> str:
        if not isinstance(admin_id, str):
            raise IntercomApiError(f"{field} must be a string", code="parameter_invalid", field=field)
        if admin_id not in self.agents:
            raise IntercomApiError("Admin not found", status=404, code="admin_not_found", field=field)
        return admin_id

    def _conversation(self, cid: str) -> Conversation:
        if cid not in self.conversations:
            raise IntercomApiError("Resource Not Found", status=404, code="not_found")
        return self.conversations[cid]

    def _contact(self, cid: str) -> Customer:
        if cid not in self.customers:
            raise IntercomApiError("User Not Found", status=404, code="not_found")
        return self.customers[cid]

    # -- rendering -----------------------------------------------------------------------------------

    def _author(self, message: Message) -> dict[str, Any]:
        if message.author_role is AuthorRole.AGENT and message.author_id is not None:
            agent = self.agents.get(message.author_id)
            author: dict[str, Any] = {"type": "admin", "id": message.author_id, "name": agent.name if agent else None}
            if agent is not None and agent.email:
                author["email"] = agent.email
            return {**author, "from_ai_agent": False, "is_ai_answer": False}
        if message.author_role is AuthorRole.CUSTOMER and message.author_id is not None:
            customer = self.customers.get(message.author_id)
            author = {"type": "user", "id": message.author_id, "name": customer.name if customer else None}
            if customer is not None and customer.email:
                author["email"] = customer.email
            return {**author, "from_ai_agent": False, "is_ai_answer": False}
        return {"type": "bot", "id": "1", "name": "Fin", "from_ai_agent": True, "is_ai_answer": False}

    def _part(self, message: Message) -> dict[str, Any]:
        at = _ts(message.created_at)
        return {
            "type": "conversation_part",
            "id": message.id,
            "part_type": "comment" if message.public else "note",
            "body": message.body,
            "created_at": at,
            "updated_at": at,
            "notified_at": at,
            # no `assigned_to`: Intercom sends null for "no assignment change" (PR #643), which OAS 2.14 does
            # not allow (its `nullable` sits beside a $ref, where OpenAPI 3.0 ignores it)
            "author": self._author(message),
            "attachments": [],
            "external_id": None,
            "redacted": False,
        }

    def _rating(self, conv: Conversation) -> dict[str, Any] | None:
        if self._rating_index[0] != len(self.ratings):  # rebuilt when ratings are added or removed
            index = {r.conversation_id: r for r in self.ratings.values() if r.conversation_id}
            self._rating_index = (len(self.ratings), index)
        rating = self._rating_index[1].get(conv.id)
        if rating is None or rating.score not in (RatingScore.GOOD, RatingScore.BAD):
            return None
        at = _ts(rating.created_at)
        return {
            "rating": 5 if rating.score is RatingScore.GOOD else 1,
            "remark": rating.comment or "",
            "created_at": at,
            "updated_at": at,
            "contact": {"type": "contact", "id": rating.customer_id or conv.customer_id, "external_id": None},
            "teammate": {"type": "admin", "id": rating.agent_id},
        }

    # -- macros (saved replies, API 2.16+) -----------------------------------------------------------

    def clear_saved_replies(self) -> None:
        self.macros = {}

    def add_saved_reply(self, *, title: str, body: str, visible_to_team_ids: list[str] | None = None) -> str:
        """A macro: HTML `body` (a `<p>` per paragraph, `<br>` per line) and `body_text` as the admin typed it."""
        macro_id = str(9_100 + len(self.macros) + 1)
        while macro_id in self.macros:
            macro_id = str(int(macro_id) + 1)
        at = self.clock.now() - timedelta(minutes=len(self.macros))  # distinct updated_at, newest first
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        self.macros[macro_id] = {
            "type": "macro",
            "id": macro_id,
            "name": title,
            "body": text_to_html(body),
            "body_text": body,
            "created_at": stamp,
            "updated_at": stamp,
            "visible_to": "specific_teams" if visible_to_team_ids else "everyone",
            "visible_to_team_ids": list(visible_to_team_ids or []),
            "available_on": ["inbox", "messenger"],
        }
        return macro_id

    def _macros_version(self) -> None:
        if not self._since_216():
            raise IntercomApiError(
                f"Macros are not available in API version {self.version}; use 2.16 or later",
                status=404,
                code="not_found",
            )

    @route("GET", r"/macros")
    @_answers
    def list_macros(self, request: httpx.Request) -> httpx.Response:
        """Newest `updated_at` first; `starting_after` is base64 JSON `[updated_at, id]` of the last item."""
        self._macros_version()
        params = request.url.params
        try:
            per_page = int(params.get("per_page", "50"))
            since = int(params["updated_since"]) if "updated_since" in params else None
        except ValueError:
            raise IntercomApiError("per_page and updated_since must be integers", code="parameter_invalid") from None
        if not 1 <= per_page <= 150:
            raise IntercomApiError("per_page must be between 1 and 150", code="parameter_invalid", field="per_page")
        rows = sorted(self.macros.values(), key=lambda m: (_macro_time(m), m["id"]), reverse=True)
        if since is not None:
            rows = [m for m in rows if _macro_time(m) > since]
        after = params.get("starting_after")
        if after:
            try:
                position = json.loads(base64.b64decode(after.encode()))
                key = (float(position[0]), str(position[1]))
            except (ValueError, TypeError, IndexError, UnicodeDecodeError):
                raise IntercomApiError("starting_after is invalid", code="parameter_invalid") from None
            rows = [m for m in rows if (_macro_time(m), m["id"]) < key]
        size = min(per_page, self.page_size)
        chunk = [dict(m) for m in rows[:size]]
        if len(chunk) > self.macro_body_limit:
            for macro in chunk:
                macro["body"] = macro["body_text"] = None
        nxt = None
        if len(rows) > size and chunk:
            cursor = json.dumps([_macro_time(chunk[-1]), chunk[-1]["id"]])
            nxt = {"starting_after": base64.b64encode(cursor.encode()).decode()}
        return self.json_response(
            {"type": "list", "data": chunk, "pages": {"type": "pages", "per_page": per_page, "next": nxt}}
        )

    @route("GET", r"/macros/(?P<macro_id>[^/]+)")
    @_answers
    def get_macro(self, request: httpx.Request, macro_id: str) -> httpx.Response:
        self._macros_version()
        macro = self.macros.get(macro_id)
        if macro is None:
            raise IntercomApiError("Macro not found", status=404, code="not_found")
        return self.json_response(dict(macro))

    def _since_216(self) -> bool:
        if self.version == "Preview":
            return True
        major, _, minor = self.version.partition(".")
        return (int(major), int(minor or 0)) >= (2, 16)

    def render_conversation(self, conv: Conversation, *, parts: bool) -> dict[str, Any]:
        """A conversation as Intercom sends it: the first message is the `source`, the rest are parts.

        Unassigned is `null` up to 2.14 and `0` from 2.16 on, and 2.16 turned `priority` into levels
        (OAS 2.14 vs 2.16 `conversation`); the mapping accepts both.
        """
        modern = self._since_216()
        unassigned = 0 if modern else None
        state = STATE_FOR_STATUS.get(conv.status, "open")
        thread = self.messages.get(conv.id, [])
        first = thread[0] if thread else None
        admin = self.acting_admin() if self.agents else None
        source: dict[str, Any] = {
            "type": "conversation" if conv.channel in (None, "chat", "conversation") else "email",
            "id": first.id if first else f"{conv.id}0",
            "delivered_as": "customer_initiated",
            "subject": conv.subject or "",
            "body": (first.body if first else None) or "",
            "author": self._author(first) if first else {"type": "user", "id": conv.customer_id or "0"},
            "attachments": [],
            "url": None,
            "redacted": False,
        }
        data: dict[str, Any] = {
            "type": "conversation",
            "id": conv.id,
            "title": conv.subject,
            "created_at": _ts(conv.created_at),
            "updated_at": _ts(conv.updated_at),
            "waiting_since": _ts(conv.updated_at) if state == "open" else None,
            "snoozed_until": (_ts(conv.updated_at) or 0) + 86_400 if state == "snoozed" else None,
            "open": state != "closed",
            "state": state,
            "read": True,
            "priority": "none" if modern else "not_priority",
            "admin_assignee_id": _int_id(conv.assignee_id) or unassigned,
            "team_assignee_id": _int_id(conv.group_id) or unassigned,
            "tags": {
                "type": "tag.list",
                "tags": [
                    {
                        "type": "tag",
                        "id": self.tag_id(name),
                        "name": name,
                        "applied_at": _ts(conv.created_at),
                        "applied_by": {"type": "admin", "id": admin.id if admin else None},
                    }
                    for name in conv.tags
                ],
            },
            "conversation_rating": self._rating(conv),
            "source": source,
            "contacts": {
                "type": "contact.list",
                "contacts": [{"type": "contact", "id": conv.customer_id, "external_id": None}]
                if conv.customer_id
                else [],
            },
            "teammates": {
                "type": "admin.list",
                "teammates": [{"type": "admin", "id": conv.assignee_id}] if conv.assignee_id else [],
            },
            "custom_attributes": dict(conv.custom_fields),  # conversation data attributes, by name
            "ai_agent_participated": False,
        }
        if parts:
            rendered = [self._part(m) for m in thread[1:]] + list(self.event_parts.get(conv.id, []))
            rendered.sort(key=lambda p: p["created_at"] or 0)
            data["conversation_parts"] = {
                "type": "conversation_part.list",
                "conversation_parts": rendered[-self.parts_cap :],
                "total_count": len(rendered),
            }
        return data

    def render_contact(self, customer: Customer) -> dict[str, Any]:
        tag_ids = [self.tag_id(t) for t in customer.tags]
        notes = self.contact_notes.get(customer.id, [])
        data: dict[str, Any] = {
            "type": "contact",
            "id": customer.id,
            "external_id": None,
            "workspace_id": WORKSPACE_ID,
            "role": "user",
            "phone": customer.phone,
            "name": customer.name,
            "owner_id": None,
            "has_hard_bounced": False,
            "marked_email_as_spam": False,
            "unsubscribed_from_emails": False,
            "created_at": _ts(customer.created_at),
            "updated_at": _ts(customer.updated_at),
            "signed_up_at": _ts(customer.created_at),
            "last_seen_at": None,
            "last_replied_at": None,
            "last_contacted_at": None,
            "last_email_opened_at": None,
            "last_email_clicked_at": None,
            "language_override": customer.locale,
            "browser": None,
            "browser_version": None,
            "browser_language": None,
            "os": None,
            "custom_attributes": dict(customer.custom_attributes),
            "avatar": {"type": "avatar", "image_url": customer.avatar_url},
            "tags": {
                "type": "list",
                "data": [{"type": "tag", "id": t, "url": f"/tags/{t}"} for t in tag_ids[:10]],
                "url": f"/contacts/{customer.id}/tags",
                "total_count": len(tag_ids),
                "has_more": len(tag_ids) > 10,
            },
            "notes": {
                "type": "list",
                "data": [{"type": "note", "id": n["id"], "url": f"/notes/{n['id']}"} for n in notes[:10]],
                "url": f"/contacts/{customer.id}/notes",
                "total_count": len(notes),
                "has_more": len(notes) > 10,
            },
            "companies": {"type": "list", "data": [], "url": f"/contacts/{customer.id}/companies", "total_count": 0},
            "location": {"type": "location", "country": None, "region": None, "city": None},
            "social_profiles": {"type": "list", "data": []},
        }
        if customer.email:  # leads may have none; OAS 2.14 types the field as a plain string
            data["email"] = customer.email
            data["email_domain"] = customer.email.rsplit("@", 1)[-1]
        return data

    def render_admin(self, admin_id: str) -> dict[str, Any]:
        agent = self.agents[admin_id]
        return {
            "type": "admin",
            "id": agent.id,
            "name": agent.name or "",
            "email": agent.email or f"admin{agent.id}@example.test",
            "job_title": "Support",
            "away_mode_enabled": agent.availability in (AgentAvailability.AWAY, AgentAvailability.OFFLINE),
            "away_mode_reassign": bool(self.away_settings.get(admin_id, {}).get("away_mode_reassign", False)),
            "away_status_reason_id": self.away_settings.get(admin_id, {}).get("away_status_reason_id"),
            "has_inbox_seat": agent.active,
            "team_ids": [i for i in (_int_id(g) for g in agent.group_ids) if i is not None],
            "avatar": agent.avatar_url,
        }

    def _tag_json(self, tag_id: str) -> dict[str, Any]:
        return {"type": "tag", "id": tag_id, "name": self.tags[tag_id]}

    # -- paging and search ---------------------------------------------------------------------------

    def _page(
        self,
        records: Iterable[Any],
        render: Callable[[Any], dict[str, Any]],
        *,
        per_page: Any,
        starting_after: Any,
        key: str,
        kind: str,
    ) -> dict[str, Any]:
        """Keyset paging in id order; only the page's records are rendered."""
        if per_page is None:
            per_page = 20 if kind == "conversation.list" else 50
        if isinstance(per_page, str) and per_page.isdigit():
            per_page = int(per_page)
        if not isinstance(per_page, int) or isinstance(per_page, bool) or not 1 <= per_page <= 150:
            raise IntercomApiError("per_page must be between 1 and 150", field="per_page")
        size = min(per_page, self.page_size)
        ordered = sorted(records, key=lambda r: _sort_key(r.id))
        start = 0
        if starting_after not in (None, ""):
            if not isinstance(starting_after, str):
                raise IntercomApiError("starting_after must be a string", field="starting_after")
            after = _sort_key(_decode_cursor(starting_after))
            start = next((i for i, r in enumerate(ordered) if _sort_key(r.id) > after), len(ordered))
        chunk = ordered[start : start + size]
        pages: dict[str, Any] = {
            "type": "pages",
            "page": start // size + 1,
            "per_page": size,
            "total_pages": max(1, math.ceil(len(ordered) / size)),
        }
        if start + size < len(ordered) and chunk:
            pages["next"] = {"per_page": size, "starting_after": _encode_cursor(chunk[-1].id)}
        return {"type": kind, key: [render(r) for r in chunk], "total_count": len(ordered), "pages": pages}

    def _search(
        self, body: Mapping[str, Any], fields: Mapping[str, Callable[[Any], Any]], items: Iterable[Any], *, dates: bool
    ) -> list[Any]:
        if "query" not in body:
            raise IntercomApiError("query is required", field="query")
        pagination = body.get("pagination")
        if pagination is not None and not isinstance(pagination, dict):
            raise IntercomApiError("pagination must be an object", field="pagination")
        check = self._compile(body["query"], depth=0, dates=dates, fields=fields)
        return [item for item in items if check(item)]

    def _compile(
        self, node: Any, *, depth: int, dates: bool, fields: Mapping[str, Callable[[Any], Any]]
    ) -> Callable[[Any], bool]:
        if not isinstance(node, dict):
            raise IntercomApiError("query must be an object", field="query")
        operator = node.get("operator")
        if operator in ("AND", "OR"):
            if depth >= 2:
                raise IntercomApiError("queries may nest at most two levels", field="query")
            children = node.get("value")
            if not isinstance(children, list) or not children:
                raise IntercomApiError("AND/OR needs a list of filters", field="query")
            if len(children) > 15:
                raise IntercomApiError("at most 15 filters per AND/OR group", field="query")
            checks = [self._compile(c, depth=depth + 1, dates=dates, fields=fields) for c in children]
            if operator == "AND":
                return lambda item: all(c(item) for c in checks)
            return lambda item: any(c(item) for c in checks)
        field = node.get("field")
        if not isinstance(field, str) or operator not in _OPERATORS:
            raise IntercomApiError("each filter needs a field and a valid operator", field="query")
        value = node.get("value")
        if field in fields:
            getter = fields[field]
        elif dates and field.startswith("custom_attributes."):
            name = field.split(".", 1)[1]
            getter = functools.partial(_custom_attribute, name)
        else:
            kind = "contact" if dates else "conversation"
            raise IntercomApiError(f"{field} is not a searchable {kind} field", field=field)
        day_based = dates and field in _CONTACT_DATE_FIELDS
        if day_based and operator in _DATE_REJECTED_OPERATORS:
            raise IntercomApiError(f"operator {operator} is not supported for date field {field}", field=field)
        if operator in ("IN", "NIN") and not isinstance(value, list):
            raise IntercomApiError(f"operator {operator} needs a list value", field=field)
        if day_based and isinstance(value, int) and not isinstance(value, bool):
            value = value // _DAY  # contact dates match by calendar day (workspace timezone: UTC here)

        def check(item: Any) -> bool:
            actual = getter(item)
            if day_based and isinstance(actual, int):
                actual = actual // _DAY
            return _compare(actual, operator, value)

        return check

    # -- endpoints: identity, admins, teams ----------------------------------------------------------

    @route("GET", r"/me")
    @_answers
    def me(self, request: httpx.Request) -> httpx.Response:
        admin = self.render_admin(self.acting_admin().id)
        admin["avatar"] = {"type": "avatar", "image_url": admin["avatar"]}
        admin.pop("away_status_reason_id")
        admin["email_verified"] = True
        admin["app"] = {
            "type": "app",
            "id_code": WORKSPACE_ID,
            "name": "Fake Workspace",
            "region": "US",
            "timezone": "UTC",
            "created_at": 1_600_000_000,
            "identity_verification": False,
        }
        return self.json_response(admin)

    @route("GET", r"/admins")
    @_answers
    def list_admins(self, request: httpx.Request) -> httpx.Response:
        admins = [self.render_admin(aid) for aid in sorted(self.agents)]
        return self.json_response({"type": "admin.list", "admins": admins})

    @route("GET", r"/admins/" + _ID.format("aid"))
    @_answers
    def get_admin(self, request: httpx.Request, aid: str) -> httpx.Response:
        if aid not in self.agents:
            raise IntercomApiError("Admin not found", status=404, code="admin_not_found")
        return self.json_response(self.render_admin(aid))

    @route("GET", r"/teams")
    @_answers
    def list_teams(self, request: httpx.Request) -> httpx.Response:
        teams = [self.render_team(gid) for gid in sorted(self.groups)]
        return self.json_response({"type": "team.list", "teams": teams})

    @route("GET", r"/teams/" + _ID.format("tid"))
    @_answers
    def get_team(self, request: httpx.Request, tid: str) -> httpx.Response:
        if tid not in self.groups:
            raise IntercomApiError("Team not found", status=404, code="team_not_found")
        return self.json_response(self.render_team(tid))

    def render_team(self, team_id: str) -> dict[str, Any]:
        group = self.groups[team_id]
        return {
            "type": "team",
            "id": group.id,
            "name": group.name or "",
            "admin_ids": [i for i in (_int_id(a) for a in group.agent_ids) if i is not None],
            "assignment_limit": None,
            "distribution_method": "round_robin",
        }

    @route("PUT", r"/admins/" + _ID.format("aid") + "/away")
    @_answers
    def set_away(self, request: httpx.Request, aid: str) -> httpx.Response:
        """Away mode on or off (fact sheet §8): both flags are required booleans; a reason id is optional."""
        body = self._body(request)
        if aid not in self.agents:
            raise IntercomApiError("Admin not found", status=404, code="admin_not_found")
        for name in ("away_mode_enabled", "away_mode_reassign"):
            if not isinstance(body.get(name), bool):
                raise IntercomApiError(f"{name} is required and must be a boolean", field=name)
        reason = body.get("away_status_reason_id")
        if reason is not None and (not isinstance(reason, int) or isinstance(reason, bool)):
            raise IntercomApiError("away_status_reason_id must be an integer", field="away_status_reason_id")
        away = body["away_mode_enabled"]
        availability = AgentAvailability.AWAY if away else AgentAvailability.AVAILABLE
        self.agents[aid] = self.agents[aid].model_copy(update={"availability": availability})
        self.away_settings[aid] = {
            "away_mode_reassign": body["away_mode_reassign"],
            "away_status_reason_id": reason if away else None,
        }
        return self.json_response(self.render_admin(aid))

    # -- endpoints: conversations --------------------------------------------------------------------

    @route("GET", r"/conversations")
    @_answers
    def list_conversations(self, request: httpx.Request) -> httpx.Response:
        """`GET /conversations`: cursor pages (default 20, max 150), no filters and no parts (fact sheet §3)."""
        data = self._page(
            self.conversations.values(),
            functools.partial(self.render_conversation, parts=False),
            per_page=request.url.params.get("per_page"),
            starting_after=request.url.params.get("starting_after"),
            key="conversations",
            kind="conversation.list",
        )
        return self.json_response(data)

    @route("POST", r"/conversations")
    @_answers
    def create_conversation(self, request: httpx.Request) -> httpx.Response:
        """A contact-initiated conversation; the answer is the `message` it starts, with `conversation_id`."""
        body = self._body(request)
        sender = body.get("from")
        if not isinstance(sender, dict) or sender.get("type") not in ("user", "lead", "contact"):
            raise IntercomApiError("from must be a contact reference of type user, lead or contact", field="from")
        contact_id = sender.get("id")
        if not isinstance(contact_id, str) or contact_id not in self.customers:
            raise IntercomApiError("User Not Found", status=404, code="not_found", field="from")
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            raise IntercomApiError("body is required", field="body")
        created = body.get("created_at")
        at = self.clock.now()
        if isinstance(created, int) and not isinstance(created, bool):
            at = datetime.fromtimestamp(created, UTC)
        cid = str(max((n for n in (_int_id(c) for c in self.conversations) if n is not None), default=100_000) + 1)
        message_id = f"7{self._next():08d}"
        self.conversations[cid] = Conversation(
            id=cid,
            status=ConversationStatus.OPEN,
            subject=None,
            customer_id=contact_id,
            channel="conversation",
            created_at=at,
            updated_at=at,
        )
        self.messages[cid] = [
            Message(
                id=message_id,
                conversation_id=cid,
                author_id=contact_id,
                author_role=AuthorRole.CUSTOMER,
                public=True,
                body=text,
                created_at=at,
            )
        ]
        return self.json_response(
            {
                "type": "user_message",
                "id": message_id,
                "created_at": _ts(at),
                "body": text,
                "message_type": "inapp",
                "conversation_id": cid,
            }
        )

    @route("PUT", r"/conversations/" + _ID.format("cid"))
    @_answers
    def update_conversation(self, request: httpx.Request, cid: str) -> httpx.Response:
        """`read`, `title` and conversation `custom_attributes` (merged); unknown keys are refused."""
        body = self._body(request)
        conv = self._conversation(cid)
        unknown = sorted(set(body) - {"read", "title", "custom_attributes", "company_id"})
        if unknown:
            raise IntercomApiError(f"Unknown parameter {unknown[0]}", code="parameter_not_found", field=unknown[0])
        changes: dict[str, Any] = {}
        if "read" in body and not isinstance(body["read"], bool):
            raise IntercomApiError("read must be a boolean", field="read")
        if "title" in body:
            if body["title"] is not None and not isinstance(body["title"], str):
                raise IntercomApiError("title must be a string", field="title")
            changes["subject"] = body["title"]
        attrs = body.get("custom_attributes")
        if attrs is not None:
            if not isinstance(attrs, dict):
                raise IntercomApiError("custom_attributes must be an object", field="custom_attributes")
            changes["custom_fields"] = {**conv.custom_fields, **attrs}
        updated = self.touch_conversation(cid, **changes)
        return self.json_response(self.render_conversation(updated, parts=True))

    @route("DELETE", r"/conversations/" + _ID.format("cid"))
    @_answers
    def remove_conversation(self, request: httpx.Request, cid: str) -> httpx.Response:
        self._conversation(cid)
        self.delete_conversation(cid)
        return self.json_response({"id": cid, "object": "conversation", "deleted": True})

    @route("POST", r"/conversations/" + _ID.format("cid") + "/tags")
    @_answers
    def tag_conversation(self, request: httpx.Request, cid: str) -> httpx.Response:
        body = self._body(request)
        conv = self._conversation(cid)
        tag_id = self._known_tag(body.get("id"), field="id")
        self._admin(body.get("admin_id"), field="admin_id")
        name = self.tags[tag_id]
        if name not in conv.tags:
            self.touch_conversation(cid, tags=[*conv.tags, name])
        return self.json_response(self._tag_json(tag_id))

    @route("DELETE", r"/conversations/" + _ID.format("cid") + "/tags/" + _ID.format("tag_id"))
    @_answers
    def untag_conversation(self, request: httpx.Request, cid: str, tag_id: str) -> httpx.Response:
        body = self._body(request)
        conv = self._conversation(cid)
        self._admin(body.get("admin_id"), field="admin_id")
        tag_id = self._known_tag(tag_id, field="tag_id")
        name = self.tags[tag_id]
        if name in conv.tags:
            self.touch_conversation(cid, tags=[t for t in conv.tags if t != name])
        return self.json_response(self._tag_json(tag_id))

    def _known_tag(self, tag_id: Any, *, field: str) -> str:
        if not isinstance(tag_id, str):
            raise IntercomApiError(f"{field} must be a string", field=field)
        if tag_id not in self.tags:
            raise IntercomApiError("Tag not found", status=404, code="tag_not_found", field=field)
        return tag_id

    @route("POST", r"/conversations/search")
    @_answers
    def search_conversations(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        found = self._search(body, _CONVERSATION_FIELDS, self.conversations.values(), dates=False)
        pagination = body.get("pagination") or {}
        data = self._page(
            found,
            functools.partial(self.render_conversation, parts=False),
            per_page=pagination.get("per_page"),
            starting_after=pagination.get("starting_after"),
            key="conversations",
            kind="conversation.list",
        )
        return self.json_response(data)

    @route("GET", r"/conversations/" + _ID.format("cid"))
    @_answers
    def get_conversation(self, request: httpx.Request, cid: str) -> httpx.Response:
        return self.json_response(self.render_conversation(self._conversation(cid), parts=True))

    @route("POST", r"/conversations/" + _ID.format("cid") + "/parts")
    @_answers
    def manage_conversation(self, request: httpx.Request, cid: str) -> httpx.Response:
        body = self._body(request)
        conv = self._conversation(cid)
        kind = body.get("message_type")
        if kind not in ("assignment", "close", "open", "snoozed"):
            raise IntercomApiError("message_type must be assignment, close, open or snoozed", field="message_type")
        actor = self._admin(body.get("admin_id"), field="admin_id")
        if kind == "close":
            conv = self.touch_conversation(cid, status=ConversationStatus.CLOSED)
        elif kind == "open":
            conv = self.touch_conversation(cid, status=ConversationStatus.OPEN)
        elif kind == "snoozed":
            conv = self.touch_conversation(cid, status=ConversationStatus.ON_HOLD)
        else:
            conv = self._assign(conv, body, actor)
        return self.json_response(self.render_conversation(conv, parts=True))

    def _assign(self, conv: Conversation, body: Mapping[str, Any], actor: str) -> Conversation:
        kind = body.get("type")
        if kind not in ("admin", "team"):
            raise IntercomApiError("type must be admin or team", field="type")
        assignee = body.get("assignee_id")
        if not isinstance(assignee, str):
            raise IntercomApiError("assignee_id must be a string", field="assignee_id")
        unassign = assignee == "0"
        if kind == "admin" and not unassign and assignee not in self.agents:
            raise IntercomApiError("Admin not found", status=404, code="admin_not_found", field="assignee_id")
        if kind == "team" and not unassign and assignee not in self.groups:
            raise IntercomApiError("Team not found", status=404, code="team_not_found", field="assignee_id")
        field = "assignee_id" if kind == "admin" else "group_id"
        updated = self.touch_conversation(conv.id, **{field: None if unassign else assignee})
        at = _ts(updated.updated_at)
        agent = self.agents[actor]
        self.event_parts.setdefault(conv.id, []).append(
            {
                "type": "conversation_part",
                "id": f"9{self._next():08d}",
                "part_type": "assignment",
                "body": body.get("body") if isinstance(body.get("body"), str) else None,
                "created_at": at,
                "updated_at": at,
                "notified_at": at,
                "assigned_to": {"type": "nobody_admin", "id": None} if unassign else {"type": kind, "id": assignee},
                "author": {"type": "admin", "id": actor, "name": agent.name, "email": agent.email},
                "attachments": [],
                "external_id": None,
                "redacted": False,
            }
        )
        return updated

    @route("POST", r"/conversations/" + _ID.format("cid") + "/reply")
    @_answers
    def reply(self, request: httpx.Request, cid: str) -> httpx.Response:
        body = self._body(request)
        self._conversation(cid)
        kind = body.get("message_type")
        if body.get("type") != "admin" or kind not in ("comment", "note"):
            raise IntercomApiError("admin replies need type admin and message_type comment or note", field="type")
        actor = self._admin(body.get("admin_id"), field="admin_id")
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            raise IntercomApiError("body is required", field="body")
        message = Message(
            id=f"8{self._next():08d}",
            conversation_id=cid,
            author_id=actor,
            author_role=AuthorRole.AGENT,
            public=kind == "comment",
            body=text,
            created_at=self.clock.now(),
        )
        self.messages.setdefault(cid, []).append(message)
        conv = self.touch_conversation(cid)
        return self.json_response(self.render_conversation(conv, parts=True))

    # -- endpoints: contacts -------------------------------------------------------------------------

    @route("POST", r"/contacts/search")
    @_answers
    def search_contacts(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        found = self._search(body, _CONTACT_FIELDS, self.customers.values(), dates=True)
        pagination = body.get("pagination") or {}
        data = self._page(
            found,
            self.render_contact,
            per_page=pagination.get("per_page"),
            starting_after=pagination.get("starting_after"),
            key="data",
            kind="list",
        )
        return self.json_response(data)

    @route("GET", r"/contacts")
    @_answers
    def list_contacts(self, request: httpx.Request) -> httpx.Response:
        data = self._page(
            self.customers.values(),
            self.render_contact,
            per_page=request.url.params.get("per_page"),
            starting_after=request.url.params.get("starting_after"),
            key="data",
            kind="list",
        )
        return self.json_response(data)

    @route("POST", r"/contacts")
    @_answers
    def create_contact(self, request: httpx.Request) -> httpx.Response:
        """A user (or a lead with `role: lead`); the email must be new (409 `conflict` names the holder)."""
        body = self._body(request)
        allowed = {"role", "external_id", "email", "phone", "name", "avatar", "signed_up_at", "last_seen_at"}
        allowed |= {"owner_id", "unsubscribed_from_emails", "custom_attributes"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise IntercomApiError(f"Unknown parameter {unknown[0]}", code="parameter_not_found", field=unknown[0])
        email = body.get("email")
        if not any(body.get(k) for k in ("email", "external_id", "role")):
            raise IntercomApiError("email, external_id or role is required", code="parameter_not_found")
        if email is not None and not isinstance(email, str):
            raise IntercomApiError("email must be a string", field="email")
        holder = next((c.id for c in self.customers.values() if email and c.email == email), None)
        if holder is not None:
            raise IntercomApiError(
                f"A contact matching those details already exists with id={holder}", status=409, code="conflict"
            )
        attrs = body.get("custom_attributes") or {}
        if not isinstance(attrs, dict):
            raise IntercomApiError("custom_attributes must be an object", field="custom_attributes")
        for name in attrs:
            if name not in self.data_attributes:
                raise IntercomApiError(
                    f"Custom attribute '{name}' does not exist", code="parameter_not_found", field=name
                )
        # real contact ids are 24 hex digits (OAS examples); the history's numeric ids stay as generated
        contact_id = f"{0x6A0000000000000000000000 + self._next():024x}"
        now = self.clock.now()
        customer = Customer(
            id=contact_id,
            name=body.get("name"),
            email=email,
            phone=body.get("phone"),
            avatar_url=body.get("avatar"),
            custom_attributes=dict(attrs),
            created_at=now,
            updated_at=now,
        )
        self.customers[contact_id] = customer
        return self.json_response(self.render_contact(customer))

    @route("DELETE", r"/contacts/" + _ID.format("cid"))
    @_answers
    def remove_contact(self, request: httpx.Request, cid: str) -> httpx.Response:
        self._contact(cid)
        self.delete_contact(cid)
        return self.json_response({"type": "contact", "id": cid, "external_id": None, "deleted": True})

    @route("DELETE", r"/contacts/" + _ID.format("cid") + "/tags/" + _ID.format("tag_id"))
    @_answers
    def untag_contact(self, request: httpx.Request, cid: str, tag_id: str) -> httpx.Response:
        customer = self._contact(cid)
        tag_id = self._known_tag(tag_id, field="tag_id")
        name = self.tags[tag_id]
        if name in customer.tags:
            self.customers[cid] = customer.model_copy(
                update={"tags": [t for t in customer.tags if t != name], "updated_at": self.clock.now()}
            )
        return self.json_response(self._tag_json(tag_id))

    @route("GET", r"/notes/" + _ID.format("note_id"))
    @_answers
    def get_note(self, request: httpx.Request, note_id: str) -> httpx.Response:
        for notes in self.contact_notes.values():
            for note in notes:
                if note["id"] == note_id:
                    return self.json_response(note)
        raise IntercomApiError("Note not found", status=404, code="not_found")

    @route("GET", r"/tags/" + _ID.format("tag_id"))
    @_answers
    def get_tag(self, request: httpx.Request, tag_id: str) -> httpx.Response:
        if tag_id not in self.tags:
            raise IntercomApiError("Resource Not Found", status=404, code="not_found")
        return self.json_response(self._tag_json(tag_id))

    @route("DELETE", r"/tags/" + _ID.format("tag_id"))
    @_answers
    def delete_tag(self, request: httpx.Request, tag_id: str) -> httpx.Response:
        """A tag still on a contact or conversation is refused (400 `tag_has_dependent_objects`)."""
        if tag_id not in self.tags:
            raise IntercomApiError("Resource Not Found", status=404, code="not_found")
        name = self.tags[tag_id]
        in_use = any(name in c.tags for c in self.customers.values())
        if in_use or any(name in c.tags for c in self.conversations.values()):
            raise IntercomApiError(
                "Unable to delete Tag with dependent objects", code="tag_has_dependent_objects", field="id"
            )
        del self.tags[tag_id]
        return httpx.Response(200)

    @route("GET", r"/contacts/" + _ID.format("cid"))
    @_answers
    def get_contact(self, request: httpx.Request, cid: str) -> httpx.Response:
        return self.json_response(self.render_contact(self._contact(cid)))

    @route("PUT", r"/contacts/" + _ID.format("cid"))
    @_answers
    def update_contact(self, request: httpx.Request, cid: str) -> httpx.Response:
        body = self._body(request)
        customer = self._contact(cid)
        allowed = {"role", "external_id", "email", "phone", "name", "avatar", "signed_up_at", "last_seen_at"}
        allowed |= {"owner_id", "unsubscribed_from_emails", "custom_attributes"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise IntercomApiError(f"Unknown parameter {unknown[0]}", code="parameter_not_found", field=unknown[0])
        changes: dict[str, Any] = {}
        attrs = body.get("custom_attributes")
        if attrs is not None:
            if not isinstance(attrs, dict):
                raise IntercomApiError("custom_attributes must be an object", field="custom_attributes")
            for name, value in attrs.items():
                definition = self.data_attributes.get(name)
                if definition is None:
                    raise IntercomApiError(
                        f"Custom attribute '{name}' does not exist", code="parameter_not_found", field=name
                    )
                if value is not None and _data_type_of(value) != definition["data_type"]:
                    raise IntercomApiError(
                        f"Custom attribute '{name}' expects {definition['data_type']}",
                        status=422,
                        code="data_invalid",
                        field=name,
                    )
            changes["custom_attributes"] = {**customer.custom_attributes, **attrs}
        if "avatar" in body:
            if body["avatar"] is not None and not isinstance(body["avatar"], str):
                raise IntercomApiError("avatar must be a URL", field="avatar")
            changes["avatar_url"] = body["avatar"]
        for key in ("name", "phone", "email"):
            if key in body:
                changes[key] = body[key]
        changes["updated_at"] = self.clock.now()
        updated = customer.model_copy(update=changes)
        self.customers[cid] = updated
        return self.json_response(self.render_contact(updated))

    @route("GET", r"/contacts/" + _ID.format("cid") + "/tags")
    @_answers
    def list_contact_tags(self, request: httpx.Request, cid: str) -> httpx.Response:
        customer = self._contact(cid)
        return self.json_response({"type": "list", "data": [self._tag_json(self.tag_id(t)) for t in customer.tags]})

    @route("POST", r"/contacts/" + _ID.format("cid") + "/tags")
    @_answers
    def tag_contact(self, request: httpx.Request, cid: str) -> httpx.Response:
        body = self._body(request)
        customer = self._contact(cid)
        tag_id = body.get("id")
        if not isinstance(tag_id, str):
            raise IntercomApiError("id must be a string", field="id")
        if tag_id not in self.tags:
            raise IntercomApiError("Tag not found", status=404, code="tag_not_found", field="id")
        name = self.tags[tag_id]
        if name not in customer.tags:
            self.customers[cid] = customer.model_copy(
                update={"tags": [*customer.tags, name], "updated_at": self.clock.now()}
            )
        return self.json_response(self._tag_json(tag_id))

    @route("POST", r"/contacts/" + _ID.format("cid") + "/notes")
    @_answers
    def add_contact_note(self, request: httpx.Request, cid: str) -> httpx.Response:
        body = self._body(request)
        self._contact(cid)
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            raise IntercomApiError("body is required", field="body")
        author = self._admin(body.get("admin_id"), field="admin_id") if "admin_id" in body else None
        note = {
            "type": "note",
            "id": str(self._next()),
            "created_at": _ts(self.clock.now()),
            "contact": {"type": "contact", "id": cid},
            "author": self.render_admin(author) if author else None,
            "body": f"<p>{text}</p>",
        }
        self.contact_notes.setdefault(cid, []).append(note)
        return self.json_response(note)

    @route("GET", r"/contacts/" + _ID.format("cid") + "/notes")
    @_answers
    def list_contact_notes(self, request: httpx.Request, cid: str) -> httpx.Response:
        """Page-numbered (`page`, `per_page`, default 50), newest first; a page past the end is empty."""
        self._contact(cid)
        notes = list(reversed(self.contact_notes.get(cid, [])))
        try:
            page = int(request.url.params.get("page", "1"))
            per_page = int(request.url.params.get("per_page", "50"))
        except ValueError:
            raise IntercomApiError("page and per_page must be integers", code="parameter_invalid") from None
        if page < 1 or not 1 <= per_page <= 60:
            raise IntercomApiError("page must be >= 1 and per_page between 1 and 60", code="parameter_invalid")
        chunk = notes[(page - 1) * per_page : page * per_page]
        total_pages = max(1, math.ceil(len(notes) / per_page))
        pages: dict[str, Any] = {"type": "pages", "page": page, "per_page": per_page, "total_pages": total_pages}
        return self.json_response({"type": "list", "data": chunk, "total_count": len(notes), "pages": pages})

    # -- endpoints: tags, data attributes ------------------------------------------------------------

    @route("GET", r"/tags")
    @_answers
    def list_tags(self, request: httpx.Request) -> httpx.Response:
        return self.json_response({"type": "list", "data": [self._tag_json(t) for t in sorted(self.tags)]})

    @route("POST", r"/tags")
    @_answers
    def create_tag(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise IntercomApiError("name is required", field="name")
        return self.json_response(self._tag_json(self.tag_id(name)))

    @route("GET", r"/data_attributes")
    @_answers
    def list_data_attributes(self, request: httpx.Request) -> httpx.Response:
        model = request.url.params.get("model")
        if model not in (None, "contact", "company", "conversation"):
            raise IntercomApiError("model must be contact, company or conversation", field="model")
        data = [a for a in self.data_attributes.values() if model in (None, "contact")]
        return self.json_response({"type": "list", "data": data})

    @route("POST", r"/data_attributes")
    @_answers
    def create_data_attribute(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        name, model, data_type = body.get("name"), body.get("model"), body.get("data_type")
        if not isinstance(name, str) or not name.strip():
            raise IntercomApiError("name is required", field="name")
        if model != "contact":
            raise IntercomApiError("this fake keeps contact attributes only", field="model")
        if data_type not in ("string", "integer", "float", "boolean", "date", "datetime"):
            raise IntercomApiError("data_type is invalid", field="data_type")
        if name in self.data_attributes:
            raise IntercomApiError(f"You already have '{name}' in your Intercom workspace", field="name")
        return self.json_response(self._define_attribute(name, data_type))

    # -- webhooks ------------------------------------------------------------------------------------

    def signed_webhook(
        self, *, secret: str, conversation_id: str, event: str = "conversation.created"
    ) -> tuple[dict[str, str], bytes]:
        """A notification as Intercom delivers it, signed `X-Hub-Signature: sha1=<hmac>` with the client secret."""
        topics = {
            "conversation.created": "conversation.user.created",
            "conversation.assigned": "conversation.admin.assigned",
            "conversation.customer_replied": "conversation.user.replied",
        }
        now = _ts(self.clock.now())
        envelope = {
            "type": "notification_event",
            "app_id": WORKSPACE_ID,
            "id": f"notif_{self._next():08d}",
            "topic": topics.get(event, event),
            "delivery_status": "pending",
            "delivery_attempts": 1,
            "delivered_at": 0,
            "first_sent_at": now,
            "created_at": now,
            "self": None,
            "data": {
                "type": "notification_event_data",
                "item": self.render_conversation(self.conversations[conversation_id], parts=True),
            },
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        return {"X-Hub-Signature": sign(body, secret), "User-Agent": "intercom-parrot-service-client/1.0"}, body


def _state(conv: Conversation) -> str:
    return STATE_FOR_STATUS.get(conv.status, "open")


#: searchable conversation fields the fake implements (OAS 2.14 search text lists more)
_CONVERSATION_FIELDS: Final[Mapping[str, Callable[[Conversation], Any]]] = {
    "id": lambda c: c.id,
    "created_at": lambda c: _ts(c.created_at),
    "updated_at": lambda c: _ts(c.updated_at),
    "state": _state,
    "open": lambda c: _state(c) != "closed",
    "admin_assignee_id": lambda c: _int_id(c.assignee_id),
    "team_assignee_id": lambda c: _int_id(c.group_id),
    "contact_ids": lambda c: c.customer_id,
    "teammate_ids": lambda c: _int_id(c.assignee_id),
}

#: searchable contact fields the fake implements, plus `custom_attributes.<name>`
_CONTACT_FIELDS: Final[Mapping[str, Callable[[Customer], Any]]] = {
    "id": lambda c: c.id,
    "email": lambda c: c.email,
    "name": lambda c: c.name,
    "phone": lambda c: c.phone,
    "role": lambda c: "user",
    "created_at": lambda c: _ts(c.created_at),
    "updated_at": lambda c: _ts(c.updated_at),
    "signed_up_at": lambda c: _ts(c.created_at),
    "last_seen_at": lambda c: None,
}


def _custom_attribute(name: str, customer: Customer) -> Any:
    return customer.custom_attributes.get(name)


def _data_type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


def _compare(actual: Any, operator: str, value: Any) -> bool:
    """Intercom's search operators on one value (ids compare as strings or ints, as given)."""

    def same(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return a is b
        return str(a) == str(b)

    def order(a: Any, b: Any) -> tuple[Any, Any] | None:
        if isinstance(a, int | float) and isinstance(b, int | float):
            return a, b
        if isinstance(a, str) and isinstance(b, str):
            return a, b
        return None

    if operator == "=":
        return same(actual, value)
    if operator == "!=":
        return not same(actual, value)
    if operator == "IN":
        return any(same(actual, v) for v in value)
    if operator == "NIN":
        return not any(same(actual, v) for v in value)
    if operator in ("<", ">", "<=", ">="):
        pair = order(actual, value)
        if pair is None:
            return False
        a, b = pair
        return bool({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[operator])
    text, needle = str(actual or "").lower(), str(value or "").lower()
    if operator == "~":
        return needle in text
    if operator == "!~":
        return needle not in text
    if operator == "^":
        return text.startswith(needle)
    return text.endswith(needle)  # "$"
