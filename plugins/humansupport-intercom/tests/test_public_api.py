"""The package's `__all__` is exactly its public surface, and everything exported names the package."""

from __future__ import annotations

from types import FunctionType, ModuleType

import humansupport_intercom as ic


def test_all_is_exactly_the_public_surface() -> None:
    public = {n for n, v in vars(ic).items() if n[0] != "_" and not isinstance(v, ModuleType)}
    assert [n for n in ic.__all__ if n[0] != "_"] == sorted(public, key=str.casefold)
    exported = [getattr(ic, n) for n in ic.__all__]
    assert {v.__module__ for v in exported if isinstance(v, type | FunctionType)} == {"humansupport_intercom"}
