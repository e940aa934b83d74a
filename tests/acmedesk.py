"""AcmeDesk: the smallest complete helpdesk plugin, used to prove the conformance kit and in docs/plugins.md.

AcmeDesk is an imaginary vendor with a plain JSON API: cursor paging (`next_cursor`), bearer auth,
optimistic concurrency by `if_version` (409 when stale) and HMAC-SHA256 hex webhook signatures. It also shows the
two optional methods: saved replies (HTML `body_html`, converted with `humansupport.text.html_to_text`) and
webhook registration (list first so a rerun adds nothing; the caller's secret, or one generated and returned).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from humansupport import (
    Agent,
    AsyncHelpdesk,
    Capabilities,
    CheckReport,
    Conversation,
    ConversationStatus,
    Customer,
    Group,
    HelpdeskSettings,
    Message,
    ProfilePatch,
    SavedReply,
    WebhookEvent,
    WebhookEventType,
    WebhookSubscription,
    hookimpl,
)
from humansupport.clock import SYSTEM_CLOCK, Clock
from humansupport.enrichment.writeback import FieldSpec
from humansupport.http import (
    CursorPaginator,
    HttpClient,
    PageRequest,
    RateBudget,
    RateLimitHeaders,
    limiter_for,
    paginate,
)
from humansupport.testing import FakeBadRequest, FakeClock, FakeHelpdesk, SyntheticHistory, route
from humansupport.text import html_to_text, text_to_html

# -- the adapter ---------------------------------------------------------------------------------------


class AcmeSettings(HelpdeskSettings):
    vendor = "acmedesk"
    api_token: SecretStr
    base_url: str | None = "https://api.acmedesk.test"


class AcmeAdapter(AsyncHelpdesk):
    vendor = "acmedesk"
    settings_model = AcmeSettings
    capabilities = Capabilities(
        optimistic_concurrency=True, signed_webhooks=True, saved_replies=True, webhook_registration=True
    )
    #: AcmeDesk's event names per core event
    webhook_events: ClassVar[dict[WebhookEventType, str]] = {
        WebhookEventType.CONVERSATION_CREATED: "conversation.created",
        WebhookEventType.CONVERSATION_ASSIGNED: "conversation.assigned",
        WebhookEventType.CUSTOMER_REPLIED: "conversation.customer_replied",
    }

    def __init__(
        self,
        *,
        api_token: SecretStr,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
        account: str | None = None,
        rate_budget: RateBudget | None = None,
        **_: Any,
    ) -> None:
        url = base_url or "https://api.acmedesk.test"
        headers = RateLimitHeaders(limit="X-Rate-Limit", remaining="X-Rate-Limit-Remaining")
        self.http = HttpClient(
            vendor=self.vendor,
            base_url=url,
            headers={"Authorization": f"Bearer {api_token.get_secret_value()}"},
            transport=transport,
            clock=clock,
            # one budget per account, shared through the store's backend when a command injects it
            limiter=limiter_for(
                f"acmedesk:{account or url}", per_minute=6000, clock=clock, headers=headers, budget=rate_budget
            ),
            rate_headers=headers,
            error_hints={401: "check HUMANSUPPORT_ACMEDESK_API_TOKEN"},
        )

    def __repr__(self) -> str:
        return f"AcmeAdapter(base_url={self.http.base_url!r})"

    def _list(self, path: str, **params: Any) -> AsyncIterator[dict[str, Any]]:
        pager = CursorPaginator(items="data", next_cursor="next_cursor", cursor_param="cursor")
        return paginate(self.http, PageRequest(url=path, params={k: v for k, v in params.items() if v}), pager)

    async def iter_conversations(
        self, *, updated_since: datetime | None = None, status: Sequence[ConversationStatus] | None = None
    ) -> AsyncIterator[Conversation]:
        statuses = ",".join(s.value for s in status) if status else None
        since = updated_since.isoformat() if updated_since else None
        async for item in self._list("/api/conversations", status=statuses, updated_since=since):
            yield _conversation(item)

    async def get_conversation(self, conversation_id: str) -> Conversation:
        return _conversation((await self.http.get_json(f"/api/conversations/{conversation_id}"))["conversation"])

    async def iter_messages(self, conversation_id: str) -> AsyncIterator[Message]:
        async for item in self._list(f"/api/conversations/{conversation_id}/messages"):
            yield Message.model_validate({**item, "conversation_id": conversation_id, "raw": item})

    async def iter_agents(self) -> AsyncIterator[Agent]:
        async for item in self._list("/api/agents"):
            yield Agent.model_validate({**item, "raw": item})

    async def iter_groups(self) -> AsyncIterator[Group]:
        async for item in self._list("/api/groups"):
            yield Group.model_validate({**item, "raw": item})

    async def iter_customers(self, *, updated_since: datetime | None = None) -> AsyncIterator[Customer]:
        async for item in self._list("/api/customers"):
            yield _customer(item)

    async def get_customer(self, customer_id: str) -> Customer:
        return _customer((await self.http.get_json(f"/api/customers/{customer_id}"))["customer"])

    async def find_customer(self, *, email: str) -> Customer | None:
        async for item in self._list("/api/customers", email=email):
            return _customer(item)
        return None

    async def assign(
        self,
        conversation_id: str,
        agent_id: str | None,
        *,
        group_id: str | None = None,
        expected_updated_at: datetime | None = None,
        expected_version: str | None = None,
    ) -> Conversation:
        body: dict[str, Any] = {"assignee_id": agent_id}
        if group_id is not None:
            body["group_id"] = group_id
        if expected_version is not None:
            body["if_version"] = expected_version
        elif expected_updated_at is not None:
            body["if_unmodified_since"] = expected_updated_at.isoformat()
        data = await self.http.send_json("PUT", f"/api/conversations/{conversation_id}", json=body)
        return _conversation(data["conversation"])

    async def update_customer(self, customer_id: str, patch: ProfilePatch) -> Customer:
        body = {"custom_attributes": patch.custom_attributes, "add_tags": patch.tags}
        if patch.note is not None:  # "" clears the notes
            body["note"] = patch.note
        data = await self.http.send_json("PATCH", f"/api/customers/{customer_id}", json=body, idempotent=True)
        return _customer(data["customer"])

    async def ensure_profile_fields(self, specs: Sequence[FieldSpec]) -> list[str]:
        """GET /api/customer_fields, then POST one definition per missing field."""
        existing = {str(item["name"]) async for item in self._list("/api/customer_fields")}
        created = []
        for spec in specs:
            if spec.name not in existing:
                body = {"name": spec.name, "type": spec.kind, "max_length": spec.max_length}
                await self.http.send_json("POST", "/api/customer_fields", json=body)
                created.append(spec.name)
        return created

    async def add_internal_note(self, conversation_id: str, body: str) -> Message:
        data = await self.http.send_json("POST", f"/api/conversations/{conversation_id}/notes", json={"body": body})
        return Message.model_validate({**data["message"], "conversation_id": conversation_id})

    def conversation_url(self, conversation_id: str) -> str | None:
        return f"https://app.acmedesk.test/conversations/{conversation_id}" if conversation_id.isalnum() else None

    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        """Saved replies are HTML at AcmeDesk: convert them so line numbers mean something to a linter."""
        async for item in self._list("/api/saved_replies"):
            yield SavedReply(
                id=str(item["id"]),
                vendor=self.vendor,
                title=item.get("title"),
                body=html_to_text(item.get("body_html") or ""),
                updated_at=item.get("updated_at"),
                raw=item,
            )

    async def register_webhook(
        self, *, url: str, secret: str | None = None, events: Sequence[WebhookEventType] | None = None
    ) -> WebhookSubscription:
        """List first: a URL already subscribed is returned as it is (its secret is not shown again)."""
        async for item in self._list("/api/webhooks"):
            if item.get("url") == url:
                return WebhookSubscription(id=str(item["id"]), vendor=self.vendor, url=url, events=item["events"])
        chosen = secret or secrets.token_urlsafe(24)
        names = [self.webhook_events[e] for e in (events or self.webhook_events) if e in self.webhook_events]
        body = {"url": url, "events": names, "secret": chosen}
        created = (await self.http.send_json("POST", "/api/webhooks", json=body))["webhook"]
        return WebhookSubscription(
            id=str(created["id"]), vendor=self.vendor, url=url, events=created["events"], secret=SecretStr(chosen)
        )

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        given = {k.lower(): v for k, v in headers.items()}.get("x-acme-signature", "")
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(given, expected)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        data = json.loads(body)
        return [
            WebhookEvent(
                vendor=self.vendor,
                id=data.get("delivery_id"),
                type=data.get("event"),
                conversation_id=data.get("conversation_id"),
                raw_type=data.get("event"),
                raw=data,
            )
        ]

    async def check(self) -> CheckReport:
        await self.http.get_json("/api/agents")
        room = self.http.limiter.headroom()
        return CheckReport(
            vendor=self.vendor,
            ok=True,
            base_url=self.http.base_url,
            rate_limit=room.limit_per_minute,
            rate_remaining=room.remaining,
        )

    async def aclose(self) -> None:
        await self.http.aclose()


def _conversation(item: Mapping[str, Any]) -> Conversation:
    return Conversation.model_validate({**item, "version": str(item.get("version", "")) or None, "raw": item})


def _customer(item: Mapping[str, Any]) -> Customer:
    return Customer.model_validate({**item, "raw": item})


# -- the fake ------------------------------------------------------------------------------------------


class FakeAcme(FakeHelpdesk):
    """`customer_fields` None accepts any custom attribute; a dict of definitions (name -> {type, max_length})
    makes the fake behave like a real helpdesk: undefined attributes are dropped, wrong types get a 422."""

    vendor = "acmedesk"
    token = "acme-token"
    customer_fields: dict[str, dict[str, Any]] | None = None

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        history: SyntheticHistory | None = None,
        rate_limit_per_minute: int | None = None,
    ) -> None:
        self.saved_replies: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        super().__init__(clock=clock, history=history, rate_limit_per_minute=rate_limit_per_minute)

    def clear_saved_replies(self) -> None:
        self.saved_replies = {}

    def add_saved_reply(self, *, title: str, body: str) -> str:
        reply_id = f"sr{len(self.saved_replies) + 1}"
        self.saved_replies[reply_id] = {"id": reply_id, "title": title, "body_html": text_to_html(body)}
        return reply_id

    @classmethod
    def adapter_settings(cls) -> dict[str, Any]:
        return {"api_token": cls.token}

    def authenticate(self, request: httpx.Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def error_body(self, status: int, message: str, *, field: str | None = None) -> Any:
        return {"error": {"message": message, "field": field}}

    def _page(self, request: httpx.Request, records: list[dict[str, Any]]) -> httpx.Response:
        cursor = int(request.url.params.get("cursor") or 0)
        page = records[cursor : cursor + self.page_size]
        more = cursor + self.page_size < len(records)
        return self.json_response({"data": page, "next_cursor": str(cursor + self.page_size) if more else None})

    def _conv(self, conv: Conversation) -> dict[str, Any]:
        data = conv.model_dump(mode="json", exclude={"raw"})
        data["version"] = int(conv.version or 0)
        return data

    @route("GET", r"/api/conversations")
    def list_conversations(self, request: httpx.Request) -> httpx.Response:
        wanted = set(filter(None, request.url.params.get("status", "").split(",")))
        convs = [self._conv(c) for _, c in sorted(self.conversations.items()) if not wanted or c.status.value in wanted]
        return self._page(request, convs)

    @route("GET", r"/api/conversations/(?P<cid>[^/]+)")
    def get_conversation(self, request: httpx.Request, cid: str) -> httpx.Response:
        if cid not in self.conversations:
            return self.error(404, "conversation not found")
        return self.json_response({"conversation": self._conv(self.conversations[cid])})

    @route("PUT", r"/api/conversations/(?P<cid>[^/]+)")
    def update_conversation(self, request: httpx.Request, cid: str) -> httpx.Response:
        if cid not in self.conversations:
            return self.error(404, "conversation not found")
        body = json.loads(request.content)
        conv = self.conversations[cid]
        if "if_version" in body and str(body["if_version"]) != str(int(conv.version or 0)):
            return self.error(409, "conversation changed since you read it")
        since = body.get("if_unmodified_since")
        if since and conv.updated_at and conv.updated_at > datetime.fromisoformat(since):
            return self.error(409, "conversation changed since you read it")
        agent = body.get("assignee_id")
        if agent is not None and agent not in self.agents:
            raise FakeBadRequest("assignee is not an agent", status=422, field="assignee_id")
        changes = {"assignee_id": agent}
        if "group_id" in body:
            changes["group_id"] = body["group_id"]
        return self.json_response({"conversation": self._conv(self.touch_conversation(cid, **changes))})

    @route("POST", r"/api/conversations/(?P<cid>[^/]+)/notes")
    def add_note(self, request: httpx.Request, cid: str) -> httpx.Response:
        body = json.loads(request.content)
        msg = Message(
            id=f"n{len(self.requests)}",
            conversation_id=cid,
            body=body["body"],
            public=False,
            author_role="agent",
            created_at=self.clock.now(),
        )
        self.messages.setdefault(cid, []).append(msg)
        return self.json_response({"message": msg.model_dump(mode="json", exclude={"raw"})}, 201)

    @route("GET", r"/api/conversations/(?P<cid>[^/]+)/messages")
    def list_messages(self, request: httpx.Request, cid: str) -> httpx.Response:
        msgs = [m.model_dump(mode="json", exclude={"raw"}) for m in self.messages.get(cid, [])]
        return self._page(request, msgs)

    @route("GET", r"/api/agents")
    def list_agents(self, request: httpx.Request) -> httpx.Response:
        return self._page(request, [a.model_dump(mode="json", exclude={"raw"}) for a in self.agents.values()])

    @route("GET", r"/api/groups")
    def list_groups(self, request: httpx.Request) -> httpx.Response:
        return self._page(request, [g.model_dump(mode="json", exclude={"raw"}) for g in self.groups.values()])

    @route("GET", r"/api/customers")
    def list_customers(self, request: httpx.Request) -> httpx.Response:
        email = request.url.params.get("email")
        found = [c for c in self.customers.values() if email is None or c.email == email]
        return self._page(request, [c.model_dump(mode="json", exclude={"raw"}) for c in found])

    @route("GET", r"/api/customers/(?P<cid>[^/]+)")
    def get_customer(self, request: httpx.Request, cid: str) -> httpx.Response:
        if cid not in self.customers:
            return self.error(404, "customer not found")
        return self.json_response({"customer": self.customers[cid].model_dump(mode="json", exclude={"raw"})})

    @route("PATCH", r"/api/customers/(?P<cid>[^/]+)")
    def update_customer(self, request: httpx.Request, cid: str) -> httpx.Response:
        if cid not in self.customers:
            return self.error(404, "customer not found")
        body = json.loads(request.content)
        if not isinstance(body.get("custom_attributes", {}), dict):
            raise FakeBadRequest("custom_attributes must be an object", field="custom_attributes")
        cust = self.customers[cid]
        attributes = self._defined_attributes(body.get("custom_attributes", {}))
        updated = cust.model_copy(
            update={
                "custom_attributes": {**cust.custom_attributes, **attributes},
                "tags": sorted({*cust.tags, *body.get("add_tags", [])}),
                "notes": body.get("note", cust.notes),
            }
        )
        self.customers[cid] = updated
        return self.json_response({"customer": updated.model_dump(mode="json", exclude={"raw"})})

    def _defined_attributes(self, attributes: dict[str, Any]) -> dict[str, Any]:
        if self.customer_fields is None:
            return attributes
        kept = {}
        for name, value in attributes.items():
            spec = self.customer_fields.get(name)
            if spec is None:
                continue  # like most helpdesks: an attribute without a definition is silently dropped
            if value is not None:
                kind, limit = spec.get("type"), spec.get("max_length")
                if kind == "number" and (isinstance(value, bool) or not isinstance(value, int)):
                    raise FakeBadRequest(f"{name} must be an integer", status=422, field=name)
                if kind != "number" and not isinstance(value, str):
                    raise FakeBadRequest(f"{name} must be a string", status=422, field=name)
                if kind == "date" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    raise FakeBadRequest(f"{name} must be a date (YYYY-MM-DD)", status=422, field=name)
                if limit is not None and isinstance(value, str) and len(value) > limit:
                    raise FakeBadRequest(f"{name} is longer than {limit} characters", status=422, field=name)
            kept[name] = value
        return kept

    @route("GET", r"/api/customer_fields")
    def list_customer_fields(self, request: httpx.Request) -> httpx.Response:
        return self._page(request, [{"name": n, **d} for n, d in sorted((self.customer_fields or {}).items())])

    @route("POST", r"/api/customer_fields")
    def create_customer_field(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body.get("type") not in ("text", "number", "date", "url") or not body.get("name"):
            raise FakeBadRequest("a field needs a name and a type of text, number, date or url", field="type")
        fields = self.customer_fields = dict(self.customer_fields or {})
        if body["name"] in fields:
            raise FakeBadRequest("a field with this name exists", field="name")
        fields[body["name"]] = {"type": body["type"], "max_length": body.get("max_length")}
        return self.json_response({"field": {"name": body["name"], **fields[body["name"]]}}, 201)

    @route("GET", r"/api/saved_replies")
    def list_saved_replies(self, request: httpx.Request) -> httpx.Response:
        return self._page(request, list(self.saved_replies.values()))

    @route("GET", r"/api/webhooks")
    def list_webhooks(self, request: httpx.Request) -> httpx.Response:
        return self._page(request, [{k: v for k, v in w.items() if k != "secret"} for w in self.webhooks.values()])

    @route("POST", r"/api/webhooks")
    def create_webhook(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if not str(body.get("url", "")).startswith("https://") or not body.get("events") or not body.get("secret"):
            raise FakeBadRequest("a webhook needs an https url, events and a secret", field="url")
        hook = {"id": f"wh{len(self.webhooks) + 1}", "url": body["url"], "events": body["events"]}
        self.webhooks[hook["id"]] = {**hook, "secret": body["secret"]}
        return self.json_response({"webhook": hook}, 201)

    def signed_webhook(
        self, *, secret: str, conversation_id: str, event: str = "conversation.created"
    ) -> tuple[dict[str, str], bytes]:
        body = json.dumps({"delivery_id": "d-1", "event": event, "conversation_id": conversation_id}).encode()
        return {"X-Acme-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}, body


# -- the plugin hooks ----------------------------------------------------------------------------------


class AcmePlugin:
    @staticmethod
    @hookimpl
    def register_helpdesks() -> list[type[AsyncHelpdesk]]:
        return [AcmeAdapter]

    @staticmethod
    @hookimpl
    def register_fakes() -> list[type[FakeHelpdesk]]:
        return [FakeAcme]
