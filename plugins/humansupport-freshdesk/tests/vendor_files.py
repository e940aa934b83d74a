"""Where the vendor material the tests read lives: tests/specs/ in this plugin (see specs/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

SPECS = Path(__file__).with_name("specs")
OPENAPI = Path(__file__).with_name("freshdesk-openapi.yaml")


def samples_dir() -> Path:
    """The sample payloads folder (BSD-2-Clause fixtures of python-freshdesk, copied into the repository)."""
    return SPECS / "samples"
