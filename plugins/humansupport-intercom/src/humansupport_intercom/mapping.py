"""Intercom JSON <-> humansupport core models; pure functions, no I/O, tolerant of what Intercom sends.

Intercom leaves out fields its own OpenAPI description marks present and adds new ones without notice
(intercom/Intercom-OpenAPI PR #274), so every read here has a default, `raw` keeps the payload, and an
unknown enum value becomes `other`/`unknown` instead of an exception. Facts: docs/vendors/intercom.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from humansupport import (
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
)
from humansupport.vendor.reading import as_dict, as_id, as_list, as_str, as_time

__all__ = [
    "MESSAGE_PART_TYPES",
    "NON_MESSAGE_PART_TYPES",
    "STATE_FOR_STATUS",
    "STATUS_FOR_STATE",
    "agent_from_admin",
    "as_id",
    "conversation_from_intercom",
    "customer_from_contact",
    "group_from_team",
    "message_from_part",
    "message_from_source",
    "messages_from_conversation",
    "rating_from_conversation",
    "states_for_statuses",
    "tag_ids",
    "version_of",
]

#: Intercom conversation state -> core status. `snoozed` waits on a time but stays in the admin's inbox,
#: so it counts toward load like on_hold (ConversationStatus.is_open).
STATUS_FOR_STATE: Final[Mapping[str, ConversationStatus]] = {
    "open": ConversationStatus.OPEN,
    "snoozed": ConversationStatus.ON_HOLD,
    "closed": ConversationStatus.CLOSED,
}

#: core status -> the Intercom state the fake renders (lossy: Intercom has only three states)
STATE_FOR_STATUS: Final[Mapping[ConversationStatus, str]] = {
    ConversationStatus.NEW: "open",
    ConversationStatus.OPEN: "open",
    ConversationStatus.PENDING: "snoozed",
    ConversationStatus.ON_HOLD: "snoozed",
    ConversationStatus.SOLVED: "closed",
    ConversationStatus.CLOSED: "closed",
    ConversationStatus.OTHER: "open",
}

#: part types that carry a message someone wrote (everything else is an event: assignment, close, ...)
MESSAGE_PART_TYPES: Final = frozenset({"comment", "note", "quick_reply"})
#: known event part types, skipped by `messages_from_conversation`; an unknown part type with a body is kept
NON_MESSAGE_PART_TYPES: Final = frozenset(
    {
        "assignment",
        "assign_and_reopen",
        "assign_and_unsnooze",
        "away_mode_assignment",
        "open",
        "close",
        "snoozed",
        "unsnoozed",
        "timer_unsnooze",
        "participant_added",
        "participant_removed",
        "conversation_attribute_updated_by_admin",
        "conversation_attribute_updated_by_workflow",
        "conversation_sla_applied_by_rule",
        "default_assignment",
        "priority_changed",
        "title_changed",
        "language_detection_details",
    }
)

_ROLE_FOR_AUTHOR: Final[Mapping[str, AuthorRole]] = {
    "admin": AuthorRole.AGENT,
    "user": AuthorRole.CUSTOMER,
    "lead": AuthorRole.CUSTOMER,
    "contact": AuthorRole.CUSTOMER,
    "visitor": AuthorRole.CUSTOMER,
    "bot": AuthorRole.SYSTEM,  # Fin and workflows: never a human relationship
}


def version_of(item: Mapping[str, Any]) -> str | None:
    """Intercom has no ETag or version; `updated_at` (Unix seconds) is the best concurrency token it gives."""
    updated = item.get("updated_at")
    if isinstance(updated, int | float) and not isinstance(updated, bool):
        return str(int(updated)) if math.isfinite(updated) else None
    return as_str(updated)


def _requester_id(item: Mapping[str, Any]) -> str | None:
    """The customer is the first contact of the conversation (more only in group conversations)."""
    contacts = item.get("contacts")
    refs = as_list(contacts.get("contacts")) if isinstance(contacts, dict) else as_list(contacts)
    for ref in refs:
        if isinstance(ref, dict):
            found = as_id(ref.get("id"))
            if found:
                return found
    source_author = as_dict(as_dict(item.get("source")).get("author"))
    if source_author.get("type") in ("user", "lead", "contact"):
        return as_id(source_author.get("id"))
    return None


def _tag_names(tags: Any) -> list[str]:
    """Conversation tags: `{"type": "tag.list", "tags": [{"name": ...}]}`; a bare list is accepted too."""
    items = as_list(tags.get("tags")) if isinstance(tags, dict) else as_list(tags)
    names = [item.get("name") for item in items if isinstance(item, dict)]
    return [n for n in names if isinstance(n, str) and n]


def conversation_from_intercom(item: Mapping[str, Any]) -> Conversation:
    """A conversation (search list item or full object) as a core Conversation."""
    state = item.get("state")
    if isinstance(state, str):
        status = STATUS_FOR_STATE.get(state.lower(), ConversationStatus.OTHER)
    elif item.get("open") is True:
        status = ConversationStatus.OPEN
    elif item.get("open") is False:
        status = ConversationStatus.CLOSED
    else:
        status = ConversationStatus.OTHER
    source = as_dict(item.get("source"))
    subject = as_str(item.get("title")) or as_str(source.get("subject"))
    return Conversation(
        id=as_str(item.get("id")) or "",
        status=status,
        subject=subject,
        customer_id=_requester_id(item),
        assignee_id=as_id(item.get("admin_assignee_id")),
        group_id=as_id(item.get("team_assignee_id")),
        channel=as_str(source.get("type")),
        tags=_tag_names(item.get("tags")),
        created_at=as_time(item.get("created_at")),
        updated_at=as_time(item.get("updated_at")),
        version=version_of(item),
        custom_fields={str(k): v for k, v in as_dict(item.get("custom_attributes")).items() if v is not None},
        raw=dict(item),
    )


def _author_role(author: Mapping[str, Any]) -> AuthorRole:
    kind = author.get("type")
    if not isinstance(kind, str):
        return AuthorRole.OTHER
    if author.get("from_ai_agent") is True or author.get("is_ai_answer") is True:
        return AuthorRole.SYSTEM
    return _ROLE_FOR_AUTHOR.get(kind.lower(), AuthorRole.OTHER)


def message_from_part(conversation_id: str, part: Mapping[str, Any]) -> Message:
    """One conversation part; a `note` is private, everything else is visible to the customer."""
    author = as_dict(part.get("author"))
    return Message(
        id=as_str(part.get("id")) or "",
        conversation_id=conversation_id,
        author_id=as_id(author.get("id")),
        author_role=_author_role(author),
        public=part.get("part_type") != "note",
        body=as_str(part.get("body")),
        created_at=as_time(part.get("created_at")),
        raw=dict(part),
    )


def message_from_source(conversation_id: str, item: Mapping[str, Any]) -> Message | None:
    """The opening message: Intercom keeps it in `source`, not in `conversation_parts`."""
    source = as_dict(item.get("source"))
    if not source or (source.get("id") is None and source.get("body") is None):
        return None
    author = as_dict(source.get("author"))
    return Message(
        id=as_str(source.get("id")) or f"{conversation_id}-source",
        conversation_id=conversation_id,
        author_id=as_id(author.get("id")),
        author_role=_author_role(author),
        public=True,
        body=as_str(source.get("body")),
        created_at=as_time(item.get("created_at")),
        raw=dict(source),
    )


def _is_message_part(part: Mapping[str, Any]) -> bool:
    kind = part.get("part_type")
    if not isinstance(kind, str):
        kind = None  # a list or object here is not a part type we know (found by the property tests)
    if kind in MESSAGE_PART_TYPES:
        return True
    if kind in NON_MESSAGE_PART_TYPES:
        return False
    return as_str(part.get("body")) is not None  # an unknown kind that someone wrote text in


def messages_from_conversation(item: Mapping[str, Any]) -> tuple[list[Message], int]:
    """The source and the message parts in time order, and how many parts Intercom left out.

    `GET /conversations/{id}` returns at most 500 parts, the most recent ones (fact sheet §2); older parts
    are not reachable through the REST API, so the caller can only report the gap.
    """
    conv_id = as_str(item.get("id")) or ""
    parts_obj = as_dict(item.get("conversation_parts"))
    parts = [p for p in as_list(parts_obj.get("conversation_parts")) if isinstance(p, dict)]
    total = parts_obj.get("total_count")
    missing = max(0, total - len(parts)) if isinstance(total, int) and not isinstance(total, bool) else 0
    out: list[Message] = []
    opening = message_from_source(conv_id, item)
    if opening is not None:
        out.append(opening)
    out.extend(message_from_part(conv_id, p) for p in parts if _is_message_part(p))
    out.sort(key=lambda m: m.created_at.timestamp() if m.created_at is not None else float("inf"))
    return out, missing


def agent_from_admin(item: Mapping[str, Any], *, capacity: int | None = None) -> Agent:
    """An admin (teammate). Away mode is availability, not deletion; no inbox seat means no conversations."""
    away = item.get("away_mode_enabled")
    availability = (
        AgentAvailability.AWAY
        if away is True
        else AgentAvailability.AVAILABLE
        if away is False
        else AgentAvailability.UNKNOWN
    )
    avatar = item.get("avatar")
    avatar_url = as_str(as_dict(avatar).get("image_url")) if isinstance(avatar, dict) else as_str(avatar)
    team_ids = [t for t in (as_id(x) for x in as_list(item.get("team_ids"))) if t]
    return Agent(
        id=as_str(item.get("id")) or "",
        name=as_str(item.get("name")),
        email=as_str(item.get("email")),
        active=item.get("has_inbox_seat") is not False,
        availability=availability,
        capacity=capacity,
        group_ids=team_ids,
        avatar_url=avatar_url,
        raw=dict(item),
    )


def group_from_team(item: Mapping[str, Any]) -> Group:
    admin_ids = [a for a in (as_id(x) for x in as_list(item.get("admin_ids"))) if a]
    return Group(id=as_str(item.get("id")) or "", name=as_str(item.get("name")), agent_ids=admin_ids, raw=dict(item))


def customer_from_contact(item: Mapping[str, Any], *, tag_names: Mapping[str, str] | None = None) -> Customer:
    """A contact (user or lead). Inline tags are id references; `tag_names` turns ids into names."""
    names = tag_names or {}
    tags: list[str] = []
    for ref in as_list(as_dict(item.get("tags")).get("data")):
        if isinstance(ref, dict):
            tag_id = as_str(ref.get("id"))
            name = as_str(ref.get("name")) or (names.get(tag_id) if tag_id else None)
            if name:
                tags.append(name)
    avatar = item.get("avatar")
    avatar_url = as_str(as_dict(avatar).get("image_url")) if isinstance(avatar, dict) else as_str(avatar)
    email = as_str(item.get("email"))
    custom = item.get("custom_attributes")
    return Customer(
        id=as_str(item.get("id")) or "",
        name=as_str(item.get("name")),
        email=email,
        emails=[email] if email else [],
        phone=as_str(item.get("phone")),
        avatar_url=avatar_url,
        locale=as_str(item.get("language_override")) or as_str(item.get("browser_language")),
        tags=tags,
        custom_attributes=dict(custom) if isinstance(custom, dict) else {},
        created_at=as_time(item.get("created_at")),
        updated_at=as_time(item.get("updated_at")),
        raw=dict(item),
    )


def rating_from_conversation(item: Mapping[str, Any]) -> SatisfactionRating | None:
    """The conversation's CSAT (1-5) or None; 4-5 is good, 1-2 bad, 3 neutral (unknown), raw keeps the number.

    Intercom gives a rating no id of its own; there is at most one per conversation, so its id is the
    conversation id.
    """
    rating = item.get("conversation_rating")
    if not isinstance(rating, dict):
        return None
    conv_id = as_str(item.get("id"))
    if conv_id is None:
        return None
    value = rating.get("rating")
    if isinstance(value, int | float) and not isinstance(value, bool):
        score = RatingScore.GOOD if value >= 4 else RatingScore.BAD if value <= 2 else RatingScore.UNKNOWN
    else:
        score = RatingScore.OFFERED if rating.get("requested_at") else RatingScore.UNKNOWN
    contact = as_dict(rating.get("contact"))
    teammate = as_dict(rating.get("teammate"))
    return SatisfactionRating(
        id=conv_id,
        conversation_id=conv_id,
        customer_id=as_id(contact.get("id")) or _requester_id(item),
        agent_id=as_id(teammate.get("id")),
        score=score,
        comment=as_str(rating.get("remark")),
        created_at=as_time(rating.get("created_at")) or as_time(rating.get("updated_at")),
        raw=dict(rating),
    )


def states_for_statuses(statuses: Sequence[ConversationStatus] | None) -> list[str] | None:
    """The Intercom states whose core status is wanted (None: no filter; []: nothing can match)."""
    if statuses is None:
        return None
    wanted = set(statuses)
    return sorted(state for state, status in STATUS_FOR_STATE.items() if status in wanted)


def tag_ids(tags: Iterable[Any]) -> list[str]:
    """Ids from a list of tag references."""
    return [t for t in (as_str(as_dict(x).get("id")) for x in tags) if t]
