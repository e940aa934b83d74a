"""Documentation is checked like code: every hook, CLI command, exit code, error and setting is documented."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

import humansupport.errors as errors_module
from humansupport.cli import ExitCode, app
from humansupport.config import HelpdeskSettings
from humansupport.plugins import new_plugin_manager

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _walk(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if path:
        yield path
    if hasattr(cmd, "commands"):  # a group (typer's click is internal: duck-type it)
        for name, sub in sorted(cmd.commands.items()):
            yield from _walk(sub, (*path, name))


HOOKS = sorted(n for n in dir(new_plugin_manager().hook) if not n.startswith("_"))
COMMANDS = list(_walk(get_command(app)))


def test_there_are_hooks_and_commands() -> None:
    assert {
        "register_helpdesks",
        "register_fakes",
        "register_enrichers",
        "register_routing_strategies",
    } <= set(HOOKS)
    assert ("plugins",) in COMMANDS and ("fake", "serve") in COMMANDS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_documented_with_its_signature(hook: str) -> None:
    caller = getattr(new_plugin_manager().hook, hook)
    text = (DOCS / "plugins.md").read_text()
    assert f"### `{hook}({', '.join(caller.spec.argnames)})`" in text


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_cli_command_documented(path: tuple[str, ...]) -> None:
    text = (DOCS / "cli.md").read_text()
    assert re.search(rf"### `humansupport {' '.join(path)}( [A-Z_]+)*`", text), f"no section for {path}"


@pytest.mark.parametrize("code", list(ExitCode), ids=lambda c: c.name)
def test_every_exit_code_documented(code: ExitCode) -> None:
    assert f"| {int(code)} | `{code.name}` |" in (DOCS / "cli.md").read_text()


ERRORS = sorted(
    name
    for name, obj in vars(errors_module).items()
    if inspect.isclass(obj) and issubclass(obj, errors_module.HumansupportError)
)


@pytest.mark.parametrize("name", ERRORS)
def test_every_error_documented(name: str) -> None:
    assert f"| `{name}` |" in (DOCS / "errors.md").read_text()


@pytest.mark.parametrize("field", sorted(HelpdeskSettings.model_fields))
def test_every_common_setting_documented(field: str) -> None:
    assert f"`{field}`" in (DOCS / "configuration.md").read_text()


def test_readme_names_the_two_commands_and_ci_runs_the_test_command() -> None:
    root = DOCS.parent
    readme = (root / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert re.search(r"^make test$", (root / ".ci" / "run").read_text(), re.M)


def test_every_first_party_plugin_is_installed_and_its_settings_documented() -> None:
    from humansupport.plugins import PluginRegistry

    registry = PluginRegistry(new_plugin_manager())
    registry.load_entrypoints(environ={})
    assert not registry.errors, registry.errors
    adapters = registry.helpdesks()
    shipped = {p.name.removeprefix("humansupport-") for p in (DOCS.parent / "plugins").glob("humansupport-*")}
    assert shipped <= set(adapters), "a plugin in plugins/ is not installed in the environment"
    for vendor, cls in adapters.items():
        page = DOCS / "vendors" / f"{vendor}.md"
        assert page.exists(), f"docs/vendors/{vendor}.md is missing"
        text = page.read_text()
        own = sorted(set(cls.settings_model.model_fields) - set(HelpdeskSettings.model_fields))
        missing = [f for f in own if f"`{f}`" not in text]
        assert not missing, f"{vendor} settings not documented in {page.name}: {missing}"
        assert f"vendors/{vendor}.md" in (DOCS / "index.md").read_text()
