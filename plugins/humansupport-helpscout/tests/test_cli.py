"""The CLI with the installed plugin: `plugins --json` lists it, `check` works against the fake served over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import humansupport_helpscout
import pytest
import uvicorn
from humansupport_helpscout import FakeHelpScout
from typer.testing import CliRunner

from humansupport.cli import app
from humansupport.plugins import PluginRegistry
from humansupport.testing import FakeClock

from .conftest import history

SCRIPT = Path(sys.executable).with_name("humansupport")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUMANSUPPORT_")}
    env.update(extra)
    return env


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_plugins_json_lists_helpscout_with_capabilities() -> None:
    result = _run("plugins", "--json", env=_env())  # HUMANSUPPORT_PLUGINS unset: entry points load
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    row = rows["helpscout"]
    assert row["error"] is None and row["vendors"] == ["helpscout"]
    caps = set(row["capabilities"]["helpscout"])
    assert {"availability", "signed_webhooks"} <= caps
    assert "bulk_assign" not in caps and "optimistic_concurrency" not in caps


@pytest.fixture
def served_fake() -> Iterator[tuple[FakeHelpScout, int]]:
    """The fake's ASGI app on uvicorn in a thread, on a loopback socket bound before the thread starts."""
    fake = FakeHelpScout(clock=FakeClock(), history=history(), rate_limit_per_minute=200)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # connections queue here until uvicorn accepts: no readiness polling needed
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fake.asgi_app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield fake, port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert not thread.is_alive(), "the test server did not stop"


def test_check_against_the_fake_served_over_http(served_fake: tuple[FakeHelpScout, int]) -> None:
    fake, port = served_fake
    env = _env(
        HUMANSUPPORT_HELPSCOUT_APP_ID=FakeHelpScout.app_id,
        HUMANSUPPORT_HELPSCOUT_APP_SECRET=FakeHelpScout.app_secret,
    )
    result = _run("check", "helpscout", "--base-url", f"http://127.0.0.1:{port}", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["vendor"] == "helpscout"
    assert report["rate_limit"] == 200 and report["rate_remaining"] == 198
    assert report["account"] and "@" in report["account"]
    assert [r.path for r in fake.requests] == ["/v2/oauth2/token", "/v2/users/me"]
    assert FakeHelpScout.app_secret not in result.stdout + result.stderr


def test_check_with_a_wrong_secret_exits_auth_with_the_hint(
    served_fake: tuple[FakeHelpScout, int], plugin_registry: PluginRegistry
) -> None:
    _, port = served_fake
    plugin_registry.register(humansupport_helpscout, name="helpscout")  # in-process: no interpreter start-up
    env = _env(HUMANSUPPORT_HELPSCOUT_APP_ID=FakeHelpScout.app_id, HUMANSUPPORT_HELPSCOUT_APP_SECRET="sekret-no-789")
    result = CliRunner().invoke(app, ["check", "helpscout", "--base-url", f"http://127.0.0.1:{port}"], env=env)
    assert result.exit_code == 4, result.output  # ExitCode.AUTH
    assert "HUMANSUPPORT_HELPSCOUT_APP_SECRET" in result.output
    assert "sekret-no-789" not in result.output


def test_check_without_credentials_names_the_env_vars(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_helpscout, name="helpscout")
    result = CliRunner().invoke(app, ["check", "helpscout", "--json"], env=_env())
    assert result.exit_code == 3, result.output  # ExitCode.CONFIG
    assert "HUMANSUPPORT_HELPSCOUT_APP_ID" in result.output


def test_demo_runs_on_the_helpscout_fake(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_helpscout, name="helpscout")
    result = CliRunner().invoke(app, ["demo", "--vendor", "helpscout", "--customers", "40", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["requests"] > 0


def test_served_fake_follows_wall_time() -> None:
    """Rate windows and token expiry need time to pass while served; the ASGI app moves the fake clock."""
    import asyncio

    ticks = iter([100.0, 190.0, 250.0])
    fake = FakeHelpScout(clock=FakeClock(), history=history())
    fake.wall_time = lambda: next(ticks)
    app_ = fake.asgi_app()  # reads 100.0
    sent: list[dict[str, object]] = []

    async def call() -> None:
        scope = {"type": "http", "method": "GET", "path": "/v2/users/me", "headers": [], "query_string": b""}

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        await app_(scope, receive, send)

    asyncio.run(call())  # 190.0: 90 s passed
    assert fake.clock.monotonic() == 90.0
    asyncio.run(call())  # 250.0
    assert fake.clock.monotonic() == 150.0
    assert sent[0]["status"] == 401  # no token: the fake still answers as Help Scout does
