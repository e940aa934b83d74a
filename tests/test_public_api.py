from __future__ import annotations

from inspect import signature
from types import FunctionType, ModuleType

import pytest

import humansupport as hs
from humansupport import testing as hs_testing
from humansupport.helpdesk import AsyncHelpdesk, Helpdesk


def test_all_is_exactly_the_public_surface() -> None:
    for name in hs.__all__:  # the names load on first access (PEP 562): bind them all, then compare
        getattr(hs, name)
    public = {n for n, v in vars(hs).items() if not n.startswith("_") and not isinstance(v, ModuleType)}
    assert [n for n in hs.__all__ if not n.startswith("_")] == sorted(public, key=str.casefold)


def test_exported_names_report_the_package_as_their_module() -> None:
    exported = [getattr(hs, n) for n in hs.__all__]
    assert {v.__module__ for v in exported if isinstance(v, type | FunctionType)} == {"humansupport"}


def test_every_name_in_all_exists() -> None:
    for name in hs.__all__ + hs_testing.__all__:
        mod = hs if name in hs.__all__ else hs_testing
        assert getattr(mod, name) is not None


def _public_methods(cls: type) -> list[str]:
    return sorted(
        n
        for n, v in vars(cls).items()
        if not n.startswith("_") and callable(v) and not isinstance(v, type) and n not in {"from_settings", "aclose"}
    )


def test_sync_facade_has_every_async_method() -> None:
    methods = {n for klass in AsyncHelpdesk.__mro__ for n in _public_methods(klass)}
    assert methods <= set(dir(Helpdesk))


@pytest.mark.parametrize("name", _public_methods(AsyncHelpdesk))
def test_sync_facade_mirrors_async(name: str) -> None:
    assert signature(getattr(Helpdesk, name)).parameters == signature(getattr(AsyncHelpdesk, name)).parameters


def test_connect_takes_a_vendor_or_an_account_name() -> None:
    from inspect import Parameter

    for fn in (hs.connect, hs.aconnect):
        params = signature(fn).parameters
        assert params["name"].kind is Parameter.POSITIONAL_ONLY and params["name"].default is None
        assert params["account"].kind is Parameter.KEYWORD_ONLY and params["account"].default is None
