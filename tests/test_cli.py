from __future__ import annotations

import json

import humansupport_acmedesk
import pytest
from humansupport_acmedesk import FakeAcme
from typer.testing import CliRunner

from humansupport import PluginRegistry, __version__
from humansupport.cli import ExitCode, app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"humansupport {__version__}"


def test_plugins_json_empty_list(plugin_registry: PluginRegistry) -> None:
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_plugins_json_lists_vendor_and_capabilities(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk", version="0.1")
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0
    [row] = json.loads(result.stdout)
    assert row["vendors"] == ["acmedesk"] and "signed_webhooks" in row["capabilities"]["acmedesk"]
    human = runner.invoke(app, ["plugins"])
    assert "acmedesk" in human.stdout


def test_check_unknown_vendor_is_a_config_error_in_json(plugin_registry: PluginRegistry) -> None:
    result = runner.invoke(app, ["check", "nosuchdesk", "--json"])
    assert result.exit_code == ExitCode.CONFIG
    err = json.loads(result.stdout)["error"]
    assert err["type"] == "ConfigError" and err["exit_code"] == 3 and "nosuchdesk" in err["message"]


def test_check_missing_credential_names_env_var_without_traceback(
    plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    monkeypatch.delenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", raising=False)
    result = runner.invoke(app, ["check", "acmedesk"])
    assert result.exit_code == ExitCode.CONFIG
    assert "HUMANSUPPORT_ACMEDESK_API_TOKEN" in result.stderr and "Traceback" not in result.output


def _patch_transport(monkeypatch: pytest.MonkeyPatch, fake: FakeAcme) -> None:
    import humansupport.cli as cli
    from humansupport.connect import build_adapter

    def with_fake(vendor: str, **kw: object) -> object:
        return build_adapter(vendor, transport=fake.transport(), **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(cli, "build_adapter", with_fake)


def test_check_ok_reports_rate_headroom(plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    fake = FakeAcme(rate_limit_per_minute=400)
    _patch_transport(monkeypatch, fake)
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", FakeAcme.token)
    result = runner.invoke(app, ["check", "acmedesk", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["rate_limit"] == 400 and report["rate_remaining"] == 399


@pytest.mark.parametrize(("status", "code"), [(401, ExitCode.AUTH), (403, ExitCode.AUTH), (503, ExitCode.RETRY_LATER)])
def test_check_failures_map_to_exit_codes(
    plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, status: int, code: ExitCode
) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    fake = FakeAcme()
    fake.fail_next(status, times=100)
    _patch_transport(monkeypatch, fake)
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", "sekret-123")
    import humansupport.cli as cli

    monkeypatch.setattr(cli, "SYSTEM_CLOCK", __import__("humansupport.testing", fromlist=["FakeClock"]).FakeClock())
    result = runner.invoke(app, ["check", "acmedesk", "--json"])
    assert result.exit_code == code, result.output
    assert "sekret-123" not in result.output
    assert json.loads(result.stdout)["error"]["exit_code"] == int(code)


def test_demo_runs_on_the_registered_fake(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    result = runner.invoke(app, ["demo", "--json", "--customers", "60"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["vendor"] == "acmedesk" and report["requests"] > 0
    assert 0 < report["usual_agent_share"] < 1 and report["conversations"] > 60


def test_demo_without_plugins_says_so(plugin_registry: PluginRegistry) -> None:
    result = runner.invoke(app, ["demo", "--customers", "30"])
    assert result.exit_code == 0 and "No helpdesk plugin is installed" in result.stdout


def test_unknown_command_is_usage_error() -> None:
    assert runner.invoke(app, ["frobnicate"]).exit_code == ExitCode.USAGE


def test_error_text_with_brackets_is_printed_verbatim(plugin_registry: PluginRegistry) -> None:
    import typer

    from humansupport import ConfigError
    from humansupport.cli import run_command

    def body() -> None:
        raise ConfigError("list fields in [enrichment] allowed_fields of humansupport.toml")

    app_ = typer.Typer()

    @app_.command()
    def cmd() -> None:
        run_command(body, as_json=False)

    result = runner.invoke(app_, [])
    assert result.exit_code == ExitCode.CONFIG
    assert "[enrichment] allowed_fields" in result.stderr
