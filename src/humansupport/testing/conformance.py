"""The adapter conformance kit: one base class a plugin subclasses with its fake and an adapter factory.

    class TestAcmeConformance(AdapterConformance):
        config = KitConfig(pages=7, page_size=25, secrets=("sekret-token",))

        def make_fake(self, clock: FakeClock) -> FakeAcme:
            return FakeAcme(clock=clock)

        def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> AcmeAdapter:
            return AcmeAdapter(settings=AcmeSettings(api_token=SecretStr("sekret-token")),
                               transport=transport, clock=clock)

Each check is one named test method; a check is skipped (with the reason) only where the adapter's
`capabilities` say the vendor lacks the feature. Tests are plain sync methods running their own event
loop, so a plugin needs no async test plugin to use the kit.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any, ClassVar, TypeVar

import httpx
import pytest

from ..errors import AuthenticationError, ConflictError, NotFoundError, UnsupportedOperationError
from ..helpdesk import AsyncHelpdesk
from ..models import (
    UNASSIGNED,
    Agent,
    AssignmentOutcome,
    AuthorRole,
    Conversation,
    ConversationStatus,
    ProfilePatch,
)
from ..models import Assignment as AssignmentModel
from ..text import looks_like_html
from .clock import FakeClock
from .fake import NOISE_KEY, FakeHelpdesk
from .feature_checks import FeatureChecks
from .saved_replies import SAMPLE_SAVED_REPLIES
from .synthetic import HistoryConfig, SyntheticHistory, generate_history

__all__ = ["AdapterConformance", "KitConfig"]

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class KitConfig:
    """The documented knobs of the conformance kit."""

    #: the listing check needs at least this many pages
    pages: int = 5
    #: page size the fake is set to for the listing check
    page_size: int = 10
    #: size of the synthetic history the fake is seeded with
    history: HistoryConfig = field(default_factory=lambda: HistoryConfig(customers=60, agents=8, groups=2))
    #: secret values `make_adapter` uses; none may appear in any error text or repr
    secrets: tuple[str, ...] = ()
    #: custom attributes written by the customer round-trip check (vendors need them defined)
    profile_attributes: dict[str, Any] = field(
        default_factory=lambda: {
            "humansupport_preferred_agent": "Ada Lovelace",
            "humansupport_conversations": 7,
        }
    )
    #: tags written by the customer round-trip check
    profile_tags: tuple[str, ...] = ("humansupport-vip",)
    #: the webhook secret for the signature check
    webhook_secret: str = "whsec-conformance"  # noqa: S105 - a test value
    #: the receiver URL the webhook-registration checks subscribe
    webhook_url: str = "https://hooks.example.test/humansupport/conformance"


@cache
def _history(config: HistoryConfig) -> SyntheticHistory:
    return generate_history(config)


class AdapterConformance(FeatureChecks):
    """Subclass as `Test<Vendor>Conformance`, set `config`, implement `make_fake` and `make_adapter`."""

    config: ClassVar[KitConfig] = KitConfig()

    # -- what a plugin provides ---------------------------------------------------------------------

    def make_fake(self, clock: FakeClock) -> FakeHelpdesk:
        raise NotImplementedError("return your vendor's FakeHelpdesk subclass, built with this clock")

    def make_adapter(self, transport: httpx.AsyncBaseTransport, clock: FakeClock) -> AsyncHelpdesk:
        raise NotImplementedError("return your adapter, talking through this transport, with this clock")

    # -- plumbing -----------------------------------------------------------------------------------

    def history(self) -> SyntheticHistory:
        return _history(self.config.history)

    def _setup(self) -> tuple[FakeHelpdesk, AsyncHelpdesk, FakeClock]:
        clock = FakeClock(start=self.history().config.end + timedelta(hours=1))
        fake = self.make_fake(clock)
        fake.load(self.history())
        adapter = self.make_adapter(fake.transport(), clock)
        return fake, adapter, clock

    def run(self, scenario: Callable[[FakeHelpdesk, AsyncHelpdesk, FakeClock], Coroutine[Any, Any, T]]) -> T:
        """Runs an async scenario against a fresh fake and adapter, closing the adapter after."""
        fake, adapter, clock = self._setup()

        async def go() -> T:
            async with adapter:
                return await scenario(fake, adapter, clock)

        return asyncio.run(go())

    @staticmethod
    async def collect(items: AsyncIterator[T]) -> list[T]:
        return [item async for item in items]

    @staticmethod
    def _open_conversation_and_other_agent(fake: FakeHelpdesk) -> tuple[Conversation, Agent]:
        active = [a for a in fake.agents.values() if a.active]
        for conv in sorted(fake.conversations.values(), key=lambda c: c.id):
            if not conv.status.is_open:
                continue
            for agent in active:
                same_group = conv.group_id is None or conv.group_id in agent.group_ids or not agent.group_ids
                if agent.id != conv.assignee_id and same_group:
                    return conv, agent
        raise AssertionError("the fake holds no open conversation with another eligible agent")

    def _assert_no_secret(self, *texts: str) -> None:
        for secret in self.config.secrets:
            for text in texts:
                assert secret not in text, "a secret leaked into an error message, repr or traceback"

    # -- the checks ---------------------------------------------------------------------------------

    def test_paging_many_pages(self) -> None:
        """Listing crosses many pages with no duplicates and no gaps."""
        cfg = self.config

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            fake.page_size = cfg.page_size
            expected = set(fake.conversations)
            assert len(expected) > (cfg.pages - 1) * cfg.page_size, "seed a larger history for this many pages"
            before = len(fake.requests)
            got = [c.id for c in await self.collect(adapter.iter_conversations())]
            assert len(got) == len(set(got)), "a conversation was listed twice"
            assert set(got) == expected
            assert len(fake.requests) - before >= cfg.pages, "the listing did not page"

        self.run(scenario)

    def test_messages_have_roles(self) -> None:
        """Messages come in time order with customer and agent roles and public/private flags."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            conv_id = next(cid for cid, msgs in sorted(fake.messages.items()) if len(msgs) >= 3)
            messages = await self.collect(adapter.iter_messages(conv_id))
            assert len(messages) == len(fake.messages[conv_id])
            roles = {m.author_role for m in messages}
            assert AuthorRole.CUSTOMER in roles and AuthorRole.AGENT in roles
            times = [m.created_at for m in messages if m.created_at is not None]
            assert times == sorted(times)
            assert all(m.conversation_id == conv_id for m in messages)

        self.run(scenario)

    def test_bulk_message_forms(self) -> None:
        """A bulk read of messages is declared and used: it returns what per-conversation reads return, for less.

        Sync reads messages in bulk only through the contract (`capabilities.embedded_messages` with
        `iter_conversations_with_messages`, `capabilities.bulk_messages` with `iter_all_messages`); a bulk
        method an adapter has but does not declare is never called, so every conversation costs a request.
        """
        from ..helpdesk import AsyncHelpdesk as Base

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            caps = adapter.capabilities
            for method, flag in (
                ("iter_conversations_with_messages", "embedded_messages"),
                ("iter_all_messages", "bulk_messages"),
            ):
                overridden = getattr(type(adapter), method) is not getattr(Base, method)
                assert overridden == getattr(caps, flag), (
                    f"{method} is {'implemented' if overridden else 'missing'} but capabilities.{flag} is "
                    f"{getattr(caps, flag)}: sync only uses a bulk form the capabilities declare"
                )
            if not (caps.embedded_messages or caps.bulk_messages):
                pytest.skip(f"{adapter.vendor} has no bulk message read: sync costs a request per changed conversation")
            expected = {cid: sorted(m.id for m in msgs) for cid, msgs in fake.messages.items() if msgs}
            before = len(fake.requests)
            if caps.embedded_messages:
                pairs = await self.collect(adapter.iter_conversations_with_messages())
                assert {c.id for c, _ in pairs} == set(fake.conversations), "the listing lost or added conversations"
                for conv, messages in pairs:
                    assert all(m.conversation_id == conv.id for m in messages)
                    assert sorted(m.id for m in messages) == expected.get(conv.id, []), f"{conv.id}: messages differ"
                    times = [m.created_at for m in messages if m.created_at is not None]
                    assert times == sorted(times), f"{conv.id}: messages not in time order"
            else:
                messages = await self.collect(adapter.iter_all_messages())
                got: dict[str, list[str]] = {}
                for message in messages:
                    got.setdefault(message.conversation_id, []).append(message.id)
                assert {k: sorted(v) for k, v in got.items()} == expected, "the bulk export lost or added messages"
            spent = len(fake.requests) - before
            assert spent < len(fake.conversations), (
                f"the bulk form made {spent} requests for {len(fake.conversations)} conversations: "
                "no cheaper than one request per conversation"
            )

        self.run(scenario)

    def test_agents_and_groups(self) -> None:
        """Agents and groups are listed with memberships."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            agents = await self.collect(adapter.iter_agents())
            assert {a.id for a in agents} >= {a.id for a in fake.agents.values() if a.active}
            groups = await self.collect(adapter.iter_groups())
            assert {g.id for g in groups} == set(fake.groups)
            assert any(a.group_ids for a in agents) or any(g.agent_ids for g in groups)

        self.run(scenario)

    def test_assign_read_back(self) -> None:
        """An assignment is applied and visible when the conversation is read again."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            conv, agent = self._open_conversation_and_other_agent(fake)
            returned = await adapter.assign(conv.id, agent.id)
            assert returned.assignee_id == agent.id
            again = await adapter.get_conversation(conv.id)
            assert again.assignee_id == agent.id

        self.run(scenario)

    def test_stale_assign_conflict(self) -> None:
        """A conversation a human changed since it was read is not overwritten: ConflictError."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, clock: FakeClock) -> None:
            conv, agent = self._open_conversation_and_other_agent(fake)
            seen = await adapter.get_conversation(conv.id)
            clock.advance(5)
            fake.touch_conversation(conv.id)
            human = fake.conversations[conv.id].assignee_id
            with pytest.raises(ConflictError):
                await adapter.assign(
                    conv.id, agent.id, expected_updated_at=seen.updated_at, expected_version=seen.version
                )
            assert fake.conversations[conv.id].assignee_id == human, "a stale assign overwrote a human's change"

        self.run(scenario)

    def test_assign_many_partial(self) -> None:
        """In a batch, a stale conversation fails alone and the others apply."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, clock: FakeClock) -> None:
            agent = next(a for a in fake.agents.values() if a.active)
            candidates = [
                c
                for c in sorted(fake.conversations.values(), key=lambda c: c.id)
                if c.status.is_open and c.assignee_id != agent.id
            ][:3]
            assert len(candidates) == 3, "seed a history with at least 3 open conversations"
            reads = [await adapter.get_conversation(c.id) for c in candidates]
            clock.advance(5)
            fake.touch_conversation(candidates[0].id)
            batch = [
                AssignmentModel(
                    conversation_id=r.id,
                    agent_id=agent.id,
                    expected_updated_at=r.updated_at,
                    expected_version=r.version,
                )
                for r in reads
            ]
            results = {r.conversation_id: r for r in await adapter.assign_many(batch)}
            assert results[candidates[0].id].outcome is AssignmentOutcome.CONFLICT
            for conv in candidates[1:]:
                assert results[conv.id].ok, results[conv.id].message
                assert (await adapter.get_conversation(conv.id)).assignee_id == agent.id

        self.run(scenario)

    def _assigned_conversation_and_others(self, fake: FakeHelpdesk) -> tuple[Conversation, Agent, Agent]:
        """An open conversation with an assignee, and two other active agents who may take it."""
        active = [a for a in fake.agents.values() if a.active]
        for conv in sorted(fake.conversations.values(), key=lambda c: c.id):
            if not conv.status.is_open or conv.assignee_id is None:
                continue
            others = [
                a
                for a in active
                if a.id != conv.assignee_id
                and (conv.group_id is None or not a.group_ids or conv.group_id in a.group_ids)
            ]
            if len(others) >= 2:
                return conv, others[0], others[1]
        raise AssertionError("the fake holds no assigned open conversation with two other eligible agents")

    def test_assign_honours_expected_assignee(self) -> None:
        """`expected_assignee_id`: a conversation a human reassigned since planning is not taken back, whatever
        the timestamps say; the expected assignee (or `UNASSIGNED` for nobody) lets the write through."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, clock: FakeClock) -> None:
            conv, ours, human = self._assigned_conversation_and_others(fake)
            planned_with = conv.assignee_id
            clock.advance(5)
            fake.touch_conversation(conv.id, assignee_id=human.id)  # a person reassigned it meanwhile
            with pytest.raises(ConflictError):
                await adapter.assign(conv.id, ours.id, expected_assignee_id=planned_with)
            assert fake.conversations[conv.id].assignee_id == human.id, "a human's reassignment was overwritten"
            with pytest.raises(ConflictError):
                await adapter.assign(conv.id, ours.id, expected_assignee_id=UNASSIGNED)
            assert fake.conversations[conv.id].assignee_id == human.id
            done = await adapter.assign(conv.id, ours.id, expected_assignee_id=human.id)
            assert done.assignee_id == ours.id
            assert (await adapter.get_conversation(conv.id)).assignee_id == ours.id

        self.run(scenario)

    def test_assign_many_honours_expected_assignee(self) -> None:
        """`assign_many` honours `Assignment.expected_assignee_id` per item (bulk endpoints included): the one a
        human reassigned is a CONFLICT, the others apply."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, clock: FakeClock) -> None:
            conv, ours, human = self._assigned_conversation_and_others(fake)
            planned_with = conv.assignee_id
            other = next(
                c
                for c in sorted(fake.conversations.values(), key=lambda c: c.id)
                if c.status.is_open and c.id != conv.id and c.assignee_id not in (None, ours.id)
            )
            clock.advance(5)
            fake.touch_conversation(conv.id, assignee_id=human.id)
            batch = [
                AssignmentModel(conversation_id=conv.id, agent_id=ours.id, expected_assignee_id=planned_with),
                AssignmentModel(conversation_id=other.id, agent_id=ours.id, expected_assignee_id=other.assignee_id),
            ]
            results = {r.conversation_id: r for r in await adapter.assign_many(batch)}
            assert results[conv.id].outcome is AssignmentOutcome.CONFLICT, results[conv.id]
            assert fake.conversations[conv.id].assignee_id == human.id, "assign_many overwrote a human's change"
            assert results[other.id].ok, results[other.id].message
            assert (await adapter.get_conversation(other.id)).assignee_id == ours.id

        self.run(scenario)

    def test_stale_guard_coarser_precision(self) -> None:
        """A timestamp is compared at the coarser precision of the two: an expectation kept to the second (as
        many stores and vendors keep it) is not "changed" by the vendor's sub-second digits."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, clock: FakeClock) -> None:
            conv, agent = self._open_conversation_and_other_agent(fake)
            clock.advance(3.25)
            fake.touch_conversation(conv.id)  # a fresh stamp with sub-second digits where the vendor keeps them
            seen = await adapter.get_conversation(conv.id)
            assert seen.updated_at is not None, "the adapter maps no updated_at: the guard has nothing to compare"
            to_the_second = seen.updated_at.replace(microsecond=0)
            done = await adapter.assign(
                conv.id, agent.id, expected_updated_at=to_the_second, expected_version=seen.version
            )
            assert done.assignee_id == agent.id
            results = await adapter.assign_many(
                [
                    AssignmentModel(
                        conversation_id=conv.id,
                        agent_id=None if conv.assignee_id is None else conv.assignee_id,
                        expected_updated_at=(await adapter.get_conversation(conv.id)).updated_at.replace(  # type: ignore[union-attr]
                            microsecond=0
                        ),
                    )
                ]
            )
            assert results[0].ok, results[0].message

        self.run(scenario)

    def test_not_found(self) -> None:
        """A deleted or unknown conversation is NotFoundError, not a crash."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            with pytest.raises(NotFoundError):
                await adapter.get_conversation("987654321")

        self.run(scenario)

    def test_401_is_auth_error(self) -> None:
        """A refused credential is AuthenticationError with a hint, and no secret in any text."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            fake.revoke_credentials()
            with pytest.raises(AuthenticationError) as info:
                await self.collect(adapter.iter_agents())
            err = info.value
            assert err.status == 401 and err.vendor == adapter.vendor
            assert "Hint" in str(err)
            tb = "".join(traceback.format_exception(err))
            self._assert_no_secret(str(err), repr(err), tb, repr(adapter))

        self.run(scenario)

    def test_429_retry_after(self) -> None:
        """A 429 with Retry-After is waited out (on the injected clock) and the call succeeds."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, clock: FakeClock) -> None:
            expected = {a.id for a in await self.collect(adapter.iter_agents())}
            fake.fail_next(429, headers={"Retry-After": "7"})
            before = clock.slept
            got = {a.id for a in await self.collect(adapter.iter_agents())}
            assert got == expected
            assert clock.slept - before >= 7, "Retry-After was not honoured"

        self.run(scenario)

    def test_500_mid_listing(self) -> None:
        """A 500 on a later page is retried; the listing has no duplicates and no gaps."""
        cfg = self.config

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            fake.page_size = cfg.page_size
            fake.fail_next(500, skip=2)
            got = [c.id for c in await self.collect(adapter.iter_conversations())]
            assert len(got) == len(set(got))
            assert set(got) == set(fake.conversations)
            assert any(r.status == 500 for r in fake.requests), "the fault was never hit"

        self.run(scenario)

    def test_customer_update_round_trip(self) -> None:
        """Custom attributes and tags written through update_customer read back the same."""
        cfg = self.config

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            customer_id = sorted(fake.customers)[0]
            patch = ProfilePatch(
                custom_attributes=dict(cfg.profile_attributes),
                tags=list(cfg.profile_tags),
                note="Prefers email; talked to Ada about the API in March.",
            )
            await adapter.update_customer(customer_id, patch)
            after = await adapter.get_customer(customer_id)
            for key, value in cfg.profile_attributes.items():
                assert after.custom_attributes.get(key) == value, f"{key} did not round-trip"
            assert set(cfg.profile_tags) <= set(after.tags)
            if after.email:
                found = await adapter.find_customer(email=after.email)
                assert found is not None and found.id == customer_id

        self.run(scenario)

    def test_unknown_fields_tolerated(self) -> None:
        """Fields the vendor adds tomorrow are kept in `raw` and never break parsing."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            plain = {c.id: (c.status, c.assignee_id) for c in await self.collect(adapter.iter_conversations())}
            agents = {a.id for a in await self.collect(adapter.iter_agents())}
            fake.unknown_fields = True
            noisy = {c.id: (c.status, c.assignee_id) for c in await self.collect(adapter.iter_conversations())}
            assert noisy == plain
            assert {a.id for a in await self.collect(adapter.iter_agents())} == agents
            conv = await adapter.get_conversation(next(iter(plain)))
            assert _contains_key(conv.raw, NOISE_KEY), "the vendor payload was not kept in raw"
            customer = await adapter.get_customer(sorted(fake.customers)[0])
            assert customer.id

        self.run(scenario)

    def test_webhook_signature(self) -> None:
        """A signed delivery verifies and parses; a tampered body or wrong secret does not verify."""
        cfg = self.config

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            if not adapter.capabilities.signed_webhooks:
                pytest.skip(f"{adapter.vendor} does not sign webhooks (capabilities.signed_webhooks is false)")
            conv_id = sorted(fake.conversations)[0]
            headers, body = fake.signed_webhook(secret=cfg.webhook_secret, conversation_id=conv_id)
            assert adapter.verify_webhook(headers, body, cfg.webhook_secret)
            assert not adapter.verify_webhook(headers, body + b" ", cfg.webhook_secret)
            assert not adapter.verify_webhook(headers, body, cfg.webhook_secret + "x")
            events = adapter.parse_webhook(headers, body)
            assert events and all(e.vendor == adapter.vendor for e in events)
            assert any(e.conversation_id == conv_id for e in events)

        self.run(scenario)

    def test_saved_replies_plain_text(self) -> None:
        """Saved replies come back whole, as plain text with their line breaks (what `replies lint` reads)."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            if not adapter.capabilities.saved_replies:
                pytest.skip(f"{adapter.vendor} cannot read saved replies (capabilities.saved_replies is false)")
            seeded = fake.seed_saved_replies()
            assert len(seeded) == len(SAMPLE_SAVED_REPLIES), "the fake stores no saved replies: add_saved_reply"
            fake.page_size = 3  # several pages wherever the vendor pages them
            replies = await self.collect(adapter.iter_saved_replies())
            assert len(replies) == len(SAMPLE_SAVED_REPLIES), "a saved reply was lost or listed twice"
            assert len({r.id for r in replies}) == len(replies), "saved reply ids are not unique"
            for reply in replies:
                assert reply.vendor == adapter.vendor and reply.id
                assert reply.body.strip(), f"saved reply {reply.id} has an empty body"
                assert not looks_like_html(reply.body), f"saved reply {reply.id} still holds HTML: {reply.body!r}"
            got = {r.title: [line.rstrip() for line in r.body.splitlines()] for r in replies}
            for sample in SAMPLE_SAVED_REPLIES:
                assert got.get(sample.title) == sample.body.splitlines(), f"{sample.title!r}: text or lines differ"

        self.run(scenario)

    def test_webhook_registration_idempotent(self) -> None:
        """Registering a URL returns its subscription with a secret to verify with; registering again adds none."""
        url = self.config.webhook_url

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            if not adapter.capabilities.webhook_registration:
                pytest.skip(f"{adapter.vendor} cannot register webhooks (capabilities.webhook_registration is false)")
            first = await adapter.register_webhook(url=url)
            assert first.url == url and first.vendor == adapter.vendor and first.id
            assert first.active and first.events, "the subscription listens to no event"
            assert first.secret is not None and first.secret.get_secret_value(), "no secret to verify deliveries"
            assert first.secret.get_secret_value() not in repr(first)
            writes = sum(1 for r in fake.requests if r.method in ("POST", "PUT", "PATCH"))
            again = await adapter.register_webhook(url=url)
            assert again.id == first.id, "registering the same URL twice created a second subscription"
            assert sum(1 for r in fake.requests if r.method == "POST") <= writes, "the second call created again"

        self.run(scenario)

    def test_webhook_registration_unsupported_gives_steps(self) -> None:
        """Where the vendor has no API for it, registering explains the manual steps and sends nothing."""
        url = self.config.webhook_url

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            if adapter.capabilities.webhook_registration:
                pytest.skip(f"{adapter.vendor} registers webhooks through its API")
            before = len(fake.requests)
            with pytest.raises(UnsupportedOperationError) as info:
                await adapter.register_webhook(url=url, secret=self.config.webhook_secret)
            err = info.value
            assert err.vendor == adapter.vendor and err.operation == "register_webhook"
            assert url in str(err), "the steps do not say which URL to enter"
            assert self.config.webhook_secret not in str(err), "the secret leaked into the message"
            assert len(fake.requests) == before, "an unsupported registration still sent requests"

        self.run(scenario)

    def test_status_filter(self) -> None:
        """Filtering by status returns only conversations in those statuses."""

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            wanted = [ConversationStatus.NEW, ConversationStatus.OPEN, ConversationStatus.PENDING]
            got = await self.collect(adapter.iter_conversations(status=wanted))
            assert got, "no open conversations listed"
            assert all(c.status in wanted for c in got)
            everything = await self.collect(adapter.iter_conversations())
            assert {c.id for c in got} == {c.id for c in everything if c.status in wanted}

        self.run(scenario)


def _contains_key(data: Any, key: str) -> bool:
    if isinstance(data, dict):
        return key in data or any(_contains_key(v, key) for v in data.values())
    if isinstance(data, list):
        return any(_contains_key(v, key) for v in data)
    return False
