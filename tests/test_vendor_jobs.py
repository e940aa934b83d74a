"""Job polling on the injected clock: backs off, stops when finished, gives up with a clear error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from humansupport import HelpdeskError
from humansupport.testing import FakeClock
from humansupport.vendor import poll_job


class Job:
    def __init__(self, finishes_after: int) -> None:
        self.reads = 0
        self.finishes_after = finishes_after

    async def read(self) -> dict[str, str]:
        self.reads += 1
        return {"status": "completed" if self.reads >= self.finishes_after else "queued"}


async def test_polls_until_finished_backing_off_on_the_clock() -> None:
    clock = FakeClock(start=datetime(2026, 1, 1, tzinfo=UTC))
    job = Job(finishes_after=5)
    start = clock.monotonic()
    state = await poll_job(
        job.read, finished=lambda s: s["status"] == "completed", clock=clock, give_up_after=60, vendor="acmedesk"
    )
    assert state == {"status": "completed"} and job.reads == 5
    assert clock.monotonic() - start == pytest.approx(0.5 + 1 + 2 + 4)  # doubling waits, none real


async def test_a_finished_first_state_reads_nothing() -> None:
    clock = FakeClock()
    job = Job(finishes_after=1)
    done = {"status": "completed"}
    assert (
        await poll_job(job.read, finished=lambda s: True, clock=clock, give_up_after=1, vendor="x", first=done) is done
    )
    assert job.reads == 0


async def test_gives_up_after_the_time_given_saying_what_to_do() -> None:
    clock = FakeClock()
    job = Job(finishes_after=10**6)
    with pytest.raises(HelpdeskError, match=r"bulk job 42 did not finish within 10s.*re-read") as info:
        await poll_job(
            job.read,
            finished=lambda s: s["status"] == "completed",
            clock=clock,
            give_up_after=10,
            vendor="acmedesk",
            what="bulk job 42",
            path="/api/jobs/42",
            max_delay=2,
        )
    assert info.value.path == "/api/jobs/42"
    assert job.reads == 8  # waits 0.5, 1, 2, 2, 2, 2, 2 = 11.5 s: read after each, then give up
