"""Loaded for every test in the repository (core and plugins): tests may only read data files inside it.

An audit hook refuses to open a vendor description or sample (`.yaml`, `.yml`, `.json`) that lies outside the
repository root but beside it (for instance `../shared/specs/...`): everything a test reads must be committed,
so a fresh clone with nothing beside it passes `make test`. Temporary files of the test session are allowed.
"""

from __future__ import annotations

import getpass
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.abspath(__file__))
DATA_SUFFIXES = (".yaml", ".yml", ".json")
_ALLOWED = (ROOT + os.sep, os.path.join(tempfile.gettempdir(), f"pytest-of-{getpass.getuser()}") + os.sep)
_OUTSIDE = os.path.dirname(ROOT) + os.sep


class OutsideRepositoryError(RuntimeError):
    """A test opened a data file that is not part of the repository."""


def outside_repository(path: str) -> bool:
    """True for a data file beside the repository (the folder holding the checkout), not inside it."""
    if not path.endswith(DATA_SUFFIXES):
        return False
    try:
        full = os.path.abspath(path)
    except OSError:  # a relative path in a working directory that no longer exists
        return False
    if full.startswith(_ALLOWED):
        return False
    return full.startswith(_OUTSIDE)


def _guard(event: str, args: tuple[object, ...]) -> None:
    if event != "open" or not args or not isinstance(args[0], str | bytes | os.PathLike):
        return
    path = os.fsdecode(args[0])
    if outside_repository(path):
        raise OutsideRepositoryError(
            f"a test opened {os.path.abspath(path)}, outside the repository {ROOT}: copy the file into the "
            "repository (vendor material goes to plugins/<plugin>/tests/specs/ with its LICENSE and SOURCES.md)"
        )


if not getattr(sys, "_humansupport_repo_guard", False):
    sys.addaudithook(_guard)
    sys._humansupport_repo_guard = True  # type: ignore[attr-defined]

__all__ = ["ROOT", "OutsideRepositoryError", "outside_repository"]
