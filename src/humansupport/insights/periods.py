"""Report periods: `--since 30d` (or an ISO date) up to now, and the previous period of equal length."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

__all__ = ["Period", "humane_duration", "parse_duration", "parse_instant", "parse_period"]

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hdw])\s*$", re.IGNORECASE)
_UNIT: Final = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end): conversations created in it belong to it."""

    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def days(self) -> float:
        return self.length.total_seconds() / 86_400

    def previous(self) -> Period:
        """The period of equal length just before this one (the trend's baseline)."""
        return Period(self.start - self.length, self.start)

    def contains(self, when: datetime) -> bool:
        return self.start <= when < self.end


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '2w' (a positive number and a unit); ValueError with the accepted forms otherwise."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration: use e.g. 30d, 12h or 2w")
    return float(match.group(1)) * _UNIT[match.group(2).lower()]


def parse_instant(text: str) -> datetime:
    """An ISO date or date-time; naive values are UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is neither a duration (30d) nor an ISO date (2026-10-01)") from None
        value = datetime(day.year, day.month, day.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_period(since: str, *, now: datetime) -> Period:
    """`since` is a duration back from `now` or an ISO date; the period ends at `now`."""
    try:
        start = now - parse_duration(since)
    except ValueError:
        start = parse_instant(since)
    if start >= now:
        raise ValueError(f"--since {since!r} is not before now ({now.isoformat()})")
    return Period(start, now)


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def humane_duration(length: timedelta) -> str:
    """A period's length as people say it: "30 days", "2 days 6 hours", "12 hours"; never "97.0864 days"."""
    seconds = max(0, round(length.total_seconds()))
    if seconds < 60:
        return _count(seconds, "second")
    if seconds < 3_600:
        return _count(round(seconds / 60), "minute")
    hours = round(seconds / 3_600)
    if hours < 24:
        return _count(hours, "hour")
    days, rest = divmod(hours, 24)
    if days >= 7 or not rest:  # past a week, hours are noise (the report names its start and end dates)
        return _count(round(seconds / 86_400), "day")
    return f"{_count(days, 'day')} {_count(rest, 'hour')}"
