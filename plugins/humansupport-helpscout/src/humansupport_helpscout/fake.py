"""A stateful fake of the Help Scout Mailbox API 2.0, for tests, the demo, benchmarks and `fake serve`.

It keeps the shared core-model state (seeded from the synthetic history) and renders it the way the vendor
does: HAL pages of 25 (`_embedded.<kind>`, `page`, `_links`), OAuth2 client-credentials tokens that expire,
JSON-Patch writes answering 204, notes answering 201 with `Resource-ID`, errors as `{logRef, message,
_embedded.errors[{path, message}]}`, 301 for a merged conversation on GET and 404 on write, per-minute rate
limits where writes count double with `X-RateLimit-*-Minute` headers and `X-RateLimit-Retry-After` on 429.
Request bodies are validated and rejected with 400 as Help Scout does. Sources: ../shared/vendors/helpscout.md.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
import uuid
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

from . import mapping
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
        #: wall time source while served over HTTP (see `asgi_app`); tests replace it
        self.wall_time: Callable[[], float] = time.monotonic
        super().__init__(clock=clock, history=history, rate_limit_per_minute=rate_limit_per_minute)

    @classmethod
    def adapter_settings(cls) -> dict[str, Any]:
        return {"app_id": cls.app_id, "app_secret": cls.app_secret}

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
        return data

    def render_customer(self, customer: Customer) -> dict[str, Any]:
        return mapping.customer_to_hs(customer, definitions=self.property_definitions)

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
        chosen = []
        for conv in self.conversations.values():
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
        query = request.url.params.get("query")
        email = None
        if query is not None:
            text = query.strip()
            if not (text.startswith("(email:") and text.endswith(")")):
                raise FakeBadRequest('Unsupported query in this fake; use (email:"...")', field="query")
            email = text[len("(email:") : -1].strip().strip('"').lower()
        self._sort(request)
        found = [
            c
            for c in sorted(self.customers.values(), key=lambda c: (c.updated_at or c.created_at or _EPOCH, int(c.id)))
            if (since is None or (c.updated_at or c.created_at or _EPOCH) >= since)
            and (email is None or email in {e.lower() for e in [*(c.emails or []), c.email or ""] if e})
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
