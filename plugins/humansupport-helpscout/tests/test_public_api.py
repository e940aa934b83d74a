"""The plugin's public surface is exactly its `__all__`, and every exported class says it lives there."""

from __future__ import annotations

from types import FunctionType, ModuleType

import humansupport_helpscout as hs


def test_all_is_exactly_the_public_surface() -> None:
    public = {n for n, v in vars(hs).items() if n[0] != "_" and not isinstance(v, ModuleType)}
    public -= {"annotations", "TYPE_CHECKING"}  # from __future__ / typing, not ours
    assert [n for n in hs.__all__ if n[0] != "_"] == sorted(public, key=str.casefold)
    exported = [getattr(hs, n) for n in hs.__all__]
    assert {v.__module__ for v in exported if isinstance(v, type)} == {"humansupport_helpscout"}
    assert all(isinstance(getattr(hs, n), FunctionType) for n in ("register_fakes", "register_helpdesks"))


def test_hooks_return_the_adapter_and_the_fake() -> None:
    assert hs.register_helpdesks() == [hs.HelpScoutAdapter]
    assert hs.register_fakes() == [hs.FakeHelpScout]
    assert hs.FakeHelpScout.vendor == hs.HelpScoutAdapter.vendor == "helpscout"
