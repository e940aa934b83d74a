"""Vendor-neutral models: what every plugin maps its JSON into.

Vendors add and omit fields without notice, so every model allows extras, keeps the vendor payload in
`raw`, coerces ids to `str` and times to aware UTC, and maps an unknown enum value to `other`/`unknown`
instead of failing (see STYLE.md §7, "Strict models on vendor JSON").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator

__all__ = [
    "Agent",
    "AgentAvailability",
    "Assignment",
    "AssignmentOutcome",
    "AssignmentResult",
    "AuthorRole",
    "Capabilities",
    "Conversation",
    "ConversationStatus",
    "Customer",
    "Group",
    "Message",
    "ProfilePatch",
    "RatingScore",
    "SatisfactionRating",
    "SavedReply",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookSubscription",
    "UNASSIGNED",
    "to_utc",
]


def to_utc(value: Any) -> datetime | None:
    """Parses vendor times (ISO strings, 'Z' suffix, epoch seconds, naive or aware) into aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(float(value), tz=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            dt = datetime.fromtimestamp(int(text), tz=UTC)
        else:
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            dt = datetime.fromisoformat(text)
    else:
        raise ValueError(f"not a time: {type(value).__name__}")
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:30, a "no date" sentinel some APIs send: no UTC instant
        raise ValueError(f"time out of range in UTC: {dt.isoformat()}") from None


def _id(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


def _opt_id(value: Any) -> Any:
    if value is None or value == "" or value == 0:
        return None
    return _id(value)


Id = Annotated[str, BeforeValidator(_id)]
OptionalId = Annotated[str | None, BeforeValidator(_opt_id)]
Token = Annotated[str | None, BeforeValidator(_id)]
UtcTime = Annotated[datetime, BeforeValidator(to_utc)]
OptionalUtcTime = Annotated[datetime | None, BeforeValidator(to_utc)]


def _tolerant_enum(enum_cls: type[StrEnum], fallback: StrEnum) -> BeforeValidator:
    def parse(value: Any) -> Any:
        if isinstance(value, enum_cls):
            return value
        if isinstance(value, str):
            try:
                return enum_cls(value.lower())
            except ValueError:
                return fallback
        return fallback if value is not None else value

    return BeforeValidator(parse)


class ConversationStatus(StrEnum):
    """Normalized conversation status; a vendor word we do not know becomes OTHER."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"
    OTHER = "other"

    @property
    def is_open(self) -> bool:
        """Whether the conversation still waits on the team (counts toward an agent's load)."""
        return self in (ConversationStatus.NEW, ConversationStatus.OPEN, ConversationStatus.ON_HOLD)


class AuthorRole(StrEnum):
    """Who wrote a message; a vendor role we do not know becomes OTHER."""

    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"
    OTHER = "other"


class AgentAvailability(StrEnum):
    """Whether an agent takes conversations now; UNKNOWN where the helpdesk does not say (routed to like AVAILABLE)."""

    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


class RatingScore(StrEnum):
    """A satisfaction rating's verdict; OFFERED when the customer was asked and has not answered."""

    GOOD = "good"
    BAD = "bad"
    OFFERED = "offered"
    UNKNOWN = "unknown"


class WebhookEventType(StrEnum):
    """What a webhook says happened, in the core's words; events we do not route on become OTHER."""

    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_ASSIGNED = "conversation.assigned"
    CONVERSATION_UPDATED = "conversation.updated"
    CUSTOMER_REPLIED = "conversation.customer_replied"
    AGENT_AVAILABILITY_CHANGED = "agent.availability_changed"
    OTHER = "other"


class AssignmentOutcome(StrEnum):
    """What became of one `Assignment` in `assign_many`."""

    APPLIED = "applied"
    CONFLICT = "conflict"  # changed since planning: skipped, never overwritten
    NOT_FOUND = "not_found"  # deleted since planning: skipped
    FAILED = "failed"
    UNCHANGED = "unchanged"  # already assigned as asked


Status = Annotated[ConversationStatus, _tolerant_enum(ConversationStatus, ConversationStatus.OTHER)]
Role = Annotated[AuthorRole, _tolerant_enum(AuthorRole, AuthorRole.OTHER)]
Availability = Annotated[AgentAvailability, _tolerant_enum(AgentAvailability, AgentAvailability.UNKNOWN)]
Score = Annotated[RatingScore, _tolerant_enum(RatingScore, RatingScore.UNKNOWN)]
EventType = Annotated[WebhookEventType, _tolerant_enum(WebhookEventType, WebhookEventType.OTHER)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, validate_assignment=False)


class _VendorRecord(_Model):
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class Capabilities(_Model):
    """What a helpdesk adapter can do, so the core adapts instead of guessing."""

    bulk_assign: bool = False
    optimistic_concurrency: bool = False
    availability: bool = False
    signed_webhooks: bool = False
    incremental_export: bool = False
    bulk_messages: bool = False
    #: the conversation listing carries each conversation's messages (`iter_conversations_with_messages`)
    embedded_messages: bool = False
    satisfaction_ratings: bool = False
    webhook_registration: bool = False
    saved_replies: bool = False
    #: customer notes are separate append-only records: our last note is the store's copy
    append_only_notes: bool = False

    def enabled(self) -> list[str]:
        return [name for name, on in self.model_dump().items() if on is True]


class Customer(_VendorRecord):
    """A customer (requester, contact) as the helpdesk holds them."""

    id: Id
    name: str | None = None
    email: str | None = None
    emails: list[str] = Field(default_factory=list)
    phone: str | None = None
    avatar_url: str | None = None
    organization: str | None = None
    locale: str | None = None
    timezone: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom_attributes: dict[str, Any] = Field(default_factory=dict)
    notes: str | None = None
    created_at: OptionalUtcTime = None
    updated_at: OptionalUtcTime = None
    #: False for a customer the helpdesk deleted (soft delete) or deactivated: enrichment writes nothing to them
    active: bool = True


class Group(_VendorRecord):
    """A group (team, inbox) of agents; conversations are routed within their group."""

    id: Id
    name: str | None = None
    agent_ids: list[Id] = Field(default_factory=list)


class Agent(_VendorRecord):
    """An agent with availability and capacity (`None`: no limit) as read live from the helpdesk."""

    id: Id
    name: str | None = None
    email: str | None = None
    active: bool = True
    availability: Availability = AgentAvailability.UNKNOWN
    capacity: int | None = Field(default=None, ge=0)
    group_ids: list[Id] = Field(default_factory=list)
    avatar_url: str | None = None


class Conversation(_VendorRecord):
    """A conversation (ticket); `version` or `updated_at` guards assignments against a human's change."""

    id: Id
    status: Status = ConversationStatus.OTHER
    subject: str | None = None
    customer_id: OptionalId = None
    assignee_id: OptionalId = None
    group_id: OptionalId = None
    channel: str | None = None
    tags: list[str] = Field(default_factory=list)
    created_at: OptionalUtcTime = None
    updated_at: OptionalUtcTime = None
    version: Token = Field(default=None, description="Opaque concurrency token (e.g. an updated_stamp) for assign().")
    custom_fields: dict[str, Any] = Field(
        default_factory=dict,
        description="The vendor's conversation custom fields by the vendor's own key (some name fields by id only).",
    )

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("custom_fields", mode="before")
    @classmethod
    def _custom_fields(cls, value: Any) -> Any:
        # keys as text, unset (null) values dropped: a field nobody filled says nothing about the conversation
        if not isinstance(value, Mapping):
            return {}
        return {str(k): v for k, v in value.items() if v is not None}


class Message(_VendorRecord):
    """One message of a conversation: a reply, a customer message or (not `public`) an internal note."""

    id: Id
    conversation_id: Id
    author_id: OptionalId = None
    author_role: Role = AuthorRole.OTHER
    public: bool = True
    body: str | None = None
    created_at: OptionalUtcTime = None


class SatisfactionRating(_VendorRecord):
    """A satisfaction rating a customer gave a conversation (and, where the vendor says, its agent)."""

    id: Id
    conversation_id: OptionalId = None
    customer_id: OptionalId = None
    agent_id: OptionalId = None
    score: Score = RatingScore.UNKNOWN
    comment: str | None = None
    created_at: OptionalUtcTime = None


#: the `expected_assignee_id` meaning "planned while nobody was assigned": a conversation someone took since then
#: is a conflict. (None means "not checked".) Not a valid id at any supported vendor.
UNASSIGNED: Final = "(unassigned)"


class Assignment(_Model):
    """One requested move; the `expected_*` fields guard against clobbering a human (`AsyncHelpdesk.assign`)."""

    conversation_id: Id
    agent_id: OptionalId = None
    group_id: OptionalId = None
    expected_updated_at: OptionalUtcTime = None
    expected_version: str | None = None
    expected_assignee_id: OptionalId = None
    reason: str | None = None


class AssignmentResult(_Model):
    """The outcome of one `Assignment`: `assign_many` reports each instead of raising."""

    conversation_id: Id
    outcome: AssignmentOutcome
    agent_id: OptionalId = None
    group_id: OptionalId = None
    message: str | None = None
    conversation: Conversation | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (AssignmentOutcome.APPLIED, AssignmentOutcome.UNCHANGED)


class ProfilePatch(_Model):
    """A change to a customer's profile in the helpdesk; `None` means leave it alone.

    `note` replaces the customer's notes; ``""`` clears them (erasing our block from a note that held only
    it), which is why an empty-string note still makes the patch non-empty.
    """

    custom_attributes: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None
    tags: list[str] = Field(default_factory=list)
    avatar_url: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.custom_attributes or self.note is not None or self.tags or self.avatar_url)


class WebhookEvent(_VendorRecord):
    id: str | None = Field(default=None, description="Vendor delivery id, for deduplication.")
    vendor: str
    type: EventType = WebhookEventType.OTHER
    conversation_id: OptionalId = None
    customer_id: OptionalId = None
    agent_id: OptionalId = None
    previous_agent_id: OptionalId = None
    occurred_at: OptionalUtcTime = None
    actor: Literal["human", "system", "unknown"] = "unknown"
    raw_type: str | None = None


class SavedReply(_VendorRecord):
    """A reusable reply text: a macro, saved reply or canned response.

    `body` is plain text (vendors' HTML is converted by the plugin) so `replies lint` can report line numbers.
    """

    id: Id
    vendor: str
    title: str | None = None
    body: str = ""
    kind: str = "saved_reply"
    url: str | None = Field(default=None, description="Where an admin edits it in the helpdesk, when known.")
    updated_at: OptionalUtcTime = None


class WebhookSubscription(_VendorRecord):
    """A webhook subscription `humansupport webhooks register` created in the helpdesk."""

    id: Id
    vendor: str
    url: str
    events: list[str] = Field(default_factory=list)
    active: bool = True
    secret: SecretStr | None = Field(
        default=None, description="The signing secret, when the vendor generated it; never logged."
    )
