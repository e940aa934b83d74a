"""Zendesk JSON -> core models, tolerant of what Zendesk adds, omits or nulls.

Every reader takes a `Mapping` and uses `.get` with a default (never `payload["field"]`); a record without a
usable `id` maps to None and the caller skips it. The vendor payload is kept in `raw`. Facts follow
docs/vendors/zendesk.md §2 (Tickets JSON format, Users, Ticket comments, Satisfaction ratings).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
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
    SavedReply,
)
from humansupport.models import to_utc
from humansupport.text import html_to_text, looks_like_html
from humansupport.vendor.reading import as_dict, as_id, as_str, as_strings, as_time

__all__ = [
    "CORE_TO_STATUS",
    "STATUS_TO_CORE",
    "comment_to_message",
    "group_to_group",
    "macro_to_saved_reply",
    "rating_to_rating",
    "role_to_author_role",
    "stamp",
    "ticket_events_to_messages",
    "ticket_custom_fields",
    "ticket_to_conversation",
    "user_to_agent",
    "user_to_customer",
    "zendesk_id",
    "zendesk_time",
]

logger = logging.getLogger("humansupport.zendesk")

#: Ticket `status`; with custom statuses this is the category (vendors/zendesk.md §2).
STATUS_TO_CORE: Final[Mapping[str, ConversationStatus]] = {
    "new": ConversationStatus.NEW,
    "open": ConversationStatus.OPEN,
    "pending": ConversationStatus.PENDING,
    "hold": ConversationStatus.ON_HOLD,
    "solved": ConversationStatus.SOLVED,
    "closed": ConversationStatus.CLOSED,
}
CORE_TO_STATUS: Final[Mapping[ConversationStatus, str]] = {v: k for k, v in STATUS_TO_CORE.items()}

_AGENT_ROLES: Final = frozenset({"agent", "admin"})
_GOOD: Final = frozenset({"good", "good_with_comment", "good_without_comment"})
_BAD: Final = frozenset({"bad", "bad_with_comment", "bad_without_comment"})


def zendesk_id(value: Any) -> str | None:
    """Zendesk ids are integers; numeric strings too; bools, blanks, zero and containers are none
    (`humansupport.vendor.reading.as_id`)."""
    return as_id(value)


def zendesk_time(value: Any) -> datetime | None:
    """ISO-8601 (`2024-06-01T10:38:52Z`) or epoch seconds to aware UTC; anything unparsable is None (`as_time`)."""
    return as_time(value)


def stamp(value: datetime) -> str:
    """A time as Zendesk writes it (second precision, `Z`), e.g. for `updated_stamp`."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[union-attr]


def ticket_custom_fields(value: Any) -> dict[str, Any]:
    """`custom_fields: [{id, value}]` by field id as text (tickets carry no field names); null values dropped."""
    out: dict[str, Any] = {}
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, Mapping):
            continue
        fid = zendesk_id(item.get("id"))
        if fid is not None and item.get("value") is not None:
            out[fid] = item["value"]
    return out


def ticket_to_conversation(ticket: Mapping[str, Any]) -> Conversation | None:
    """A ticket; `version` is its `updated_at` text, the `updated_stamp` a safe update needs."""
    tid = zendesk_id(ticket.get("id"))
    if tid is None:
        return None
    status_text = ticket.get("status")
    status = STATUS_TO_CORE.get(status_text.lower(), ConversationStatus.OTHER) if isinstance(status_text, str) else None
    via = as_dict(ticket.get("via"))
    channel = via.get("channel")
    updated_at = zendesk_time(ticket.get("updated_at"))
    return Conversation(
        id=tid,
        status=status or ConversationStatus.OTHER,
        subject=as_str(ticket.get("subject")) or as_str(ticket.get("raw_subject")),
        customer_id=zendesk_id(ticket.get("requester_id")),
        assignee_id=zendesk_id(ticket.get("assignee_id")),
        group_id=zendesk_id(ticket.get("group_id")),
        channel=str(channel) if isinstance(channel, str | int) and not isinstance(channel, bool) else None,
        tags=as_strings(ticket.get("tags")),
        created_at=zendesk_time(ticket.get("created_at")),
        updated_at=updated_at,
        version=stamp(updated_at) if updated_at is not None else None,
        custom_fields=ticket_custom_fields(ticket.get("custom_fields")),
        raw=dict(ticket),
    )


def role_to_author_role(role: Any) -> AuthorRole:
    """A Zendesk user `role` (`end-user`, `agent`, `admin`) as an author role; anything else is OTHER."""
    if not isinstance(role, str):
        return AuthorRole.OTHER
    if role == "end-user":
        return AuthorRole.CUSTOMER
    if role in _AGENT_ROLES:
        return AuthorRole.AGENT
    return AuthorRole.OTHER


RoleOf = Callable[[str | None], AuthorRole]


def comment_to_message(comment: Mapping[str, Any], *, ticket_id: str, role_of: RoleOf) -> Message | None:
    """A ticket comment. Zendesk does not put the author's role on the comment: `role_of` looks it up.

    A comment without `public` is treated as private: showing an internal note to a customer is worse than
    leaving a public reply out of an affinity count.
    """
    cid = zendesk_id(comment.get("id"))
    if cid is None:
        return None
    author = zendesk_id(comment.get("author_id"))
    public = comment.get("public")
    body = as_str(comment.get("body")) or as_str(comment.get("plain_body")) or as_str(comment.get("html_body"))
    return Message(
        id=cid,
        conversation_id=ticket_id,
        author_id=author,
        author_role=role_of(author),
        public=public if isinstance(public, bool) else False,
        body=body,
        created_at=zendesk_time(comment.get("created_at")),
        raw=dict(comment),
    )


def ticket_events_to_messages(events: list[Mapping[str, Any]], *, role_of: RoleOf) -> Iterator[Message]:
    """Comments from an incremental ticket-events page (`include=comment_events`), in the order given.

    Each event is an audit with `child_events`; a child with `event_type: "Comment"` is one comment. Its time
    is the audit's `created_at` (or `timestamp`), its author the child's `author_id` or the audit's updater.
    """
    for event in events:
        if not isinstance(event, Mapping):
            continue
        ticket_id = zendesk_id(event.get("ticket_id"))
        if ticket_id is None:
            continue
        when = event.get("created_at") or event.get("timestamp")
        children = event.get("child_events")
        for child in children if isinstance(children, list) else []:
            if not isinstance(child, Mapping) or not isinstance(child.get("event_type"), str):
                continue
            if child["event_type"] not in ("Comment", "VoiceComment"):
                continue
            comment = {**child, "created_at": child.get("created_at") or when}
            if comment.get("author_id") is None:
                comment["author_id"] = event.get("updater_id")
            message = comment_to_message(comment, ticket_id=ticket_id, role_of=role_of)
            if message is not None:
                yield message


def _avatar(user: Mapping[str, Any]) -> str | None:
    photo = as_dict(user.get("photo"))
    return as_str(photo.get("content_url")) or as_str(photo.get("mapped_content_url"))


def user_to_customer(user: Mapping[str, Any]) -> Customer | None:
    """An end user. `user_fields` become custom attributes; `notes` (agent-only) become notes.

    A deleted end user stays readable with `active: false` (Zendesk soft-deletes users): `Customer.active`
    is false then, and a suspended one is inactive too, so enrichment writes nothing to either.
    """
    uid = zendesk_id(user.get("id"))
    if uid is None:
        return None
    email = as_str(user.get("email"))
    org = zendesk_id(user.get("organization_id"))
    return Customer(
        id=uid,
        name=as_str(user.get("name")),
        email=email,
        emails=[email] if email else [],
        phone=as_str(user.get("phone")),
        avatar_url=_avatar(user),
        organization=org,
        locale=as_str(user.get("locale")),
        timezone=as_str(user.get("iana_time_zone")) or as_str(user.get("time_zone")),
        tags=as_strings(user.get("tags")),
        custom_attributes=as_dict(user.get("user_fields")),
        notes=as_str(user.get("notes")),
        created_at=zendesk_time(user.get("created_at")),
        updated_at=zendesk_time(user.get("updated_at")),
        active=user.get("active") is not False and user.get("suspended") is not True,
        raw=dict(user),
    )


def user_to_agent(
    user: Mapping[str, Any],
    *,
    group_ids: list[str] | None = None,
    capacity: int | None = None,
    availability: AgentAvailability = AgentAvailability.UNKNOWN,
) -> Agent | None:
    """An agent or admin. Zendesk users carry no availability or capacity (see the adapter for both).

    A deleted agent keeps `active: false`, a suspended one `suspended: true`: neither takes work.
    """
    uid = zendesk_id(user.get("id"))
    if uid is None:
        return None
    active = user.get("active")
    return Agent(
        id=uid,
        name=as_str(user.get("name")),
        email=as_str(user.get("email")),
        active=(active is not False) and user.get("suspended") is not True,
        availability=availability,
        capacity=capacity if capacity is None or capacity >= 0 else None,
        group_ids=list(group_ids or []),
        avatar_url=_avatar(user),
        raw=dict(user),
    )


def group_to_group(group: Mapping[str, Any], *, agent_ids: list[str] | None = None) -> Group | None:
    gid = zendesk_id(group.get("id"))
    if gid is None:
        return None
    return Group(id=gid, name=as_str(group.get("name")), agent_ids=list(agent_ids or []), raw=dict(group))


def rating_to_rating(rating: Mapping[str, Any]) -> SatisfactionRating | None:
    """A legacy CSAT rating; `good_with_comment` and friends fold into good/bad, `unoffered` is unknown."""
    rid = zendesk_id(rating.get("id"))
    if rid is None:
        return None
    score_text = rating.get("score") if isinstance(rating.get("score"), str) else None
    if score_text in _GOOD:
        score = RatingScore.GOOD
    elif score_text in _BAD:
        score = RatingScore.BAD
    elif score_text == "offered":
        score = RatingScore.OFFERED
    else:
        score = RatingScore.UNKNOWN
    return SatisfactionRating(
        id=rid,
        conversation_id=zendesk_id(rating.get("ticket_id")),
        customer_id=zendesk_id(rating.get("requester_id")),
        agent_id=zendesk_id(rating.get("assignee_id")),
        score=score,
        comment=as_str(rating.get("comment")),
        created_at=zendesk_time(rating.get("created_at")),
        raw=dict(rating),
    )


def _macro_comment(actions: Any) -> str | None:
    """The reply text a macro's actions set: `comment_value_html` first, else `comment_value` (plain text).

    `comment_value` may be a string or, in older macros, `["channel:all", "text"]` (the text is the last item).
    """
    found: dict[str, str] = {}
    for action in actions if isinstance(actions, list) else []:
        if not isinstance(action, Mapping):
            continue
        field, value = action.get("field"), action.get("value")
        if isinstance(value, list):
            value = next((v for v in reversed(value) if isinstance(v, str) and not v.startswith("channel:")), None)
        if field in ("comment_value_html", "comment_value") and isinstance(value, str) and value.strip():
            found[str(field)] = value
    if "comment_value_html" in found:
        return html_to_text(found["comment_value_html"])
    plain = found.get("comment_value")
    if plain is None:
        return None
    plain = plain.replace("\r\n", "\n")
    return html_to_text(plain) if looks_like_html(plain) else plain.strip()


def macro_to_saved_reply(item: Mapping[str, Any], *, admin_url: str | None = None) -> SavedReply | None:
    """A macro that writes a comment; None for one that only sets fields (nothing to read) or has no id."""
    mid = zendesk_id(item.get("id"))
    body = _macro_comment(item.get("actions"))
    if mid is None or body is None:
        return None
    title = item.get("title") if isinstance(item.get("title"), str) else item.get("raw_title")
    return SavedReply(
        id=mid,
        vendor="zendesk",
        title=title if isinstance(title, str) else None,
        body=body,
        kind="macro",
        url=f"{admin_url}/admin/workspaces/agent-workspace/macros/{mid}" if admin_url else None,
        updated_at=zendesk_time(item.get("updated_at")),
        raw=dict(item),
    )
