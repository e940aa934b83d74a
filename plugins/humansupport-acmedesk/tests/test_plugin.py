"""The installed plugin: humansupport finds it through its entry point, and its public surface is its `__all__`."""

from __future__ import annotations

from types import FunctionType, ModuleType

import humansupport_acmedesk as plugin

from humansupport.plugins import PluginRegistry


def test_humansupport_loads_the_installed_plugin_through_its_entry_point() -> None:
    registry = PluginRegistry()
    registry.load_entrypoints(environ={"HUMANSUPPORT_PLUGINS": "acmedesk"})
    assert registry.errors == [], "the entry point `acmedesk` in the group `humansupport` did not load"
    assert registry.helpdesks() == {"acmedesk": plugin.AcmeAdapter}
    assert registry.fakes() == {"acmedesk": plugin.FakeAcme}
    [row] = registry.plugins()
    assert row.name == "acmedesk" and row.vendors == ["acmedesk"]
    assert row.version == plugin.__version__ and row.error is None


def test_all_is_exactly_the_public_surface() -> None:
    public = {n for n, v in vars(plugin).items() if not n.startswith("_") and not isinstance(v, ModuleType)}
    assert set(plugin.__all__) == public


def test_exported_names_report_the_package_as_their_module() -> None:
    exported = [getattr(plugin, n) for n in plugin.__all__]
    assert {v.__module__ for v in exported if isinstance(v, type | FunctionType)} == {plugin.__name__}
