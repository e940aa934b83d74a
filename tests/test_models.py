from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from humansupport import (
    Agent,
    AgentAvailability,
    AssignmentOutcome,
    AssignmentResult,
    AuthorRole,
    Conversation,
    ConversationStatus,
    Message,
    ProfilePatch,
    RatingScore,
    SatisfactionRating,
    WebhookEvent,
    WebhookEventType,
)
from humansupport.models import to_utc


def test_ids_become_strings_and_zero_assignee_is_none() -> None:
    conv = Conversation(id=123, customer_id=45, assignee_id=0, group_id=None)
    assert conv.id == "123" and conv.customer_id == "45" and conv.assignee_id is None


def test_version_tokens_accept_vendor_ints() -> None:
    assert Conversation(id="1", version=0).version == "0"
    assert Conversation(id="1", version="2024-01-01T00:00:00Z").version == "2024-01-01T00:00:00Z"


def test_unknown_enum_values_map_to_other() -> None:
    conv = Conversation(id="1", status="brand_new_vendor_status")
    assert conv.status is ConversationStatus.OTHER
    assert Agent(id="1", availability="on_lunch").availability is AgentAvailability.UNKNOWN
    assert Message(id="1", conversation_id="1", author_role="robot").author_role is AuthorRole.OTHER
    assert SatisfactionRating(id="1", score="meh").score is RatingScore.UNKNOWN
    assert WebhookEvent(vendor="x", type="ticket.exploded").type is WebhookEventType.OTHER


def test_known_enum_values_are_case_insensitive() -> None:
    assert Conversation(id="1", status="OPEN").status is ConversationStatus.OPEN


def test_extra_fields_are_allowed_and_raw_is_kept() -> None:
    raw = {"id": 1, "surprise": {"x": 1}}
    conv = Conversation(id="1", raw=raw, surprise=True)
    assert conv.raw == raw
    assert conv.model_extra == {"surprise": True}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T12:00:00+02:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        (1709287200, datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("1709287200", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_times_are_aware_utc(value: object, expected: datetime | None) -> None:
    assert to_utc(value) == expected
    conv = Conversation(id="1", updated_at=value)
    assert conv.updated_at == expected
    if conv.updated_at is not None:
        assert conv.updated_at.tzinfo is UTC


@given(
    st.datetimes(
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
    )
)
def test_any_aware_time_normalizes_to_the_same_instant(dt: datetime) -> None:
    try:
        dt.astimezone(UTC)
    except OverflowError:  # no UTC instant (year 1 east of UTC, year 9999 west of it): a clear ValueError
        with pytest.raises(ValueError, match="out of range"):
            to_utc(dt.isoformat())
        return
    out = to_utc(dt.isoformat())
    assert out == dt and out is not None and out.utcoffset() == timedelta(0)


def test_a_time_with_no_utc_instant_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="out of range"):
        to_utc("0001-01-01T00:00:00+05:30")


def test_open_statuses() -> None:
    assert ConversationStatus.OPEN.is_open and ConversationStatus.NEW.is_open
    assert not ConversationStatus.SOLVED.is_open and not ConversationStatus.PENDING.is_open


def test_capacity_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Agent(id="1", capacity=-1)


def test_profile_patch_empty_and_result_ok() -> None:
    assert ProfilePatch().empty
    assert not ProfilePatch(tags=["vip"]).empty
    assert AssignmentResult(conversation_id="1", outcome=AssignmentOutcome.UNCHANGED).ok
    assert not AssignmentResult(conversation_id="1", outcome=AssignmentOutcome.CONFLICT).ok
