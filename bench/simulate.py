"""`humansupport simulate` speed: one year of a 100-agent team (~190k conversations), per policy and a sweep.

Writes a synthetic year into a SQLite store (kept in the temp directory between runs, keyed by the size),
reads the replay's history from it, replays each built-in policy and reports simulated conversations per
second (wall, and CPU: on a shared machine the wall time mostly waits for a core), then runs a sweep of
points in parallel processes. `BENCH_CUSTOMERS` scales it (default 18000, about 190k conversations);
`BENCH_SWEEP` sets the number of sweep points (default 4, at most 20; 0 skips the sweep); `BENCH_POLICIES`
(comma-separated) limits the policies.

Target: each policy under 30 s on the 2-core development machine.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from humansupport.plugins import PluginRegistry
from humansupport.simulate import BUILTIN_POLICIES, ReplaySettings, load_history, parse_sweep
from humansupport.simulate.sweep import run_points, run_policy
from humansupport.store import Store
from humansupport.testing.synthetic import HistoryConfig, generate_history, iter_history_conversations

CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "18000"))
SWEEP = int(os.environ.get("BENCH_SWEEP", "4"))
POLICIES = tuple(os.environ.get("BENCH_POLICIES", ",".join(BUILTIN_POLICIES)).split(","))
CONFIG = HistoryConfig(customers=CUSTOMERS, agents=100, groups=8, seed=11)


def build_store(path: Path) -> None:
    """The synthetic year into a store, in batches (the history is streamed, not held)."""
    org = generate_history(CONFIG, customers=1)  # agents and groups only: the same for any customer count
    gen = iter_history_conversations(CONFIG)
    now = CONFIG.end
    with Store.open(path) as store:
        store.upsert_agents("bench", org.agents, seen_at=now)
        store.upsert_groups("bench", org.groups)
        batch, ratings, total = [], [], 0
        for conv, thread, rating in gen:
            batch.append((conv, thread))
            if rating is not None:
                ratings.append(rating)
            if len(batch) >= 5000:
                store.write_conversations("bench", batch)
                total += len(batch)
                batch = []
        store.write_conversations("bench", batch)
        store.upsert_ratings("bench", ratings)
        store.set_cursor("bench", "conversations", now, items=total + len(batch), at=now)


def main() -> None:
    path = Path(tempfile.gettempdir()) / f"humansupport-bench-simulate-{CUSTOMERS}-{CONFIG.seed}.db"
    if not path.exists():
        started = time.perf_counter()
        build_store(path)
        print(f"built {path} in {time.perf_counter() - started:.0f} s")
    strategies = PluginRegistry().routing_strategies()
    with Store.open(path) as store:
        started, cpu = time.perf_counter(), time.process_time()
        end = CONFIG.end + timedelta(hours=1)
        history = load_history(store, "bench", start=end - timedelta(days=366), end=end)
        read, cpu = time.perf_counter() - started, time.process_time() - cpu
    n = len(history.conversations)
    print(
        f"history: {n} conversations, {len(history.agents)} agents, read from the store in {read:.1f} s "
        f"({cpu:.1f} s CPU); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    settings = ReplaySettings()
    for name in POLICIES:
        cpu = time.process_time()
        figures, seconds = run_policy(history, name, settings=settings, strategies=strategies)
        cpu = time.process_time() - cpu  # the replay and its figures; the wall time on a shared machine waits
        replay = figures["cpu_seconds"]
        print(
            f"{name:>15}: replay {seconds:6.1f} s wall, {replay:5.1f} s CPU ({n / replay:7,.0f} conversations/s), "
            f"{cpu:5.1f} s CPU with figures ({n / cpu:7,.0f}/s); preferred-agent share "
            f"{figures['preferred_agent_share']}, p90 wait {figures['wait_to_first_agent_hours']['p90']} h"
        )
    if SWEEP:
        points = parse_sweep(["wait=0,15m,1h,4h,8h", "threshold=0.5,1,2,4"])[:SWEEP]  # up to 20 settings
        started = time.perf_counter()
        run_points(history, points, base=settings, strategies=strategies)
        seconds = time.perf_counter() - started
        print(
            f"sweep of {len(points)} points on {os.cpu_count()} processes: {seconds:.1f} s, "
            f"{n * len(points) / seconds:,.0f} conversations/s"
        )


if __name__ == "__main__":
    main()
