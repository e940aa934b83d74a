"""What the CLI imports on first use, so `humansupport --help` does not pay for rich.console or asyncio.

`Console`, `Table` and `escape` behave as rich's (type checkers see rich's own); `lazy_console()` is a module-level
console that becomes a real `rich.console.Console` the first time anything is asked of it; `lazy_module("asyncio")`
imports the module at its first attribute access.
"""

from __future__ import annotations

import importlib
import types
from typing import TYPE_CHECKING, Any, cast

__all__ = ["Console", "Table", "escape", "lazy_console", "lazy_module"]

if TYPE_CHECKING:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
else:

    def Console(*args: Any, **kwargs: Any) -> Any:
        from rich.console import Console

        return Console(*args, **kwargs)

    def Table(*args: Any, **kwargs: Any) -> Any:
        from rich.table import Table

        return Table(*args, **kwargs)

    def escape(*args: Any, **kwargs: Any) -> Any:
        from rich.markup import escape

        return escape(*args, **kwargs)


class _LazyConsole:
    """Turns itself into a `rich.console.Console` (same object, real class) on first attribute access."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self._lazy_kwargs = kwargs

    def __getattr__(self, name: str) -> Any:
        from rich.console import Console as RichConsole

        kwargs = self.__dict__.pop("_lazy_kwargs")
        self.__class__ = RichConsole  # type: ignore[assignment]
        RichConsole.__init__(cast(RichConsole, self), **kwargs)
        return getattr(self, name)


def lazy_console(**kwargs: Any) -> Console:
    """A `Console(**kwargs)` made when first used."""
    return cast("Console", _LazyConsole(kwargs))


class _LazyModule(types.ModuleType):
    """Stands for a module until an attribute is read, then reads it from the imported module."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self.__name__), name)


def lazy_module(name: str) -> Any:
    """A stand-in for `import name` that imports it at the first attribute access (`asyncio.run`)."""
    return _LazyModule(name)
