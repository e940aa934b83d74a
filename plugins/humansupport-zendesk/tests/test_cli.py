"""The installed plugin through the CLI: `humansupport plugins` lists it; `check` works over real HTTP.

Loopback only: the fake's ASGI app on uvicorn in a background thread on 127.0.0.1, stopped by the test.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import humansupport_zendesk
import pytest
import uvicorn
from humansupport_zendesk import FakeZendesk
from typer.testing import CliRunner

from humansupport.cli import app
from humansupport.plugins import PluginRegistry
from humansupport.testing import HistoryConfig, generate_history

BIN = Path(sys.executable).parent / "humansupport"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUMANSUPPORT_")}
    env.update(extra)
    return env


def _cli() -> list[str]:
    found = str(BIN) if BIN.exists() else shutil.which("humansupport")
    assert found, "the humansupport console script is not installed"
    return [found]


def test_plugins_lists_zendesk_with_capabilities() -> None:
    out = subprocess.run(  # noqa: S603 - our own console script
        [*_cli(), "plugins", "--json"], env=_env(), capture_output=True, text=True, timeout=60, check=True
    )
    rows = {row["name"]: row for row in json.loads(out.stdout)}
    row = rows["zendesk"]
    assert row["error"] is None and row["vendors"] == ["zendesk"]
    assert set(row["capabilities"]["zendesk"]) == {
        "bulk_assign",
        "optimistic_concurrency",
        "signed_webhooks",
        "incremental_export",
        "bulk_messages",
        "satisfaction_ratings",
        "webhook_registration",
        "saved_replies",
    }
    assert sorted(row["hooks"]) == ["register_fakes", "register_helpdesks"]


def test_plugin_registry_finds_adapter_and_fake(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_zendesk, name="zendesk")
    assert plugin_registry.helpdesk("zendesk") is humansupport_zendesk.ZendeskAdapter
    assert plugin_registry.fakes()["zendesk"] is FakeZendesk


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served_fake() -> Iterator[str]:
    fake = FakeZendesk(history=generate_history(HistoryConfig(customers=20, agents=4, groups=2)))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(fake.asgi_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the fake did not start"
        time.sleep(0.01)  # waiting for a real server thread on loopback, not for test time
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_check_against_the_fake_over_http(served_fake: str) -> None:
    env = _env(
        HUMANSUPPORT_ZENDESK_SUBDOMAIN=FakeZendesk.subdomain,
        HUMANSUPPORT_ZENDESK_EMAIL=FakeZendesk.email,
        HUMANSUPPORT_ZENDESK_API_TOKEN=FakeZendesk.token,
    )
    out = subprocess.run(  # noqa: S603
        [*_cli(), "check", "zendesk", "--base-url", served_fake, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] and report["vendor"] == "zendesk" and report["base_url"] == served_fake
    assert report["rate_limit"] == FakeZendesk.plan_limit and report["rate_remaining"] == FakeZendesk.plan_limit - 1


def test_check_with_a_wrong_token_exits_auth(
    served_fake: str, plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process (no second interpreter start): exit code 4, a hint naming the variable, no token echoed."""
    plugin_registry.register(humansupport_zendesk, name="zendesk")
    monkeypatch.setenv("HUMANSUPPORT_ZENDESK_SUBDOMAIN", FakeZendesk.subdomain)
    monkeypatch.setenv("HUMANSUPPORT_ZENDESK_EMAIL", FakeZendesk.email)
    monkeypatch.setenv("HUMANSUPPORT_ZENDESK_API_TOKEN", "not-the-token")
    result = CliRunner().invoke(app, ["check", "zendesk", "--base-url", served_fake, "--json"])
    assert result.exit_code == 4, result.output  # ExitCode.AUTH
    error = json.loads(result.stdout)["error"]
    assert "HUMANSUPPORT_ZENDESK_API_TOKEN" in error["message"] and "not-the-token" not in result.output


def test_check_without_settings_is_a_config_error(
    plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin_registry.register(humansupport_zendesk, name="zendesk")
    for name in [k for k in os.environ if k.startswith("HUMANSUPPORT_ZENDESK_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(app, ["check", "zendesk", "--json"])
    assert result.exit_code == 3, result.output  # ExitCode.CONFIG
    assert "HUMANSUPPORT_ZENDESK_SUBDOMAIN" in result.output


def test_demo_runs_on_the_zendesk_fake(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_zendesk, name="zendesk")
    result = CliRunner().invoke(app, ["demo", "--vendor", "zendesk", "--customers", "40", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["customers"] == 40 and report["conversations"] > 0 and report["requests"] > 0
