"""Freshdesk JSON <-> core models: pure functions, tolerant of missing, extra and null fields.

Every reader uses `.get()` with a default and keeps the vendor payload in `raw`; unknown status, source
or rating values map to `other`/`unknown` instead of failing. Field names follow the Freshdesk API v2
reference (developers.freshdesk.com/api) as summarised in docs/vendors/freshdesk.md; older payloads
(v1 samples) spell `custom_field` in the singular and use local `+10:00` offsets, both accepted here.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from humansupport.models import (
    Agent,
    AgentAvailability,
    AuthorRole,
    Conversation,
    ConversationStatus,
    Customer,
    Group,
    Message,
    ProfilePatch,
    RatingScore,
    SatisfactionRating,
)
from humansupport.text import html_to_text as _html_to_text
from humansupport.vendor import as_dict, as_id, as_int, as_list, as_str, as_strings, as_time

__all__ = [
    "DESCRIPTION_MARKER_END",
    "DESCRIPTION_MARKER_START",
    "FRESHDESK_STATUS",
    "SOURCE_CHANNELS",
    "agent_from_json",
    "contact_update_body",
    "customer_from_json",
    "description_message",
    "fd_time",
    "group_from_json",
    "html_to_text",
    "merge_description",
    "message_from_json",
    "rating_from_json",
    "rating_score",
    "status_from_freshdesk",
    "status_to_freshdesk",
    "text_to_html",
    "ticket_from_json",
]

#: Built-in ticket statuses (API v2 reference, "Ticket properties"); custom statuses get ids >= 6.
FRESHDESK_STATUS: Final[Mapping[int, ConversationStatus]] = {
    2: ConversationStatus.OPEN,
    3: ConversationStatus.PENDING,
    4: ConversationStatus.SOLVED,
    5: ConversationStatus.CLOSED,
}
_STATUS_TO_FD: Final[Mapping[ConversationStatus, int]] = {
    ConversationStatus.NEW: 2,  # Freshdesk has no "new": a fresh ticket is Open
    ConversationStatus.OPEN: 2,
    ConversationStatus.PENDING: 3,
    ConversationStatus.SOLVED: 4,
    ConversationStatus.CLOSED: 5,
}

#: Ticket `source` values (1 Email, 2 Portal, 3 Phone, 7 Chat; 9 Feedback widget and 10 Outbound email
#: are unconfirmed); anything else becomes channel "other" with the number kept in `raw`.
SOURCE_CHANNELS: Final[Mapping[int, str]] = {
    1: "email",
    2: "web",
    3: "phone",
    7: "chat",
    9: "web",
    10: "email",
}

# Survey answers: 103 extremely happy ... 100 neutral ... -103 extremely unhappy (classic 3-point surveys
# use 103 / 100 / -103). Only the sign matters to us.
_NEUTRAL_RATING: Final = 100

DESCRIPTION_MARKER_START: Final = "[humansupport]"
DESCRIPTION_MARKER_END: Final = "[/humansupport]"


def fd_time(value: datetime) -> str:
    """A UTC time as Freshdesk writes it: `2026-01-02T03:04:05Z`.

    We send `Z`, never `+00:00`: Freshdesk echoes query values unencoded in its `Link` header, and a `+`
    there would come back to it as a space.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _id_list(value: Any) -> list[str]:
    return [i for i in (as_id(v) for v in as_list(value)) if i]


def html_to_text(value: Any) -> str | None:
    """Plain text from an HTML body, for payloads without `body_text` (the shared `humansupport.text` converter)."""
    if not isinstance(value, str):
        return None
    return _html_to_text(value) or None


def text_to_html(text: str) -> str:
    """Plain text as the HTML Freshdesk expects in note bodies (escaped, line breaks kept)."""
    return "<div>" + html.escape(text).replace("\n", "<br>") + "</div>"


def status_from_freshdesk(value: Any, custom: Mapping[int, ConversationStatus] | None = None) -> ConversationStatus:
    """2-5 are built in; custom statuses (>= 6) map through `custom` (per account) else to OTHER."""
    number = as_int(value)
    if number is None:
        return ConversationStatus.OTHER
    if custom and number in custom:
        return custom[number]
    return FRESHDESK_STATUS.get(number, ConversationStatus.OTHER)


def status_to_freshdesk(
    status: ConversationStatus, custom: Mapping[int, ConversationStatus] | None = None
) -> int | None:
    """The Freshdesk status id for a core status (None when no built-in or configured one fits)."""
    if status in _STATUS_TO_FD:
        return _STATUS_TO_FD[status]
    for number, mapped in (custom or {}).items():
        if mapped is status:
            return number
    return None


def ticket_from_json(data: Mapping[str, Any], custom: Mapping[int, ConversationStatus] | None = None) -> Conversation:
    """A ticket (list, single or webhook shape) as a Conversation; `version` is updated_at (no ETag in v2)."""
    source = as_int(data.get("source"))
    updated = as_time(data.get("updated_at"))
    tags = as_strings(data.get("tags"))
    return Conversation(
        id=as_id(data.get("id")) or "",
        status=status_from_freshdesk(data.get("status"), custom),
        subject=as_str(data.get("subject")),
        customer_id=as_id(data.get("requester_id")),
        assignee_id=as_id(data.get("responder_id")),
        group_id=as_id(data.get("group_id")),
        channel=SOURCE_CHANNELS.get(source, "other") if source is not None else None,
        tags=tags,
        created_at=as_time(data.get("created_at")),
        updated_at=updated,
        version=fd_time(updated) if updated is not None else None,
        custom_fields={str(k): v for k, v in as_dict(data.get("custom_fields")).items() if v is not None},
        raw=dict(data),
    )


def description_message(ticket: Mapping[str, Any]) -> Message | None:
    """The ticket's first message: Freshdesk keeps it in `description`, not in the conversations list."""
    ticket_id = as_id(ticket.get("id"))
    body = as_str(ticket.get("description_text")) or html_to_text(ticket.get("description"))
    if ticket_id is None or body is None:
        return None
    return Message(
        id=f"{ticket_id}:description",
        conversation_id=ticket_id,
        author_id=as_id(ticket.get("requester_id")),
        author_role=AuthorRole.CUSTOMER,
        public=True,
        body=body,
        created_at=as_time(ticket.get("created_at")),
        raw={k: ticket.get(k) for k in ("id", "requester_id", "description", "description_text", "created_at")},
    )


def message_from_json(data: Mapping[str, Any], ticket_id: str | None = None) -> Message:
    """A conversation (reply or note). Role by `incoming`: true = from outside (customer), false = agent side.

    `user_id` may be a deleted agent, which Freshdesk turns into a contact with the same id, so we do not
    infer the role from the id (vendors/freshdesk.md §2, "Conversation").
    """
    incoming = data.get("incoming")
    if incoming is True:
        role = AuthorRole.CUSTOMER
    elif incoming is False:
        # agent side; with no author at all it was an automation (system) writing
        role = AuthorRole.AGENT if as_id(data.get("user_id")) is not None else AuthorRole.SYSTEM
    else:
        role = AuthorRole.OTHER
    private = data.get("private")
    return Message(
        id=as_id(data.get("id")) or "",
        conversation_id=as_id(data.get("ticket_id")) or ticket_id or "",
        author_id=as_id(data.get("user_id")),
        author_role=role,
        public=private is not True,
        body=as_str(data.get("body_text")) or html_to_text(data.get("body")),
        created_at=as_time(data.get("created_at")),
        raw=dict(data),
    )


def agent_from_json(data: Mapping[str, Any], *, capacity_default: int | None = None) -> Agent:
    """An agent; `available` means accepting tickets from groups with automatic assignment."""
    contact = as_dict(data.get("contact"))
    available = data.get("available")
    if available is True:
        availability = AgentAvailability.AVAILABLE
    elif available is False:
        availability = AgentAvailability.AWAY
    else:
        availability = AgentAvailability.UNKNOWN
    avatar = as_dict(contact.get("avatar"))
    return Agent(
        id=as_id(data.get("id")) or "",
        name=as_str(contact.get("name")),
        email=as_str(contact.get("email")),
        active=contact.get("active") is not False and data.get("deleted") is not True,
        availability=availability,
        capacity=capacity_default,
        group_ids=_id_list(data.get("group_ids")),
        avatar_url=as_str(avatar.get("avatar_url")),
        raw=dict(data),
    )


def group_from_json(data: Mapping[str, Any]) -> Group:
    return Group(
        id=as_id(data.get("id")) or "",
        name=as_str(data.get("name")),
        agent_ids=_id_list(data.get("agent_ids")),
        raw=dict(data),
    )


def customer_from_json(data: Mapping[str, Any]) -> Customer:
    """A contact; `custom_fields` (v2) or `custom_field` (v1 samples), `description` is the notes field."""
    email = as_str(data.get("email"))
    emails = [e for e in [email, *as_strings(data.get("other_emails"))] if e]
    custom = as_dict(data.get("custom_fields")) or as_dict(data.get("custom_field"))
    avatar = as_dict(data.get("avatar"))
    return Customer(
        id=as_id(data.get("id")) or "",
        name=as_str(data.get("name")),
        email=email,
        emails=list(dict.fromkeys(emails)),
        phone=as_str(data.get("phone")) or as_str(data.get("mobile")),
        avatar_url=as_str(avatar.get("avatar_url")),
        locale=as_str(data.get("language")),
        timezone=as_str(data.get("time_zone")),
        tags=as_strings(data.get("tags")),
        custom_attributes=custom,
        notes=as_str(data.get("description")),
        created_at=as_time(data.get("created_at")),
        updated_at=as_time(data.get("updated_at")),
        raw=dict(data),
    )


def rating_score(ratings: Any) -> RatingScore:
    """The `default_question` answer: above neutral is good, below is bad, neutral or missing unknown."""
    answer = as_int(as_dict(ratings).get("default_question"))
    if answer is None or answer == _NEUTRAL_RATING:
        return RatingScore.UNKNOWN
    return RatingScore.GOOD if answer > _NEUTRAL_RATING else RatingScore.BAD


def rating_from_json(data: Mapping[str, Any]) -> SatisfactionRating:
    return SatisfactionRating(
        id=as_id(data.get("id")) or "",
        conversation_id=as_id(data.get("ticket_id")),
        customer_id=as_id(data.get("user_id")),
        agent_id=as_id(data.get("agent_id")),
        score=rating_score(data.get("ratings")),
        comment=as_str(data.get("feedback")),
        created_at=as_time(data.get("created_at")),
        raw=dict(data),
    )


def merge_description(existing: str | None, note: str) -> str:
    """Writes our note into the contact's description without clobbering what humans wrote there.

    Our text lives between `[humansupport]` markers: replaced in place when present, appended otherwise.
    """
    block = f"{DESCRIPTION_MARKER_START}\n{note.strip()}\n{DESCRIPTION_MARKER_END}"
    current = existing or ""
    start = current.find(DESCRIPTION_MARKER_START)
    end = current.find(DESCRIPTION_MARKER_END, start + 1) if start >= 0 else -1
    if start >= 0 and end >= 0:
        return current[:start] + block + current[end + len(DESCRIPTION_MARKER_END) :]
    return f"{current.rstrip()}\n\n{block}" if current.strip() else block


def contact_update_body(current: Mapping[str, Any], patch: ProfilePatch) -> dict[str, Any]:
    """The `PUT /api/v2/contacts/{id}` body for a patch, given the contact as read just before.

    `tags` replaces the whole list in Freshdesk, so we send the union; custom fields are sent as given
    (keys sent are updated, others kept); the note goes into `description` between markers.
    """
    body: dict[str, Any] = {}
    if patch.custom_attributes:
        body["custom_fields"] = dict(patch.custom_attributes)
    if patch.tags:
        existing = as_strings(current.get("tags"))
        merged = list(dict.fromkeys([*existing, *patch.tags]))
        if merged != existing:
            body["tags"] = merged
    if patch.note:
        description = as_str(current.get("description"))
        merged_note = merge_description(description, patch.note)
        if merged_note != description:
            body["description"] = merged_note
    return body
