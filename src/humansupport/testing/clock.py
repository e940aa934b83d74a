"""A clock for tests: sleeping advances time instantly and is recorded."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

__all__ = ["FakeClock", "LiveClock"]


class FakeClock:
    """Implements `humansupport.clock.Clock`; `sleep()` advances `now()` and `monotonic()` together."""

    def __init__(self, *, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
        if self._start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._elapsed = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        """Moves time forward without recording a sleep (an external event, not our code waiting)."""
        if seconds < 0:
            raise ValueError("time does not go back")
        self._elapsed += seconds

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        self._elapsed += seconds
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would

    @property
    def slept(self) -> float:
        """Total seconds our code asked to sleep."""
        return sum(self.sleeps)

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now().isoformat()})"


class LiveClock(FakeClock):
    """A FakeClock that also follows real time: for fakes served over HTTP, where rate windows must reset."""

    def __init__(self, *, start: datetime | None = None) -> None:
        super().__init__(start=start or datetime.now(UTC))
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=time.monotonic() - self._origin)

    def monotonic(self) -> float:
        return super().monotonic() + (time.monotonic() - self._origin)
