"""The kit must fail broken adapters: each check is run against an adapter with one deliberate bug."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest
from humansupport_acmedesk import AcmeAdapter, FakeAcme
from pydantic import SecretStr

from humansupport import (
    Agent,
    Capabilities,
    Conversation,
    ConversationStatus,
    Customer,
    Message,
    ProfilePatch,
    SavedReply,
    UnsupportedOperationError,
    WebhookEventType,
    WebhookSubscription,
)
from humansupport.helpdesk import AsyncHelpdesk as AsyncHelpdeskBase
from humansupport.testing import AdapterConformance, FakeClock, KitConfig
from humansupport.text import html_to_text


class _Kit(AdapterConformance):
    adapter_cls: type[AcmeAdapter] = AcmeAdapter
    config = KitConfig(pages=6, page_size=10, secrets=("acme-token",))

    def make_fake(self, clock: FakeClock) -> FakeAcme:
        return FakeAcme(clock=clock)

    def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> AcmeAdapter:
        return self.adapter_cls(api_token=SecretStr(FakeAcme.token), transport=transport, clock=clock)


class IgnoresStaleness(AcmeAdapter):
    async def assign(self, conversation_id: str, agent_id: str | None, **kw: Any) -> Conversation:
        return await super().assign(conversation_id, agent_id, group_id=kw.get("group_id"))


class StopsAfterFirstPage(AcmeAdapter):
    async def iter_conversations(
        self, *, updated_since: datetime | None = None, status: Sequence[ConversationStatus] | None = None
    ) -> AsyncIterator[Conversation]:
        data = await self.http.get_json("/api/conversations")
        for item in data["data"]:
            yield Conversation.model_validate(item)


class DropsRaw(AcmeAdapter):
    async def get_conversation(self, conversation_id: str) -> Conversation:
        conv = await super().get_conversation(conversation_id)
        return conv.model_copy(update={"raw": {}})


class ForgetsTags(AcmeAdapter):
    async def update_customer(self, customer_id: str, patch: ProfilePatch) -> Customer:
        return await super().update_customer(customer_id, patch.model_copy(update={"tags": []}))


class LeaksToken(AcmeAdapter):
    def __repr__(self) -> str:
        return f"LeaksToken(token={FakeAcme.token})"


class IgnoresStatusFilter(AcmeAdapter):
    def iter_conversations(
        self, *, updated_since: datetime | None = None, status: Sequence[ConversationStatus] | None = None
    ) -> AsyncIterator[Conversation]:
        return super().iter_conversations(updated_since=updated_since)


class ListsNoAgents(AcmeAdapter):
    async def iter_agents(self) -> AsyncIterator[Agent]:
        async for agent in super().iter_agents():
            if False:
                yield agent


class KeepsHtml(AcmeAdapter):
    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        async for item in self.pages("/api/saved_replies"):
            yield SavedReply(id=item["id"], vendor=self.vendor, title=item["title"], body=item["body_html"])


class FlattensLines(AcmeAdapter):
    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        async for reply in super().iter_saved_replies():
            yield reply.model_copy(update={"body": " ".join(reply.body.split())})


class ReadsOnePageOfReplies(AcmeAdapter):
    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        data = await self.http.get_json("/api/saved_replies")
        for item in data["data"]:
            yield SavedReply(
                id=item["id"], vendor=self.vendor, title=item["title"], body=html_to_text(item["body_html"])
            )


class RegistersTwice(AcmeAdapter):
    async def register_webhook(
        self, *, url: str, secret: str | None = None, events: Sequence[WebhookEventType] | None = None
    ) -> WebhookSubscription:
        body = {"url": url, "events": ["conversation.created"], "secret": secret or "s"}
        created = (await self.http.send_json("POST", "/api/webhooks", json=body))["webhook"]
        return WebhookSubscription(id=created["id"], vendor=self.vendor, url=url, events=created["events"], secret="s")


class ForgetsTheSecret(AcmeAdapter):
    async def register_webhook(
        self, *, url: str, secret: str | None = None, events: Sequence[WebhookEventType] | None = None
    ) -> WebhookSubscription:
        sub = await super().register_webhook(url=url, secret=secret, events=events)
        return sub.model_copy(update={"secret": None})


class _NoRegistrationApi(AcmeAdapter):
    """A vendor without a subscription API: the base class's refusal, which names the URL."""

    capabilities = Capabilities(optimistic_concurrency=True, signed_webhooks=True, saved_replies=True)

    async def register_webhook(
        self, *, url: str, secret: str | None = None, events: Sequence[WebhookEventType] | None = None
    ) -> WebhookSubscription:
        return await AsyncHelpdeskBase.register_webhook(self, url=url, secret=secret, events=events)


class RefusesVaguely(_NoRegistrationApi):
    async def register_webhook(
        self, *, url: str, secret: str | None = None, events: Sequence[WebhookEventType] | None = None
    ) -> WebhookSubscription:
        raise UnsupportedOperationError("not supported", vendor=self.vendor, operation="register_webhook")


class ProbesBeforeRefusing(_NoRegistrationApi):
    async def register_webhook(
        self, *, url: str, secret: str | None = None, events: Sequence[WebhookEventType] | None = None
    ) -> WebhookSubscription:
        await self.http.get_json("/api/webhooks")
        return await AsyncHelpdeskBase.register_webhook(self, url=url, secret=secret, events=events)


class EchoesTheSecret(_NoRegistrationApi):
    async def register_webhook(
        self, *, url: str, secret: str | None = None, events: Sequence[WebhookEventType] | None = None
    ) -> WebhookSubscription:
        raise UnsupportedOperationError(
            f"send {url} with header X-Secret: {secret}", vendor=self.vendor, operation="register_webhook"
        )


class HidesItsBulkListing(AcmeAdapter):
    """Has a listing with messages (as Help Scout had) but does not declare it: sync would never call it."""

    async def iter_conversations_with_messages(
        self, *, updated_since: datetime | None = None, status: Sequence[ConversationStatus] | None = None
    ) -> AsyncIterator[tuple[Conversation, list[Message]]]:
        async for conv in self.iter_conversations(updated_since=updated_since, status=status):
            yield conv, [m async for m in self.iter_messages(conv.id)]


class DeclaresACostlyBulkListing(HidesItsBulkListing):
    """Declares the capability, but its "bulk" form still reads each conversation's messages on its own."""

    capabilities = AcmeAdapter.capabilities.model_copy(update={"embedded_messages": True})


@pytest.mark.parametrize(
    ("adapter_cls", "check"),
    [
        (IgnoresStaleness, "test_stale_assign_conflict"),
        (IgnoresStaleness, "test_assign_many_partial"),
        (StopsAfterFirstPage, "test_paging_many_pages"),
        (StopsAfterFirstPage, "test_500_mid_listing"),
        (DropsRaw, "test_unknown_fields_tolerated"),
        (ForgetsTags, "test_customer_update_round_trip"),
        (LeaksToken, "test_401_is_auth_error"),
        (IgnoresStatusFilter, "test_status_filter"),
        (ListsNoAgents, "test_agents_and_groups"),
        (KeepsHtml, "test_saved_replies_plain_text"),
        (FlattensLines, "test_saved_replies_plain_text"),
        (ReadsOnePageOfReplies, "test_saved_replies_plain_text"),
        (RegistersTwice, "test_webhook_registration_idempotent"),
        (ForgetsTheSecret, "test_webhook_registration_idempotent"),
        (RefusesVaguely, "test_webhook_registration_unsupported_gives_steps"),
        (ProbesBeforeRefusing, "test_webhook_registration_unsupported_gives_steps"),
        (EchoesTheSecret, "test_webhook_registration_unsupported_gives_steps"),
        (HidesItsBulkListing, "test_bulk_message_forms"),
        (DeclaresACostlyBulkListing, "test_bulk_message_forms"),
    ],
)
def test_the_kit_fails_a_broken_adapter(adapter_cls: type[AcmeAdapter], check: str) -> None:
    kit = type("BrokenKit", (_Kit,), {"adapter_cls": adapter_cls})()
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        getattr(kit, check)()


def test_the_kit_passes_the_correct_adapter() -> None:
    kit = _Kit()
    for name in (
        "test_stale_assign_conflict",
        "test_paging_many_pages",
        "test_401_is_auth_error",
        "test_saved_replies_plain_text",
        "test_webhook_registration_idempotent",
    ):
        getattr(kit, name)()


def test_the_kit_passes_an_adapter_whose_vendor_cannot_register() -> None:
    kit = type("NoApiKit", (_Kit,), {"adapter_cls": _NoRegistrationApi})()
    kit.test_webhook_registration_unsupported_gives_steps()
    with pytest.raises(pytest.skip.Exception, match="cannot register webhooks"):
        kit.test_webhook_registration_idempotent()
