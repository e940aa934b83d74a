"""The kit must fail broken adapters: each check is run against an adapter with one deliberate bug."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from humansupport import Agent, Conversation, ConversationStatus, Customer, ProfilePatch
from humansupport.testing import AdapterConformance, FakeClock, KitConfig

from .acmedesk import AcmeAdapter, FakeAcme


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
    ],
)
def test_the_kit_fails_a_broken_adapter(adapter_cls: type[AcmeAdapter], check: str) -> None:
    kit = type("BrokenKit", (_Kit,), {"adapter_cls": adapter_cls})()
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        getattr(kit, check)()


def test_the_kit_passes_the_correct_adapter() -> None:
    kit = _Kit()
    for name in ("test_stale_assign_conflict", "test_paging_many_pages", "test_401_is_auth_error"):
        getattr(kit, name)()
