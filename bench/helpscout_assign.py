"""Benchmark: assign 2,000 conversations on the Help Scout fake at its documented limit.

Help Scout allows L requests a minute per account (400 is the commonly reported plan figure), and writes count
double. It has no bulk endpoint and no optimistic concurrency. So each guarded assignment is a re-read (1),
the PATCH (2) and the read-back of the contract (1): 4 tokens. The allowed write rate is therefore L / 4 per
minute, and L / 3 without the guard. The benchmark runs `assign_many` on the fake (rate limited, writes
charged double, 429 with `X-RateLimit-Retry-After` when over) and reports

    achieved write rate / allowed write rate   (target >= 0.9, with zero failed writes)

Two scenarios: guarded (what rebalance does) and unguarded (the cost of the guard). Learning the limit from
`X-RateLimit-Limit-Minute` is covered by the plugin's tests and by bench/http_layer.py.

Time is a FakeClock shared by the fake and the adapter: the limiter's waits advance it instead of sleeping,
and the limiter serialises those waits, so the virtual elapsed time is what a real run would take.

Run: `python bench/helpscout_assign.py` (also run by `make bench`). Exits 1 if a scenario misses the target.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from humansupport_helpscout import FakeHelpScout, HelpScoutAdapter, mapping
from pydantic import SecretStr

from humansupport import Assignment, AssignmentOutcome
from humansupport.http import reset_limiters
from humansupport.testing import FakeClock, HistoryConfig, SyntheticHistory, generate_history

LIMIT = 400  # requests per minute; writes count 2
ASSIGNMENTS = 2000
TARGET = 0.9
HISTORY = HistoryConfig(customers=220, agents=12, groups=3, seed=5)


@dataclass
class Result:
    name: str
    writes: int
    failed: int
    rejected: int
    minutes: float
    tokens_per_assign: int
    learned: float
    seconds: float

    @property
    def allowed_per_minute(self) -> float:
        return LIMIT / self.tokens_per_assign

    @property
    def achieved_per_minute(self) -> float:
        return self.writes / self.minutes

    @property
    def ratio(self) -> float:
        return self.achieved_per_minute / self.allowed_per_minute

    @property
    def ok(self) -> bool:
        return self.ratio >= TARGET and self.failed == 0


@cache
def _history() -> SyntheticHistory:
    return generate_history(HISTORY)


async def _scenario(name: str, *, guarded: bool, seed: float) -> Result:
    started = time.perf_counter()
    reset_limiters()
    history = _history()
    clock = FakeClock(start=HISTORY.end + timedelta(hours=1))
    fake = FakeHelpScout(clock=clock, history=history, rate_limit_per_minute=LIMIT)
    agents = [a.id for a in sorted(fake.agents.values(), key=lambda a: int(a.id)) if a.active]
    async with HelpScoutAdapter(
        app_id=FakeHelpScout.app_id,
        app_secret=SecretStr(FakeHelpScout.app_secret),
        transport=fake.transport(),
        clock=clock,
        rate_limit_per_minute=seed,
    ) as adapter:
        # Planning state, as the adapter maps it (a listing would give the same versions; it is not measured).
        ordered = sorted(fake.conversations.values(), key=lambda c: int(c.id))[:ASSIGNMENTS]
        planned = [mapping.conversation_from_hs(fake.render_conversation(c)) for c in ordered]
        if len(planned) < ASSIGNMENTS:
            raise SystemExit(f"the history holds {len(planned)} conversations; seed a larger one")
        batch = [
            Assignment(
                conversation_id=conv.id,
                agent_id=next(a for a in agents[i % len(agents) :] + agents if a != conv.assignee_id),
                expected_version=conv.version if guarded else None,
            )
            for i, conv in enumerate(planned[:ASSIGNMENTS])
        ]
        clock.advance(60.0)  # start on a fresh vendor window, as a nightly job would
        before_writes, before_rejected = fake.writes, fake.rate_limited
        begin = clock.monotonic()
        results = await adapter.assign_many(batch)
        minutes = (clock.monotonic() - begin) / 60.0
        learned = adapter.http.limiter.per_minute
    failed = sum(1 for r in results if r.outcome is not AssignmentOutcome.APPLIED)
    return Result(
        name=name,
        writes=fake.writes - before_writes,
        failed=failed,
        rejected=fake.rate_limited - before_rejected,
        minutes=minutes,
        tokens_per_assign=4 if guarded else 3,
        learned=learned,
        seconds=time.perf_counter() - started,
    )


def main() -> int:
    results = [
        asyncio.run(_scenario("guarded (re-read before write), seeded at L", guarded=True, seed=LIMIT)),
        asyncio.run(_scenario("unguarded (no expected version), seeded at L", guarded=False, seed=LIMIT)),
    ]
    for r in results:
        print(
            f"helpscout_assign: achieved/allowed write rate = {r.ratio:.2f} "
            f"({r.achieved_per_minute:.1f} of {r.allowed_per_minute:.1f} writes/min; L={LIMIT}/min, writes x2, "
            f"{r.tokens_per_assign} tokens/assign; N={r.writes}, failed={r.failed}, 429s={r.rejected}, "
            f"{r.minutes:.1f} virtual min) [{r.name}; bucket {r.learned:g}/min; {r.seconds:.1f}s real]"
        )
    missed = [r.name for r in results if not r.ok]
    if missed:
        print(f"helpscout_assign: FAILED target (>= {TARGET}, 0 failed writes): {'; '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
