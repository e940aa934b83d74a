"""Benchmark: `digest` and `avoidable` over 100k and 1M stored messages: is memory flat, and how long?

A child process seeds a SQLite store from the synthetic history (customer excerpts included); another, fresh
process opens it and runs the digest (the last 6 months against the 6 before) and the avoidable report
(12 months) twice, measuring the second run: its RSS growth is what the reports keep (per-theme counters,
one customer's themes, a few examples, the period's reopened conversations), whatever the history's size.

Run: `python bench/digest.py` (10k vs 100k messages, well under a minute; `BENCH_FULL=1` for the issue's
100k vs 1M, about 4 minutes here, mostly seeding). Exits 1 if the RSS growth while reporting on the bigger
store exceeds 1.5x the smaller one's (the first run's with BENCH_FULL; the second run's in the short run,
whose small store does not fill SQLite's page cache).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from humansupport.insights import Period, ThemeMap, build_avoidable, build_digest
from humansupport.store import Store
from humansupport.testing.synthetic import HistoryConfig, iter_history_conversations

# customers -> about 10k and 100k messages; BENCH_FULL=1 runs the 100k vs 1M
SIZES = {"100k": 2_000, "1M": 20_000} if os.environ.get("BENCH_FULL") else {"10k": 200, "100k": 2_000}
ACCOUNT = "bench"


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float:
    return _status_mb("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Resets the kernel's RSS high-water mark (Linux), so the peak is the measured run's alone."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def config(customers: int) -> HistoryConfig:
    return HistoryConfig(customers=customers, agents=200, groups=6)


def seed(path: str, customers: int) -> dict[str, Any]:
    started = time.perf_counter()
    with Store.open(path) as store:
        batch: list[Any] = []
        ratings: list[Any] = []
        for conv, thread, rating in iter_history_conversations(config(customers)):
            batch.append((conv, thread))
            if rating is not None:
                ratings.append(rating)
            if len(batch) >= 500:
                store.write_conversations(ACCOUNT, batch)
                store.upsert_ratings(ACCOUNT, ratings)
                batch, ratings = [], []
        store.write_conversations(ACCOUNT, batch)
        store.upsert_ratings(ACCOUNT, ratings)
        counts = store.counts(ACCOUNT)
    return {
        "messages": counts["messages"],
        "conversations": counts["conversations"],
        "seed_s": time.perf_counter() - started,
    }


def _run(store: Store, end: Any) -> tuple[Any, Any, float, float]:
    themes = ThemeMap()
    t0 = time.perf_counter()
    digest = build_digest(store, ACCOUNT, period=Period(end - timedelta(days=183), end), themes=themes)
    t1 = time.perf_counter()
    avoidable = build_avoidable(store, ACCOUNT, period=Period(end - timedelta(days=366), end), themes=themes)
    return digest, avoidable, t1 - t0, time.perf_counter() - t1


def report(path: str, customers: int) -> dict[str, Any]:
    """Runs both reports twice: the first run fills what any store fills (SQLite's page cache, the driver's
    buffers, imports); the second is measured, from its own RSS high-water mark."""
    end = config(customers).end
    with Store.open(path) as store:
        store.counts(ACCOUNT)
        cold_base = rss_mb()
        reset_peak()
        _run(store, end)
        cold_peak = peak_mb()
        base = rss_mb()
        measured_alone = reset_peak()
        digest, avoidable, digest_s, avoidable_s = _run(store, end)
    peak = peak_mb() if measured_alone else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rss_cold_base_mb": round(cold_base, 1),
        "rss_cold_peak_mb": round(cold_peak, 1),
        "rss_base_mb": round(base, 1),
        "rss_peak_mb": round(peak, 1),
        "digest_s": round(digest_s, 2),
        "avoidable_s": round(avoidable_s, 2),
        "digest_conversations": digest.conversations + digest.previous_conversations,
        "avoidable_conversations": avoidable.conversations,
        "themes": len(digest.themes),
        "findings": len(avoidable.findings),
    }


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603 - our own script, a fresh process per step for a clean RSS
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HUMANSUPPORT_PLUGINS": ""},
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] in ("--seed", "--report"):
        step = seed if sys.argv[1] == "--seed" else report
        print(json.dumps(step(sys.argv[2], int(sys.argv[3]))))
        return 0
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, customers in SIZES.items():
            path = str(Path(tmp) / f"{label}.db")
            seeded = _child("--seed", path, str(customers))
            r = {**seeded, **_child("--report", path, str(customers))}
            results[label] = r
            print(
                f"{label:>5}: {r['messages']:>8} messages in {r['conversations']} conversations (seeded in "
                f"{r['seed_s']:.1f} s); digest {r['digest_s']} s over {r['digest_conversations']} conversations, "
                f"avoidable {r['avoidable_s']} s; RSS first run {r['rss_cold_base_mb']} -> {r['rss_cold_peak_mb']} MB "
                f"peak, second run {r['rss_base_mb']} -> {r['rss_peak_mb']} MB peak"
            )
    small, big = (results[k] for k in SIZES)

    def growth(key: str) -> float:
        return (big[f"{key}peak_mb"] - big[f"{key}base_mb"]) / max(1.0, small[f"{key}peak_mb"] - small[f"{key}base_mb"])

    cold, warm = growth("rss_cold_"), growth("rss_")
    small_label, big_label = SIZES
    print(
        f"RSS growth while reporting, {big_label} / {small_label}, for 10x the messages: first run {cold:.2f}, "
        f"second run {warm:.2f} (growths under 1 MB count as 1 MB)"
    )
    # a 10k store does not fill SQLite's 2 MB page cache, a 100k one does: the short run checks the second run
    return 0 if (cold if os.environ.get("BENCH_FULL") else warm) <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
