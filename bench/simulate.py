"""`humansupport simulate` speed: one year of a 100-agent team (~190k conversations), per policy and a sweep.

Writes a synthetic year into a SQLite store (kept in the temp directory between runs, keyed by the size),
reads the replay's history from it, replays each built-in policy and reports simulated conversations per
second (CPU, and wall: on a shared machine the wall time mostly waits for a core), then runs a sweep of
points in parallel processes. `BENCH_CUSTOMERS` scales it (default 18000, about 190k conversations);
`BENCH_SWEEP` sets the number of sweep points (default 20, at most 20; 0 skips the sweep); `BENCH_POLICIES`
(comma-separated) limits the policies.

Target: each policy, its figures included, under 30 s on the 2-core development machine; each line gives its
CPU time as a ratio to that target (below 1 meets it). CPU time, not wall: other processes share the cores.
The sweep's CPU is its worker processes' (`RUSAGE_CHILDREN`), and its ideal wall time that CPU over the cores.
"""

from __future__ import annotations

import os
import resource
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
SWEEP = int(os.environ.get("BENCH_SWEEP", "20"))
POLICIES = tuple(os.environ.get("BENCH_POLICIES", ",".join(BUILTIN_POLICIES)).split(","))
CONFIG = HistoryConfig(customers=CUSTOMERS, agents=100, groups=8, seed=11)
TARGET_SECONDS = 30.0


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
    print(f"target: {TARGET_SECONDS:.0f} s per policy, figures included (ratio = CPU seconds / target)")
    for name in POLICIES:
        started, cpu = time.perf_counter(), time.process_time()
        figures, _ = run_policy(history, name, settings=settings, strategies=strategies)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - started
        replay = figures["cpu_seconds"]
        print(
            f"{name:>15}: {n / cpu:7,.0f} conversations/s ({cpu:5.1f} s CPU with figures, "
            f"{cpu / TARGET_SECONDS:.2f}x of target; replay alone {replay:5.1f} s CPU, {n / replay:7,.0f}/s); "
            f"wall {wall:5.1f} s; preferred-agent share {figures['preferred_agent_share']}, "
            f"p90 wait {figures['wait_to_first_agent_hours']['p90']} h"
        )
    if SWEEP:
        points = parse_sweep(["wait=0,15m,1h,4h,8h", "threshold=0.5,1,2,4"])[:SWEEP]  # up to 20 settings
        cores = os.cpu_count() or 1
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        results = run_points(history, points, base=settings, strategies=strategies)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, reaped when the pool closed
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        slowest = max(r["cpu_seconds"] for r in results)
        print(
            f"sweep of {len(points)} points in {min(cores, len(points))} processes: {seconds:.1f} s wall "
            f"(load average {os.getloadavg()[0]:.1f}), {cpu:.1f} s CPU in the workers, so {cpu / cores:.1f} s on "
            f"{cores} idle cores ({cpu / len(points):.1f} s CPU a point with figures, slowest replay "
            f"{slowest:.1f} s); {n * len(points) / cpu:,.0f} conversations/s of CPU"
        )


if __name__ == "__main__":
    main()
