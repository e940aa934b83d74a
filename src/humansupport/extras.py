"""Optional dependency groups (`pip install "humansupport[...]"`) and the error a missing one gives.

The base install (core + a vendor plugin) carries no scientific stack: the rebalance planner's numpy, SciPy and
OR-Tools come with the `rebalance` extra and are imported only when a plan is made. A command that needs a
missing extra stops with a `ConfigError` (exit 3) naming the exact `pip install` line to run.
"""

from __future__ import annotations

import importlib.util
from typing import Final

from .errors import ConfigError

__all__ = ["EXTRAS", "install_line", "missing_modules", "require_extra"]

#: extra name -> (what needs it, the modules it provides)
EXTRAS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "rebalance": ("the rebalance planner", ("numpy", "scipy", "ortools")),
    "postgres": ("a PostgreSQL store", ("psycopg",)),
    "testing": ("humansupport.testing.openapi (contract tests against OpenAPI descriptions)", ("openapi_core", "yaml")),
}


def install_line(extra: str) -> str:
    """The exact command that installs an extra."""
    return f'pip install "humansupport[{extra}]"'


def missing_modules(extra: str) -> list[str]:
    """The modules of an extra that cannot be imported here (empty when it is installed)."""
    _, modules = EXTRAS[extra]
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent package that fails to import, or a module set to None
            found = False
        if not found:
            missing.append(name)
    return missing


def require_extra(extra: str) -> None:
    """Raises a ConfigError with the `pip install` line when a module of the extra is missing."""
    missing = missing_modules(extra)
    if missing:
        purpose, _ = EXTRAS[extra]
        verb = "is" if len(missing) == 1 else "are"
        raise ConfigError(
            f"{purpose} needs {', '.join(missing)}, which {verb} not installed; install the "
            f"'{extra}' extra: {install_line(extra)}"
        )
