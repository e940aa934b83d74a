"""Benchmark: `replies lint` on adversarial replies just under the 2 MiB cap lints in under 2 s each.

Each reply is one giant line (no newline) of phrases every built-in rule flags: false-hope promises with no
next step (every match used to rescan the whole reply for one), hedges, stock apologies, blame, and the
exceptions that allow some of them ("should you", "what it looks like"), plus, for the Markdown reply,
unbalanced backtick runs and unclosed `{{` placeholders. The files go through the real path of the
command (`lint_files`: read, decode, parse, lint), as `humansupport replies lint FILE` does.

Times are the process's CPU time (`time.process_time`), so a busy machine does not inflate them.
The per-size timings show the growth: doubling the input should about double the time (linear).
Targets: each 2 MiB reply < 2 s; time(2 MiB) / time(512 KiB) < 6 (linear is 4; quadratic would be 16).
Run: `python bench/replies_lint.py`; exits 1 when a target is missed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from humansupport.replies.linter import Linter
from humansupport.replies.rules import BUILTIN_REPLY_RULES
from humansupport.replies.sources import MAX_BYTES, lint_files

TARGET_SECONDS = 2.0
MAX_GROWTH = 6.0
PROSE = (
    "We'll look into it and get back to you soon. I'm looking into this. Our team is investigating. "
    "It has been escalated, as soon as possible. Sorry for any inconvenience this may have caused. "
    "You should be able to export it, it might work, it seems like a cache issue, probably. "
    "Should you need anything, here is what it looks like. You must have forgotten, as I already said. "
    "Please accept our apologies; you did not read the guide. "
)
MARKDOWN_NOISE = "see `a `` b ``` c {{ no placeholder close https://example.com/x "


def _reply(size: int, *, markdown: bool) -> str:
    unit = PROSE + (MARKDOWN_NOISE if markdown else "")
    return (unit * (size // len(unit) + 1))[:size]


def _lint_seconds(path: Path) -> tuple[float, int]:
    linter = Linter(rules={cls.id: cls for cls in BUILTIN_REPLY_RULES})
    started = time.process_time()  # CPU time: the benchmark machine may be shared, wall time would count waits
    [report] = lint_files(linter, [str(path)])
    elapsed = time.process_time() - started
    assert report.skipped is None, report.skipped
    return elapsed, len(report.findings)


def main() -> int:
    ok = True
    cap = MAX_BYTES - 1024  # under the documented cap, as a user's file would be to be linted at all
    with tempfile.TemporaryDirectory() as tmp:
        for suffix, markdown in ((".txt", False), (".md", True)):
            times: dict[int, float] = {}
            for size in (cap // 4, cap // 2, cap):
                path = Path(tmp) / f"reply-{size}{suffix}"
                path.write_text(_reply(size, markdown=markdown), encoding="utf-8")
                seconds, findings = _lint_seconds(path)
                times[size] = seconds
                print(f"{suffix:4} {size / 1024:7.0f} KiB  {findings:7d} findings  {seconds:6.2f} s")
            growth = times[cap] / times[cap // 4]
            ratio = times[cap] / TARGET_SECONDS
            print(
                f"{suffix:4} 2 MiB: {times[cap]:.2f} s = {ratio:.2f} x the {TARGET_SECONDS:.0f} s target; "
                f"time(x4 input) = {growth:.1f} x (linear 4, quadratic 16)"
            )
            ok = ok and times[cap] < TARGET_SECONDS and growth < MAX_GROWTH
    print("OK" if ok else "target missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
