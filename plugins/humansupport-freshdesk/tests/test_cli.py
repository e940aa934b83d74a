"""The CLI with the installed plugin: `plugins --json` lists it, `check` works against the fake over real HTTP.

These are the only tests that open sockets, on 127.0.0.1 only, and the only ones that wait in real time
(for the server to start, bounded, and stopped by the test).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import humansupport_freshdesk
import pytest
from humansupport_freshdesk import FakeFreshdesk
from typer.testing import CliRunner

from humansupport.cli import app
from humansupport.plugins import PluginRegistry

_START_TIMEOUT = 30.0


def _cli() -> list[str]:
    exe = shutil.which("humansupport", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "humansupport.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUMANSUPPORT_")}  # HUMANSUPPORT_PLUGINS unset
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_plugins_json_lists_freshdesk_with_capabilities() -> None:
    command = [*_cli(), "plugins", "--json"]
    out = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=60)  # noqa: S603 - our own CLI
    assert out.returncode == 0, out.stderr
    rows = {row["name"]: row for row in json.loads(out.stdout)}
    row = rows["freshdesk"]
    assert row["error"] is None and row["vendors"] == ["freshdesk"]
    caps = set(row["capabilities"]["freshdesk"])
    assert {"bulk_assign", "availability", "satisfaction_ratings"} <= caps
    assert not caps & {"optimistic_concurrency", "signed_webhooks", "incremental_export", "webhook_registration"}


@pytest.fixture
def served_fake() -> Iterator[str]:
    """`humansupport fake serve freshdesk` on a free loopback port; yields its base URL, stops it after."""
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [*_cli(), "fake", "serve", "freshdesk", "--port", str(port), "--customers", "10"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if server.poll() is not None:
                raise AssertionError(f"fake serve exited: {server.stderr.read().decode() if server.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("fake serve did not start in time") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        if server.stderr:
            server.stderr.close()


def test_check_against_the_fake_served_over_http(served_fake: str, plugin_registry: PluginRegistry) -> None:
    """The server is the real `fake serve` process; `check` runs in-process (one CLI start less) over real HTTP."""
    plugin_registry.register(humansupport_freshdesk, name="freshdesk")
    runner = CliRunner()
    env = {
        "HUMANSUPPORT_FRESHDESK_DOMAIN": FakeFreshdesk.domain,
        "HUMANSUPPORT_FRESHDESK_API_KEY": FakeFreshdesk.api_key,
    }
    out = runner.invoke(app, ["check", "freshdesk", "--base-url", served_fake, "--json"], env=env)
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["ok"] is True and report["vendor"] == "freshdesk" and report["base_url"] == served_fake
    assert report["rate_limit"] == 700 and report["rate_remaining"] is not None
    assert report["details"]["agent"].endswith("@support.example.com")
    assert FakeFreshdesk.api_key not in out.output

    bad = runner.invoke(
        app,
        ["check", "freshdesk", "--base-url", served_fake, "--json"],
        env={**env, "HUMANSUPPORT_FRESHDESK_API_KEY": "wrong-key"},
    )
    assert bad.exit_code == 4, bad.output  # ExitCode.AUTH
    error = json.loads(bad.stdout)["error"]
    assert "HUMANSUPPORT_FRESHDESK_API_KEY" in error["message"] and "wrong-key" not in bad.output

    human = runner.invoke(app, ["check", "freshdesk", "--base-url", served_fake], env=env)
    assert human.exit_code == 0 and "freshdesk: ok" in human.stdout and "requests/min left" in human.stdout
