"""The adapter contract (`AsyncHelpdesk`) and the sync facade (`Helpdesk`) over it.

Plugins write one async adapter; the sync facade runs it on a private event-loop thread, so scripts and
cron jobs that are not async get the same behaviour method for method (a test pins the signatures).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self, TypeVar

import httpx

from .clock import SYSTEM_CLOCK, Clock
from .config import HelpdeskSettings
from .errors import ConflictError, HelpdeskError, HumansupportError, NotFoundError, UnsupportedOperationError
from .fields import FieldSetupScreen, FieldSpec, unsupported
from .models import (
    Agent,
    Assignment,
    AssignmentOutcome,
    AssignmentResult,
    Capabilities,
    Conversation,
    ConversationStatus,
    Customer,
    Group,
    Message,
    ProfilePatch,
    SatisfactionRating,
    SavedReply,
    WebhookEvent,
    WebhookEventType,
    WebhookSubscription,
)

if TYPE_CHECKING:
    from .http.ratelimit import RateBudget

__all__ = ["AsyncHelpdesk", "CheckReport", "Helpdesk"]

logger = logging.getLogger("humansupport")

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class CheckReport:
    """What `humansupport check` prints: the credential works, and how much rate budget is left."""

    vendor: str
    ok: bool
    base_url: str | None = None
    account: str | None = None
    rate_limit: float | None = None
    rate_remaining: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        headroom = None
        if self.rate_limit and self.rate_remaining is not None:
            headroom = round(self.rate_remaining / self.rate_limit, 3)
        return {
            "vendor": self.vendor,
            "ok": self.ok,
            "base_url": self.base_url,
            "account": self.account,
            "rate_limit": self.rate_limit,
            "rate_remaining": self.rate_remaining,
            "rate_headroom": headroom,
            "details": dict(self.details),
        }

    def rate_line(self) -> str:
        """The human line for the rate budget; either figure may be missing (no headers seen yet, or none sent)."""
        limit, remaining = self.rate_limit, self.rate_remaining
        if limit and remaining is not None:
            return f"rate limit: {remaining:.0f} of {limit:.0f} requests/min left"
        if limit:
            return f"rate limit: {limit:.0f} requests/min, remaining unknown (the helpdesk sent no remaining count)"
        if remaining is not None:
            return f"rate limit: {remaining:.0f} requests left, limit unknown"
        return "rate limit: unknown (the helpdesk sent no rate-limit headers yet)"


class AsyncHelpdesk(ABC):
    """What a helpdesk plugin implements. Async first; see docs/plugins.md for the contract of each method.

    Subclasses set `vendor`, `settings_model` and `capabilities`, and take keyword-only constructor
    arguments: their settings fields plus `transport` and `clock` (tests inject both).
    """

    vendor: ClassVar[str]
    settings_model: ClassVar[type[HelpdeskSettings]] = HelpdeskSettings
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: how many single writes `assign_many` runs at once when the vendor has no bulk endpoint
    assign_concurrency: ClassVar[int] = 4
    #: where the vendor's admin UI creates customer fields, for the manual steps the default
    #: `ensure_profile_fields` raises; None names only "the admin settings"
    field_setup: ClassVar[FieldSetupScreen | None] = None
    #: the account this adapter serves, set by `from_settings` (`settings.account`: the account's name, which
    #: keys its store rows, sync cursors, webhook queue rows and rate budget); None when built by hand
    account: str | None = None

    @classmethod
    def from_settings(
        cls,
        settings: HelpdeskSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rate_budget: RateBudget | None = None,
    ) -> Self:
        """Builds the adapter from resolved settings (what `connect()` calls).

        `rate_budget` is where the account's request budget lives (a store's, shared by every process on the
        account); it reaches adapters whose constructor takes `rate_budget`, others keep their own in-process one.
        """
        # the webhook secret is the receiver's (humansupport webhooks serve), not a constructor argument
        values = {k: v for k, v in settings.model_dump(exclude={"webhook_secret"}).items() if v is not None}
        if rate_budget is not None:
            if "rate_budget" in inspect.signature(cls).parameters:
                values["rate_budget"] = rate_budget
            else:
                logger.warning(
                    "%s: the adapter takes no rate_budget; its rate budget stays in this process", cls.vendor
                )
        factory: Any = cls  # subclasses take their settings fields as keyword-only arguments
        built: Self = factory(**values, transport=transport, clock=clock)
        built.account = settings.account
        return built

    # -- reads ---------------------------------------------------------------------------------------

    @abstractmethod
    def iter_conversations(
        self,
        *,
        updated_since: datetime | None = None,
        status: Sequence[ConversationStatus] | None = None,
    ) -> AsyncIterator[Conversation]:
        """Every conversation updated since a time (all when None), page by page, oldest first where possible."""

    @abstractmethod
    async def get_conversation(self, conversation_id: str) -> Conversation:
        """One conversation, fresh from the helpdesk; `NotFoundError` when deleted."""

    @abstractmethod
    def iter_messages(self, conversation_id: str) -> AsyncIterator[Message]:
        """The messages of one conversation in time order, public and private."""

    def iter_all_messages(self, *, updated_since: datetime | None = None) -> AsyncIterator[Message]:
        """Messages of every conversation created since a time, in bulk (vendor export endpoints).

        Only where `capabilities.bulk_messages` is true; sync then needs about one request per page of
        messages instead of one per conversation.
        """
        raise NotImplementedError(f"{self.vendor} has no bulk message export (capabilities.bulk_messages is false)")

    def iter_conversations_with_messages(
        self,
        *,
        updated_since: datetime | None = None,
        status: Sequence[ConversationStatus] | None = None,
    ) -> AsyncIterator[tuple[Conversation, list[Message]]]:
        """Conversations updated since a time, each with all its messages in time order, from the listing.

        Only where `capabilities.embedded_messages` is true (an `embed=threads` listing): sync then needs
        about one request per page of conversations instead of one per conversation. Where the listing's
        copy is incomplete (a listing may truncate chats), the adapter reads that conversation's messages again.
        """
        raise NotImplementedError(
            f"{self.vendor} lists no messages with conversations (capabilities.embedded_messages is false)"
        )

    @abstractmethod
    def iter_agents(self) -> AsyncIterator[Agent]:
        """Agents with availability, capacity and group ids."""

    @abstractmethod
    def iter_groups(self) -> AsyncIterator[Group]:
        """Groups (teams) with their member agent ids."""

    @abstractmethod
    def iter_customers(self, *, updated_since: datetime | None = None) -> AsyncIterator[Customer]:
        """Customers updated since a time (all when None)."""

    def iter_ratings(self, *, updated_since: datetime | None = None) -> AsyncIterator[SatisfactionRating]:
        """Satisfaction ratings; vendors without them yield nothing (see `capabilities.satisfaction_ratings`)."""
        return _empty()

    @abstractmethod
    async def get_customer(self, customer_id: str) -> Customer:
        """One customer; `NotFoundError` when deleted."""

    @abstractmethod
    async def find_customer(self, *, email: str) -> Customer | None:
        """The customer with this email, or None."""

    # -- writes --------------------------------------------------------------------------------------

    @abstractmethod
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
        """Assigns and returns the conversation as the helpdesk now has it.

        With `expected_updated_at`/`expected_version`, a conversation changed since it was read raises
        `ConflictError` and is left untouched: by the vendor's optimistic concurrency where it has one,
        else by a re-read right before the write (docs/plugins.md states the race window). With
        `expected_assignee_id` (`UNASSIGNED` for "nobody"), a conversation now assigned to someone else raises
        `ConflictError` too. `humansupport.vendor.stale_reason` holds the one semantics of all three.
        """

    async def assign_many(self, assignments: Sequence[Assignment]) -> list[AssignmentResult]:
        """Applies many assignments; one failure never stops the others. Vendors with bulk endpoints override."""
        semaphore = asyncio.Semaphore(self.assign_concurrency)

        async def one(item: Assignment) -> AssignmentResult:
            async with semaphore:
                return await self._assign_one(item)

        return list(await asyncio.gather(*(one(a) for a in assignments)))

    async def _assign_one(self, item: Assignment) -> AssignmentResult:
        extra: dict[str, Any] = {}
        if item.expected_assignee_id is not None and _takes_expected_assignee(type(self)):
            extra["expected_assignee_id"] = item.expected_assignee_id
        try:
            conv = await self.assign(
                item.conversation_id,
                item.agent_id,
                group_id=item.group_id,
                expected_updated_at=item.expected_updated_at,
                expected_version=item.expected_version,
                **extra,
            )
        except HelpdeskError as exc:
            outcome = next((o for cls, o in _OUTCOME_FOR.items() if isinstance(exc, cls)), AssignmentOutcome.FAILED)
            return AssignmentResult(
                conversation_id=item.conversation_id, outcome=outcome, agent_id=item.agent_id, message=str(exc)
            )
        return AssignmentResult(
            conversation_id=item.conversation_id,
            outcome=AssignmentOutcome.APPLIED,
            agent_id=conv.assignee_id,
            group_id=conv.group_id,
            conversation=conv,
        )

    @abstractmethod
    async def update_customer(self, customer_id: str, patch: ProfilePatch) -> Customer:
        """Writes a profile patch (custom attributes, note, tags, avatar) and returns the customer after."""

    @abstractmethod
    async def add_internal_note(self, conversation_id: str, body: str) -> Message:
        """Adds a note only agents see."""

    async def ensure_profile_fields(self, specs: Sequence[FieldSpec]) -> list[str]:
        """Creates the customer custom fields profile write-back needs that are missing; returns the names created.

        Optional: the default raises `FieldSetupUnsupportedError` (a `ConfigError`) whose message gives the
        exact manual steps for `humansupport setup VENDOR` to print.
        """
        raise unsupported(self.vendor, specs, self.field_setup)

    def conversation_url(self, conversation_id: str) -> str | None:
        """Where an agent opens this conversation in the helpdesk's UI (for reports' links); None when unknown."""
        return None

    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        """Saved replies / macros / canned responses, for `humansupport replies lint --vendor`.

        Optional (`capabilities.saved_replies`): the default raises `UnsupportedOperationError`.
        """
        raise UnsupportedOperationError(
            f"{self.vendor}: this adapter cannot read saved replies; export them to text files and lint those",
            vendor=self.vendor,
            operation="iter_saved_replies",
        )
        yield  # pragma: no cover - makes this an async generator

    # -- webhooks ------------------------------------------------------------------------------------

    async def register_webhook(
        self,
        *,
        url: str,
        secret: str | None = None,
        events: Sequence[WebhookEventType] | None = None,
    ) -> WebhookSubscription:
        """Subscribes `url` to the helpdesk's conversation events (`capabilities.webhook_registration`).

        `events` defaults to every kind the webhook service handles. Where the vendor's API cannot create
        subscriptions, raises `UnsupportedOperationError` whose message is the exact manual steps.
        """
        raise UnsupportedOperationError(
            f"{self.vendor}: webhooks cannot be registered through the API; in {self.vendor}'s admin, send "
            f"conversation created/assigned/customer-reply events to {url} and set the signing secret in "
            f"HUMANSUPPORT_{self.vendor.upper()}_WEBHOOK_SECRET",
            vendor=self.vendor,
            operation="register_webhook",
        )

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        """True when the vendor signed this body with `secret` (constant-time compare, fresh timestamp)."""
        return False

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Turns one webhook delivery into events; unknown event kinds become type `other`."""
        return []

    # -- operations ----------------------------------------------------------------------------------

    async def check(self) -> CheckReport:
        """One cheap authenticated call; subclasses report rate-limit headroom from their client."""
        async for _ in self.iter_agents():
            break
        return CheckReport(vendor=self.vendor, ok=True)

    async def aclose(self) -> None:  # noqa: B027 - optional hook, adapters with clients override
        """Closes the adapter's HTTP client."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


#: per-item outcomes of a failed assign in a batch (anything else is FAILED)
_OUTCOME_FOR: Final[Mapping[type[HelpdeskError], AssignmentOutcome]] = {
    ConflictError: AssignmentOutcome.CONFLICT,
    NotFoundError: AssignmentOutcome.NOT_FOUND,
}


def _takes_expected_assignee(cls: type[AsyncHelpdesk]) -> bool:
    """Whether this adapter's `assign` takes `expected_assignee_id` (adapters written before it was added do not;
    they keep working, without that check)."""
    found = _EXPECTED_ASSIGNEE.get(cls)
    if found is None:
        params = inspect.signature(cls.assign).parameters
        found = "expected_assignee_id" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
        _EXPECTED_ASSIGNEE[cls] = found
    return found


_EXPECTED_ASSIGNEE: dict[type[AsyncHelpdesk], bool] = {}


async def _empty() -> AsyncIterator[Any]:
    return
    yield  # an async generator that yields nothing


class _LoopThread:
    """A private event loop on a daemon thread, so sync callers can drive async adapters."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="humansupport-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def iterate(self, agen: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self.run(_anext(agen))
                except StopAsyncIteration:
                    return
        finally:
            closer = getattr(agen, "aclose", None)
            if closer is not None and self.loop.is_running():
                self.run(closer())

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        self.loop.close()


async def _anext(agen: AsyncIterator[T]) -> T:
    return await agen.__anext__()


class Helpdesk:
    """Blocking facade over an `AsyncHelpdesk`: same methods, plain return values and generators."""

    def __init__(self, adapter: AsyncHelpdesk | Callable[[], Awaitable[AsyncHelpdesk]]) -> None:
        self._runner = _LoopThread()
        self._closed = False
        if isinstance(adapter, AsyncHelpdesk):
            self._adapter = adapter
        else:
            factory = adapter

            async def build() -> AsyncHelpdesk:
                return await factory()

            self._adapter = self._runner.run(build())

    @property
    def adapter(self) -> AsyncHelpdesk:
        """The async adapter underneath, for code that wants both."""
        return self._adapter

    @property
    def vendor(self) -> str:
        return self._adapter.vendor

    @property
    def account(self) -> str | None:
        """The account's name (what the store and the rate budget key on), when built by `connect()`."""
        return self._adapter.account

    @property
    def capabilities(self) -> Capabilities:
        return self._adapter.capabilities

    def __repr__(self) -> str:
        return f"Helpdesk(vendor={self.vendor!r})"

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise HumansupportError("this Helpdesk is closed; connect() again")
        return self._runner.run(coro)

    def iter_conversations(
        self,
        *,
        updated_since: datetime | None = None,
        status: Sequence[ConversationStatus] | None = None,
    ) -> Iterator[Conversation]:
        return self._runner.iterate(self._adapter.iter_conversations(updated_since=updated_since, status=status))

    def get_conversation(self, conversation_id: str) -> Conversation:
        return self._run(self._adapter.get_conversation(conversation_id))

    def iter_messages(self, conversation_id: str) -> Iterator[Message]:
        return self._runner.iterate(self._adapter.iter_messages(conversation_id))

    def iter_all_messages(self, *, updated_since: datetime | None = None) -> Iterator[Message]:
        return self._runner.iterate(self._adapter.iter_all_messages(updated_since=updated_since))

    def iter_conversations_with_messages(
        self,
        *,
        updated_since: datetime | None = None,
        status: Sequence[ConversationStatus] | None = None,
    ) -> Iterator[tuple[Conversation, list[Message]]]:
        return self._runner.iterate(
            self._adapter.iter_conversations_with_messages(updated_since=updated_since, status=status)
        )

    def iter_agents(self) -> Iterator[Agent]:
        return self._runner.iterate(self._adapter.iter_agents())

    def iter_groups(self) -> Iterator[Group]:
        return self._runner.iterate(self._adapter.iter_groups())

    def iter_customers(self, *, updated_since: datetime | None = None) -> Iterator[Customer]:
        return self._runner.iterate(self._adapter.iter_customers(updated_since=updated_since))

    def iter_ratings(self, *, updated_since: datetime | None = None) -> Iterator[SatisfactionRating]:
        return self._runner.iterate(self._adapter.iter_ratings(updated_since=updated_since))

    def get_customer(self, customer_id: str) -> Customer:
        return self._run(self._adapter.get_customer(customer_id))

    def find_customer(self, *, email: str) -> Customer | None:
        return self._run(self._adapter.find_customer(email=email))

    def assign(
        self,
        conversation_id: str,
        agent_id: str | None,
        *,
        group_id: str | None = None,
        expected_updated_at: datetime | None = None,
        expected_version: str | None = None,
        expected_assignee_id: str | None = None,
    ) -> Conversation:
        extra = {} if expected_assignee_id is None else {"expected_assignee_id": expected_assignee_id}
        return self._run(
            self._adapter.assign(
                conversation_id,
                agent_id,
                group_id=group_id,
                expected_updated_at=expected_updated_at,
                expected_version=expected_version,
                **extra,
            )
        )

    def assign_many(self, assignments: Sequence[Assignment]) -> list[AssignmentResult]:
        return self._run(self._adapter.assign_many(assignments))

    def update_customer(self, customer_id: str, patch: ProfilePatch) -> Customer:
        return self._run(self._adapter.update_customer(customer_id, patch))

    def add_internal_note(self, conversation_id: str, body: str) -> Message:
        return self._run(self._adapter.add_internal_note(conversation_id, body))

    def ensure_profile_fields(self, specs: Sequence[FieldSpec]) -> list[str]:
        return self._run(self._adapter.ensure_profile_fields(specs))

    def conversation_url(self, conversation_id: str) -> str | None:
        return self._adapter.conversation_url(conversation_id)

    def iter_saved_replies(self) -> Iterator[SavedReply]:
        return self._runner.iterate(self._adapter.iter_saved_replies())

    def register_webhook(
        self,
        *,
        url: str,
        secret: str | None = None,
        events: Sequence[WebhookEventType] | None = None,
    ) -> WebhookSubscription:
        return self._run(self._adapter.register_webhook(url=url, secret=secret, events=events))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        return self._adapter.verify_webhook(headers, body, secret)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return self._adapter.parse_webhook(headers, body)

    def check(self) -> CheckReport:
        return self._run(self._adapter.check())

    def close(self) -> None:
        """Closes the adapter's clients and stops the private loop; safe to call twice."""
        if self._closed:
            return
        try:
            self._runner.run(self._adapter.aclose())
        finally:
            self._closed = True
            self._runner.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
