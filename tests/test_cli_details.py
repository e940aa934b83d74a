"""The CLI's finish: help text as written, JSON on every path, one exit code per situation, helpful messages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import humansupport_acmedesk
import pytest
from humansupport_acmedesk import FakeAcme
from rich.console import Console
from typer.main import get_command
from typer.testing import CliRunner

from humansupport import PluginError, PluginRegistry
from humansupport.cli import ExitCode, app, fake_connection, sync_progress
from humansupport.insights.periods import humane_duration
from humansupport.store import Store

runner = CliRunner()
HELP_ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}


def _walk(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(get_command(app)))
LEAVES = [(path, cmd) for path, cmd in COMMANDS if not getattr(cmd, "commands", None)]


def _ids(items: list[tuple[tuple[str, ...], Any]]) -> list[str]:
    return [" ".join(path) or "humansupport" for path, _ in items]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


# -- help text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=_ids(COMMANDS))
def test_help_shows_every_bracketed_text_of_the_source(path: tuple[str, ...], cmd: Any) -> None:
    texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
    bracketed = {m for text in texts for m in re.findall(r"\[[^\[\]]+\]", _squash(text))}
    result = runner.invoke(app, [*path, "--help"], env=HELP_ENV)
    assert result.exit_code == 0, result.output
    shown = _squash(result.output)
    assert [b for b in sorted(bracketed) if b not in shown] == []


def test_the_bracketed_defaults_named_in_the_issue_are_shown() -> None:
    shown = {" ".join(path): _squash(runner.invoke(app, [*path, "--help"], env=HELP_ENV).output) for path, _ in LEAVES}
    assert "[least_loaded]" in shown["route"] and "[no limit]" in shown["route"]
    assert "[store] url" in shown["sync"] and "[all customers]" in shown["enrich"]


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=_ids(COMMANDS))
def test_flags_show_no_value_type(path: tuple[str, ...], cmd: Any) -> None:
    output = runner.invoke(app, [*path, "--help"], env=HELP_ENV).output
    assert "<bool>" not in output
    for flag in ("--json", "--apply", "--write", "--full"):
        assert not re.search(rf"{flag} +<", output), flag


# -- --json everywhere, usage errors included --------------------------------------------------------------


@pytest.mark.parametrize(("path", "cmd"), LEAVES, ids=_ids(LEAVES))
def test_every_command_takes_json(path: tuple[str, ...], cmd: Any) -> None:
    assert "--json" in {opt for p in cmd.params for opt in getattr(p, "opts", [])}


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=_ids(COMMANDS))
def test_a_bad_option_with_json_is_a_json_usage_error(path: tuple[str, ...], cmd: Any) -> None:
    result = runner.invoke(app, [*path, "--no-such-option", "--json"])
    assert result.exit_code == ExitCode.USAGE, result.output
    error = json.loads(result.stdout)["error"]
    assert error == {"type": "UsageError", "message": "No such option: --no-such-option", "exit_code": 2}


REQUIRED = [
    (path, cmd) for path, cmd in LEAVES if any(p.required and not p.opts[0].startswith("-") for p in cmd.params)
]


@pytest.mark.parametrize(("path", "cmd"), REQUIRED, ids=_ids(REQUIRED))
def test_a_missing_argument_with_json_is_a_json_usage_error(path: tuple[str, ...], cmd: Any) -> None:
    result = runner.invoke(app, [*path, "--json"])
    assert result.exit_code == ExitCode.USAGE, result.output
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "UsageError" and error["exit_code"] == 2 and "Missing argument" in error["message"]


def test_usage_errors_without_json_stay_plain_text() -> None:
    result = runner.invoke(app, ["route", "--no-such-option"])
    assert result.exit_code == ExitCode.USAGE and "No such option" in result.stderr and not result.stdout


def test_a_bad_parameter_inside_a_command_is_json_too() -> None:
    result = runner.invoke(app, ["replies", "lint", "--json"])  # neither FILES nor --vendor
    assert result.exit_code == ExitCode.USAGE
    assert "give FILES" in json.loads(result.stdout)["error"]["message"]


# -- vendors, plugins ------------------------------------------------------------------------------------


def test_a_vendor_typo_gets_did_you_mean_not_an_install_hint(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    result = runner.invoke(app, ["check", "acmedsk", "--json"])
    assert result.exit_code == ExitCode.CONFIG
    message = json.loads(result.stdout)["error"]["message"]
    assert "did you mean 'acmedesk'?" in message and "install humansupport" not in message


def test_a_typo_of_a_published_vendor_names_its_package(plugin_registry: PluginRegistry) -> None:
    message = json.loads(runner.invoke(app, ["check", "zenddesk", "--json"]).stdout)["error"]["message"]
    assert "did you mean 'zendesk'?" in message and "humansupport-zendesk" in message
    assert "humansupport-zenddesk" not in message


def test_an_unknown_vendor_still_gets_the_install_hint(plugin_registry: PluginRegistry) -> None:
    message = json.loads(runner.invoke(app, ["check", "kayako", "--json"]).stdout)["error"]["message"]
    assert "did you mean" not in message and "install humansupport-kayako" in message


def test_plugins_exits_3_and_lists_a_plugin_that_failed(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    plugin_registry.errors.append(PluginError("cannot import humansupport_broken: No module named x", plugin="broken"))
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == ExitCode.CONFIG
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["acmedesk"]["error"] is None and "No module named x" in rows["broken"]["error"]
    human = runner.invoke(app, ["plugins"])
    assert human.exit_code == ExitCode.CONFIG and "broken failed to load" in human.stderr


# -- the store: one exit code for "sync first" -----------------------------------------------------------


@pytest.fixture
def other_account_store(tmp_path: Path) -> str:
    """A store that holds an account `other`, not the vendor's default one."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store.open(url) as store:
        store.set_cursor("other", "agents", None, items=0, at=datetime(2026, 1, 1, tzinfo=UTC))
    return url


@pytest.mark.parametrize(
    "args",
    [
        ["enrich", "acmedesk"],
        ["profile", "acmedesk", "c1"],
        ["route", "acmedesk", "--new"],
        ["rebalance", "acmedesk"],
        ["digest", "acmedesk"],
        ["metrics", "--account", "acmedesk"],
    ],
    ids=lambda a: a[0],
)
def test_an_account_the_store_never_synced_exits_3(
    plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, other_account_store: str, args: list[str]
) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", FakeAcme.token)
    result = runner.invoke(app, [*args, "--store", other_account_store, "--json"])
    assert result.exit_code == ExitCode.CONFIG, result.output
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "NoHistoryError" and "humansupport sync" in error["message"]


@pytest.mark.parametrize("args", [["metrics"], ["digest", "acmedesk"], ["enrich", "acmedesk"]], ids=lambda a: a[0])
def test_a_missing_store_exits_3_like_a_missing_account(
    plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str]
) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", FakeAcme.token)
    result = runner.invoke(app, [*args, "--store", str(tmp_path / "none.db"), "--json"])
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "run `humansupport sync" in json.loads(result.stdout)["error"]["message"]


# -- replies lint, when nothing was read -----------------------------------------------------------------


def test_replies_lint_with_every_input_skipped_says_nothing_was_checked(tmp_path: Path) -> None:
    binary = tmp_path / "logo.txt"
    binary.write_bytes(b"\x89PNG\x00\x00\x00binary")
    result = runner.invoke(app, ["replies", "lint", str(binary)])
    assert result.exit_code == ExitCode.USAGE
    assert "Nothing was checked" in result.stdout and "No findings" not in result.stdout
    as_json = runner.invoke(app, ["replies", "lint", str(binary), "--json"])
    assert as_json.exit_code == ExitCode.USAGE
    summary = json.loads(as_json.stdout)["summary"]
    assert summary["checked"] == 0 and summary["skipped"] == 1


def test_replies_lint_counts_only_what_it_checked(tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("Your refund is on its way: it reaches your card by Friday.\n")
    (tmp_path / "logo.txt").write_bytes(b"\x00\x01binary")
    result = runner.invoke(app, ["replies", "lint", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "No findings in 1 replies." in result.stdout and "1 skipped" in result.stdout


# -- sync summary and progress ------------------------------------------------------------------------


def test_sync_summary_names_messages_once(plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    import humansupport.cli as cli
    from humansupport.sync import SyncReport

    report = SyncReport(vendor="acmedesk", account="acmedesk", full=False, since=None, started_at=datetime.now(UTC))
    report.items = {"agents": 2, "conversations": 5, "messages": 40}
    report.messages = 40

    async def fake_sync(*args: Any, **kwargs: Any) -> SyncReport:
        return report

    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", FakeAcme.token)
    monkeypatch.setattr("humansupport.sync.sync_helpdesk", fake_sync)
    monkeypatch.setattr(cli, "_progress_enabled", lambda as_json: False)
    result = runner.invoke(app, ["sync", "acmedesk", "--store", "sqlite://"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("messages") == 1 and "40 messages" in result.stdout


def test_sync_progress_shows_counts_and_totals_of_finished_streams() -> None:
    out = StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    bar, tick = sync_progress(console, auto_refresh=False)
    with bar:
        tick("agents", 12)
        tick("conversations", 1234)
        bar.refresh()
        screen = out.getvalue()
    assert "12/12" in screen and "1,234 read" in screen


# -- digest: durations as people say them ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "text"),
    [
        (timedelta(days=97, seconds=7_465), "97 days"),
        (timedelta(days=30), "30 days"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=2, hours=6), "2 days 6 hours"),
        (timedelta(hours=12), "12 hours"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(minutes=90), "2 hours"),
        (timedelta(minutes=5), "5 minutes"),
        (timedelta(seconds=1), "1 second"),
    ],
)
def test_humane_duration(length: timedelta, text: str) -> None:
    assert humane_duration(length) == text


def test_digest_of_an_odd_period_prints_whole_days() -> None:
    from humansupport.insights.digest import DigestReport
    from humansupport.insights.periods import Period
    from humansupport.insights.render import digest_markdown

    end = datetime(2026, 11, 30, tzinfo=UTC)
    period = Period(end - timedelta(days=97, seconds=7_465), end)
    report = DigestReport(
        account="acme", period=period, conversations=3, customers=2, previous_conversations=1, themes=[]
    )
    text = digest_markdown(report)
    assert "in 97 days (previous 97 days: 1)" in text and "97.0864" not in text


# -- fake serve: the settings that point clients at it -----------------------------------------------------


def test_fake_connection_holds_every_setting_the_adapter_needs() -> None:
    from humansupport_acmedesk import AcmeSettings, FakeAcme

    from humansupport.config import resolve_settings

    info = fake_connection("acmedesk", FakeAcme, "http://127.0.0.1:8765")
    env = info["environment"]
    assert env["HUMANSUPPORT_ACMEDESK_BASE_URL"] == "http://127.0.0.1:8765"
    assert env["HUMANSUPPORT_ACMEDESK_API_TOKEN"] == FakeAcme.token
    settings = resolve_settings(AcmeSettings, environ=env)
    assert settings.base_url == "http://127.0.0.1:8765"
    assert info["python"].startswith('import humansupport as hs; helpdesk = hs.connect("acmedesk", base_url=')


def test_fake_serve_rejects_a_port_out_of_range_before_serving(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    result = runner.invoke(app, ["fake", "serve", "acmedesk", "--port", "70000", "--json"])
    assert result.exit_code == ExitCode.USAGE
    assert "--port" in json.loads(result.stdout)["error"]["message"] and "serving" not in result.output


def test_fake_serve_on_a_busy_port_is_a_clear_config_error(plugin_registry: PluginRegistry) -> None:
    import socket

    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["fake", "serve", "acmedesk", "--port", str(port), "--json"])
        human = runner.invoke(app, ["fake", "serve", "acmedesk", "--port", str(port)])
    assert result.exit_code == ExitCode.CONFIG, result.output
    [line] = result.stdout.splitlines()  # JSON lines: the error is one line
    error = json.loads(line)["error"]
    assert f"127.0.0.1:{port}" in error["message"] and "--port" in error["message"]
    assert human.exit_code == ExitCode.CONFIG and "Traceback" not in human.output and "serving" not in human.output


def test_fake_serve_of_an_unknown_vendor_suggests_the_close_one(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    result = runner.invoke(app, ["fake", "serve", "acmedsk", "--json"])
    assert result.exit_code == ExitCode.CONFIG
    assert "did you mean 'acmedesk'?" in json.loads(result.stdout)["error"]["message"]


def test_webhooks_serve_on_a_busy_port_is_a_clear_config_error(
    plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket

    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", FakeAcme.token)
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_WEBHOOK_SECRET", "whsec-test")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(
            app,
            ["webhooks", "serve", "acmedesk", "--port", str(port), "--store", str(tmp_path / "s.db"), "--json"],
        )
    assert result.exit_code == ExitCode.CONFIG, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1]["error"]["exit_code"] == 3 and f"127.0.0.1:{port}" in lines[-1]["error"]["message"]
    assert not any("receiving" in line for line in lines)  # nothing announced on a port we do not hold


# -- rebalance apply --resume without a plan -----------------------------------------------------------


def test_rebalance_apply_resume_alone_with_nothing_unfinished_says_so(
    plugin_registry: PluginRegistry, other_account_store: str
) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    result = runner.invoke(app, ["rebalance", "apply", "--resume", "--store", other_account_store, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_id"] is None
