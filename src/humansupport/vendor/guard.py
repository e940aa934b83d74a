"""The re-read guard: how an adapter for a vendor without optimistic concurrency refuses a stale write.

Before an assignment write the adapter reads the conversation again and asks `stale_reason` whether it changed
since the caller read it; `raise_if_stale` turns a reason into `ConflictError` (and the write is not sent). One
semantics for every plugin:

- `expected_updated_at`: changed when the current `updated_at` is later, compared at the *coarser* precision of
  the two stamps (whole seconds, milliseconds or microseconds, by what each one carries). A vendor that stamps
  whole seconds is not "changed" by the microseconds of a time we computed. A conversation with no current
  `updated_at` is not evidence of change.
- `expected_version`: compared only when the vendor reports a current version; a missing one is not evidence
  of change (the timestamp decides).
- `expected_assignee_id`: when given, changed when the current assignee differs. `UNASSIGNED` means "nobody was
  assigned": a conversation someone took since is changed. None means "not checked".

The race window left is the time between the re-read and the write (one round trip); docs/plugins.md says so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from humansupport.errors import ConflictError
from humansupport.models import UNASSIGNED, Conversation

__all__ = ["UNASSIGNED", "already_as_asked", "changed_since", "raise_if_stale", "stale_reason"]

_SECOND = timedelta(seconds=1)
_MILLISECOND = timedelta(milliseconds=1)
_MICROSECOND = timedelta(microseconds=1)


def _precision(stamp: datetime) -> timedelta:
    """The finest unit a stamp carries: a stamp on a whole second is taken as a whole-second stamp."""
    if stamp.microsecond == 0:
        return _SECOND
    if stamp.microsecond % 1000 == 0:
        return _MILLISECOND
    return _MICROSECOND


def _truncate(stamp: datetime, unit: timedelta) -> datetime:
    micro = stamp.microsecond - stamp.microsecond % (unit // _MICROSECOND)
    return stamp.replace(microsecond=micro)


def changed_since(current: datetime | None, expected: datetime | None) -> bool:
    """Whether `current` is later than `expected` at the coarser precision of the two (None is never later)."""
    if current is None or expected is None:
        return False
    now, then = current.astimezone(UTC), expected.astimezone(UTC)
    unit = max(_precision(now), _precision(then))
    return _truncate(now, unit) > _truncate(then, unit)


def stale_reason(
    current: Conversation,
    *,
    expected_updated_at: datetime | None = None,
    expected_version: str | None = None,
    expected_assignee_id: str | None = None,
) -> str | None:
    """Why `current` counts as changed since the caller's read, or None when the write may go ahead."""
    now = current.updated_at
    if now is not None and expected_updated_at is not None and changed_since(now, expected_updated_at):
        return f"updated_at is {now.isoformat()}, read at {expected_updated_at.isoformat()}"
    if expected_version is not None and current.version is not None and current.version != expected_version:
        return f"version is {current.version}, read at {expected_version}"
    if expected_assignee_id is not None:
        wanted = None if expected_assignee_id == UNASSIGNED else expected_assignee_id
        if current.assignee_id != wanted:
            return f"assignee is {current.assignee_id or 'nobody'}, expected {wanted or 'nobody'}"
    return None


def raise_if_stale(
    current: Conversation,
    *,
    vendor: str,
    method: str = "PUT",
    path: str | None = None,
    expected_updated_at: datetime | None = None,
    expected_version: str | None = None,
    expected_assignee_id: str | None = None,
) -> None:
    """Raises `ConflictError` (the write not sent) when `stale_reason` finds a change."""
    why = stale_reason(
        current,
        expected_updated_at=expected_updated_at,
        expected_version=expected_version,
        expected_assignee_id=expected_assignee_id,
    )
    if why is not None:
        raise ConflictError(
            vendor=vendor,
            method=method,
            path=path,
            vendor_message=f"conversation {current.id} changed since it was read ({why}); not overwritten, re-plan it",
        )


def already_as_asked(current: Conversation, agent_id: str | None, group_id: str | None = None) -> bool:
    """Whether the conversation already has this assignee (and group, when one is asked): no write needed."""
    return current.assignee_id == agent_id and (group_id is None or current.group_id == group_id)
