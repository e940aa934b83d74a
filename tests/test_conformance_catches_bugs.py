"""The kit must fail broken adapters: each check is run against an adapter with one deliberate bug."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from humansupport_acmedesk import AcmeAdapter, FakeAcme
from pydantic import SecretStr

from humansupport import (
    Agent,
    Capabilities,
    CheckReport,
    ConflictError,
    Conversation,
    ConversationStatus,
    Customer,
    HumansupportError,
    Message,
    ProfilePatch,
    SavedReply,
    UnsupportedOperationError,
    WebhookEventType,
    WebhookSubscription,
)
from humansupport.enrichment.writeback import FieldSpec
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


class ReturnsTheOldProfile(AcmeAdapter):
    """Writes, but answers with the customer as it was: the store keeps a stale copy, so enrich writes again."""

    async def update_customer(self, customer_id: str, patch: ProfilePatch) -> Customer:
        before = await self.get_customer(customer_id)
        await super().update_customer(customer_id, patch)
        return before


class CreatesFieldsEveryTime(AcmeAdapter):
    async def ensure_profile_fields(self, specs: Sequence[FieldSpec]) -> list[str]:
        await super().ensure_profile_fields(specs)
        return [spec.name for spec in specs]


class KeepsTheFirstLineOnly(AcmeAdapter):
    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        async for reply in super().iter_saved_replies():
            yield reply.model_copy(update={"body": reply.body.splitlines()[0]})


class LosesTheCustomer(AcmeAdapter):
    async def iter_conversations(
        self, *, updated_since: datetime | None = None, status: Sequence[ConversationStatus] | None = None
    ) -> AsyncIterator[Conversation]:
        async for conv in super().iter_conversations(updated_since=updated_since, status=status):
            yield conv.model_copy(update={"customer_id": None})


class DropsCustomFields(AcmeAdapter):
    async def iter_conversations(
        self, *, updated_since: datetime | None = None, status: Sequence[ConversationStatus] | None = None
    ) -> AsyncIterator[Conversation]:
        async for conv in super().iter_conversations(updated_since=updated_since, status=status):
            yield conv.model_copy(update={"custom_fields": {}})


class ChecksNothing(AcmeAdapter):
    async def check(self) -> CheckReport:
        return CheckReport(vendor=self.vendor, ok=False, details={"error": "never asked the helpdesk"})


class IgnoresExpectedAssignee(AcmeAdapter):
    async def assign(self, conversation_id: str, agent_id: str | None, **kw: Any) -> Conversation:
        return await super().assign(conversation_id, agent_id, **{**kw, "expected_assignee_id": None})


class ComparesStampsExactly(AcmeAdapter):
    """Its own guard: any difference from the expected stamp is a change, sub-second digits included."""

    async def assign(self, conversation_id: str, agent_id: str | None, **kw: Any) -> Conversation:
        expected = kw.get("expected_updated_at")
        current = await self.get_conversation(conversation_id)
        if expected is not None and current.updated_at != expected:
            raise ConflictError(
                "changed", vendor=self.vendor, method="PUT", path=f"/api/conversations/{conversation_id}"
            )
        return await super().assign(conversation_id, agent_id, group_id=kw.get("group_id"))


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
        (ReturnsTheOldProfile, "test_enrich_writes_once_then_nothing"),
        (CreatesFieldsEveryTime, "test_field_setup_creates_once_or_says_how"),
        (KeepsTheFirstLineOnly, "test_reply_check_on_saved_replies"),
        (LosesTheCustomer, "test_digest_and_avoidable_on_a_synced_fake"),
        (DropsCustomFields, "test_custom_field_themes"),
        (ChecksNothing, "test_cli_commands_on_the_fake"),
        (IgnoresExpectedAssignee, "test_assign_honours_expected_assignee"),
        (IgnoresExpectedAssignee, "test_assign_many_honours_expected_assignee"),
        (ComparesStampsExactly, "test_stale_guard_coarser_precision"),
    ],
)
def test_the_kit_fails_a_broken_adapter(adapter_cls: type[AcmeAdapter], check: str, tmp_path: Path) -> None:
    kit = type("BrokenKit", (_Kit,), {"adapter_cls": adapter_cls})()
    failures = (AssertionError, pytest.fail.Exception, HumansupportError)  # an error naming the fault fails too
    method = getattr(kit, check)
    args = (tmp_path,) if check == "test_cli_commands_on_the_fake" else ()
    with pytest.MonkeyPatch.context() as monkeypatch:
        with pytest.raises(failures):
            method(monkeypatch, *args) if args else method()


def test_the_kit_passes_the_correct_adapter() -> None:
    kit = _Kit()
    for name in (
        "test_stale_assign_conflict",
        "test_paging_many_pages",
        "test_401_is_auth_error",
        "test_saved_replies_plain_text",
        "test_webhook_registration_idempotent",
        "test_enrich_writes_once_then_nothing",
        "test_field_setup_creates_once_or_says_how",
        "test_reply_check_on_saved_replies",
        "test_digest_and_avoidable_on_a_synced_fake",
        "test_custom_field_themes",
        "test_assign_honours_expected_assignee",
        "test_assign_many_honours_expected_assignee",
        "test_stale_guard_coarser_precision",
    ):
        getattr(kit, name)()


def test_the_kit_passes_an_adapter_whose_vendor_cannot_register() -> None:
    kit = type("NoApiKit", (_Kit,), {"adapter_cls": _NoRegistrationApi})()
    kit.test_webhook_registration_unsupported_gives_steps()
    with pytest.raises(pytest.skip.Exception, match="cannot register webhooks"):
        kit.test_webhook_registration_idempotent()
