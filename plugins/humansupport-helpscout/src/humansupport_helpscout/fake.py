"""A stateful fake of the Help Scout Mailbox API 2.0, for tests, the demo, benchmarks and `fake serve`.

It keeps the shared core-model state (seeded from the synthetic history) and renders it the way the vendor
does: HAL pages of 25 (`_embedded.<kind>`, `page`, `_links`), OAuth2 client-credentials tokens that expire,
JSON-Patch writes answering 204, notes answering 201 with `Resource-ID`, errors as `{logRef, message,
_embedded.errors[{path, message}]}`, 301 for a merged conversation on GET and 404 on write, per-minute rate
limits where writes count double with `X-RateLimit-*-Minute` headers and `X-RateLimit-Retry-After` on 429.
Request bodies are validated and rejected with 400 as Help Scout does. Sources: docs/vendors/helpscout.md.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final
from urllib.parse import parse_qsl

import httpx

from humansupport.models import (
    AgentAvailability,
    AuthorRole,
    Conversation,
    Customer,
    Message,
    to_utc,
)
from humansupport.testing import (
    PRODUCT_AREA_FIELD,
    PRODUCT_AREAS,
    FakeBadRequest,
    FakeClock,
    FakeHelpdesk,
    RecordedRequest,
    route,
)
from humansupport.testing.synthetic import SyntheticHistory
from humansupport.text import html_to_text

from . import _search, mapping
from ._auth import TOKEN_PATH
from .webhooks import EVENT_HEADER, SIGNATURE_HEADER, sign

__all__ = ["HELPSCOUT_PRODUCT_AREA_FIELD", "HELPSCOUT_PRODUCT_AREA_NAME", "FakeHelpScout"]

#: the mailbox custom field (a dropdown) the fake gives the synthetic history's `product_area`
HELPSCOUT_PRODUCT_AREA_FIELD: Final = 8801
HELPSCOUT_PRODUCT_AREA_NAME: Final = "Product Area"
_OPTION_BASE: Final = 33000

_WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LIST_STATUSES: Final = frozenset({"active", "pending", "closed", "spam", "open", "all"})
_SORT_FIELDS: Final = frozenset(
    {
        "createdAt",
        "customerEmail",
        "customerName",
        "mailboxid",
        "modifiedAt",
        "number",
        "score",
        "status",
        "subject",
        "waitingSince",
    }
)
_CUSTOMER_PATHS: Final = frozenset(
    {"/firstName", "/lastName", "/background", "/photoUrl", "/jobTitle", "/location", "/organization", "/age"}
)
_MAX_PROPERTY_DEFINITIONS: Final = 50
_MAILBOX_BASE: Final = 301
#: every event a Help Scout webhook can subscribe to (vendors/helpscout.md §7)
_WEBHOOK_EVENTS: Final = frozenset(
    {
        "convo.created",
        "convo.assigned",
        "convo.moved",
        "convo.status",
        "convo.tags",
        "convo.custom-fields",
        "convo.customer.reply.created",
        "convo.agent.reply.created",
        "convo.note.created",
        "convo.merged",
        "convo.deleted",
        "convo.ai-answers.created",
        "customer.created",
        "customer.updated",
        "customer.deleted",
        "satisfaction.ratings",
        "beacon.chat.created",
        "beacon.chat.customer.replied",
        "tag.created",
        "tag.updated",
        "tag.deleted",
        "message.survey.response.received",
    }
)


def _html_escape(text: str) -> str:
    return html.escape(text, quote=False)


def _preview(text: str) -> str:
    """Help Scout's list `preview`: the reply as one line of plain text, shortened."""
    return " ".join(html_to_text(text).split())[:150]


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _custom_fields(fields: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`customFields: [{id, name, value, text}]`: `product_area` as the "Product Area" dropdown (value = option id,
    text = the option shown); other fields as text fields named by their key."""
    out: list[dict[str, Any]] = []
    for index, (key, value) in enumerate(fields.items()):
        if key == PRODUCT_AREA_FIELD:
            option = _OPTION_BASE + PRODUCT_AREAS.index(value) if value in PRODUCT_AREAS else None
            out.append(
                {
                    "id": HELPSCOUT_PRODUCT_AREA_FIELD,
                    "name": HELPSCOUT_PRODUCT_AREA_NAME,
                    "value": str(option) if option is not None else str(value),
                    "text": str(value),
                }
            )
        else:
            out.append({"id": HELPSCOUT_PRODUCT_AREA_FIELD + 1 + index, "name": key, "value": value, "text": value})
    return out


def _tag_id(name: str) -> int:
    """A tag's id: stable for its name across conversations and `GET /v2/tags`."""
    return 100_000_000 + zlib.crc32(name.lower().encode()) % 100_000_000


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _in_range(stamp: datetime | None, value: _search.Range) -> bool:
    if stamp is None:
        return False
    try:
        low = to_utc(value.low) if value.low else None
        high = to_utc(value.high) if value.high else None
    except ValueError:
        raise _search.QueryError("a date range takes ISO 8601 UTC dates or *") from None
    return (low is None or stamp >= low) and (high is None or stamp <= high)


_CONVERSATION_FIELDS: Final = frozenset(
    {
        "assigned",
        "body",
        "createdAt",
        "customerEmail",
        "customerIds",
        "email",
        "id",
        "mailboxid",
        "modifiedAt",
        "number",
        "status",
        "subject",
        "tag",
    }
)
_CUSTOMER_FIELDS: Final = frozenset({"createdAt", "email", "firstName", "lastName", "modifiedAt"})


class FakeHelpScout(FakeHelpdesk):
    """Help Scout's API over the shared state; see the module docstring for what it reproduces."""

    vendor: ClassVar[str] = "helpscout"
    default_page_size: ClassVar[int] = 25
    app_id: ClassVar[str] = "fake-helpscout-app-id"
    app_secret: ClassVar[str] = "fake-helpscout-app-secret"  # noqa: S105 - an obviously fake value
    token_lifetime: ClassVar[int] = 172_800  # 48 h, as observed (vendor notes §1)

    def is_write(self, request: RecordedRequest) -> bool:
        return request.path != TOKEN_PATH and super().is_write(request)

    def custom_field_key(self, name: str) -> str:
        return HELPSCOUT_PRODUCT_AREA_NAME if name == PRODUCT_AREA_FIELD else name

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        history: SyntheticHistory | None = None,
        rate_limit_per_minute: int | None = None,
    ) -> None:
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.merged: dict[str, str] = {}
        self.mailboxes: dict[str, dict[str, Any]] = {}
        self.property_definitions: dict[str, dict[str, Any]] = {
            slug: {"type": kind, "slug": slug, "name": slug} for slug, kind in mapping.PROFILE_PROPERTIES.items()
        }
        self.writes = 0
        self.read_requests = 0
        self._cost = 1
        #: saved replies by id: `text` is HTML as the editor stores it, `mailbox_id` the inbox holding it
        self.saved_replies: dict[str, dict[str, Any]] = {}
        #: webhooks by id, with the secret each was created with
        self.webhooks: dict[str, dict[str, Any]] = {}
        #: customer fields the core model has no place for (jobTitle, location, age, gender) by customer id
        self.customer_extra: dict[str, dict[str, Any]] = {}
        #: workflows by id (`type` manual or automatic); running a manual one closes the conversations
        self.workflows: dict[str, dict[str, Any]] = {}
        #: wall time source while served over HTTP (see `asgi_app`); tests replace it
        self.wall_time: Callable[[], float] = time.monotonic
        super().__init__(clock=clock, history=history, rate_limit_per_minute=rate_limit_per_minute)

    @classmethod
    def adapter_settings(cls) -> dict[str, Any]:
        return {"app_id": cls.app_id, "app_secret": cls.app_secret}

    @classmethod
    def client_settings(cls, url: str) -> dict[str, dict[str, Any]]:
        """python-helpscout-v2 takes its API address as `base_url` (the token URL is `<base_url>oauth2/token`)."""
        base = url.rstrip("/") + "/v2/"
        python = f"import helpscout; hs = helpscout.HelpScout({cls.app_id!r}, {cls.app_secret!r}, base_url={base!r})"
        return {
            "python-helpscout-v2": {
                "environment": {},
                "python": python,
                "kwargs": {"app_id": cls.app_id, "app_secret": cls.app_secret, "base_url": base},
            }
        }

    # -- state ------------------------------------------------------------------------------------------

    def load(self, history: SyntheticHistory) -> None:
        super().load(history)
        self.mailboxes = {}
        for index, group in enumerate(sorted(self.groups.values(), key=lambda g: int(g.id))):
            mailbox_id = str(_MAILBOX_BASE + index)
            self.mailboxes[mailbox_id] = {
                "id": int(mailbox_id),
                "name": f"{group.name} inbox",
                "slug": f"inbox{mailbox_id}",
                "email": f"inbox{mailbox_id}@support.example.com",
                "group_id": group.id,
            }
        for customer in self.customers.values():
            for slug, value in customer.custom_attributes.items():
                if slug not in self.property_definitions:
                    kind = "number" if isinstance(value, int | float) and not isinstance(value, bool) else "text"
                    self.property_definitions[slug] = {"type": kind, "slug": slug, "name": slug}
        self.seed_saved_replies()  # again, now that the inboxes exist: saved replies live in inboxes
        self.customer_extra = {}
        self.workflows = {}
        for index, mailbox_id in enumerate(sorted(self.mailboxes)):
            for offset, (kind, name) in enumerate((("manual", "Close as resolved"), ("automatic", "Tag VIPs"))):
                workflow_id = str(1201 + 10 * index + offset)
                self.workflows[workflow_id] = {
                    "id": int(workflow_id),
                    "mailboxId": int(mailbox_id),
                    "type": kind,
                    "status": "active",
                    "order": offset + 1,
                    "name": name,
                    "createdAt": "2024-01-02T09:00:00Z",
                    "modifiedAt": "2024-01-02T09:00:00Z",
                }

    def clear_saved_replies(self) -> None:
        self.saved_replies = {}

    def add_saved_reply(self, *, title: str, body: str, mailbox_id: str | None = None, chat_text: str = "") -> str:
        """A saved reply in an inbox (round robin over the inboxes unless `mailbox_id`); `text` is stored as HTML
        with `<br />` line breaks, the way Help Scout's editor saves it."""
        boxes = sorted(self.mailboxes) or [str(_MAILBOX_BASE)]
        box = mailbox_id or boxes[len(self.saved_replies) % len(boxes)]
        reply_id = str(700_001 + len(self.saved_replies))
        while reply_id in self.saved_replies:
            reply_id = str(int(reply_id) + 1)
        html = "<br /><br />".join(
            "<br />".join(_html_escape(line) for line in part.split("\n")) for part in body.strip().split("\n\n")
        )
        self.saved_replies[reply_id] = {"id": int(reply_id), "name": title, "text": html, "chatText": chat_text}
        self.saved_replies[reply_id]["mailbox_id"] = box
        return reply_id

    def merge_conversation(self, old_id: str, into_id: str) -> None:
        """Simulates a merge in the UI: the old id answers 301 to the survivor on GET, 404 on writes."""
        self.conversations.pop(old_id, None)
        self.merged[old_id] = into_id

    def delete_agent(self, agent_id: str) -> None:
        """A deleted user: gone from /v2/users (404), while old threads still name them."""
        agent = self.agents[agent_id]
        self.agents[agent_id] = agent.model_copy(update={"active": False})

    def expire_tokens(self) -> None:
        """Every issued token stops working now (as if revoked early); new ones can still be fetched."""
        self.tokens.clear()

    def _mailbox_for(self, conv: Conversation) -> int:
        for mailbox in self.mailboxes.values():
            if mailbox["group_id"] == conv.group_id:
                return int(mailbox["id"])
        return _MAILBOX_BASE

    def _active_agent(self, agent_id: str | None) -> Any:
        agent = self.agents.get(agent_id or "")
        return agent if agent is not None and agent.active else None

    def render_conversation(self, conv: Conversation) -> dict[str, Any]:
        group = self.groups.get(conv.group_id or "")
        data = mapping.conversation_to_hs(
            conv,
            mailbox_id=self._mailbox_for(conv),
            customer=self.customers.get(conv.customer_id or ""),
            agent=self.agents.get(conv.assignee_id or ""),
            group_name=group.name if group else None,
            threads=len(self.messages.get(conv.id, [])),
        )
        data["customFields"] = _custom_fields(conv.custom_fields)
        data["tags"] = [{"id": _tag_id(t), "color": "#929499", "tag": t} for t in conv.tags]
        return data

    def render_customer(self, customer: Customer) -> dict[str, Any]:
        data = mapping.customer_to_hs(customer, definitions=self.property_definitions)
        data.update(self.customer_extra.get(customer.id, {}))
        return data

    # -- vendor hooks -----------------------------------------------------------------------------------

    def authenticate(self, request: httpx.Request) -> bool:
        if request.url.path == TOKEN_PATH:
            return True  # the token endpoint checks the app credentials in its body
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return False
        expires = self.tokens.get(header.removeprefix("Bearer ").strip())
        return expires is not None and self.clock.monotonic() < expires

    def error_body(self, status: int, message: str, *, field: str | None = None) -> Any:
        body: dict[str, Any] = {
            "logRef": str(uuid.UUID(int=len(self.requests) + 1)),
            "message": message,
            "_links": {"about": {"href": "https://developer.helpscout.com/mailbox-api/overview/errors"}},
        }
        if field is not None:
            body["_embedded"] = {
                "errors": [
                    {
                        "path": field,
                        "message": message,
                        "source": "JSON",
                        "_links": {"about": {"href": "https://developer.helpscout.com/mailbox-api/overview/errors"}},
                    }
                ]
            }
        return body

    def rate_limit_headers(self, *, limit: int, remaining: int, reset_seconds: float) -> dict[str, str]:
        return {"X-RateLimit-Limit-Minute": str(limit), "X-RateLimit-Remaining-Minute": str(max(0, remaining))}

    def request_id_headers(self) -> dict[str, str]:
        return {"Correlation-ID": f"fake-hs-{len(self.requests)}"}

    def signed_webhook(
        self, *, secret: str, conversation_id: str, event: str = "convo.created"
    ) -> tuple[dict[str, str], bytes]:
        if not event.startswith(("convo.", "customer.", "satisfaction.")):
            event = {"conversation.created": "convo.created", "conversation.assigned": "convo.assigned"}.get(
                event, event
            )
        conv = self.conversations[conversation_id]
        body = json.dumps(self.render_conversation(conv)).encode()
        return {EVENT_HEADER: event, SIGNATURE_HEADER: sign(body, secret), "Content-Type": "application/json"}, body

    def asgi_app(self) -> Callable[[dict[str, Any], Any, Any], Awaitable[None]]:
        """The base ASGI app, with the fake clock following wall time while served.

        Served over HTTP (`humansupport fake serve helpscout`) nobody advances the FakeClock, so rate windows
        would never reset and tokens never expire; each request first moves the clock by the real time passed.
        """
        inner = super().asgi_app()
        last = self.wall_time()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            nonlocal last
            now = self.wall_time()
            if now > last:
                self.clock.advance(now - last)
            last = now
            await inner(scope, receive, send)

        return app

    # -- rate limiting: writes cost double -------------------------------------------------------------

    def _handle(self, request: httpx.Request) -> httpx.Response:
        is_write = request.method in _WRITE_METHODS and request.url.path != TOKEN_PATH
        self._cost = 2 if is_write else 1
        return super()._handle(request)

    def spend_minute(self, limit: int) -> None:
        """A per-minute limit of `limit`, all of it used just now by other apps on the account: the next request
        gets 429 with `X-RateLimit-Retry-After` until the minute is over (the fake's clock decides)."""
        self.rate_limit_per_minute = limit
        self._window_start = self.clock.monotonic()
        self._window_count = limit

    def _rate_limit(self) -> httpx.Response | dict[str, str]:
        limit = self.rate_limit_per_minute
        if not limit:
            return {}
        now = self.clock.monotonic()
        if now - self._window_start >= 60.0:
            self._window_start = now - ((now - self._window_start) % 60.0)
            self._window_count = 0
        reset = max(0.0, 60.0 - (now - self._window_start))
        if self._window_count + self._cost > limit:
            self.rate_limited += 1
            headers = self.rate_limit_headers(limit=limit, remaining=0, reset_seconds=reset)
            headers["X-RateLimit-Retry-After"] = str(max(1, math.ceil(reset)))
            return self.error(429, "Too many requests", headers=headers)
        self._window_count += self._cost
        return self.rate_limit_headers(limit=limit, remaining=limit - self._window_count, reset_seconds=reset)

    # -- helpers ----------------------------------------------------------------------------------------

    def _hal(
        self,
        request: httpx.Request,
        key: str,
        items: list[Any],
        *,
        render: Callable[[Any], dict[str, Any]] | None = None,
    ) -> httpx.Response:
        """One HAL page; `render` turns only this page's records into JSON (listings stay linear)."""
        raw = request.url.params.get("page", "1")
        try:
            number = int(raw)
        except ValueError:
            raise FakeBadRequest(f"Invalid page: {raw[:20]}", field="page") from None
        if number < 1:
            raise FakeBadRequest("page must be at least 1", field="page")
        size = self.page_size
        total_pages = max(1, math.ceil(len(items) / size))
        page, _ = self.paginate_list(items, page=number, per_page=size)
        if render is not None:
            page = [render(item) for item in page]
        base = str(request.url.copy_remove_param("page"))
        sep = "&" if "?" in base else "?"
        links: dict[str, Any] = {
            "self": {"href": f"{base}{sep}page={number}"},
            "first": {"href": f"{base}{sep}page=1"},
            "last": {"href": f"{base}{sep}page={total_pages}"},
            "page": {"href": f"{base}{sep}page={{page}}", "templated": True},
        }
        if number < total_pages:
            links["next"] = {"href": f"{base}{sep}page={number + 1}"}
        body = {
            "_embedded": {key: page},
            "_links": links,
            "page": {"size": size, "totalElements": len(items), "totalPages": total_pages, "number": number},
        }
        return self.json_response(body)

    def _body(self, request: httpx.Request) -> Any:
        if not request.content:
            raise FakeBadRequest("Request body is required", field="body")
        try:
            return json.loads(request.content)
        except ValueError:
            raise FakeBadRequest("Malformed JSON request body", field="body") from None

    def _since(self, request: httpx.Request) -> datetime | None:
        raw = request.url.params.get("modifiedSince")
        if raw is None:
            return None
        try:
            parsed = to_utc(raw)
        except ValueError:
            parsed = None
        if parsed is None or not raw.endswith("Z"):
            raise FakeBadRequest(
                "modifiedSince must be an ISO 8601 UTC date (2019-01-01T12:00:00Z)", field="modifiedSince"
            )
        return parsed

    def _sort(self, request: httpx.Request) -> tuple[str, bool]:
        field = request.url.params.get("sortField", "createdAt")
        order = request.url.params.get("sortOrder", "desc")
        if field not in _SORT_FIELDS:
            raise FakeBadRequest(f"Expected one of these: {', '.join(sorted(_SORT_FIELDS))}", field="sortField")
        if order not in ("asc", "desc"):
            raise FakeBadRequest("Expected one of these: 'asc', 'desc'", field="sortOrder")
        return field, order == "desc"

    # -- OAuth ------------------------------------------------------------------------------------------

    @route("POST", TOKEN_PATH)
    def token(self, request: httpx.Request) -> httpx.Response:
        content_type = request.headers.get("content-type", "")
        if "json" in content_type:
            try:
                body = json.loads(request.content or b"{}")
            except ValueError:
                body = None
        else:
            body = dict(parse_qsl(request.content.decode("utf-8", "replace")))
        if not isinstance(body, dict):
            return self.json_response({"error": "invalid_request", "error_description": "Malformed body"}, 400)
        if body.get("grant_type") != "client_credentials":
            return self.json_response(
                {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"}, 400
            )
        if body.get("client_id") != self.app_id or body.get("client_secret") != self.app_secret:
            return self.json_response({"error": "invalid_client", "error_description": "Bad client credentials"}, 401)
        self.tokens_issued += 1
        token = f"fake-hs-token-{self.tokens_issued}-{uuid.UUID(int=self.tokens_issued).hex[:8]}"
        self.tokens[token] = self.clock.monotonic() + self.token_lifetime
        return self.json_response({"token_type": "bearer", "access_token": token, "expires_in": self.token_lifetime})

    # -- users, teams, mailboxes ------------------------------------------------------------------------

    def _owner(self) -> Any:
        return next((a for a in sorted(self.agents.values(), key=lambda a: int(a.id)) if a.active), None)

    @route("GET", r"/v2/users/me")
    def me(self, request: httpx.Request) -> httpx.Response:
        owner = self._owner()
        if owner is None:
            return self.error(404, "Resource not found")
        return self.json_response({**mapping.user_to_hs(owner), "role": "owner"})

    @route("GET", r"/v2/users")
    def list_users(self, request: httpx.Request) -> httpx.Response:
        email = request.url.params.get("email")
        mailbox = request.url.params.get("mailbox")
        group = self.mailboxes.get(mailbox or "", {}).get("group_id") if mailbox else None
        users = [
            mapping.user_to_hs(a)
            for a in sorted(self.agents.values(), key=lambda a: int(a.id))
            if a.active and (email is None or a.email == email) and (mailbox is None or group in a.group_ids)
        ]
        return self._hal(request, "users", users)

    @route("GET", r"/v2/users/(?P<uid>\d+)")
    def get_user(self, request: httpx.Request, uid: str) -> httpx.Response:
        agent = self._active_agent(uid)
        if agent is None:
            return self.error(404, "Resource not found")
        return self.json_response(mapping.user_to_hs(agent))

    @route("GET", r"/v2/users/(?P<uid>\d+)/status")
    def get_user_status(self, request: httpx.Request, uid: str) -> httpx.Response:
        agent = self._active_agent(uid)
        if agent is None:
            return self.error(404, "Resource not found")
        body: dict[str, Any] = {"userId": int(uid)}
        when = mapping.hs_time(self.clock.now())
        if agent.availability is AgentAvailability.AVAILABLE:
            body["email"] = {"status": "active", "updatedAt": when, "performedBy": int(uid), "source": "ui"}
            body["chat"] = {"status": "available", "mailboxStatuses": {}}
        elif agent.availability in (AgentAvailability.AWAY, AgentAvailability.OFFLINE):
            body["email"] = {"status": "away", "updatedAt": when, "performedBy": int(uid), "source": "ui"}
            body["chat"] = {"status": "unavailable", "mailboxStatuses": {}}
        else:
            body["chat"] = {"status": "custom", "mailboxStatuses": {}}
        return self.json_response(body)

    @route("GET", r"/v2/teams")
    def list_teams(self, request: httpx.Request) -> httpx.Response:
        teams = [
            {
                "id": int(g.id),
                "name": g.name,
                "timezone": "UTC",
                "mention": (g.name or "team").lower().replace(" ", ""),
                "initials": (g.name or "T")[:1].upper(),
            }
            for g in sorted(self.groups.values(), key=lambda g: int(g.id))
        ]
        return self._hal(request, "teams", teams)

    @route("GET", r"/v2/teams/(?P<tid>\d+)/members")
    def list_team_members(self, request: httpx.Request, tid: str) -> httpx.Response:
        group = self.groups.get(tid)
        if group is None:
            return self.error(404, "Resource not found")
        members = [mapping.user_to_hs(a) for aid in group.agent_ids if (a := self._active_agent(aid)) is not None]
        return self._hal(request, "users", members)

    @route("GET", r"/v2/mailboxes")
    def list_mailboxes(self, request: httpx.Request) -> httpx.Response:
        boxes = [{k: v for k, v in m.items() if k != "group_id"} for m in self.mailboxes.values()]
        return self._hal(request, "mailboxes", boxes)

    # -- saved replies ----------------------------------------------------------------------------------

    @route("GET", r"/v2/mailboxes/(?P<mid>\d+)/saved-replies")
    def list_saved_replies(self, request: httpx.Request, mid: str) -> httpx.Response:
        """A plain JSON array (not HAL, no paging) with a shortened plain-text `preview` instead of the text."""
        if mid not in self.mailboxes:
            return self.error(404, "Resource not found")
        include_chat = request.url.params.get("includeChatReplies", "false")
        if include_chat not in ("true", "false"):
            raise FakeBadRequest("includeChatReplies must be true or false", field="includeChatReplies")
        rows = []
        for reply in self.saved_replies.values():
            if reply["mailbox_id"] != mid or (not reply["text"] and include_chat == "false"):
                continue
            row = {"id": reply["id"], "name": reply["name"], "preview": _preview(reply["text"])}
            if reply["chatText"]:
                row["chatPreview"] = reply["chatText"][:150]
            rows.append(row)
        return self.json_response(rows)

    @route("GET", r"/v2/mailboxes/(?P<mid>\d+)/saved-replies/(?P<rid>\d+)")
    def get_saved_reply(self, request: httpx.Request, mid: str, rid: str) -> httpx.Response:
        reply = self.saved_replies.get(rid)
        if mid not in self.mailboxes or reply is None or reply["mailbox_id"] != mid:
            return self.error(404, "Resource not found")
        return self.json_response({k: v for k, v in reply.items() if k != "mailbox_id"})

    # -- webhooks ---------------------------------------------------------------------------------------

    @route("GET", r"/v2/webhooks")
    def list_webhooks(self, request: httpx.Request) -> httpx.Response:
        rows = [{k: v for k, v in hook.items() if k != "secret"} for hook in self.webhooks.values()]
        return self._hal(request, "webhooks", rows)

    @route("POST", r"/v2/webhooks")
    def create_webhook(self, request: httpx.Request) -> httpx.Response:
        """201 with `Resource-ID`; url, events and a secret of at most 40 characters are required."""
        hook_id = str(len(self.webhooks) + 11)
        self.webhooks[hook_id] = self._webhook(request, hook_id)
        self.writes += 1
        return httpx.Response(201, headers={"Resource-ID": hook_id, "Location": f"/v2/webhooks/{hook_id}"})

    @route("PUT", r"/v2/webhooks/(?P<hook_id>\d+)")
    def update_webhook(self, request: httpx.Request, hook_id: str) -> httpx.Response:
        """Replaces the webhook (same body as create); 204."""
        if hook_id not in self.webhooks:
            return self.error(404, "Resource not found")
        self.webhooks[hook_id] = self._webhook(request, hook_id)
        self.writes += 1
        return httpx.Response(204)

    def _webhook(self, request: httpx.Request, hook_id: str) -> dict[str, Any]:
        body = self._body(request)
        if not isinstance(body, dict):
            raise FakeBadRequest("Malformed JSON request body", field="body")
        url = body.get("url")
        if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
            raise FakeBadRequest("must be a valid URL", field="url")
        events = body.get("events")
        if not isinstance(events, list) or not events or not all(e in _WEBHOOK_EVENTS for e in events):
            raise FakeBadRequest("must contain known events", field="events")
        secret = body.get("secret")
        if not isinstance(secret, str) or not 1 <= len(secret) <= 40:
            raise FakeBadRequest("size must be between 1 and 40", field="secret")
        if body.get("payloadVersion", "V2") not in ("V1", "V2"):
            raise FakeBadRequest("must be V1 or V2", field="payloadVersion")
        if not isinstance(body.get("notification", False), bool):
            raise FakeBadRequest("must be a boolean", field="notification")
        return {
            "id": int(hook_id),
            "url": url,
            "state": "enabled",
            "events": list(events),
            "notification": body.get("notification", False),
            "payloadVersion": body.get("payloadVersion", "V2"),
            "label": body.get("label"),
            "secret": secret,
        }

    # -- conversations ----------------------------------------------------------------------------------

    @route("GET", r"/v2/conversations")
    def list_conversations(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        status = params.get("status", "active")  # the vendor's default hides pending and closed
        if status not in _LIST_STATUSES:
            raise FakeBadRequest(
                "Expected one of these: 'active', 'spam', 'open', 'closed', 'pending', 'all'", field="status"
            )
        mailboxes: set[int] | None = None
        if params.get("mailbox"):
            try:
                mailboxes = {int(m) for m in params["mailbox"].split(",")}
            except ValueError:
                raise FakeBadRequest("mailbox must be a list of ids", field="mailbox") from None
        since = self._since(request)
        field, descending = self._sort(request)
        assigned_to = params.get("assigned_to")
        query = self._query(params.get("query"), _CONVERSATION_FIELDS)
        tags = {t.strip().lower() for t in params["tag"].split(",") if t.strip()} if params.get("tag") else None
        number = params.get("number")
        by_field = self._custom_field_filter(params.get("customFieldsByIds"))
        chosen = []
        for conv in self.conversations.values():
            if query is not None and not query.matches(conv, self._conversation_term):
                continue
            if tags is not None and not tags & {t.lower() for t in conv.tags}:
                continue
            if number is not None and str(mapping.conversation_number(conv.id)) != number:
                continue
            if by_field and not by_field.items() <= self._field_values(conv).items():
                continue
            hs_status = mapping.status_to_hs(conv.status)
            if status == "open" and hs_status not in ("active", "pending"):
                continue
            if status not in ("all", "open") and hs_status != status:
                continue
            if assigned_to is not None and conv.assignee_id != assigned_to:
                continue
            if mailboxes is not None and self._mailbox_for(conv) not in mailboxes:
                continue
            if since is not None and (conv.updated_at is None or conv.updated_at < since):
                continue
            chosen.append(conv)
        if field == "modifiedAt":
            chosen.sort(key=lambda c: (c.updated_at or c.created_at or _EPOCH, int(c.id)))
        else:
            chosen.sort(key=lambda c: (c.created_at or _EPOCH, int(c.id)))
        if descending:
            chosen.reverse()
        embed = params.get("embed")
        if embed not in (None, "threads"):
            raise FakeBadRequest("Expected one of these: 'threads'", field="embed")
        render = self.render_conversation if embed is None else self._render_with_threads
        return self._hal(request, "conversations", chosen, render=render)

    def _render_with_threads(self, conv: Conversation) -> dict[str, Any]:
        data = self.render_conversation(conv)
        threads = self._threads(conv)
        if data["type"] == "chat":
            threads = [{**t, "body": (t.get("body") or "")[:100]} for t in threads]  # the list view truncates chats
        data["_embedded"] = {"threads": threads}
        return data

    @route("GET", r"/v2/conversations/(?P<cid>\d+)")
    def get_conversation(self, request: httpx.Request, cid: str) -> httpx.Response:
        if cid in self.merged:
            target = self.merged[cid]
            return httpx.Response(301, headers={"Location": f"/v2/conversations/{target}"})
        conv = self.conversations.get(cid)
        if conv is None:
            return self.error(404, "Resource not found")
        data = self.render_conversation(conv)
        if request.url.params.get("embed") == "threads":
            data["_embedded"] = {"threads": self._threads(conv)}
        return self.json_response(data)

    @route("PATCH", r"/v2/conversations/(?P<cid>\d+)")
    def patch_conversation(self, request: httpx.Request, cid: str) -> httpx.Response:
        conv = self.conversations.get(cid)
        if conv is None:  # deleted, or merged (writes to an old id are 404)
            return self.error(404, "Resource not found")
        body = self._body(request)
        if not isinstance(body, dict):
            raise FakeBadRequest("Expected a single patch operation object", field="op")
        op, path, value = body.get("op"), body.get("path"), body.get("value")
        changes: dict[str, Any] = {}
        if path == "/assignTo":
            if op == "remove":
                changes = {"assignee_id": None}
            elif op == "replace":
                if not isinstance(value, int) or isinstance(value, bool):
                    raise FakeBadRequest("value must be a user id (number)", field="value")
                if self._active_agent(str(value)) is not None:
                    changes = {"assignee_id": str(value)}
                elif str(value) in self.groups:
                    changes = {"assignee_id": None, "group_id": str(value)}
                else:
                    raise FakeBadRequest(f"User {value} not found", field="assignTo")
            else:
                raise FakeBadRequest("Expected one of these: 'replace', 'remove'", field="op")
        elif path == "/status":
            if op != "replace" or value not in ("active", "pending", "closed", "spam"):
                raise FakeBadRequest("Expected one of these: 'active', 'spam', 'closed', 'pending'", field="value")
            changes = {"status": mapping.status_from_hs(value)}
        elif path == "/subject":
            if op != "replace" or not isinstance(value, str) or not value:
                raise FakeBadRequest("may not be empty", field="value")
            changes = {"subject": value}
        else:
            raise FakeBadRequest(f"Unsupported path {str(path)[:40]}", field="path")
        self.writes += 1
        self.touch_conversation(cid, **changes)
        return httpx.Response(204)

    def _threads(self, conv: Conversation) -> list[dict[str, Any]]:
        customer = self.customers.get(conv.customer_id or "")
        threads = [
            mapping.thread_to_hs(m, customer=customer, agent=self.agents.get(m.author_id or ""))
            for m in self.messages.get(conv.id, [])
        ]
        threads.sort(key=lambda t: (t.get("createdAt") or "", t["id"]), reverse=True)  # newest first
        return threads

    @route("GET", r"/v2/conversations/(?P<cid>\d+)/threads")
    def list_threads(self, request: httpx.Request, cid: str) -> httpx.Response:
        conv = self.conversations.get(cid)
        if conv is None:
            return self.error(404, "Resource not found")
        return self._hal(request, "threads", self._threads(conv))

    @route("POST", r"/v2/conversations/(?P<cid>\d+)/notes")
    def add_note(self, request: httpx.Request, cid: str) -> httpx.Response:
        conv = self.conversations.get(cid)
        if conv is None:
            return self.error(404, "Resource not found")
        body = self._body(request)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
            raise FakeBadRequest("may not be empty", field="text")
        user = body.get("user")
        owner = self._owner()
        author = str(user) if user is not None else (owner.id if owner else None)
        if user is not None and self._active_agent(str(user)) is None:
            raise FakeBadRequest(f"User {user} not found", field="user")
        existing = [int(m.id) for msgs in self.messages.values() for m in msgs if m.id.isdigit()]
        thread_id = str(max(existing, default=10_000_000) + 1)
        note = Message(
            id=thread_id,
            conversation_id=cid,
            author_id=author,
            author_role=AuthorRole.AGENT,
            public=False,
            body=body["text"],
            created_at=self.clock.now(),
        )
        self.messages.setdefault(cid, []).append(note)
        self.writes += 1
        self.touch_conversation(cid)
        location = f"/v2/conversations/{cid}/threads/{thread_id}"
        return httpx.Response(201, headers={"Resource-ID": thread_id, "Location": location})

    # -- customers --------------------------------------------------------------------------------------

    @route("GET", r"/v2/customers")
    def list_customers(self, request: httpx.Request) -> httpx.Response:
        since = self._since(request)
        query = self._query(request.url.params.get("query"), _CUSTOMER_FIELDS)
        first, last = request.url.params.get("firstName"), request.url.params.get("lastName")
        self._sort(request)
        found = [
            c
            for c in sorted(self.customers.values(), key=lambda c: (c.updated_at or c.created_at or _EPOCH, int(c.id)))
            if (since is None or (c.updated_at or c.created_at or _EPOCH) >= since)
            and (query is None or query.matches(c, self._customer_term))
            and (first is None or (c.name or "").partition(" ")[0].lower() == first.lower())
            and (last is None or (c.name or "").partition(" ")[2].lower() == last.lower())
        ]
        return self._hal(request, "customers", found, render=self.render_customer)

    @route("GET", r"/v2/customers/(?P<cid>\d+)")
    def get_customer(self, request: httpx.Request, cid: str) -> httpx.Response:
        customer = self.customers.get(cid)
        if customer is None:
            return self.error(404, "Resource not found")
        return self.json_response(self.render_customer(customer))

    @route("PATCH", r"/v2/customers/(?P<cid>\d+)")
    def patch_customer(self, request: httpx.Request, cid: str) -> httpx.Response:
        customer = self.customers.get(cid)
        if customer is None:
            return self.error(404, "Resource not found")
        ops = self._ops(request)
        update: dict[str, Any] = {}
        for op in ops:
            path, value = op["path"], op.get("value")
            if path not in _CUSTOMER_PATHS:
                raise FakeBadRequest(f"Unsupported path {str(path)[:40]}", field="path")
            if op["op"] == "remove":
                value = None
            elif value is not None and not isinstance(value, str):
                raise FakeBadRequest("must be a string", field=path.lstrip("/"))
            if path == "/background":
                if value is not None and len(value) > 200:
                    raise FakeBadRequest("size must be between 0 and 200", field="background")
                update["notes"] = value
            elif path == "/photoUrl":
                update["avatar_url"] = value
            elif path == "/organization":
                update["organization"] = value
        self.customers[cid] = customer.model_copy(update={**update, "updated_at": self.clock.now()})
        self.writes += 1
        return httpx.Response(204)

    @route("PATCH", r"/v2/customers/(?P<cid>\d+)/properties")
    def patch_customer_properties(self, request: httpx.Request, cid: str) -> httpx.Response:
        customer = self.customers.get(cid)
        if customer is None:
            return self.error(404, "Resource not found")
        attributes = dict(customer.custom_attributes)
        tags = list(customer.tags)
        for op in self._ops(request):
            slug = str(op["path"]).lstrip("/")
            definition = self.property_definitions.get(slug)
            if definition is None:
                raise FakeBadRequest(f"Property '{slug}' is not defined for this account", field=slug)
            value = op.get("value")
            if op["op"] != "remove":
                self._check_property(slug, definition["type"], value)
            if slug == mapping.DEFAULT_TAGS_PROPERTY:
                tags = [] if op["op"] == "remove" else [t.strip() for t in str(value).split(",") if t.strip()]
            elif op["op"] == "remove":
                attributes.pop(slug, None)
            else:
                attributes[slug] = value
        self.customers[cid] = customer.model_copy(
            update={"custom_attributes": attributes, "tags": tags, "updated_at": self.clock.now()}
        )
        self.writes += 1
        return httpx.Response(204)

    @staticmethod
    def _check_property(slug: str, kind: str, value: Any) -> None:
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise FakeBadRequest("must be a number", field=slug)
            try:
                float(value)
            except ValueError:
                raise FakeBadRequest("must be a number", field=slug) from None
        elif not isinstance(value, str | int | float) or isinstance(value, bool):
            raise FakeBadRequest("must be a string", field=slug)
        elif kind in ("text", "url") and len(str(value)) > 255:
            raise FakeBadRequest("size must be between 0 and 255", field=slug)
        elif kind == "date" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
            raise FakeBadRequest("must be a date (YYYY-MM-DD)", field=slug)
        elif kind == "url" and not str(value).startswith(("http://", "https://")):
            raise FakeBadRequest("must be a URL", field=slug)

    def _ops(self, request: httpx.Request) -> list[dict[str, Any]]:
        body = self._body(request)
        if not isinstance(body, list) or not body:
            raise FakeBadRequest("Expected a non-empty list of patch operations", field="body")
        for op in body:
            if not isinstance(op, dict) or op.get("op") not in ("replace", "remove", "add"):
                raise FakeBadRequest("Expected one of these: 'add', 'replace', 'remove'", field="op")
            if not isinstance(op.get("path"), str) or not op["path"].startswith("/"):
                raise FakeBadRequest("path must start with /", field="path")
            if op["op"] != "remove" and "value" not in op:
                raise FakeBadRequest("value is required", field="value")
        return body

    @route("GET", r"/v2/customer-properties")
    def list_properties(self, request: httpx.Request) -> httpx.Response:
        return self._hal(request, "customer-properties", list(self.property_definitions.values()))

    @route("POST", r"/v2/customer-properties")
    def create_property(self, request: httpx.Request) -> httpx.Response:
        body = self._body(request)
        if not isinstance(body, dict) or not isinstance(body.get("slug"), str) or not body["slug"]:
            raise FakeBadRequest("may not be empty", field="slug")
        if body.get("type") not in ("text", "number", "url", "date", "dropdown"):
            raise FakeBadRequest("Expected one of these: 'text', 'number', 'url', 'date', 'dropdown'", field="type")
        if body["slug"] in self.property_definitions:
            raise FakeBadRequest("slug already exists", field="slug")
        if len(self.property_definitions) >= _MAX_PROPERTY_DEFINITIONS:
            raise FakeBadRequest("at most 50 customer properties per account", field="slug")
        self.property_definitions[body["slug"]] = {"type": body["type"], "slug": body["slug"], "name": body.get("name")}
        self.writes += 1
        return httpx.Response(201, headers={"Resource-ID": body["slug"]})

    # -- ratings ----------------------------------------------------------------------------------------

    @route("GET", r"/v2/ratings/(?P<rid>\d+)")
    def get_rating(self, request: httpx.Request, rid: str) -> httpx.Response:
        rating = self.ratings.get(rid)
        if rating is None:
            return self.error(404, "Resource not found")
        words = {"good": "great", "bad": "not_good"}
        customer = self.customers.get(rating.customer_id or "")
        return self.json_response(
            {
                "id": int(rating.id),
                "customer": {"id": int(rating.customer_id or 0), "email": customer.email if customer else None},
                "conversationId": int(rating.conversation_id or 0),
                "rating": words.get(rating.score.value, "unknown"),
                "user": {"id": int(rating.agent_id or 0)},
                "comments": rating.comment,
                "createdAt": mapping.hs_time(rating.created_at),
                "modifiedAt": mapping.hs_time(rating.created_at),
            }
        )

    # -- search -----------------------------------------------------------------------------------------

    def _query(self, text: str | None, allowed: frozenset[str]) -> _search.Query[Any] | None:
        """The parsed `query=`; 400 (`path: query`) for syntax, fields or ranges Help Scout would refuse."""
        if text is None:
            return None
        try:
            query = _search.parse(text)
            for field, value in query.terms():
                if field is not None and field not in allowed:
                    raise _search.QueryError(f"unknown search field {field!r}; use one of {', '.join(sorted(allowed))}")
                dated = field in ("createdAt", "modifiedAt")
                if isinstance(value, _search.Range) != dated:
                    raise _search.QueryError(
                        f"{field} takes a [from TO to] range" if dated else "only dates take ranges"
                    )
                if isinstance(value, _search.Range):
                    _in_range(_EPOCH, value)  # the dates parse
        except _search.QueryError as exc:
            raise FakeBadRequest(str(exc), field="query") from None
        return query

    def _conversation_term(self, field: str | None, value: str | _search.Range, conv: Conversation) -> bool:
        if isinstance(value, _search.Range):
            return _in_range(conv.created_at if field == "createdAt" else conv.updated_at or conv.created_at, value)
        text = value.lower()
        customer = self.customers.get(conv.customer_id or "")
        emails = {e.lower() for e in [*(customer.emails or []), customer.email or ""] if e} if customer else set()
        bodies = [(m.body or "").lower() for m in self.messages.get(conv.id, [])]
        match field:
            case "email" | "customerEmail":
                return text in emails
            case "customerIds":
                return conv.customer_id in {v.strip() for v in value.split(",")}
            case "subject":
                return text in (conv.subject or "").lower()
            case "body":
                return any(text in body for body in bodies)
            case "tag":
                return text in {t.lower() for t in conv.tags}
            case "status":
                return mapping.status_to_hs(conv.status) == text
            case "number":
                return str(mapping.conversation_number(conv.id)) == value
            case "id":
                return conv.id == value
            case "mailboxid":
                return str(self._mailbox_for(conv)) == value
            case "assigned":
                if text == "unassigned":
                    return conv.assignee_id is None
                agent = self.agents.get(conv.assignee_id or "")
                return agent is not None and text in {agent.id, (agent.email or "").lower(), (agent.name or "").lower()}
        return text in (conv.subject or "").lower() or any(text in body for body in bodies) or text in emails

    def _customer_term(self, field: str | None, value: str | _search.Range, customer: Customer) -> bool:
        if isinstance(value, _search.Range):
            stamp = customer.created_at if field == "createdAt" else customer.updated_at or customer.created_at
            return _in_range(stamp, value)
        text = value.lower()
        emails = {e.lower() for e in [*(customer.emails or []), customer.email or ""] if e}
        first, _, last = (customer.name or "").lower().partition(" ")
        match field:
            case "email":
                return text in emails
            case "firstName":
                return first.startswith(text.rstrip("*"))
            case "lastName":
                return last.startswith(text.rstrip("*"))
        return text in (customer.name or "").lower() or any(text in e for e in emails)

    def _custom_field_filter(self, raw: str | None) -> dict[int, str]:
        """`customFieldsByIds=<fieldId>:<value>,…`."""
        if not raw:
            return {}
        out: dict[int, str] = {}
        for part in raw.split(","):
            field_id, sep, value = part.partition(":")
            if not sep or not field_id.strip().isdigit():
                raise FakeBadRequest("customFieldsByIds is fieldId:value[,fieldId:value]", field="customFieldsByIds")
            out[int(field_id)] = value.strip()
        return out

    @staticmethod
    def _field_values(conv: Conversation) -> dict[int, str]:
        return {int(f["id"]): str(f["value"]) for f in _custom_fields(conv.custom_fields)}

    # -- mailboxes: one, its custom fields, its folders ------------------------------------------------

    def _mailbox(self, mid: str) -> dict[str, Any]:
        mailbox = self.mailboxes.get(mid)
        if mailbox is None:
            raise FakeBadRequest("Resource not found", status=404)
        return mailbox

    @route("GET", r"/v2/mailboxes/(?P<mid>\d+)")
    def get_mailbox(self, request: httpx.Request, mid: str) -> httpx.Response:
        mailbox = self._mailbox(mid)
        body = {k: v for k, v in mailbox.items() if k != "group_id"}
        body |= {"createdAt": "2024-01-02T09:00:00Z", "updatedAt": "2024-01-02T09:00:00Z"}
        return self.json_response(body)

    @staticmethod
    def _field_definitions() -> list[dict[str, Any]]:
        options = [{"id": _OPTION_BASE + i, "order": i + 1, "label": area} for i, area in enumerate(PRODUCT_AREAS)]
        return [
            {
                "id": HELPSCOUT_PRODUCT_AREA_FIELD,
                "required": False,
                "order": 1,
                "type": "dropdown",
                "name": HELPSCOUT_PRODUCT_AREA_NAME,
                "options": options,
            }
        ]

    @route("GET", r"/v2/mailboxes/(?P<mid>\d+)/fields")
    def list_mailbox_fields(self, request: httpx.Request, mid: str) -> httpx.Response:
        self._mailbox(mid)
        return self._hal(request, "fields", self._field_definitions())

    @route("GET", r"/v2/mailboxes/(?P<mid>\d+)/folders")
    def list_mailbox_folders(self, request: httpx.Request, mid: str) -> httpx.Response:
        self._mailbox(mid)
        mine = [c for c in self.conversations.values() if self._mailbox_for(c) == int(mid)]
        open_ = [c for c in mine if c.status.is_open]
        when = mapping.hs_time(self.clock.now())
        folders = [
            {"id": int(mid) * 10 + 1, "name": "Unassigned", "type": "open", "userId": 0, "totalCount": len(open_)},
            {"id": int(mid) * 10 + 2, "name": "Mine", "type": "mytickets", "userId": 0, "totalCount": 0},
            {"id": int(mid) * 10 + 3, "name": "Closed", "type": "closed", "userId": 0, "totalCount": len(mine)},
        ]
        for folder in folders:
            folder |= {"activeCount": folder["totalCount"] if folder["type"] != "closed" else 0, "updatedAt": when}
        return self._hal(request, "folders", folders)

    # -- conversations: create, delete, tags, custom fields, threads ------------------------------------

    def _next_thread_id(self) -> str:
        existing = [int(m.id) for msgs in self.messages.values() for m in msgs if m.id.isdigit()]
        return str(max(existing, default=10_000_000) + 1)

    def _customer_ref(self, ref: Any, *, create: bool) -> str:
        """A `customer` object's id: `{id}`, or `{email}` (an unknown address creates the customer)."""
        if not isinstance(ref, dict):
            raise FakeBadRequest("may not be null", field="customer")
        if ref.get("id") is not None:
            cid = str(ref["id"])
            if cid not in self.customers:
                raise FakeBadRequest(f"Customer {cid} not found", field="customer.id")
            return cid
        email = ref.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise FakeBadRequest("a customer needs an id or an email", field="customer")
        for customer in self.customers.values():
            if email.lower() in {e.lower() for e in [*(customer.emails or []), customer.email or ""] if e}:
                return customer.id
        if not create:
            raise FakeBadRequest(f"Customer {email} not found", field="customer.email")
        name = " ".join(str(ref.get(k) or "") for k in ("firstName", "lastName")).strip() or None
        return self._new_customer(name=name, emails=[email])

    def _new_customer(self, *, name: str | None, emails: list[str], **fields: Any) -> str:
        customer_id = str(max((int(c) for c in self.customers if c.isdigit()), default=1000) + 1)
        now = self.clock.now()
        self.customers[customer_id] = Customer(
            id=customer_id,
            name=name,
            email=emails[0] if emails else None,
            emails=emails,
            created_at=now,
            updated_at=now,
            **fields,
        )
        return customer_id

    @route("POST", r"/v2/conversations")
    def create_conversation(self, request: httpx.Request) -> httpx.Response:
        """201 with `Resource-ID`; subject, customer, mailboxId, type, status and threads are required."""
        body = self._body(request)
        if not isinstance(body, dict):
            raise FakeBadRequest("Malformed JSON request body", field="body")
        subject = body.get("subject")
        if not isinstance(subject, str) or not subject.strip():
            raise FakeBadRequest("may not be empty", field="subject")
        mailbox = str(body.get("mailboxId"))
        if mailbox not in self.mailboxes:
            raise FakeBadRequest(f"Mailbox {mailbox[:20]} not found", field="mailboxId")
        kind = body.get("type")
        if kind not in ("email", "chat", "phone"):
            raise FakeBadRequest("Expected one of these: 'email', 'chat', 'phone'", field="type")
        status = body.get("status")
        if status not in ("active", "pending", "closed"):
            raise FakeBadRequest("Expected one of these: 'active', 'pending', 'closed'", field="status")
        threads = body.get("threads")
        if not isinstance(threads, list) or not threads:
            raise FakeBadRequest("may not be empty", field="threads")
        for thread in threads:
            if not isinstance(thread, dict) or thread.get("type") not in ("customer", "reply", "note", "chat", "phone"):
                raise FakeBadRequest(
                    "Expected one of these: 'customer', 'reply', 'note', 'chat', 'phone'", field="threads.type"
                )
            if not isinstance(thread.get("text"), str) or not thread["text"].strip():
                raise FakeBadRequest("may not be empty", field="threads.text")
        tags = body.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise FakeBadRequest("must be a list of tag names", field="tags")
        assignee = body.get("assignTo")
        if assignee is not None and self._active_agent(str(assignee)) is None:
            raise FakeBadRequest(f"User {assignee} not found", field="assignTo")
        customer_id = self._customer_ref(body.get("customer"), create=True)
        fields = self._fields_from(body.get("fields", []))
        conv_id = str(max((int(c) for c in self.conversations if c.isdigit()), default=100_000) + 1)
        now = self.clock.now()
        self.conversations[conv_id] = Conversation(
            id=conv_id,
            status=mapping.status_from_hs(status),
            subject=subject,
            customer_id=customer_id,
            assignee_id=str(assignee) if assignee is not None else None,
            group_id=self.mailboxes[mailbox]["group_id"],
            channel=kind,
            tags=list(dict.fromkeys(tags)),
            created_at=now,
            updated_at=now,
            version="1",
            custom_fields=fields,
        )
        owner = self._owner()
        for thread in reversed(threads):  # listed newest first, as the threads endpoint answers
            by_user = thread["type"] in ("reply", "note") or thread.get("user") is not None
            author = str(thread.get("user") or (owner.id if owner else "")) if by_user else customer_id
            self.messages.setdefault(conv_id, []).append(
                Message(
                    id=self._next_thread_id(),
                    conversation_id=conv_id,
                    author_id=author or None,
                    author_role=AuthorRole.AGENT if by_user else AuthorRole.CUSTOMER,
                    public=thread["type"] != "note",
                    body=thread["text"],
                    created_at=now,
                )
            )
        self.writes += 1
        return httpx.Response(201, headers={"Resource-ID": conv_id, "Location": f"/v2/conversations/{conv_id}"})

    @route("DELETE", r"/v2/conversations/(?P<cid>\d+)")
    def delete_conversation(self, request: httpx.Request, cid: str) -> httpx.Response:
        if self.conversations.pop(cid, None) is None:
            return self.error(404, "Resource not found")
        self.messages.pop(cid, None)
        self.writes += 1
        return httpx.Response(204)

    def _conversation(self, cid: str) -> Conversation:
        conv = self.conversations.get(cid)
        if conv is None:
            raise FakeBadRequest("Resource not found", status=404)
        return conv

    @route("PUT", r"/v2/conversations/(?P<cid>\d+)/tags")
    def put_tags(self, request: httpx.Request, cid: str) -> httpx.Response:
        """Replaces the whole tag set (`[]` clears it); unknown tags are created."""
        self._conversation(cid)
        body = self._body(request)
        tags = body.get("tags") if isinstance(body, dict) else None
        if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
            raise FakeBadRequest("must be a list of tag names", field="tags")
        self.touch_conversation(cid, tags=list(dict.fromkeys(t.strip() for t in tags)))
        self.writes += 1
        return httpx.Response(204)

    def _fields_from(self, fields: Any) -> dict[str, Any]:
        """`fields: [{id, value}]` as the core's custom fields; a dropdown takes an option id."""
        if not isinstance(fields, list):
            raise FakeBadRequest("must be a list of {id, value}", field="fields")
        out: dict[str, Any] = {}
        for item in fields:
            if not isinstance(item, dict) or item.get("id") != HELPSCOUT_PRODUCT_AREA_FIELD:
                field_id = item.get("id") if isinstance(item, dict) else None
                raise FakeBadRequest(f"Custom field {str(field_id)[:20]} not found", field="fields.id")
            value = str(item.get("value", ""))
            option = int(value) - _OPTION_BASE if value.isdigit() else -1
            if not 0 <= option < len(PRODUCT_AREAS):
                raise FakeBadRequest(f"{value[:20]} is not an option of this dropdown", field="fields.value")
            out[PRODUCT_AREA_FIELD] = PRODUCT_AREAS[option]
        return out

    @route("PUT", r"/v2/conversations/(?P<cid>\d+)/fields")
    def put_fields(self, request: httpx.Request, cid: str) -> httpx.Response:
        """Replaces every custom field value (omitted fields are cleared)."""
        self._conversation(cid)
        body = self._body(request)
        if not isinstance(body, dict):
            raise FakeBadRequest("Malformed JSON request body", field="body")
        self.touch_conversation(cid, custom_fields=self._fields_from(body.get("fields")))
        self.writes += 1
        return httpx.Response(204)

    def _add_thread(self, cid: str, *, author: str | None, role: AuthorRole, public: bool, text: str) -> str:
        thread_id = self._next_thread_id()
        message = Message(
            id=thread_id,
            conversation_id=cid,
            author_id=author,
            author_role=role,
            public=public,
            body=text,
            created_at=self.clock.now(),
        )
        self.messages.setdefault(cid, []).append(message)
        self.writes += 1
        return thread_id

    def _thread_text(self, body: Any) -> str:
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
            raise FakeBadRequest("may not be empty", field="text")
        return str(body["text"])

    @route("POST", r"/v2/conversations/(?P<cid>\d+)/reply")
    def add_reply(self, request: httpx.Request, cid: str) -> httpx.Response:
        """A reply to the customer (201, `Resource-ID`): `customer` and `text` required; `status` optional."""
        self._conversation(cid)
        body = self._body(request)
        text = self._thread_text(body)
        self._customer_ref(body.get("customer"), create=False)
        user = body.get("user")
        if user is not None and self._active_agent(str(user)) is None:
            raise FakeBadRequest(f"User {user} not found", field="user")
        status = body.get("status")
        if status is not None and status not in ("active", "pending", "closed"):
            raise FakeBadRequest("Expected one of these: 'active', 'pending', 'closed'", field="status")
        owner = self._owner()
        author = str(user) if user is not None else (owner.id if owner else None)
        thread_id = self._add_thread(cid, author=author, role=AuthorRole.AGENT, public=True, text=text)
        self.touch_conversation(cid, **({"status": mapping.status_from_hs(status)} if status else {}))
        location = f"/v2/conversations/{cid}/threads/{thread_id}"
        return httpx.Response(201, headers={"Resource-ID": thread_id, "Location": location})

    @route("POST", r"/v2/conversations/(?P<cid>\d+)/customer")
    def add_customer_thread(self, request: httpx.Request, cid: str) -> httpx.Response:
        """A message from the customer (201): reopens the conversation."""
        self._conversation(cid)
        body = self._body(request)
        text = self._thread_text(body)
        customer = self._customer_ref(body.get("customer"), create=False)
        thread_id = self._add_thread(cid, author=customer, role=AuthorRole.CUSTOMER, public=True, text=text)
        self.touch_conversation(cid, status=mapping.status_from_hs("active"))
        location = f"/v2/conversations/{cid}/threads/{thread_id}"
        return httpx.Response(201, headers={"Resource-ID": thread_id, "Location": location})

    # -- tags, customers (create, overwrite), workflows, webhooks ---------------------------------------

    @route("GET", r"/v2/tags")
    def list_tags(self, request: httpx.Request) -> httpx.Response:
        counts: dict[str, int] = {}
        for conv in self.conversations.values():
            for tag in conv.tags:
                counts[tag] = counts.get(tag, 0) + 1
        rows = [
            {
                "id": _tag_id(name),
                "slug": _slug(name),
                "name": name,
                "color": "none",
                "createdAt": "2024-01-02T09:00:00Z",
                "ticketCount": count,
            }
            for name, count in sorted(counts.items(), key=lambda kv: kv[0].lower())
        ]
        return self._hal(request, "tags", rows)

    def _customer_fields(self, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The core fields and the extras of a customer create/overwrite body."""
        if not isinstance(body, dict):
            raise FakeBadRequest("Malformed JSON request body", field="body")
        for key in ("firstName", "lastName", "photoUrl", "jobTitle", "location", "background", "organization"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise FakeBadRequest("must be a string", field=key)
        background = body.get("background")
        if background is not None and len(background) > 200:
            raise FakeBadRequest("size must be between 0 and 200", field="background")
        name = " ".join(str(body.get(k) or "") for k in ("firstName", "lastName")).strip() or None
        core = {
            "name": name,
            "avatar_url": body.get("photoUrl"),
            "organization": body.get("organization"),
            "notes": background,
        }
        extra = {k: body.get(k) for k in ("jobTitle", "location", "age", "gender")}
        return core, extra

    @route("POST", r"/v2/customers")
    def create_customer(self, request: httpx.Request) -> httpx.Response:
        """201 with `Resource-ID`; a first name or an email is required."""
        body = self._body(request)
        core, extra = self._customer_fields(body)
        emails = body.get("emails", [])
        if not isinstance(emails, list) or not all(isinstance(e, dict) and "@" in str(e.get("value")) for e in emails):
            raise FakeBadRequest("must be a list of {type, value}", field="emails")
        if not core["name"] and not emails:
            raise FakeBadRequest("a customer needs a first name or an email", field="firstName")
        phones = body.get("phones", [])
        phone = phones[0].get("value") if isinstance(phones, list) and phones and isinstance(phones[0], dict) else None
        customer_id = self._new_customer(
            name=core.pop("name"), emails=[str(e["value"]) for e in emails], phone=phone, **core
        )
        self.customer_extra[customer_id] = extra
        self.writes += 1
        location = f"/v2/customers/{customer_id}"
        return httpx.Response(201, headers={"Resource-ID": customer_id, "Location": location})

    @route("PUT", r"/v2/customers/(?P<cid>\d+)")
    def overwrite_customer(self, request: httpx.Request, cid: str) -> httpx.Response:
        """Overwrites the profile fields: every one left out becomes null (emails, phones are sub-resources)."""
        customer = self.customers.get(cid)
        if customer is None:
            return self.error(404, "Resource not found")
        core, extra = self._customer_fields(self._body(request))
        self.customers[cid] = customer.model_copy(update={**core, "updated_at": self.clock.now()})
        self.customer_extra[cid] = extra
        self.writes += 1
        return httpx.Response(204)

    @route("GET", r"/v2/workflows")
    def list_workflows(self, request: httpx.Request) -> httpx.Response:
        mailbox, kind = request.url.params.get("mailboxId"), request.url.params.get("type")
        rows = [
            w
            for w in self.workflows.values()
            if (mailbox is None or str(w["mailboxId"]) == mailbox) and (kind is None or w["type"] == kind)
        ]
        return self._hal(request, "workflows", rows)

    @route("POST", r"/v2/workflows/(?P<wid>\d+)/run")
    def run_workflow(self, request: httpx.Request, wid: str) -> httpx.Response:
        """Runs a manual workflow on at most 50 conversations (204); this fake's manual ones close them."""
        workflow = self.workflows.get(wid)
        if workflow is None:
            return self.error(404, "Resource not found")
        if workflow["type"] != "manual" or workflow["status"] != "active":
            raise FakeBadRequest("only an active manual workflow can be run", field="id")
        body = self._body(request)
        ids = body.get("conversationIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 50 or not all(isinstance(i, int) for i in ids):
            raise FakeBadRequest("size must be between 1 and 50", field="conversationIds")
        for conversation_id in ids:
            self._conversation(str(conversation_id))
        for conversation_id in ids:
            self.touch_conversation(str(conversation_id), status=mapping.status_from_hs("closed"))
        self.writes += 1
        return httpx.Response(204)

    @route("PATCH", r"/v2/workflows/(?P<wid>\d+)")
    def patch_workflow(self, request: httpx.Request, wid: str) -> httpx.Response:
        """`replace /status` with `active` or `inactive` (204)."""
        workflow = self.workflows.get(wid)
        if workflow is None:
            return self.error(404, "Resource not found")
        body = self._body(request)
        if not isinstance(body, dict) or body.get("op") != "replace" or body.get("path") != "/status":
            raise FakeBadRequest("Expected replace /status", field="path")
        if body.get("value") not in ("active", "inactive"):
            raise FakeBadRequest("Expected one of these: 'active', 'inactive'", field="value")
        workflow["status"] = body["value"]
        self.writes += 1
        return httpx.Response(204)

    @route("GET", r"/v2/webhooks/(?P<hook_id>\d+)")
    def get_webhook(self, request: httpx.Request, hook_id: str) -> httpx.Response:
        hook = self.webhooks.get(hook_id)
        if hook is None:
            return self.error(404, "Resource not found")
        return self.json_response({k: v for k, v in hook.items() if k != "secret"})

    @route("DELETE", r"/v2/webhooks/(?P<hook_id>\d+)")
    def delete_webhook(self, request: httpx.Request, hook_id: str) -> httpx.Response:
        if self.webhooks.pop(hook_id, None) is None:
            return self.error(404, "Resource not found")
        self.writes += 1
        return httpx.Response(204)
