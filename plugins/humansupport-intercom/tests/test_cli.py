"""The plugin as users meet it: discovery, `humansupport check` against the fake over real HTTP, demo, setup."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import humansupport_intercom
import pytest
import uvicorn
from humansupport_intercom import FakeIntercom
from typer.testing import CliRunner

from humansupport.cli import app
from humansupport.plugins import PluginRegistry
from humansupport.testing import FakeClock, HistoryConfig, generate_history

runner = CliRunner()
CLI = Path(sys.executable).with_name("humansupport")


def test_installed_plugin_is_listed_with_its_capabilities() -> None:
    env = {k: v for k, v in os.environ.items() if k != "HUMANSUPPORT_PLUGINS"}
    done = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [str(CLI), "plugins", "--json"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    row = rows["intercom"]
    assert row["error"] is None and row["vendors"] == ["intercom"]
    assert row["hooks"] == ["register_commands", "register_fakes", "register_helpdesks"]
    assert row["capabilities"]["intercom"] == [
        "availability",
        "signed_webhooks",
        "satisfaction_ratings",
        "saved_replies",
        "append_only_notes",
    ]


@pytest.fixture
def served_fake() -> Iterator[tuple[FakeIntercom, str]]:
    """The fake's ASGI app on uvicorn in a background thread on 127.0.0.1; stopped (bounded) after the test."""
    fake = FakeIntercom(clock=FakeClock(), history=generate_history(HistoryConfig(customers=20, agents=4, groups=2)))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fake.asgi_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fake-intercom", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:  # waiting for a real server to bind: the one place a test waits on real time
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_check_against_the_fake_over_http(
    served_fake: tuple[FakeIntercom, str], plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = served_fake
    plugin_registry.register(humansupport_intercom, name="intercom")
    monkeypatch.setenv("HUMANSUPPORT_INTERCOM_ACCESS_TOKEN", FakeIntercom.token)
    result = runner.invoke(app, ["check", "intercom", "--base-url", url, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["account"] == "fakews01" and report["base_url"] == url
    assert report["rate_limit"] == pytest.approx(1667 * 6) and report["rate_remaining"] == pytest.approx(1666 * 6)
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/me")]
    assert fake.requests[0].headers["intercom-version"] == "2.14"


def test_check_with_a_wrong_token_exits_with_the_auth_code_and_hint(
    served_fake: tuple[FakeIntercom, str], plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = served_fake
    plugin_registry.register(humansupport_intercom, name="intercom")
    monkeypatch.setenv("HUMANSUPPORT_INTERCOM_ACCESS_TOKEN", "wrong-token-123")
    result = runner.invoke(app, ["check", "intercom", "--base-url", url, "--json"])
    assert result.exit_code == 4, result.output
    error = json.loads(result.stdout)["error"]
    assert "HUMANSUPPORT_INTERCOM_ACCESS_TOKEN" in error["message"] and "wrong-token-123" not in result.output


def test_demo_runs_on_the_intercom_fake(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_intercom, name="intercom")
    result = runner.invoke(app, ["demo", "--vendor", "intercom", "--customers", "30", "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["customers"] == 30 and report["conversations"] > 30 and report["agents"] > 0
    assert report["requests"] >= 3, "the demo read through the adapter: search pages, admins"


def test_setup_is_a_humansupport_command_creating_the_profile_attributes_once(
    plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeIntercom(clock=FakeClock(), history=generate_history(HistoryConfig(customers=10, agents=3, groups=1)))
    plugin_registry.register(humansupport_intercom, name="intercom")
    _through(monkeypatch, fake)
    env = {"HUMANSUPPORT_INTERCOM_ACCESS_TOKEN": FakeIntercom.token}
    argv = ["intercom", "setup", "--attribute", "favourite_product=string"]
    result = runner.invoke(app, argv, env=env)
    assert result.exit_code == 0, result.output
    assert "humansupport_preferred_agent: created (string)" in result.stdout
    assert fake.data_attributes["humansupport_conversations"]["data_type"] == "integer"
    assert "favourite_product" in fake.data_attributes
    again = runner.invoke(app, argv, env=env)
    assert again.exit_code == 0 and "favourite_product: exists" in again.stdout


def test_setup_reports_bad_input_and_refused_credentials(
    plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeIntercom(clock=FakeClock())
    plugin_registry.register(humansupport_intercom, name="intercom")
    _through(monkeypatch, fake)
    monkeypatch.delenv("HUMANSUPPORT_INTERCOM_ACCESS_TOKEN", raising=False)
    assert runner.invoke(app, ["intercom", "setup", "--attribute", "x=colour"]).exit_code == 2
    missing = runner.invoke(app, ["intercom", "setup"])
    assert missing.exit_code == 1 and "HUMANSUPPORT_INTERCOM_ACCESS_TOKEN" in missing.stderr
    refused = runner.invoke(app, ["intercom", "setup"], env={"HUMANSUPPORT_INTERCOM_ACCESS_TOKEN": "nope-456"})
    assert refused.exit_code == 1 and "401" in refused.stderr and "nope-456" not in refused.output


def test_the_intercom_command_is_absent_without_the_plugin(plugin_registry: PluginRegistry) -> None:
    result = runner.invoke(app, ["intercom", "setup"])
    assert result.exit_code == 2 and "No such command 'intercom'" in result.output


def _through(monkeypatch: pytest.MonkeyPatch, fake: FakeIntercom) -> None:
    """The command's adapter talks to `fake` (the CLI has no transport option)."""
    from humansupport_intercom import commands

    real = commands.setup_attributes
    monkeypatch.setattr(
        commands, "setup_attributes", lambda wanted, **kw: real(wanted, **kw, transport=fake.transport())
    )


def test_check_against_fake_serve_end_to_end() -> None:
    """`humansupport fake serve intercom` and `humansupport check intercom --base-url`, both as users run them."""
    env = {k: v for k, v in os.environ.items() if k != "HUMANSUPPORT_PLUGINS"}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
        [str(CLI), "fake", "serve", "intercom", "--port", str(port), "--customers", "10"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # bounded wait for the child to bind its port
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("fake serve did not start") from None
                time.sleep(0.05)
        done = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
            [str(CLI), "check", "intercom", "--base-url", f"http://127.0.0.1:{port}", "--json"],
            env={**env, "HUMANSUPPORT_INTERCOM_ACCESS_TOKEN": FakeIntercom.token},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["ok"] is True and report["account"] == "fakews01" and report["details"]["admin_id"]
    finally:
        server.terminate()
        server.wait(timeout=10)
