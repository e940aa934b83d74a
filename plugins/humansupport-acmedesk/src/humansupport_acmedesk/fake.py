"""FakeAcme: the AcmeDesk API in memory (an httpx handler) for tests, the demo, `fake serve`.

`customer_fields` None accepts any custom attribute; a dict of definitions (name -> {type, max_length}) makes the
fake behave like a real helpdesk: undefined attributes are dropped, wrong types get a 422.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import httpx

from humansupport import Conversation, Message
from humansupport.testing import FakeBadRequest, FakeClock, FakeHelpdesk, SyntheticHistory, route
from humansupport.text import text_to_html
from humansupport.vendor import sign

from .adapter import SIGNATURE_HEADER

__all__ = ["FakeAcme"]


class FakeAcme(FakeHelpdesk):
    """AcmeDesk's API: conversations, messages, agents, groups, customers, fields, replies, webhooks."""

    vendor = "acmedesk"
    token = "acme-token"  # noqa: S105 - the fake's own token, not a secret
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
        return bool(request.headers.get("authorization") == f"Bearer {self.token}")

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
        return {SIGNATURE_HEADER: sign(secret, body)}, body
