from __future__ import annotations

import subprocess
import sys
import types
from importlib import metadata
from typing import Any

import humansupport_acmedesk
import pytest
import typer
from humansupport_acmedesk import AcmeAdapter, FakeAcme
from typer.testing import CliRunner

from humansupport import AsyncHelpdesk, ConfigError, PluginError, PluginRegistry, hookimpl
from humansupport.plugins import CONTRACT_VERSION, check_contract, new_plugin_manager


def test_registered_plugin_provides_its_vendor(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk", version="1.2.3")
    assert plugin_registry.helpdesks() == {"acmedesk": AcmeAdapter}
    assert plugin_registry.fakes() == {"acmedesk": FakeAcme}
    [row] = plugin_registry.plugins()
    assert row.to_dict() == {
        "name": "acmedesk",
        "version": "1.2.3",
        "hooks": ["register_fakes", "register_helpdesks"],
        "vendors": ["acmedesk"],
        "capabilities": {
            "acmedesk": ["optimistic_concurrency", "signed_webhooks", "webhook_registration", "saved_replies"]
        },
        "error": None,
    }


def test_unknown_vendor_lists_what_is_installed(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    with pytest.raises(ConfigError, match=r"no helpdesk plugin for 'zendesk' \(installed: acmedesk\)"):
        plugin_registry.helpdesk("zendesk")


def test_two_plugins_claiming_one_vendor_is_an_error(plugin_registry: PluginRegistry) -> None:
    class Other(AcmeAdapter):
        pass

    class OtherPlugin:
        @staticmethod
        @hookimpl
        def register_helpdesks() -> list[type[AsyncHelpdesk]]:
            return [Other]

    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    plugin_registry.register(OtherPlugin, name="other")
    with pytest.raises(PluginError, match="provided by both"):
        plugin_registry.helpdesks()


def test_hook_typo_is_caught_at_registration() -> None:
    class Typo:
        @staticmethod
        @hookimpl
        def register_helpdesk() -> list[Any]:
            return []

    registry = PluginRegistry(new_plugin_manager())
    with pytest.raises(Exception, match="unknown hook"):
        registry.register(Typo, name="typo")


class _EntryPoint:
    def __init__(self, name: str, target: str) -> None:
        self.name = name
        self.target = target
        self.dist = types.SimpleNamespace(version="0.9")

    def load(self) -> Any:
        __import__(self.target)
        return sys.modules[self.target]


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    good = types.ModuleType("hs_good_plugin")
    good.register_helpdesks = hookimpl(lambda: [AcmeAdapter])  # type: ignore[attr-defined]
    good.__humansupport_contract__ = CONTRACT_VERSION  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hs_good_plugin", good)
    eps = [_EntryPoint("good", "hs_good_plugin"), _EntryPoint("broken", "hs_missing_module_xyz")]

    def entry_points(*, group: str) -> list[_EntryPoint]:
        assert group == "humansupport"
        return eps

    monkeypatch.setattr(metadata, "entry_points", entry_points)


@pytest.mark.usefixtures("fake_entry_points")
def test_a_broken_plugin_is_reported_by_name_and_the_others_load() -> None:
    registry = PluginRegistry(new_plugin_manager())
    registry.load_entrypoints(environ={})
    assert registry.helpdesks() == {"acmedesk": AcmeAdapter}
    rows = {r.name: r for r in registry.plugins()}
    assert rows["good"].version == "0.9" and rows["good"].error is None
    assert "hs_missing_module_xyz" in (rows["broken"].error or "")


@pytest.mark.usefixtures("fake_entry_points")
@pytest.mark.parametrize(
    ("value", "loaded", "errors"),
    [("", set(), set()), ("good", {"good"}, set()), ("good,nothere", {"good"}, {"nothere"})],
)
def test_allow_list(value: str, loaded: set[str], errors: set[str]) -> None:
    registry = PluginRegistry(new_plugin_manager())
    registry.load_entrypoints(environ={"HUMANSUPPORT_PLUGINS": value})
    assert {name for name, _ in registry.pm.list_name_plugin()} == loaded
    assert {e.plugin for e in registry.errors} == errors


def test_nothing_loads_at_import_time() -> None:
    code = "import humansupport, sys; print(any(m.startswith('humansupport_') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _plugin_declaring(contract: object) -> types.ModuleType:
    module = types.ModuleType("hs_contract_plugin")
    module.register_helpdesks = hookimpl(lambda: [AcmeAdapter])  # type: ignore[attr-defined]
    if contract is not None:
        module.__humansupport_contract__ = contract  # type: ignore[attr-defined]
    return module


@pytest.mark.parametrize(
    ("declared", "fix"),
    [
        (CONTRACT_VERSION + 1, 'pip install -U "humansupport"'),  # a plugin newer than the core: upgrade the core
        (CONTRACT_VERSION - 1, 'pip install -U "humansupport-acmedesk"'),  # an older plugin: upgrade it
        (None, 'pip install -U "humansupport-acmedesk"'),  # built before plugins declared a contract
    ],
)
def test_a_plugin_for_another_contract_is_refused_at_load_naming_both_versions(
    monkeypatch: pytest.MonkeyPatch, declared: int | None, fix: str
) -> None:
    monkeypatch.setitem(sys.modules, "hs_contract_plugin", _plugin_declaring(declared))
    ep = _EntryPoint("acmedesk", "hs_contract_plugin")
    ep.dist = types.SimpleNamespace(version="0.9", name="humansupport-acmedesk")
    monkeypatch.setattr(metadata, "entry_points", lambda *, group: [ep])
    registry = PluginRegistry(new_plugin_manager())
    registry.load_entrypoints(environ={})
    [error] = registry.errors
    message = str(error)
    assert error.plugin == "acmedesk" and fix in message
    assert f"implements plugin contract {CONTRACT_VERSION}" in message and "humansupport-acmedesk 0.9" in message
    if declared is not None:
        assert f"implements plugin contract {declared}" in message
    assert registry.helpdesks() == {}, "none of its hooks may run"
    with pytest.raises(PluginError, match="plugin contract"):
        registry.helpdesk("acmedesk")


def test_every_installed_plugin_declares_the_core_contract() -> None:
    installed = metadata.entry_points(group="humansupport")
    assert "acmedesk" in installed.names
    for entry in installed:
        module = entry.load()
        check_contract(module, name=entry.name)  # raises on a mismatch
        assert module.__humansupport_contract__ == CONTRACT_VERSION


def _command_plugin(name: str, calls: list[str]) -> object:
    class CommandPlugin:
        @staticmethod
        @hookimpl
        def register_commands(cli: typer.Typer) -> None:
            group = typer.Typer(no_args_is_help=True)

            @group.command("hello")
            def hello(who: str = "there") -> None:
                calls.append(who)
                typer.echo(f"hello {who}")

            cli.add_typer(group, name=name)

            @cli.command("plugins")  # a built-in name: the built-in wins
            def shadow() -> None:
                calls.append("shadow")

    return CommandPlugin


def test_a_plugin_adds_its_own_commands_through_register_commands(plugin_registry: PluginRegistry) -> None:
    from humansupport.cli import app

    calls: list[str] = []
    plugin_registry.register(_command_plugin("mydesk", calls), name="mydesk")
    result = CliRunner().invoke(app, ["mydesk", "hello", "--who", "ann"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello ann\n" and calls == ["ann"]
    assert CliRunner().invoke(app, ["plugins", "--json"]).exit_code == 0 and calls == ["ann"]
    [row] = [p for p in plugin_registry.plugins() if p.name == "mydesk"]
    assert row.hooks == ["register_commands"]


def test_a_plugin_failing_in_register_commands_leaves_the_others(plugin_registry: PluginRegistry) -> None:
    from humansupport.cli import app

    class Broken:
        @staticmethod
        @hookimpl
        def register_commands(cli: typer.Typer) -> None:
            raise RuntimeError("no commands today")

    calls: list[str] = []
    plugin_registry.register(Broken, name="broken")
    plugin_registry.register(_command_plugin("mydesk", calls), name="mydesk")
    assert CliRunner().invoke(app, ["mydesk", "hello"]).exit_code == 0 and calls == ["there"]
    assert any("register_commands" in str(e) and e.plugin == "broken" for e in plugin_registry.errors)
