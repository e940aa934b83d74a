"""Benchmark: enriching 50,000 customers where 10% changed sends one request per changed customer, near the limit.

The AcmeDesk example fake holds 50,000 customers already enriched once (seeded directly, with the matching
`WriteRecord`). Then 10% of the profiles change (a new conversation), every customer is planned against the
helpdesk state the store would hold, and `apply_plans` writes through the real adapter and HTTP layer to the
fake, which allows L requests per minute and answers 429 with Retry-After when over. Time is virtual (the
event loop of bench/http_layer.py): minutes of vendor time take seconds.

Targets: requests sent = changed customers; time / (changed / L) <= 1.1.
Run: `python bench/enrich.py`; exits 1 when a target is missed.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from http_layer import LoopClock, VirtualTimeLoop
from tests.acmedesk import AcmeAdapter, FakeAcme

from humansupport.enrichment.profile import EnrichmentSettings, Profile
from humansupport.enrichment.writeback import WriteRecord, apply_plans, plan_writeback
from humansupport.models import Customer

CUSTOMERS = 50_000
CHANGED_SHARE = 0.10
LIMIT = 700  # requests per minute
TARGET = 1.1
SETTINGS = EnrichmentSettings(
    allowed_fields=frozenset({"conversation_count", "preferred_agent", "first_contact", "top_tags", "details.plan"})
)
START = datetime(2024, 1, 1, tzinfo=UTC)


def _customers() -> list[Customer]:
    return [
        Customer(
            id=str(10_001 + i),
            name=f"Customer {i}",
            email=f"c{i}@example.com",
            custom_attributes={"plan": ("free", "pro", "enterprise")[i % 3]},
        )
        for i in range(CUSTOMERS)
    ]


def _profile(customer: Customer, i: int, *, bump: int = 0) -> Profile:
    return Profile(
        customer_id=customer.id,
        conversation_count=1 + i % 23 + bump,
        preferred_agent=f"Agent {i % 12}",
        first_contact=START + timedelta(days=i % 700),
        top_tags=["billing", "login"][: 1 + i % 2],
        details={"plan": str(customer.custom_attributes["plan"])},
    )


def _apply_locally(customer: Customer, attributes: dict[str, object], note: str | None) -> Customer:
    return customer.model_copy(
        update={"custom_attributes": {**customer.custom_attributes, **attributes}, "notes": note or customer.notes}
    )


async def _run() -> int:
    clock = LoopClock()
    fake = FakeAcme(rate_limit_per_minute=LIMIT)
    fake.clock = clock  # type: ignore[assignment]  # the fake's rate window reads the virtual loop time
    record = WriteRecord()
    customers = _customers()
    started = time.perf_counter()
    for i, customer in enumerate(customers):  # the first enrichment, already done
        plan = plan_writeback(customer, _profile(customer, i), settings=SETTINGS, record=record)
        record.remember(customer.id, plan.patch)
        fake.customers[customer.id] = _apply_locally(customer, plan.patch.custom_attributes, plan.patch.note)
    seeded = time.perf_counter() - started

    rng = random.Random(10)
    changed = set(rng.sample(range(CUSTOMERS), int(CUSTOMERS * CHANGED_SHARE)))
    started = time.perf_counter()
    state = dict(fake.customers)  # what the store holds after sync
    plans = [
        plan_writeback(state[c.id], _profile(c, i, bump=1 if i in changed else 0), settings=SETTINGS, record=record)
        for i, c in enumerate(customers)
    ]
    planning = time.perf_counter() - started
    to_write = sum(not p.patch.empty for p in plans)

    adapter = AcmeAdapter(api_token=SecretStr(FakeAcme.token), transport=fake.transport(), clock=clock)
    before = len(fake.requests)
    started, begin = time.perf_counter(), clock.monotonic()
    report = await apply_plans(adapter, plans, dry_run=False, record=record, concurrency=8)
    elapsed = clock.monotonic() - begin
    real = time.perf_counter() - started
    await adapter.aclose()
    sent = fake.requests[before:]
    accepted = sum(1 for r in sent if r.method == "PATCH" and r.status == 200)
    ideal = len(changed) / LIMIT * 60.0
    ratio = elapsed / ideal

    print(
        f"enrich: {CUSTOMERS} customers, {len(changed)} changed, {to_write} patches planned, "
        f"{accepted} writes accepted, {len(sent)} requests sent ({fake.rate_limited} answered 429), "
        f"failed={len(report.failed)}"
    )
    print(
        f"enrich: time / (changed / L) = {ratio:.3f} ({elapsed / 60:.2f} min virtual vs {ideal / 60:.2f} min at "
        f"L={LIMIT}/min) [planning {CUSTOMERS} customers {planning:.1f}s real, {planning / CUSTOMERS * 1e6:.0f} us "
        f"each; seeding {seeded:.1f}s; writing {real:.1f}s real]"
    )
    misses = []
    if not (to_write == accepted == report.written == len(changed)):
        misses.append(f"writes {accepted} != changed {len(changed)}")
    if len(sent) - fake.rate_limited != len(changed):
        misses.append(f"requests (excluding 429 answers) {len(sent) - fake.rate_limited} != changed {len(changed)}")
    if ratio > TARGET:
        misses.append(f"time ratio {ratio:.3f} > {TARGET}")
    if misses:
        print("enrich: FAILED " + "; ".join(misses))
        return 1
    return 0


def main() -> int:
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(_run())


if __name__ == "__main__":
    sys.exit(main())
