"""Mapping is tolerant: fields removed, added, nulled or of the wrong type never break parsing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from humansupport_zendesk import mapping
from hypothesis import given, settings
from hypothesis import strategies as st

from humansupport import AuthorRole, ConversationStatus, RatingScore

TICKET: dict[str, Any] = {
    "id": 35436,
    "subject": "Help, my printer is on fire!",
    "raw_subject": "Help, my printer is on fire!",
    "status": "hold",
    "requester_id": 20978392,
    "assignee_id": 235323,
    "group_id": 98738,
    "tags": ["enterprise", "other_tag"],
    "via": {"channel": "web"},
    "created_at": "2009-07-20T22:55:29Z",
    "updated_at": "2011-05-05T10:38:52Z",
    "custom_fields": [{"id": 27642, "value": "745"}],
}
USER: dict[str, Any] = {
    "id": 35436,
    "name": "Johnny Customer",
    "email": "johnny@example.com",
    "role": "end-user",
    "active": True,
    "photo": {"content_url": "https://example.zendesk.com/photos/1.png"},
    "tags": ["vip"],
    "user_fields": {"plan": "gold"},
    "notes": "Prefers email",
    "iana_time_zone": "Europe/Paris",
    "locale": "fr",
    "created_at": "2009-07-20T22:55:29Z",
    "updated_at": "2011-05-05T10:38:52Z",
}
COMMENT: dict[str, Any] = {
    "id": 1274,
    "type": "Comment",
    "author_id": 123123,
    "body": "Thanks for your help!",
    "public": True,
    "created_at": "2009-07-20T22:55:29Z",
}
RATING: dict[str, Any] = {
    "id": 35436,
    "score": "good_with_comment",
    "comment": "Awesome support!",
    "ticket_id": 208,
    "assignee_id": 135,
    "group_id": 44,
    "requester_id": 7881,
    "created_at": "2011-07-20T22:55:29Z",
}
GROUP: dict[str, Any] = {"id": 211, "name": "DJs", "deleted": False}


def role_of(author: str | None) -> AuthorRole:
    return AuthorRole.AGENT if author == "123123" else AuthorRole.CUSTOMER


MAPPERS: dict[str, tuple[dict[str, Any], Callable[[Mapping[str, Any]], Any]]] = {
    "ticket": (TICKET, mapping.ticket_to_conversation),
    "user": (USER, mapping.user_to_customer),
    "agent": ({**USER, "role": "agent"}, lambda u: mapping.user_to_agent(u)),
    "comment": (COMMENT, lambda c: mapping.comment_to_message(c, ticket_id="1", role_of=role_of)),
    "rating": (RATING, mapping.rating_to_rating),
    "group": (GROUP, lambda g: mapping.group_to_group(g)),
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def test_full_payloads_map_every_field() -> None:
    conv = mapping.ticket_to_conversation(TICKET)
    assert conv is not None
    assert (conv.id, conv.status, conv.customer_id, conv.assignee_id, conv.group_id) == (
        "35436",
        ConversationStatus.ON_HOLD,
        "20978392",
        "235323",
        "98738",
    )
    assert conv.channel == "web" and conv.tags == ["enterprise", "other_tag"]
    assert conv.version == "2011-05-05T10:38:52Z", "version must be the updated_stamp a safe update sends"
    customer = mapping.user_to_customer(USER)
    assert customer is not None
    assert customer.custom_attributes == {"plan": "gold"} and customer.notes == "Prefers email"
    assert customer.avatar_url == "https://example.zendesk.com/photos/1.png" and customer.timezone == "Europe/Paris"
    message = mapping.comment_to_message(COMMENT, ticket_id="9", role_of=role_of)
    assert message is not None and message.author_role is AuthorRole.AGENT and message.public
    rating = mapping.rating_to_rating(RATING)
    assert rating is not None and rating.score is RatingScore.GOOD and rating.conversation_id == "208"


@pytest.mark.parametrize("name", sorted(MAPPERS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_fields_removed_added_and_garbled(name: str, data: st.DataObject) -> None:
    full, mapper = MAPPERS[name]
    keys = [k for k in full if k != "id"]
    removed = data.draw(st.sets(st.sampled_from(keys)), label="removed")
    garbled = data.draw(st.dictionaries(st.sampled_from(keys), json_values, max_size=4), label="garbled")
    added = data.draw(st.dictionaries(st.text(min_size=1, max_size=12), json_values, max_size=4), label="added")
    payload = {**{k: v for k, v in full.items() if k not in removed}, **garbled}
    payload.update({k: v for k, v in added.items() if k not in full})
    record = mapper(payload)
    assert record is not None, "a record with an id must map"
    assert record.id == str(full["id"])
    assert record.raw == payload, "the vendor payload is kept in raw"


@pytest.mark.parametrize("name", sorted(MAPPERS))
@given(bad_id=st.none() | st.booleans() | st.just("") | st.just(0) | st.lists(st.integers(), max_size=2))
def test_a_record_without_a_usable_id_is_skipped(name: str, bad_id: Any) -> None:
    full, mapper = MAPPERS[name]
    assert mapper({**full, "id": bad_id}) is None


@pytest.mark.parametrize(
    ("zendesk", "core"),
    [*((k, v) for k, v in mapping.STATUS_TO_CORE.items()), ("archived", ConversationStatus.OTHER), (None, None)],
)
def test_status_mapping_with_unknown_values(zendesk: str | None, core: ConversationStatus | None) -> None:
    conv = mapping.ticket_to_conversation({"id": 1, "status": zendesk})
    assert conv is not None
    assert conv.status is (core or ConversationStatus.OTHER)


def test_deleted_and_suspended_agents_are_inactive() -> None:
    assert mapping.user_to_agent({"id": 5, "role": "agent", "active": False}).active is False  # type: ignore[union-attr]
    assert mapping.user_to_agent({"id": 5, "role": "agent", "suspended": True}).active is False  # type: ignore[union-attr]
    assert mapping.user_to_agent({"id": 5, "role": "agent"}).active is True  # type: ignore[union-attr]


def test_comment_without_public_flag_is_private() -> None:
    """Exposing an internal note is worse than missing a public reply."""
    message = mapping.comment_to_message({"id": 1, "body": "x"}, ticket_id="1", role_of=role_of)
    assert message is not None and message.public is False


def test_merged_ticket_keeps_its_tags_and_closed_status() -> None:
    conv = mapping.ticket_to_conversation({"id": 7, "status": "closed", "tags": ["closed_by_merge", 5, None]})
    assert conv is not None and conv.status is ConversationStatus.CLOSED and conv.tags == ["closed_by_merge"]


def test_ticket_events_yield_comments_with_audit_time_and_updater() -> None:
    events: list[Any] = [
        {
            "id": 1,
            "ticket_id": 42,
            "created_at": "2024-06-01T10:00:00Z",
            "updater_id": 123123,
            "child_events": [
                {"id": 11, "event_type": "Comment", "body": "hi", "public": True},
                {"id": 12, "event_type": "Change", "field_name": "status"},
            ],
        },
        {"id": 2, "ticket_id": None, "child_events": [{"id": 13, "event_type": "Comment"}]},
        "garbage",
        {"id": 3, "ticket_id": 43, "child_events": "not a list"},
    ]
    messages = list(mapping.ticket_events_to_messages(events, role_of=role_of))
    assert [(m.id, m.conversation_id, m.author_id, m.author_role) for m in messages] == [
        ("11", "42", "123123", AuthorRole.AGENT)
    ]
    assert messages[0].created_at is not None and messages[0].created_at.isoformat() == "2024-06-01T10:00:00+00:00"


@given(value=json_values)
def test_times_never_raise(value: Any) -> None:
    result = mapping.zendesk_time(value)
    assert result is None or result.tzinfo is not None


@pytest.mark.parametrize(
    ("flags", "active"),
    [({}, True), ({"active": True}, True), ({"active": False}, False), ({"active": True, "suspended": True}, False)],
)
def test_a_deleted_or_suspended_end_user_is_an_inactive_customer(flags: dict[str, Any], active: bool) -> None:
    customer = mapping.user_to_customer({"id": 7, "name": "Ana", "role": "end-user", **flags})
    assert customer is not None and customer.active is active
