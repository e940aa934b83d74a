"""Benchmark: how long `humansupport --version` and `humansupport --help` take to start, against 0.3 s.

Each command runs as a fresh process (the installed console script) `BENCH_RUNS` times (default 15) after one
warm-up; the median wall time and the median CPU time (user + system of the child, which a loaded machine
inflates less) are reported with their ratio to the 0.3 s target, beside the bare interpreter's start-up
(`python -c pass`) for scale. `python -X importtime -c "import humansupport.cli"` shows where the time goes.

Run: `python bench/startup.py`. Exits 1 if a command's median CPU time is above the target.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 0.3
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
SCRIPT = Path(sys.executable).with_name("humansupport")


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(argv: list[str]) -> tuple[float, float]:
    """Median wall and CPU seconds of `argv` as a fresh process."""
    # bytecode as an installed package has it (pip compiles at install); PYTHONDONTWRITEBYTECODE would make every
    # run compile every module from source and time the compiler instead of the start-up
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUMANSUPPORT_") and k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(argv, check=True, capture_output=True, env=env)  # noqa: S603 - our own script; warms the cache
    walls, cpus = [], []
    for _ in range(RUNS):
        cpu0, wall0 = _child_cpu(), time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)  # noqa: S603 - fixed arguments
        walls.append(time.perf_counter() - wall0)
        cpus.append(_child_cpu() - cpu0)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    base_wall, base_cpu = measure([sys.executable, "-c", "pass"])
    print(f"python -c pass: wall {base_wall * 1000:.0f} ms, CPU {base_cpu * 1000:.0f} ms (the interpreter alone)")
    worst = 0.0
    for args in (["--version"], ["--help"]):
        wall, cpu = measure([str(SCRIPT), *args])
        worst = max(worst, cpu / TARGET)
        print(
            f"humansupport {args[0]}: median wall {wall * 1000:.0f} ms (ratio {wall / TARGET:.2f}), "
            f"CPU {cpu * 1000:.0f} ms (ratio {cpu / TARGET:.2f}) vs the {TARGET:.1f} s target, {RUNS} runs"
        )
    if worst > 1.0:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
