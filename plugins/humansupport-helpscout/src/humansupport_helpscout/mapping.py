"""Help Scout Mailbox API 2.0 JSON <-> core models; pure functions, tolerant of missing, extra and null fields.

Vendor facts follow https://developer.helpscout.com/mailbox-api/ (objects of the conversations, threads,
customers, users, teams and ratings endpoints) as summarised in docs/vendors/helpscout.md. Every
reader uses `.get` with a default, keeps the vendor payload in `raw`, and maps unknown enum words to the
core's OTHER/UNKNOWN values. The `*_to_hs` renderers are the reverse direction, used by the fake.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from humansupport.models import (
    Agent,
    AgentAvailability,
    AuthorRole,
    Conversation,
    ConversationStatus,
    Customer,
    Group,
    Message,
    RatingScore,
    SatisfactionRating,
    WebhookEvent,
    WebhookEventType,
)
from humansupport.vendor import as_dict, as_id, as_list, as_str, as_time

__all__ = [
    "DEFAULT_TAGS_PROPERTY",
    "Mailbox",
    "MappingError",
    "PROFILE_PROPERTIES",
    "agent_from_user",
    "availability_from_status",
    "conversation_fingerprint",
    "conversation_from_hs",
    "custom_fields_from_hs",
    "conversation_to_hs",
    "customer_from_hs",
    "customer_to_hs",
    "event_from_webhook",
    "group_from_team",
    "hs_status_filter",
    "hs_time",
    "mailbox_from_hs",
    "message_from_thread",
    "rating_from_hs",
    "status_from_hs",
    "status_to_hs",
    "thread_to_hs",
    "user_to_hs",
]

#: Help Scout customers have no tags (Mailbox API 2.0 documents none); tags live in this text property.
DEFAULT_TAGS_PROPERTY: Final = "humansupport_tags"
#: Customer properties profile write-back uses (slug -> type): the core's default attribute names
#: (`humansupport_` + key, `conversation_count` as `humansupport_conversations`) plus the tags property.
#: `HelpScoutAdapter.ensure_properties` creates them; an account holds at most 50 definitions.
PROFILE_PROPERTIES: Final[Mapping[str, str]] = {
    DEFAULT_TAGS_PROPERTY: "text",
    "humansupport_picture_url": "url",
    "humansupport_first_contact": "date",
    "humansupport_conversations": "number",
    "humansupport_preferred_agent": "text",
    "humansupport_preferred_agent_reason": "text",
    "humansupport_last_conversation": "text",
    "humansupport_last_contact": "date",
    "humansupport_satisfaction_history": "text",
    "humansupport_top_tags": "text",
    "humansupport_organization": "text",
    "humansupport_locale": "text",
    "humansupport_timezone": "text",
}

_STATUS_FROM_HS: Final[Mapping[str, ConversationStatus]] = {
    "active": ConversationStatus.OPEN,
    "open": ConversationStatus.OPEN,
    "pending": ConversationStatus.PENDING,
    "closed": ConversationStatus.CLOSED,
}
_STATUS_TO_HS: Final[Mapping[ConversationStatus, str]] = {
    ConversationStatus.NEW: "active",
    ConversationStatus.OPEN: "active",
    ConversationStatus.ON_HOLD: "active",
    ConversationStatus.PENDING: "pending",
    ConversationStatus.SOLVED: "closed",
    ConversationStatus.CLOSED: "closed",
    ConversationStatus.OTHER: "spam",
}
_RATING: Final[Mapping[str, RatingScore]] = {"great": RatingScore.GOOD, "not_good": RatingScore.BAD}
_EVENTS: Final[Mapping[str, WebhookEventType]] = {
    "convo.created": WebhookEventType.CONVERSATION_CREATED,
    "convo.assigned": WebhookEventType.CONVERSATION_ASSIGNED,
    "convo.customer.reply.created": WebhookEventType.CUSTOMER_REPLIED,
    "convo.moved": WebhookEventType.CONVERSATION_UPDATED,
    "convo.status": WebhookEventType.CONVERSATION_UPDATED,
    "convo.tags": WebhookEventType.CONVERSATION_UPDATED,
    "convo.custom-fields": WebhookEventType.CONVERSATION_UPDATED,
    "convo.agent.reply.created": WebhookEventType.CONVERSATION_UPDATED,
    "convo.note.created": WebhookEventType.CONVERSATION_UPDATED,
}
# Thread types written by people, per the threads object docs; anything else (lineitem, forward*) is SYSTEM.
_PERSON_THREADS: Final = frozenset({"customer", "reply", "message", "note", "chat", "phone", "beaconchat"})


class Mailbox(BaseModel):
    """A Help Scout inbox: the scope conversations live in (the core has no inbox model)."""

    model_config = ConfigDict(extra="allow")

    id: str
    name: str | None = None
    email: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class MappingError(ValueError):
    """A record so broken it cannot be a core model (no id); the adapter skips and reports it."""


def _required_id(item: Mapping[str, Any], what: str) -> str:
    found = as_id(item.get("id"))
    if found is None:
        raise MappingError(f"helpscout: a {what} without an id cannot be mapped")
    return found


def _name(first: Any, last: Any) -> str | None:
    parts = [p for p in (as_str(first), as_str(last)) if p]
    return " ".join(parts) or None


def hs_time(value: Any) -> str | None:
    """A core time as Help Scout writes it: ISO-8601 UTC with a Z and no fraction (`2012-07-23T12:34:12Z`)."""
    dt = as_time(value)
    return None if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- conversations ------------------------------------------------------------------------------------


def status_from_hs(value: Any) -> ConversationStatus:
    """active -> open, pending -> pending, closed -> closed; spam and unknown words -> other."""
    return _STATUS_FROM_HS.get(str(value).lower(), ConversationStatus.OTHER) if value else ConversationStatus.OTHER


def status_to_hs(status: ConversationStatus) -> str:
    return _STATUS_TO_HS[status]


def hs_status_filter(statuses: Sequence[ConversationStatus] | None) -> str:
    """The one `status=` value that covers `statuses` (the list endpoint takes a single value).

    Default of the endpoint is `active` only, so no filter must send `all` (vendor notes §3). `open` covers
    active and pending. The adapter filters again after mapping, so a wider value is never wrong.
    """
    if not statuses:
        return "all"
    wanted = {status_to_hs(s) for s in statuses}
    if wanted == {"active"}:
        return "active"
    if wanted == {"pending"}:
        return "pending"
    if wanted == {"closed"}:
        return "closed"
    if wanted == {"spam"}:
        return "spam"
    if wanted <= {"active", "pending"}:
        return "open"
    return "all"


def conversation_fingerprint(item: Mapping[str, Any]) -> str:
    """An opaque version: Help Scout has no ETag or version, so we hash what a human edit changes.

    Assignee, status, mailbox, state and `userUpdatedAt` (last user or customer activity); the adapter
    compares it right before a write (stale detection without optimistic concurrency).
    """
    assignee = as_dict(item.get("assignee"))
    basis = [
        item.get("userUpdatedAt"),
        as_id(assignee.get("id")),
        assignee.get("type"),
        item.get("status"),
        as_id(item.get("mailboxId")),
        item.get("state"),
    ]
    return hashlib.sha256(json.dumps(basis, default=str).encode()).hexdigest()[:16]


def custom_fields_from_hs(value: Any) -> dict[str, Any]:
    """`customFields: [{id, name, value, text}]` by field name; a dropdown's `value` is its option id, so the
    shown `text` wins when present; fields without a name or value are dropped."""
    out: dict[str, Any] = {}
    for item in as_list(value):
        field = as_dict(item)
        name = as_str(field.get("name"))
        text = field.get("text")
        chosen = text if text is not None and text != "" else field.get("value")
        if name is not None and chosen is not None:
            out[name] = chosen
    return out


def conversation_from_hs(item: Mapping[str, Any]) -> Conversation:
    """A conversation; one assigned to a team has no agent yet and belongs to that team's group."""
    cid = _required_id(item, "conversation")
    assignee = as_dict(item.get("assignee"))
    assignee_type = str(assignee.get("type") or "user").lower()
    assignee_id = group_id = None
    if assignee_type == "team":
        group_id = as_id(assignee.get("id"))
    else:
        assignee_id = as_id(assignee.get("id"))
    customer = as_dict(item.get("primaryCustomer")) or as_dict(item.get("customer"))
    tags = []
    for tag in as_list(item.get("tags")):
        name = as_dict(tag).get("tag") if isinstance(tag, dict) else tag
        if isinstance(name, str) and name:
            tags.append(name)
    created = as_time(item.get("createdAt"))
    updated = as_time(item.get("userUpdatedAt")) or as_time(item.get("closedAt")) or created
    return Conversation(
        id=cid,
        status=status_from_hs(item.get("status")),
        subject=as_str(item.get("subject")),
        customer_id=as_id(customer.get("id")),
        assignee_id=assignee_id,
        group_id=group_id,
        channel=as_str(item.get("type")),
        tags=tags,
        created_at=created,
        updated_at=updated,
        version=conversation_fingerprint(item),
        custom_fields=custom_fields_from_hs(item.get("customFields")),
        mailbox_id=as_id(item.get("mailboxId")),
        raw=dict(item),
    )


def message_from_thread(item: Mapping[str, Any], conversation_id: str) -> Message:
    """A thread: `createdBy.type` user = agent, customer = customer; `note` is private; line items are SYSTEM.

    Line items (assignments, status changes, workflows) are not replies: role SYSTEM, never public. v2 reports
    AI actors as `user` (vendor notes §2); that cannot be told apart here.
    """
    tid = _required_id(item, "thread")
    kind = str(item.get("type") or "").lower()
    author = as_dict(item.get("createdBy"))
    author_type = str(author.get("type") or "").lower()
    if kind not in _PERSON_THREADS:
        role, public = AuthorRole.SYSTEM, False
    elif author_type == "customer" or (not author_type and kind == "customer"):
        role, public = AuthorRole.CUSTOMER, True
    elif author_type in ("user", "team") or (not author_type and kind in ("reply", "message", "note")):
        role, public = AuthorRole.AGENT, kind != "note"
    elif author_type in ("system_user", "workflow", "api"):
        role, public = AuthorRole.SYSTEM, kind != "note"
    else:
        role, public = AuthorRole.OTHER, kind != "note"
    return Message(
        id=tid,
        conversation_id=conversation_id,
        author_id=as_id(author.get("id")) if role is not AuthorRole.SYSTEM else None,
        author_role=role,
        public=public,
        body=as_str(item.get("body")) or as_str(as_dict(item.get("action")).get("text")),
        created_at=as_time(item.get("createdAt")),
        thread_type=kind or None,
        raw=dict(item),
    )


# -- people -------------------------------------------------------------------------------------------


def availability_from_status(status: Mapping[str, Any] | None) -> AgentAvailability:
    """`GET /v2/users/{id}/status`: email.status active -> available, away -> away; chat as a fallback."""
    data = as_dict(status)
    email = str(as_dict(data.get("email")).get("status") or "").lower()
    if email == "active":
        return AgentAvailability.AVAILABLE
    if email == "away":
        return AgentAvailability.AWAY
    chat = str(as_dict(data.get("chat")).get("status") or "").lower()
    if chat in ("available", "assign"):
        return AgentAvailability.AVAILABLE
    if chat == "unavailable":
        return AgentAvailability.AWAY
    return AgentAvailability.UNKNOWN


def agent_from_user(
    item: Mapping[str, Any],
    *,
    status: Mapping[str, Any] | None = None,
    group_ids: Iterable[str] = (),
    capacity: int | None = None,
) -> Agent:
    """A user; Help Scout has no capacity field, so capacity comes from settings (`capacity_default`)."""
    return Agent(
        id=_required_id(item, "user"),
        name=_name(item.get("firstName"), item.get("lastName")),
        email=as_str(item.get("email")),
        active=True,  # deleted users are gone from /v2/users; listed ones are active (pending invites included)
        availability=availability_from_status(status),
        capacity=capacity,
        group_ids=sorted(set(group_ids)),
        avatar_url=as_str(item.get("photoUrl")),
        role=as_str(item.get("role")),
        raw=dict(item),
    )


def group_from_team(item: Mapping[str, Any], member_ids: Iterable[str]) -> Group:
    """A team (Help Scout teams are users of type team); the name is in `firstName` or `name`."""
    return Group(
        id=_required_id(item, "team"),
        name=as_str(item.get("name")) or _name(item.get("firstName"), item.get("lastName")),
        agent_ids=sorted(set(member_ids)),
        raw=dict(item),
    )


def customer_from_hs(item: Mapping[str, Any], *, tags_property: str = DEFAULT_TAGS_PROPERTY) -> Customer:
    """A customer: emails, photo, background (the UI's Notes) and properties as custom attributes."""
    embedded = as_dict(item.get("_embedded"))
    emails = [v for v in (as_str(as_dict(e).get("value")) for e in as_list(embedded.get("emails"))) if v]
    phones = [v for v in (as_str(as_dict(p).get("value")) for p in as_list(embedded.get("phones"))) if v]
    attributes: dict[str, Any] = {}
    tags: list[str] = []
    for prop in as_list(embedded.get("properties")):
        prop = as_dict(prop)
        slug = as_str(prop.get("slug"))
        if slug is None:
            continue
        value = prop.get("value")
        if slug == tags_property:
            tags = [t.strip() for t in str(value or "").split(",") if t.strip()]
        else:
            attributes[slug] = value
    org = item.get("organization")
    return Customer(
        id=_required_id(item, "customer"),
        name=_name(item.get("firstName"), item.get("lastName")),
        email=emails[0] if emails else None,
        emails=emails,
        phone=phones[0] if phones else None,
        avatar_url=as_str(item.get("photoUrl")),
        organization=as_str(org) if not isinstance(org, dict) else as_str(org.get("name")),
        locale=as_str(item.get("language")),
        timezone=as_str(item.get("timezone")),
        tags=tags,
        custom_attributes=attributes,
        notes=as_str(item.get("background")),
        created_at=as_time(item.get("createdAt")),
        updated_at=as_time(item.get("updatedAt")),
        raw=dict(item),
    )


def mailbox_from_hs(item: Mapping[str, Any]) -> Mailbox:
    """An inbox from `GET /v2/mailboxes`."""
    return Mailbox(
        id=_required_id(item, "mailbox"),
        name=as_str(item.get("name")),
        email=as_str(item.get("email")),
        raw=dict(item),
    )


def rating_from_hs(item: Mapping[str, Any]) -> SatisfactionRating:
    """great -> good, not_good -> bad, okay and unknown -> unknown (the core has no middle score)."""
    return SatisfactionRating(
        id=_required_id(item, "rating"),
        conversation_id=as_id(item.get("conversationId")),
        customer_id=as_id(as_dict(item.get("customer")).get("id")),
        agent_id=as_id(as_dict(item.get("user")).get("id")) or as_id(item.get("user")),
        score=_RATING.get(str(item.get("rating") or "").lower(), RatingScore.UNKNOWN),
        comment=as_str(item.get("comments")),
        created_at=as_time(item.get("createdAt")),
        raw=dict(item),
    )


# -- webhooks -----------------------------------------------------------------------------------------


def event_from_webhook(event: str | None, body: Any, *, vendor: str = "helpscout") -> WebhookEvent:
    """One delivery (`X-HelpScout-Event` + v2 object body) as a core event; unknown kinds become OTHER."""
    data = as_dict(body)
    kind = (event or "").strip()
    event_type = _EVENTS.get(kind, WebhookEventType.OTHER)
    conversation_id = customer_id = agent_id = None
    if kind.startswith("convo."):
        conversation_id = as_id(data.get("id"))
        customer_id = as_id(as_dict(data.get("primaryCustomer")).get("id"))
        assignee = as_dict(data.get("assignee"))
        if str(assignee.get("type") or "user").lower() == "user":
            agent_id = as_id(assignee.get("id"))
    elif kind.startswith("customer."):
        customer_id = as_id(data.get("id"))
    elif kind == "satisfaction.ratings":
        conversation_id = as_id(data.get("conversationId"))
        customer_id = as_id(as_dict(data.get("customer")).get("id"))
        agent_id = as_id(as_dict(data.get("user")).get("id"))
    return WebhookEvent(
        vendor=vendor,
        type=event_type,
        conversation_id=conversation_id,
        customer_id=customer_id,
        agent_id=agent_id,
        occurred_at=as_time(data.get("userUpdatedAt")) or as_time(data.get("createdAt")),
        raw_type=kind or None,
        raw=data,
    )


# -- core -> Help Scout JSON (the fake renders its state with these) -----------------------------------


def user_to_hs(agent: Agent) -> dict[str, Any]:
    first, _, last = (agent.name or "").partition(" ")
    return {
        "id": int(agent.id),
        "firstName": first,
        "lastName": last,
        "email": agent.email,
        "role": "user",
        "timezone": "UTC",
        "photoUrl": agent.avatar_url,
        "type": "user",
        "mention": first.lower(),
        "initials": (first[:1] + last[:1]).upper(),
        "alternateEmails": [],
    }


def conversation_number(conversation_id: str) -> int:
    """The fake's UI number for a conversation id (Help Scout numbers are per account, ids global)."""
    return int(conversation_id) - 100_000 if conversation_id.isdigit() else 0


def conversation_to_hs(
    conv: Conversation,
    *,
    mailbox_id: int,
    customer: Customer | None,
    agent: Agent | None,
    group_name: str | None,
    threads: int,
) -> dict[str, Any]:
    """A conversation as `GET /v2/conversations/{id}` shows it (assignee absent when unassigned)."""
    created = hs_time(conv.created_at)
    data: dict[str, Any] = {
        "id": int(conv.id),
        "number": conversation_number(conv.id),
        "threads": threads,
        "type": conv.channel if conv.channel in ("email", "chat", "phone") else "email",
        "folderId": mailbox_id * 10 + 1,
        "status": status_to_hs(conv.status),
        "state": "published",
        "subject": conv.subject,
        "preview": (conv.subject or "")[:60],
        "mailboxId": mailbox_id,
        "createdBy": {"id": int(conv.customer_id or 0), "type": "customer"},
        "createdAt": created,
        "userUpdatedAt": hs_time(conv.updated_at) or created,
        "source": {"type": "email", "via": "customer"},
        "tags": [{"id": 9000 + i, "color": "#929499", "tag": t} for i, t in enumerate(conv.tags)],
        "cc": [],
        "bcc": [],
        "customFields": [],
    }
    if conv.assignee_id is not None and agent is not None:
        first, _, last = (agent.name or "").partition(" ")
        data["assignee"] = {"id": int(agent.id), "type": "user", "first": first, "last": last, "email": agent.email}
    elif conv.assignee_id is None and conv.group_id is not None:
        data["assignee"] = {"id": int(conv.group_id), "type": "team", "first": group_name or "", "last": ""}
    if customer is not None:
        first, _, last = (customer.name or "").partition(" ")
        data["primaryCustomer"] = {
            "id": int(customer.id),
            "type": "customer",
            "first": first,
            "last": last,
            "email": customer.email,
        }
    elif conv.customer_id is not None and conv.customer_id.isdigit():
        data["primaryCustomer"] = {"id": int(conv.customer_id), "type": "customer"}  # deleted: the id remains
    if conv.status in (ConversationStatus.SOLVED, ConversationStatus.CLOSED):
        data["closedAt"] = hs_time(conv.updated_at)
    return data


def thread_to_hs(msg: Message, *, customer: Customer | None, agent: Agent | None) -> dict[str, Any]:
    """A message as a thread: customer / reply / note, and SYSTEM messages as `lineitem`."""
    created = hs_time(msg.created_at)
    if msg.author_role is AuthorRole.CUSTOMER:
        first, _, last = ((customer.name if customer else None) or "").partition(" ")
        by: dict[str, Any] = {"id": int(msg.author_id or 0), "type": "customer", "first": first, "last": last}
        if customer is not None:
            by["email"] = customer.email
        kind = "customer"
    elif msg.author_role is AuthorRole.AGENT:
        # A deleted user still names the author of old threads (their id stays; /v2/users/{id} is 404).
        first, _, last = ((agent.name if agent else None) or "").partition(" ")
        by = {"id": int(msg.author_id or 0), "type": "user", "first": first, "last": last}
        kind = "reply" if msg.public else "note"
    else:
        return {
            "id": int(msg.id),
            "type": "lineitem",
            "status": "nochange",
            "state": "published",
            "action": {"type": "default", "text": msg.body or "", "associatedEntities": {}},
            "source": {"type": "web", "via": "user"},
            "createdAt": created,
        }
    return {
        "id": int(msg.id),
        "type": kind,
        "status": "active",
        "state": "published",
        "body": msg.body,
        "source": {"type": "email", "via": "customer" if kind == "customer" else "user"},
        "createdBy": by,
        "to": [],
        "cc": [],
        "bcc": [],
        "createdAt": created,
    }


def customer_to_hs(
    customer: Customer,
    *,
    definitions: Mapping[str, Mapping[str, Any]],
    tags_property: str = DEFAULT_TAGS_PROPERTY,
) -> dict[str, Any]:
    """A customer as `GET /v2/customers/{id}` shows it, with defined properties embedded."""
    first, _, last = (customer.name or "").partition(" ")
    values: dict[str, Any] = dict(customer.custom_attributes)
    if customer.tags:
        values[tags_property] = ",".join(customer.tags)
    properties = [
        {
            "type": definitions[slug].get("type", "text"),
            "slug": slug,
            "name": definitions[slug].get("name", slug),
            "value": value,
            "text": str(value),
            "source": {"type": "api"},
        }
        for slug, value in values.items()
        if slug in definitions and value is not None
    ]
    return {
        "id": int(customer.id),
        "firstName": first,
        "lastName": last,
        "photoType": "unknown" if customer.avatar_url is None else "gravatar",
        "photoUrl": customer.avatar_url,
        "organization": customer.organization,
        "background": customer.notes,
        "createdAt": hs_time(customer.created_at),
        "updatedAt": hs_time(customer.updated_at or customer.created_at),
        "_embedded": {
            "emails": [
                {"id": i + 1, "value": e, "type": "work"} for i, e in enumerate(customer.emails or [customer.email])
            ]
            if (customer.emails or customer.email)
            else [],
            "phones": [{"id": 1, "value": customer.phone, "type": "work"}] if customer.phone else [],
            "properties": properties,
        },
    }
