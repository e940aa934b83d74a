"""The AcmeDesk adapter: every `AsyncHelpdesk` method over the JSON API, built on `humansupport.vendor`.

The API is the imaginary one of humansupport's example plugin, a plain JSON API: cursor paging (`next_cursor`),
bearer auth, optimistic concurrency by `if_version` (409 when stale) and HMAC-SHA256 hex webhook signatures.
The toolkit's `RestAdapter` builds the client from the class attributes below; this module holds only the HTTP
calls and the mapping.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from pydantic import SecretStr

from humansupport import (
    Agent,
    Capabilities,
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
)
from humansupport.enrichment.writeback import FieldSpec
from humansupport.http import RateLimitHeaders
from humansupport.text import html_to_text
from humansupport.vendor import (
    BearerAuth,
    RestAdapter,
    already_as_asked,
    as_dict,
    as_str,
    as_strings,
    event_names,
    find_or_create,
    header,
    new_secret,
    verify,
)

__all__ = ["SIGNATURE_HEADER", "WEBHOOK_EVENTS", "AcmeAdapter", "AcmeSettings"]

SIGNATURE_HEADER = "X-Acme-Signature"
#: AcmeDesk's event name per core event
WEBHOOK_EVENTS: Mapping[WebhookEventType, str] = {
    WebhookEventType.CONVERSATION_CREATED: "conversation.created",
    WebhookEventType.CONVERSATION_ASSIGNED: "conversation.assigned",
    WebhookEventType.CUSTOMER_REPLIED: "conversation.customer_replied",
}


class AcmeSettings(HelpdeskSettings):
    """`HUMANSUPPORT_ACMEDESK_API_TOKEN` (secret: environment only); the one place settings are declared."""

    vendor: ClassVar[str] = "acmedesk"
    api_token: SecretStr


class AcmeAdapter(RestAdapter[AcmeSettings]):
    """AcmeDesk as a humansupport helpdesk."""

    vendor: ClassVar[str] = "acmedesk"
    capabilities: ClassVar[Capabilities] = Capabilities(
        optimistic_concurrency=True, signed_webhooks=True, saved_replies=True, webhook_registration=True
    )
    base_url_template = "https://api.acmedesk.test"
    auth = BearerAuth("api_token")
    rate_limit_per_minute = 6000.0
    rate_headers = RateLimitHeaders(limit="X-Rate-Limit", remaining="X-Rate-Limit-Remaining")
    check_path = "/api/agents"

    # -- reads ---------------------------------------------------------------------------------------

    async def iter_conversations(
        self, *, updated_since: datetime | None = None, status: Sequence[ConversationStatus] | None = None
    ) -> AsyncIterator[Conversation]:
        statuses = ",".join(s.value for s in status) if status else None
        since = updated_since.isoformat() if updated_since else None
        async for item in self.pages("/api/conversations", status=statuses, updated_since=since):
            yield _conversation(item)

    async def get_conversation(self, conversation_id: str) -> Conversation:
        return _conversation((await self.http.get_json(f"/api/conversations/{conversation_id}"))["conversation"])

    async def iter_messages(self, conversation_id: str) -> AsyncIterator[Message]:
        async for item in self.pages(f"/api/conversations/{conversation_id}/messages"):
            yield Message.model_validate({**item, "conversation_id": conversation_id, "raw": item})

    async def iter_agents(self) -> AsyncIterator[Agent]:
        async for item in self.pages("/api/agents"):
            yield Agent.model_validate({**item, "raw": item})

    async def iter_groups(self) -> AsyncIterator[Group]:
        async for item in self.pages("/api/groups"):
            yield Group.model_validate({**item, "raw": item})

    async def iter_customers(self, *, updated_since: datetime | None = None) -> AsyncIterator[Customer]:
        async for item in self.pages("/api/customers"):
            yield _customer(item)

    async def get_customer(self, customer_id: str) -> Customer:
        return _customer((await self.http.get_json(f"/api/customers/{customer_id}"))["customer"])

    async def find_customer(self, *, email: str) -> Customer | None:
        async for item in self.pages("/api/customers", email=email):
            return _customer(item)
        return None

    # -- writes --------------------------------------------------------------------------------------

    async def assign(
        self,
        conversation_id: str,
        agent_id: str | None,
        *,
        group_id: str | None = None,
        expected_updated_at: datetime | None = None,
        expected_version: str | None = None,
        expected_assignee_id: str | None = None,
    ) -> Conversation:
        """Re-read guard, then a PUT carrying the version just read: AcmeDesk refuses it (409) if anyone
        wrote in between, so no race window is left."""
        path = f"/api/conversations/{conversation_id}"
        current = await self.reread_guard(
            conversation_id,
            expected_updated_at=expected_updated_at,
            expected_version=expected_version,
            expected_assignee_id=expected_assignee_id,
            path=path,
        )
        if current is not None and already_as_asked(current, agent_id, group_id):
            return current
        body: dict[str, Any] = {"assignee_id": agent_id}
        if group_id is not None:
            body["group_id"] = group_id
        if current is not None and current.version is not None:
            body["if_version"] = current.version
        return _conversation((await self.http.send_json("PUT", path, json=body))["conversation"])

    async def update_customer(self, customer_id: str, patch: ProfilePatch) -> Customer:
        body: dict[str, Any] = {"custom_attributes": patch.custom_attributes, "add_tags": patch.tags}
        if patch.note is not None:  # "" clears the notes
            body["note"] = patch.note
        data = await self.http.send_json("PATCH", f"/api/customers/{customer_id}", json=body, idempotent=True)
        return _customer(data["customer"])

    async def ensure_profile_fields(self, specs: Sequence[FieldSpec]) -> list[str]:
        """GET /api/customer_fields, then POST one definition per missing field."""
        existing = {as_str(item.get("name")) async for item in self.pages("/api/customer_fields")}
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
        if not conversation_id.isalnum():
            return None
        return f"https://app.acmedesk.test/conversations/{conversation_id}"

    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        """Saved replies are HTML at AcmeDesk: converted, so line numbers mean something to a linter."""
        async for item in self.pages("/api/saved_replies"):
            yield SavedReply(
                id=str(item["id"]),
                vendor=self.vendor,
                title=as_str(item.get("title")),
                body=html_to_text(as_str(item.get("body_html")) or ""),
                updated_at=item.get("updated_at"),
                raw=item,
            )

    # -- webhooks ------------------------------------------------------------------------------------

    async def register_webhook(
        self, *, url: str, secret: str | None = None, events: Sequence[WebhookEventType] | None = None
    ) -> WebhookSubscription:
        """List first: a URL already subscribed is returned as it is (its secret is not shown again)."""
        chosen = secret or new_secret()
        names = event_names(events, WEBHOOK_EVENTS, vendor=self.vendor)

        async def create() -> Mapping[str, Any]:
            body = {"url": url, "events": names, "secret": chosen}
            return as_dict((await self.http.send_json("POST", "/api/webhooks", json=body))["webhook"])

        hook, created = await find_or_create(
            self.pages("/api/webhooks"), matches=lambda item: item.get("url") == url, create=create
        )
        return WebhookSubscription(
            id=str(hook["id"]),
            vendor=self.vendor,
            url=url,
            events=as_strings(hook.get("events")),
            secret=SecretStr(chosen) if created else None,
        )

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        return verify(header(headers, SIGNATURE_HEADER), secret, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        data = as_dict(json.loads(body))
        return [
            WebhookEvent(
                vendor=self.vendor,
                id=as_str(data.get("delivery_id")),
                type=data.get("event"),
                conversation_id=as_str(data.get("conversation_id")),
                raw_type=as_str(data.get("event")),
                raw=data,
            )
        ]


def _conversation(item: Mapping[str, Any]) -> Conversation:
    return Conversation.model_validate({**item, "version": as_str(item.get("version")), "raw": item})


def _customer(item: Mapping[str, Any]) -> Customer:
    return Customer.model_validate({**item, "raw": item})
