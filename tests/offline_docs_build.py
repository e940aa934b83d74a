"""Builds the docs site (`mkdocs build --strict`) with the network forbidden; `make docs` runs it, `make test` too.

An audit hook refuses every socket connect and name lookup in this process, so a theme or plugin that
fetches fonts, icons or images at build time fails the build instead of quietly needing the internet. It
prints the build time and the number of pages, the figures the changelog quotes.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NETWORK_EVENTS = frozenset(
    {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr", "socket.sendto"}
)
attempts: list[str] = []


def _refuse(event: str, args: tuple[Any, ...]) -> None:
    if event in NETWORK_EVENTS:
        attempts.append(f"{event}{args!r}"[:300])
        raise OSError(f"the docs build may not use the network ({event})")


def forbid_network() -> None:
    """Refuse the network for the rest of this process (audit hooks cannot be removed)."""
    sys.addaudithook(_refuse)


def main(argv: list[str]) -> int:
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # Material's banner about MkDocs 2.0 on every build
    forbid_network()
    from mkdocs.__main__ import cli

    started = time.perf_counter()
    code: int | str | None = 0
    try:
        cli.main(args=["build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"), *argv], prog_name="mkdocs")
    except SystemExit as exc:
        code = exc.code
    elapsed = time.perf_counter() - started
    if attempts:
        print("the docs build tried to reach the network:", *attempts, sep="\n  ", file=sys.stderr)
        return 1
    if code not in (0, None):
        return code if isinstance(code, int) else 1
    pages = [p for p in (ROOT / "site").rglob("*.html") if p.name != "404.html"]
    print(f"docs: {len(pages)} pages built offline in {elapsed:.1f} s into site/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
