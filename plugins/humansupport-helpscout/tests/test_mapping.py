"""Mapping: the vendor's sample payloads, team assignees, line items, and payloads with fields removed or added."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from humansupport_helpscout import mapping
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humansupport import AgentAvailability, AuthorRole, ConversationStatus, RatingScore

SAMPLES = Path(__file__).with_name("specs") / "samples"  # MIT fixtures, origin in specs/SOURCES.md


def _samples() -> Path:
    return SAMPLES


def _load(name: str) -> Any:
    return json.loads((_samples() / name).read_text())


CONVERSATION: dict[str, Any] = {
    "id": 10,
    "number": 12,
    "type": "email",
    "status": "active",
    "state": "published",
    "subject": "Help",
    "mailboxId": 13,
    "assignee": {"id": 99, "type": "user", "first": "Mr", "last": "Robot", "email": "none@nowhere.com"},
    "createdBy": {"id": 12, "type": "customer"},
    "createdAt": "2012-03-15T22:46:22Z",
    "userUpdatedAt": "2012-03-16T14:07:23Z",
    "tags": [{"id": 9150, "color": "#929499", "tag": "vip"}],
    "primaryCustomer": {"id": 238604, "type": "customer", "email": "rob@acme.com"},
}
THREAD: dict[str, Any] = {
    "id": 1234,
    "type": "reply",
    "state": "published",
    "body": "Thanks!",
    "createdBy": {"id": 99, "type": "user", "first": "Mr", "last": "Robot"},
    "createdAt": "2012-03-16T14:07:23Z",
}
CUSTOMER: dict[str, Any] = {
    "id": 500,
    "firstName": "Vernon",
    "lastName": "Bear",
    "photoUrl": "http://twitter.com/img/some-avatar.jpg",
    "background": "Worked with Vernon before.",
    "createdAt": "2012-07-23T12:34:12Z",
    "updatedAt": "2012-07-24T20:18:33Z",
    "_embedded": {
        "emails": [{"id": 1, "value": "vbear@mywork.com", "type": "work"}],
        "phones": [{"id": 2, "value": "222-333-4444", "type": "home"}],
        "properties": [
            {"type": "text", "slug": "plan", "name": "Plan", "value": "pro", "text": "pro"},
            {"type": "text", "slug": "humansupport_tags", "value": "vip, api", "text": "vip, api"},
        ],
    },
}


def test_sample_conversations_map() -> None:
    data = _load("list_conversations.json")
    convs = [mapping.conversation_from_hs(c) for c in data["_embedded"]["conversations"]]
    assert convs and all(c.id for c in convs)
    first = convs[0]
    assert first.status is ConversationStatus.CLOSED
    assert first.assignee_id == "99" and first.customer_id == "238604"
    assert first.tags == ["vip"] and first.raw["number"] == 12
    one = mapping.conversation_from_hs(_load("get_conversation.json"))
    assert one.id and one.version


def test_sample_threads_map_with_roles() -> None:
    data = _load("conversations/list_threads.json")
    messages = [mapping.message_from_thread(t, "10") for t in data["_embedded"]["threads"]]
    assert messages[0].author_role is AuthorRole.CUSTOMER and messages[0].public


def test_sample_people_and_ratings_map() -> None:
    users = [mapping.agent_from_user(u) for u in _load("list_users.json")["_embedded"]["users"]]
    assert users[0].id == "4" and users[0].name == "Vernon Bear"
    team = _load("list_teams.json")["_embedded"]["teams"][0]
    members = [u["id"] for u in _load("list_team_members.json")["_embedded"]["users"]]
    group = mapping.group_from_team(team, [str(m) for m in members])
    assert group.name == "Engineers" and group.agent_ids == ["4"]
    customer = mapping.customer_from_hs(_load("get_customer.json"))
    assert customer.name == "Vernon Bear" and customer.notes and customer.avatar_url
    for item in _load("list_customers.json")["_embedded"]["customers"]:
        assert mapping.customer_from_hs(item).id
    rating = mapping.rating_from_hs(_load("get_rating.json"))
    assert rating.id and rating.score in set(RatingScore)


def test_every_sample_file_is_json() -> None:
    files = sorted(_samples().rglob("*.json"))
    assert len(files) > 20
    for path in files:
        json.loads(path.read_text())


def test_team_assignee_is_a_group_without_agent() -> None:
    conv = mapping.conversation_from_hs({**CONVERSATION, "assignee": {"id": 7, "type": "team", "first": "Billing"}})
    assert conv.assignee_id is None and conv.group_id == "7"


def test_unassigned_spam_and_unknown_status() -> None:
    bare = {k: v for k, v in CONVERSATION.items() if k != "assignee"}
    assert mapping.conversation_from_hs(bare).assignee_id is None
    assert mapping.conversation_from_hs({**bare, "status": "spam"}).status is ConversationStatus.OTHER
    assert mapping.conversation_from_hs({**bare, "status": "snoozed"}).status is ConversationStatus.OTHER
    assert mapping.conversation_from_hs({**bare, "status": None}).status is ConversationStatus.OTHER


@pytest.mark.parametrize(
    ("thread", "role", "public"),
    [
        ({"type": "customer", "createdBy": {"id": 1, "type": "customer"}}, AuthorRole.CUSTOMER, True),
        ({"type": "reply", "createdBy": {"id": 2, "type": "user"}}, AuthorRole.AGENT, True),
        ({"type": "note", "createdBy": {"id": 2, "type": "user"}}, AuthorRole.AGENT, False),
        ({"type": "lineitem", "action": {"type": "assigned", "text": "Assigned to Ada"}}, AuthorRole.SYSTEM, False),
        ({"type": "forwardparent", "createdBy": {"id": 2, "type": "user"}}, AuthorRole.SYSTEM, False),
        ({"type": "reply", "createdBy": {"id": 3, "type": "system_user"}}, AuthorRole.SYSTEM, True),
        ({"type": "chat", "createdBy": {"id": 3, "type": "robot"}}, AuthorRole.OTHER, True),
    ],
)
def test_thread_roles(thread: dict[str, Any], role: AuthorRole, public: bool) -> None:
    msg = mapping.message_from_thread({"id": 5, "createdAt": "2024-01-01T00:00:00Z", **thread}, "10")
    assert msg.author_role is role and msg.public is public
    if role is AuthorRole.SYSTEM:
        assert msg.author_id is None  # a line item is nobody's reply


def test_customer_properties_become_attributes_and_tags() -> None:
    customer = mapping.customer_from_hs(CUSTOMER)
    assert customer.custom_attributes == {"plan": "pro"}
    assert customer.tags == ["vip", "api"]
    assert customer.email == "vbear@mywork.com" and customer.phone == "222-333-4444"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"email": {"status": "active"}}, AgentAvailability.AVAILABLE),
        ({"email": {"status": "away"}}, AgentAvailability.AWAY),
        ({"chat": {"status": "available"}}, AgentAvailability.AVAILABLE),
        ({"chat": {"status": "unavailable"}}, AgentAvailability.AWAY),
        ({"email": {"status": "on_the_moon"}}, AgentAvailability.UNKNOWN),
        (None, AgentAvailability.UNKNOWN),
        ({"email": None, "chat": "x"}, AgentAvailability.UNKNOWN),
    ],
)
def test_availability(status: dict[str, Any] | None, expected: AgentAvailability) -> None:
    assert mapping.availability_from_status(status) is expected


@pytest.mark.parametrize(
    ("statuses", "value"),
    [
        (None, "all"),
        ([ConversationStatus.OPEN], "active"),
        ([ConversationStatus.NEW, ConversationStatus.ON_HOLD], "active"),
        ([ConversationStatus.PENDING], "pending"),
        ([ConversationStatus.OPEN, ConversationStatus.PENDING], "open"),
        ([ConversationStatus.SOLVED], "closed"),
        ([ConversationStatus.OPEN, ConversationStatus.CLOSED], "all"),
    ],
)
def test_status_filter_values(statuses: list[ConversationStatus] | None, value: str) -> None:
    assert mapping.hs_status_filter(statuses) == value


def test_missing_id_is_a_mapping_error() -> None:
    with pytest.raises(mapping.MappingError, match="without an id"):
        mapping.conversation_from_hs({k: v for k, v in CONVERSATION.items() if k != "id"})


def test_fingerprint_changes_with_assignee_only() -> None:
    same = mapping.conversation_fingerprint(CONVERSATION)
    moved = mapping.conversation_fingerprint({**CONVERSATION, "assignee": {"id": 100, "type": "user"}})
    noisy = mapping.conversation_fingerprint({**CONVERSATION, "preview": "changed", "zz_new": 1})
    assert same != moved and same == noisy


# -- property tests: remove and add fields anywhere --------------------------------------------------------

JSON_LEAF = st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=False)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append((*prefix, key))
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out += _paths(value, (*prefix, index))
    return out


def _mutate(base: dict[str, Any], draw: Any) -> dict[str, Any]:
    data = copy.deepcopy(base)
    paths = [p for p in _paths(data) if p != ("id",)]
    for path in draw(st.lists(st.sampled_from(paths), max_size=6, unique=True)) if paths else []:
        parent: Any = data
        try:
            for step in path[:-1]:
                parent = parent[step]
            if isinstance(parent, dict):
                if draw(st.booleans()):
                    parent.pop(path[-1], None)
                else:
                    parent[path[-1]] = draw(JSON_VALUE)
        except (KeyError, IndexError, TypeError):
            continue
    for key, value in draw(st.dictionaries(st.text(min_size=1, max_size=10), JSON_VALUE, max_size=3)).items():
        if key != "id":
            data[key] = value
    return data


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_conversation_mapping_survives_removed_and_added_fields(data: st.DataObject) -> None:
    payload = _mutate(CONVERSATION, data.draw)
    conv = mapping.conversation_from_hs(payload)
    assert conv.id == "10" and conv.raw == payload
    assert isinstance(conv.status, ConversationStatus)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_thread_mapping_survives_removed_and_added_fields(data: st.DataObject) -> None:
    payload = _mutate(THREAD, data.draw)
    msg = mapping.message_from_thread(payload, "10")
    assert msg.id == "1234" and msg.raw == payload
    assert isinstance(msg.author_role, AuthorRole)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_customer_mapping_survives_removed_and_added_fields(data: st.DataObject) -> None:
    payload = _mutate(CUSTOMER, data.draw)
    customer = mapping.customer_from_hs(payload)
    assert customer.id == "500" and customer.raw == payload
    assert all(isinstance(t, str) for t in customer.tags)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_user_and_webhook_mapping_survive_noise(data: st.DataObject) -> None:
    user = _mutate({"id": 4, "firstName": "V", "lastName": "B", "email": "v@b.c", "photoUrl": "x"}, data.draw)
    assert mapping.agent_from_user(user, status=data.draw(JSON_VALUE)).id == "4"  # type: ignore[arg-type]
    event = mapping.event_from_webhook(data.draw(st.none() | st.text(max_size=20)), _mutate(CONVERSATION, data.draw))
    assert event.vendor == "helpscout"


@given(st.sets(st.sampled_from(list(ConversationStatus))))
def test_status_filter_always_covers_what_was_asked(statuses: set[ConversationStatus]) -> None:
    value = mapping.hs_status_filter(sorted(statuses))
    covered = {"all": {"active", "pending", "closed", "spam"}, "open": {"active", "pending"}}.get(value, {value})
    assert {mapping.status_to_hs(s) for s in statuses} <= covered
