"""Benchmark: applying a rebalance plan at a helpdesk's rate limit (the "Apply" step).

For each fake with a rate limit L (requests, or tokens, per minute) it applies a plan of N moves with
`apply_rebalance` (journal in a SQLite store, lock, chunks through `assign_many`, read-back) and reports

    ratio = total wall time on the injected clock / (requests needed / L)     (target <= 1.1)

with zero failed writes. "Requests needed" is the minimum for the vendor, counted, not measured:
- AcmeDesk: optimistic concurrency (`if_version`) and the write answers with the conversation, so one PUT
  per move is both the guarded write and the read-back; plus the one agents listing the applier needs to
  skip moves to deactivated agents: N + 1.
- Help Scout: no optimistic concurrency and no bulk endpoint, so a guarded move is a re-read (1 token), the
  PATCH (writes count 2) and the read-back GET (1): 4 tokens a move, plus the OAuth token and one read of
  the team (a listing and one request per agent) before the first move, counted from the fake's log:
  4 N + overhead. Re-reads of the team later in the run (every 5 minutes) count against the ratio.

Time is a FakeClock shared by fake and adapter: the rate limiter's waits advance it, so the virtual time is
what a real run would take. Run: `python bench/rebalance_apply.py` (also `make bench`); exits 1 on a miss.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from humansupport_helpscout import FakeHelpScout, HelpScoutAdapter, mapping
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.acmedesk import AcmeAdapter, AcmeSettings, FakeAcme

from humansupport.helpdesk import AsyncHelpdesk
from humansupport.http import reset_limiters
from humansupport.models import Conversation, ConversationStatus
from humansupport.routing.rebalance import Move, MoveReason, RebalancePlan, RebalanceTotals
from humansupport.routing.rebalance_apply import apply_rebalance
from humansupport.store import Store
from humansupport.testing import FakeClock, FakeHelpdesk, HistoryConfig, generate_history

TARGET = 1.1
HISTORY = HistoryConfig(customers=60, agents=12, groups=3, seed=11)


@dataclass
class Result:
    name: str
    moves: int
    applied: int
    failed: int
    needed: float
    limit: int
    minutes: float
    rejected: int
    seconds: float

    @property
    def ratio(self) -> float:
        return self.minutes / (self.needed / self.limit)

    @property
    def ok(self) -> bool:
        return self.ratio <= TARGET and self.failed == 0 and self.applied == self.moves


def _plan(convs: list[Conversation], agents: list[str], clock: FakeClock) -> RebalancePlan:
    moves = [
        Move(
            conversation_id=c.id,
            customer_id=c.customer_id,
            from_agent_id=c.assignee_id,
            to_agent_id=next(a for a in agents[i % len(agents) :] + agents if a != c.assignee_id),
            reason=MoveReason.HIGHER_AFFINITY,
            explanation="bench",
            score_before=0.0,
            score_after=1.0,
            score_delta=1.0,
            expected_updated_at=c.updated_at,
            expected_version=c.version,
        )
        for i, c in enumerate(convs)
    ]
    n = len(moves)
    totals = RebalanceTotals(
        considered=n,
        excluded=0,
        moves=n,
        affinity_before=0.0,
        affinity_after=float(n),
        affinity_gained=float(n),
        agents_over_capacity_before=0,
        agents_over_capacity_after=0,
        unassigned_before=0,
        unassigned_after=0,
        objective=0.0,
        optimal=True,
        gap=0.0,
        solver="bench",
        solve_seconds=0.0,
    )
    return RebalancePlan(created_at=clock.now(), moves=moves, unplaced=[], excluded={}, totals=totals)


async def _run(
    name: str, fake: FakeHelpdesk, adapter: AsyncHelpdesk, plan: RebalancePlan, clock: FakeClock, limit: int
) -> tuple[int, int, float, int]:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.db") as store:
        async with adapter:
            clock.advance(60.0)  # start on a fresh vendor window, as a nightly job would
            rejected = fake.rate_limited
            begin = clock.monotonic()
            report = await apply_rebalance(adapter, store, plan, account=name, clock=clock, chunk_size=100)
            minutes = (clock.monotonic() - begin) / 60.0
    return report.counts["applied"], report.counts["failed"], minutes, fake.rate_limited - rejected


def acmedesk(moves: int = 600, limit: int = 60) -> Result:
    started = time.perf_counter()
    reset_limiters()
    history = generate_history(HISTORY)
    clock = FakeClock(start=HISTORY.end + timedelta(hours=1))
    fake = FakeAcme(history=history, clock=clock, rate_limit_per_minute=limit)
    ordered = sorted(fake.conversations.values(), key=lambda c: int(c.id))[:moves]
    convs = []
    for c in ordered:
        fake.conversations[c.id] = c = c.model_copy(update={"status": ConversationStatus.OPEN})
        convs.append(c.model_copy(update={"version": str(int(c.version or 0))}))  # as the adapter reads it
    agents = sorted(a.id for a in fake.agents.values() if a.active)
    plan = _plan(convs, agents, clock)
    adapter = AcmeAdapter.from_settings(AcmeSettings(api_token=FakeAcme.token), transport=fake.transport(), clock=clock)
    before = len(fake.requests)
    applied, failed, minutes, rejected = asyncio.run(_run("acmedesk", fake, adapter, plan, clock, limit))
    reads = sum(1 for r in fake.requests[before:] if r.path == "/api/agents")
    print(f"rebalance_apply: acmedesk read the team {reads} times (1 counted as needed, the rest against the ratio)")
    return Result(
        name="acmedesk (if_version, 1 PUT a move)",
        moves=len(plan.moves),
        applied=applied,
        failed=failed,
        needed=len(plan.moves) + 1,
        limit=limit,
        minutes=minutes,
        rejected=rejected,
        seconds=time.perf_counter() - started,
    )


def helpscout(moves: int = 400, limit: int = 400) -> Result:
    started = time.perf_counter()
    reset_limiters()
    history = generate_history(HISTORY)
    clock = FakeClock(start=HISTORY.end + timedelta(hours=1))
    fake = FakeHelpScout(clock=clock, history=history, rate_limit_per_minute=limit)
    ordered = sorted(fake.conversations.values(), key=lambda c: int(c.id))[:moves]
    convs = [mapping.conversation_from_hs(fake.render_conversation(c)) for c in ordered]
    agents = sorted(a.id for a in fake.agents.values() if a.active)
    plan = _plan(convs, agents, clock)
    adapter = HelpScoutAdapter(
        app_id=FakeHelpScout.app_id,
        app_secret=SecretStr(FakeHelpScout.app_secret),
        transport=fake.transport(),
        clock=clock,
        rate_limit_per_minute=limit,
    )
    before = len(fake.requests)
    applied, failed, minutes, rejected = asyncio.run(_run("helpscout", fake, adapter, plan, clock, limit))
    made = fake.requests[before:]
    first_write = next(i for i, r in enumerate(made) if "/conversations/" in r.path)
    overhead = first_write  # the OAuth token and one read of the team, before the first move
    extra = sum(1 for r in made[first_write:] if "/conversations/" not in r.path)
    if extra:
        print(f"rebalance_apply: helpscout re-read the team mid-run ({extra} requests, counted against the ratio)")
    return Result(
        name=f"helpscout (re-read + PATCH x2 + read-back = 4 tokens a move, +{overhead} listing/auth)",
        moves=len(plan.moves),
        applied=applied,
        failed=failed,
        needed=4 * len(plan.moves) + overhead,
        limit=limit,
        minutes=minutes,
        rejected=rejected,
        seconds=time.perf_counter() - started,
    )


def main() -> int:
    results = [acmedesk(), helpscout()]
    for r in results:
        print(
            f"rebalance_apply: wall/(needed/L) = {r.ratio:.3f} ({r.minutes:.2f} virtual min for {r.needed:g} "
            f"requests at L={r.limit}/min; {r.applied}/{r.moves} applied, failed={r.failed}, 429s={r.rejected}) "
            f"[{r.name}; {r.seconds:.1f}s real]"
        )
    missed = [r.name for r in results if not r.ok]
    if missed:
        print(f"rebalance_apply: FAILED target (<= {TARGET}, 0 failed writes): {'; '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
