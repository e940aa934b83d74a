"""Where the shared vendor material lives: ../shared/specs/freshdesk beside the checkout (CI lays it there)."""

from __future__ import annotations

import os
from pathlib import Path

SAMPLES_ENV = "HUMANSUPPORT_FRESHDESK_SAMPLES"
OPENAPI = Path(__file__).with_name("freshdesk-openapi.yaml")


def samples_dir() -> Path:
    """The sample payloads folder: $HUMANSUPPORT_FRESHDESK_SAMPLES, else the first `shared/` above this file."""
    if os.environ.get(SAMPLES_ENV):
        return Path(os.environ[SAMPLES_ENV])
    here = Path(__file__).resolve()
    for parent in here.parents:
        for candidate in (parent / "shared", parent.parent / "shared"):
            folder = candidate / "specs" / "freshdesk" / "samples"
            if folder.is_dir():
                return folder
    raise FileNotFoundError(f"shared/specs/freshdesk/samples not found above {here}; set {SAMPLES_ENV}")
