"""RT REST2 JSON -> humansupport models: tickets, transactions (+ their attachments), users and queues.

Pure functions, no I/O. Ids are RT's numeric ids as strings (users and principals share one id space).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from humansupport import Agent, AuthorRole, Conversation, ConversationStatus, Customer, Group, Message
from humansupport.text import html_to_text
from humansupport.vendor import as_dict, as_id, as_list, as_str, as_time

__all__ = [
    "NOBODY",
    "STATUS_TO_RT",
    "SYSTEM_USERS",
    "TAGS_FIELD",
    "TICKET_FIELDS",
    "conversation",
    "custom_field_values",
    "customer",
    "group",
    "message",
    "rt_status",
    "status",
    "ticketsql_time",
]

#: the owner RT shows on an unowned ticket
NOBODY: Final = "Nobody"
#: RT's own users: never agents or customers
SYSTEM_USERS: Final = frozenset({"RT_System", "Nobody"})
#: the ticket custom field (multi-value) read as the conversation's tags: RT tickets have no tags of their own
TAGS_FIELD: Final = "Tags"
#: the fields a ticket search asks for, so no ticket needs a request of its own
TICKET_FIELDS: Final = {
    "fields": "Subject,Status,Owner,Queue,Requestor,Created,LastUpdated,Resolved,CustomFields",
    "fields[Owner]": "id,Name",
    "fields[Requestor]": "id,EmailAddress",
    "fields[Queue]": "id,Name,Lifecycle",
}

# RT's default and "assets"-free lifecycles; a custom lifecycle's status is matched by name, else kept in raw
_STATUS: Final[Mapping[str, ConversationStatus]] = {
    "new": ConversationStatus.NEW,
    "open": ConversationStatus.OPEN,
    "stalled": ConversationStatus.PENDING,
    "resolved": ConversationStatus.SOLVED,
    "rejected": ConversationStatus.CLOSED,
    "deleted": ConversationStatus.CLOSED,
    # words custom lifecycles commonly use
    "pending": ConversationStatus.PENDING,
    "waiting": ConversationStatus.PENDING,
    "on hold": ConversationStatus.ON_HOLD,
    "on_hold": ConversationStatus.ON_HOLD,
    "hold": ConversationStatus.ON_HOLD,
    "in progress": ConversationStatus.OPEN,
    "solved": ConversationStatus.SOLVED,
    "closed": ConversationStatus.CLOSED,
    "done": ConversationStatus.SOLVED,
}
#: RT statuses per core status, for TicketSQL filters and writes (the default lifecycle)
STATUS_TO_RT: Final[Mapping[ConversationStatus, tuple[str, ...]]] = {
    ConversationStatus.NEW: ("new",),
    ConversationStatus.OPEN: ("open",),
    ConversationStatus.PENDING: ("stalled",),
    ConversationStatus.ON_HOLD: (),
    ConversationStatus.SOLVED: ("resolved",),
    ConversationStatus.CLOSED: ("rejected",),
    ConversationStatus.OTHER: (),
}


def status(value: Any) -> ConversationStatus:
    """RT status -> core status; an unknown (custom lifecycle) word is OTHER, the word kept in raw."""
    word = (as_str(value) or "").strip().lower()
    return _STATUS.get(word, ConversationStatus.OTHER)


def rt_status(value: ConversationStatus) -> str:
    """The RT status written for a core status (the default lifecycle)."""
    return (STATUS_TO_RT.get(value) or ("open",))[0]


def ticketsql_time(value: datetime) -> str:
    """A time for TicketSQL. With `Z` RT reads it as UTC; a bare '2026-01-01 10:00:00' is read in the user's
    time zone (RT's default US/Eastern), which shifts an incremental sync by hours."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user_id(value: Any) -> str | None:
    ref = as_dict(value)
    if as_str(ref.get("Name")) == NOBODY:
        return None
    return as_id(ref.get("id")) if ref else as_id(value)


def custom_field_values(value: Any) -> dict[str, Any]:
    """REST2's `CustomFields` (a list of {id, name, values}) -> {name: value}; a multi-value field is a list."""
    out: dict[str, Any] = {}
    for item in as_list(value):
        field = as_dict(item)
        name = as_str(field.get("name"))
        if name is None:
            continue
        values = [v for v in as_list(field.get("values")) if v not in (None, "")]
        if not values:
            continue
        out[name] = values[0] if len(values) == 1 else values
    return out


def conversation(item: Mapping[str, Any], *, version: str | None = None) -> Conversation:
    """A ticket from a search with `TICKET_FIELDS` (or a GET /ticket/:id) -> Conversation."""
    fields = custom_field_values(item.get("CustomFields"))
    tags = fields.pop(TAGS_FIELD, [])
    requestors = [as_dict(r) for r in as_list(item.get("Requestor"))]
    queue = as_dict(item.get("Queue"))
    return Conversation(
        id=str(item["id"]),
        status=status(item.get("Status")),
        subject=as_str(item.get("Subject")),
        customer_id=as_id(requestors[0].get("id")) if requestors else None,
        assignee_id=_user_id(item.get("Owner")),
        group_id=as_id(queue.get("id")),
        channel="email",
        tags=[tags] if isinstance(tags, str) else list(tags),
        created_at=_time(item.get("Created")),
        updated_at=_time(item.get("LastUpdated")),
        version=version,
        custom_fields=fields,
        raw=dict(item),
    )


def _time(value: Any) -> datetime | None:
    # RT writes "1970-01-01T00:00:00Z" for a date never set
    stamp = as_time(value)
    return None if stamp is None or stamp.year <= 1970 else stamp


def message(
    txn: Mapping[str, Any], body: str | None, *, agent_ids: frozenset[str], content_type: str | None = None
) -> Message:
    """A Create/Correspond/Comment transaction (with its text part) -> Message; comments are internal."""
    creator = as_dict(txn.get("Creator"))
    author = as_id(creator.get("id"))
    name = as_str(creator.get("Name"))
    if name in SYSTEM_USERS:
        role = AuthorRole.SYSTEM
    elif author is not None and author in agent_ids:
        role = AuthorRole.AGENT
    else:
        role = AuthorRole.CUSTOMER
    text = html_to_text(body) if body and content_type == "text/html" else body
    return Message(
        id=str(txn["id"]),
        conversation_id=str(txn.get("ObjectId")),
        author_id=author,
        author_role=role,
        public=as_str(txn.get("Type")) != "Comment",
        body=text,
        created_at=_time(txn.get("Created")),
        raw=dict(txn),
    )


def group(item: Mapping[str, Any], agent_ids: list[str]) -> Group:
    return Group(id=str(item["id"]), name=as_str(item.get("Name")), agent_ids=agent_ids, raw=dict(item))


def agent(user: Mapping[str, Any], group_ids: list[str]) -> Agent:
    return Agent(
        id=str(user["id"]),
        name=as_str(user.get("RealName")) or as_str(user.get("Name")),
        email=as_str(user.get("EmailAddress")),
        active=as_str(user.get("Disabled")) in (None, "0"),
        group_ids=group_ids,
        raw=dict(user),
    )


def customer(user: Mapping[str, Any], *, tags_field: str) -> Customer:
    fields = custom_field_values(user.get("CustomFields"))
    tags = fields.pop(tags_field, [])
    return Customer(
        id=str(user["id"]),
        name=as_str(user.get("RealName")) or as_str(user.get("Name")),
        email=as_str(user.get("EmailAddress")),
        organization=as_str(user.get("Organization")),
        locale=as_str(user.get("Lang")),
        tags=[tags] if isinstance(tags, str) else list(tags),
        custom_attributes={k: _number(v) for k, v in fields.items()},
        notes=as_str(user.get("Comments")),
        created_at=_time(user.get("Created")),
        updated_at=_time(user.get("LastUpdated")),
        active=as_str(user.get("Disabled")) in (None, "0"),
        raw=dict(user),
    )


def _number(value: Any) -> Any:
    """RT keeps every custom field value as text: whole numbers read back as numbers."""
    if isinstance(value, str) and value.isdigit() and (value == "0" or not value.startswith("0")):
        return int(value)
    return value
