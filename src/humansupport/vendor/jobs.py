"""Polling a vendor's asynchronous job (bulk updates, exports) until it ends, on the injected clock.

Bulk endpoints answer with a job id and do the work later; the adapter then reads the job's status until it is
finished. The waits go through the adapter's `Clock`, so a test with a `FakeClock` never sleeps for real, and
they back off (0.5 s, 1 s, 2 s, ... up to `max_delay`) so a long job costs few requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from humansupport.clock import Clock
from humansupport.errors import HelpdeskError

__all__ = ["poll_job"]

T = TypeVar("T")


async def poll_job(
    read: Callable[[], Awaitable[T]],
    *,
    finished: Callable[[T], bool],
    clock: Clock,
    give_up_after: float,
    vendor: str,
    what: str = "job",
    path: str | None = None,
    first: T | None = None,
    first_delay: float = 0.5,
    max_delay: float = 5.0,
) -> T:
    """Reads the job (`read()`) until `finished(state)`, sleeping on `clock` between reads; returns the last state.

    `first` is a state the caller already has (the answer that started the job): when finished, no read is made.
    After `give_up_after` seconds of waiting, raises `HelpdeskError` saying the job's records may still change, so the
    caller re-reads them before retrying rather than starting a second job.
    """
    state = first if first is not None else await read()
    waited, delay = 0.0, first_delay
    while not finished(state):
        if waited >= give_up_after:
            raise HelpdeskError(
                vendor=vendor,
                method="GET",
                path=path,
                vendor_message=f"{what} did not finish within {give_up_after:.0f}s; what it changes may still change: "
                "re-read those records before retrying",
            )
        await clock.sleep(delay)
        waited += delay
        delay = min(delay * 2, max_delay)
        state = await read()
    return state
