"""A store path that cannot be used is a ConfigError naming the path and what to do (exit 3, JSON with --json)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import humansupport_acmedesk
import pytest
from humansupport_acmedesk import FakeAcme
from typer.testing import CliRunner

from humansupport.cli import ExitCode, app
from humansupport.errors import ConfigError
from humansupport.plugins import PluginRegistry
from humansupport.store import Store


def test_a_parent_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder would go")
    path = blocker / "sub" / "store.db"
    with pytest.raises(ConfigError) as caught:
        Store.open(path)
    message = str(caught.value)
    assert str(path) in message and "--store" in message and "HUMANSUPPORT_STORE" in message


def test_a_folder_as_store_path_is_a_config_error_not_unable_to_open(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Store.open(tmp_path)
    assert "is a folder, not a file" in str(caught.value) and str(tmp_path) in str(caught.value)


def test_an_unwritable_store_says_which_file_or_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.db"
    Store.open(path).close()
    import humansupport.store.store as store_module

    real_access = os.access

    def no_write(target: object, mode: int, **kw: object) -> bool:  # tests run as root in CI: chmod is no test
        return False if Path(str(target)) == tmp_path else real_access(target, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", no_write)
    message = store_module._sqlite_access_problem(f"sqlite:///{path}")
    assert message is not None and str(tmp_path) in message and "not writable" in message


def test_sync_with_an_unusable_store_path_exits_3_with_a_json_error(
    tmp_path: Path, plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", FakeAcme.token)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    bad = blocker / "deeper" / "store.db"
    result = CliRunner().invoke(app, ["sync", "acmedesk", "--store", str(bad), "--json"])
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "ConfigError" and error["exit_code"] == 3 and str(bad) in error["message"]
    human = CliRunner().invoke(app, ["sync", "acmedesk", "--store", str(bad)])
    assert human.exit_code == ExitCode.CONFIG and "Traceback" not in human.output
    assert str(bad) in " ".join(human.stderr.split())


def test_a_command_on_a_folder_store_exits_3_with_a_json_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["metrics", "--store", str(tmp_path), "--json"])
    assert result.exit_code == ExitCode.CONFIG, result.output
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "ConfigError" and "is a folder" in error["message"]
