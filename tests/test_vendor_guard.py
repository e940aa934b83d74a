"""The one re-read guard: timestamp at the coarser precision, version only when reported, expected assignee."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from humansupport import ConflictError, Conversation
from humansupport.vendor import UNASSIGNED, already_as_asked, changed_since, raise_if_stale, stale_reason

T0 = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)


def conv(**kw: Any) -> Conversation:
    return Conversation.model_validate({"id": "7", "status": "open", "updated_at": T0, **kw})


def test_whole_second_vendor_stamps_are_not_changed_by_our_microseconds() -> None:
    ours = T0 + timedelta(microseconds=123_456)  # we read 12:00:05.123456; the vendor says 12:00:05
    assert stale_reason(conv(), expected_updated_at=ours) is None
    assert changed_since(T0, ours) is False


def test_a_later_stamp_is_a_change_at_every_precision() -> None:
    assert changed_since(T0 + timedelta(seconds=1), T0)
    assert changed_since(T0 + timedelta(milliseconds=5), T0 + timedelta(milliseconds=2))
    assert changed_since(T0 + timedelta(microseconds=9), T0 + timedelta(microseconds=3))
    # a millisecond stamp against a microsecond one: compared in milliseconds
    assert not changed_since(T0 + timedelta(milliseconds=2), T0 + timedelta(microseconds=2_400))
    assert changed_since(T0 + timedelta(milliseconds=3), T0 + timedelta(microseconds=2_400))


def test_an_earlier_or_equal_stamp_is_no_change_and_offsets_do_not_matter() -> None:
    assert stale_reason(conv(), expected_updated_at=T0) is None
    assert stale_reason(conv(), expected_updated_at=T0 + timedelta(minutes=1)) is None
    other_zone = T0.astimezone(datetime.now().astimezone().tzinfo)
    assert stale_reason(conv(), expected_updated_at=other_zone) is None


def test_a_missing_current_stamp_is_not_evidence_of_change() -> None:
    assert stale_reason(conv(updated_at=None), expected_updated_at=T0) is None


def test_version_is_compared_only_when_the_vendor_reports_one() -> None:
    assert stale_reason(conv(version="3"), expected_version="3") is None
    assert "version is 4" in (stale_reason(conv(version="4"), expected_version="3") or "")
    assert stale_reason(conv(version=None), expected_version="3") is None  # the timestamp decides
    assert stale_reason(conv(version=None), expected_version="3", expected_updated_at=T0 - timedelta(seconds=1))


def test_expected_assignee_and_the_unassigned_sentinel() -> None:
    assert stale_reason(conv(assignee_id="5"), expected_assignee_id="5") is None
    assert "assignee is 6, expected 5" in (stale_reason(conv(assignee_id="6"), expected_assignee_id="5") or "")
    assert stale_reason(conv(assignee_id=None), expected_assignee_id=UNASSIGNED) is None
    assert "expected nobody" in (stale_reason(conv(assignee_id="6"), expected_assignee_id=UNASSIGNED) or "")
    assert "assignee is nobody" in (stale_reason(conv(assignee_id=None), expected_assignee_id="5") or "")
    assert stale_reason(conv(assignee_id="6")) is None  # None: not checked


def test_raise_if_stale_raises_a_conflict_naming_the_reason() -> None:
    raise_if_stale(conv(), vendor="acmedesk", expected_updated_at=T0)
    with pytest.raises(ConflictError, match=r"conversation 7 changed since it was read \(version is 9") as info:
        raise_if_stale(conv(version="9"), vendor="acmedesk", path="/api/conversations/7", expected_version="8")
    assert info.value.vendor == "acmedesk" and info.value.path == "/api/conversations/7"


def test_already_as_asked() -> None:
    assert already_as_asked(conv(assignee_id="5", group_id="1"), "5")
    assert already_as_asked(conv(assignee_id="5", group_id="1"), "5", "1")
    assert not already_as_asked(conv(assignee_id="5", group_id="1"), "5", "2")
    assert not already_as_asked(conv(assignee_id="5"), "6")
