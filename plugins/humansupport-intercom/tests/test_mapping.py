"""mapping.py: Intercom JSON -> core models, tolerant of fields removed, added, nulled or of a new type."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import pytest
from humansupport_intercom import FakeIntercom
from humansupport_intercom.mapping import (
    agent_from_admin,
    as_id,
    conversation_from_intercom,
    customer_from_contact,
    group_from_team,
    message_from_part,
    messages_from_conversation,
    rating_from_conversation,
    states_for_statuses,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humansupport import AgentAvailability, AuthorRole, ConversationStatus, RatingScore
from humansupport.testing import FakeClock, HistoryConfig, generate_history


@functools.cache
def samples() -> dict[str, dict[str, Any]]:
    """Real-shaped payloads rendered by the fake (a rated conversation with parts, a contact, an admin...)."""
    fake = FakeIntercom(clock=FakeClock(), history=generate_history(HistoryConfig(customers=20, agents=4, groups=2)))
    rated = next(r.conversation_id for r in fake.ratings.values() if r.conversation_id in fake.conversations)
    conv = fake.render_conversation(fake.conversations[rated or ""], parts=True)
    contact = fake.render_contact(next(c for c in fake.customers.values() if c.tags))
    admin = fake.render_admin(sorted(fake.agents)[1])
    return {"conversation": conv, "contact": contact, "admin": admin}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated(draw: st.DrawFn, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with keys dropped, nulled, replaced by junk of another type, and new keys added."""

    def walk(value: Any, depth: int) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, child in value.items():
                action = draw(st.sampled_from(["keep", "keep", "keep", "drop", "null", "junk"]))
                if action == "keep":
                    out[key] = walk(child, depth + 1)
                elif action == "null":
                    out[key] = None
                elif action == "junk":
                    out[key] = draw(JSON)
            for extra in draw(st.lists(st.text(min_size=1, max_size=10), max_size=2)):
                out.setdefault(f"x_{extra}", draw(JSON))
            return out
        if isinstance(value, list):
            return [walk(v, depth + 1) for v in value[:3]]
        return value

    result = walk(copy.deepcopy(payload), 0)
    return result if isinstance(result, dict) else {}


Mapper = Callable[[dict[str, Any]], Any]
MAPPERS: dict[str, list[Mapper]] = {
    "conversation": [conversation_from_intercom, rating_from_conversation, messages_from_conversation],
    "contact": [customer_from_contact],
    "admin": [agent_from_admin, group_from_team],
}


@pytest.mark.parametrize("kind", sorted(MAPPERS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mapping_never_breaks_on_missing_added_or_retyped_fields(kind: str, data: st.DataObject) -> None:
    payload = data.draw(mutated(samples()[kind]))
    for mapper in MAPPERS[kind]:
        result = mapper(payload)
        if result is None:
            continue
        models = result[0] if isinstance(result, tuple) else [result]
        for model in models:
            assert model.raw is not None
    if kind == "conversation":
        conv = conversation_from_intercom(payload)
        assert conv.raw == payload, "the vendor payload is kept whole"
        if isinstance(payload.get("id"), str) and payload["id"]:
            assert conv.id == payload["id"]


@settings(max_examples=40, deadline=None)
@given(
    extra=st.dictionaries(
        st.text(min_size=1, max_size=12).filter(lambda k: k not in samples()["conversation"]), JSON, max_size=5
    )
)
def test_added_fields_change_nothing_but_raw(extra: dict[str, Any]) -> None:
    base = samples()["conversation"]
    plain, noisy = conversation_from_intercom(base), conversation_from_intercom({**base, **extra})
    assert plain.model_dump(exclude={"raw"}) == noisy.model_dump(exclude={"raw"})
    assert all(noisy.raw[k] is v for k, v in extra.items())  # identity: NaN != NaN


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, None),
        ("0", None),
        ("", None),
        (5017691, "5017691"),
        ("991267800", "991267800"),
        (True, None),
        ([1], None),
    ],
)
def test_unassigned_arrives_as_null_or_zero(value: Any, expected: str | None) -> None:
    assert as_id(value) == expected
    conv = conversation_from_intercom({"id": "1", "admin_assignee_id": value, "team_assignee_id": value})
    assert conv.assignee_id == expected and conv.group_id == expected


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"state": "open"}, ConversationStatus.OPEN),
        ({"state": "snoozed"}, ConversationStatus.ON_HOLD),
        ({"state": "closed"}, ConversationStatus.CLOSED),
        ({"state": "archived_in_2030"}, ConversationStatus.OTHER),
        ({"open": True}, ConversationStatus.OPEN),
        ({"open": False}, ConversationStatus.CLOSED),
        ({}, ConversationStatus.OTHER),
    ],
)
def test_conversation_state(payload: dict[str, Any], status: ConversationStatus) -> None:
    assert conversation_from_intercom({"id": "7", **payload}).status is status


def test_status_filter_translation() -> None:
    assert states_for_statuses(None) is None
    assert states_for_statuses([ConversationStatus.OPEN, ConversationStatus.NEW]) == ["open"]
    assert states_for_statuses([ConversationStatus.ON_HOLD, ConversationStatus.CLOSED]) == ["closed", "snoozed"]
    assert states_for_statuses([ConversationStatus.PENDING]) == []


@pytest.mark.parametrize(
    ("author", "role"),
    [
        ({"type": "admin", "id": "1"}, AuthorRole.AGENT),
        ({"type": "user", "id": "2"}, AuthorRole.CUSTOMER),
        ({"type": "lead", "id": "3"}, AuthorRole.CUSTOMER),
        ({"type": "contact", "id": "3"}, AuthorRole.CUSTOMER),
        ({"type": "bot", "id": "4"}, AuthorRole.SYSTEM),
        ({"type": "admin", "id": "1", "from_ai_agent": True}, AuthorRole.SYSTEM),
        ({"type": "team", "id": "5"}, AuthorRole.OTHER),
        ({"type": "alien"}, AuthorRole.OTHER),
        ({}, AuthorRole.OTHER),
    ],
)
def test_author_roles(author: dict[str, Any], role: AuthorRole) -> None:
    assert message_from_part("9", {"id": "p", "part_type": "comment", "author": author}).author_role is role


def test_notes_are_private_and_events_are_not_messages() -> None:
    parts = [
        {"id": "a", "part_type": "note", "body": "<p>internal</p>", "created_at": 30},
        {"id": "b", "part_type": "assignment", "body": None, "created_at": 20},
        {"id": "c", "part_type": "comment", "body": "hello", "created_at": 10},
        {"id": "d", "part_type": "sparkle_reply_2031", "body": "new kind with text", "created_at": 40},
        {"id": "e", "part_type": "sparkle_event_2031", "created_at": 50},
    ]
    item = {
        "id": "1",
        "created_at": 5,
        "source": {"id": "s", "body": "hi", "author": {"type": "user", "id": "u"}},
        "conversation_parts": {"conversation_parts": parts, "total_count": 7},
    }
    messages, missing = messages_from_conversation(item)
    assert [m.id for m in messages] == ["s", "c", "a", "d"]
    assert [m.public for m in messages] == [True, True, False, True]
    assert missing == 2


def test_admin_availability_and_seat() -> None:
    assert agent_from_admin({"id": "1", "away_mode_enabled": True}).availability is AgentAvailability.AWAY
    assert agent_from_admin({"id": "1", "away_mode_enabled": False}).availability is AgentAvailability.AVAILABLE
    assert agent_from_admin({"id": "1"}).availability is AgentAvailability.UNKNOWN
    assert agent_from_admin({"id": "1"}).active is True, "a missing seat flag is not a deletion"
    assert agent_from_admin({"id": "1", "has_inbox_seat": False}).active is False
    assert agent_from_admin({"id": "1", "away_mode_enabled": True}).active is True, "away is not deletion"
    assert agent_from_admin({"id": "1", "team_ids": [5, "6", 0, None]}).group_ids == ["5", "6"]
    assert agent_from_admin({"id": "1", "avatar": {"image_url": "https://a.test/x.png"}}).avatar_url


def test_ratings() -> None:
    def score(rating: dict[str, Any] | None) -> RatingScore | None:
        found = rating_from_conversation({"id": "1", "conversation_rating": rating})
        return None if found is None else found.score

    assert score({"rating": 5}) is RatingScore.GOOD and score({"rating": 4}) is RatingScore.GOOD
    assert score({"rating": 1}) is RatingScore.BAD and score({"rating": 2}) is RatingScore.BAD
    assert score({"rating": 3}) is RatingScore.UNKNOWN
    assert score({"requested_at": 100}) is RatingScore.OFFERED
    assert score(None) is None


def test_contact_tags_need_names_and_tolerate_leads() -> None:
    contact = {"id": "c1", "role": "lead", "email": None, "tags": {"data": [{"id": "7"}, {"id": "8"}]}}
    customer = customer_from_contact(contact, tag_names={"7": "vip"})
    assert customer.tags == ["vip"] and customer.email is None and customer.emails == []
    assert customer_from_contact({"id": "c2", "custom_attributes": None, "avatar": None}).custom_attributes == {}
