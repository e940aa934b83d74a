"""Ctrl-C and SIGTERM on real processes: exit 130/143 with a JSON error, a store that resumes cleanly.

And `fake serve` as a user runs it: the printed settings point the CLI and the Python API at the fake.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import humansupport_acmedesk
import pytest
from humansupport_acmedesk import AcmeAdapter, AcmeSettings, FakeAcme
from typer.testing import CliRunner

from humansupport import PluginRegistry
from humansupport.cli import ExitCode, app
from humansupport.plugins import reset_registry
from humansupport.store import Store
from humansupport.testing import generate_history

from .webhooks.support import wait_until

REPO = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "humansupport"  # the console script, as a user runs it
HISTORY = {"customers": 20, "agents": 4, "groups": 2}

# A sync whose 101st message request never answers: by then the first batch of 100 conversations (with their
# messages) is written, the conversations stream is not finished, and the process waits for the signal.
STALLING_SYNC = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path

    import httpx

    sys.path.insert(0, {repo!r})
    import humansupport.cli as cli
    from humansupport.plugins import get_registry
    from humansupport.testing import generate_history
    import humansupport_acmedesk
    from humansupport_acmedesk import AcmeAdapter, AcmeSettings, FakeAcme

    marker, store = Path(sys.argv[1]), sys.argv[2]
    inner = FakeAcme(history=generate_history(**{history!r})).transport()


    class Stall(httpx.AsyncBaseTransport):
        messages = 0

        async def handle_async_request(self, request):
            if request.url.path.endswith("/messages"):
                Stall.messages += 1
                if Stall.messages > 100:
                    marker.touch()
                    await asyncio.sleep(3600)
            return await inner.handle_async_request(request)


    get_registry().register(humansupport_acmedesk, name="acmedesk")
    cli.build_adapter = lambda vendor, **kw: AcmeAdapter.from_settings(
        AcmeSettings(api_token=FakeAcme.token), transport=Stall()
    )
    sys.argv = ["humansupport", "sync", "acmedesk", "--store", store, "--json"]
    cli.main()
    """
)


def _sync_in_process(monkeypatch: pytest.MonkeyPatch, store: str) -> Any:
    import humansupport.cli as cli

    fake = FakeAcme(history=generate_history(**HISTORY))  # type: ignore[arg-type]
    monkeypatch.setattr(
        cli,
        "build_adapter",
        lambda vendor, **kw: AcmeAdapter.from_settings(
            AcmeSettings(api_token=FakeAcme.token), transport=fake.transport()
        ),
    )
    return CliRunner().invoke(app, ["sync", "acmedesk", "--store", store, "--json"])


def _data(store_url: str) -> dict[str, Any]:
    """What a sync wrote, without the columns that record when (agents' seen_at differs run to run)."""
    with Store.open(store_url, create=False) as store:
        dump = store.dump("acmedesk")
        counts = store.counts("acmedesk")
    return {"counts": counts, **{k: v for k, v in dump.items() if k != "agents"}}


@pytest.mark.parametrize(
    ("signum", "code", "kind"),
    [(signal.SIGTERM, ExitCode.TERMINATED, "Terminated"), (signal.SIGINT, ExitCode.INTERRUPTED, "Interrupted")],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_signal_mid_sync_exits_with_its_code_and_json_and_the_next_run_resumes(
    plugin_registry: PluginRegistry,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    signum: signal.Signals,
    code: ExitCode,
    kind: str,
) -> None:
    script = tmp_path / "stalling_sync.py"
    script.write_text(STALLING_SYNC.format(repo=str(REPO), history=HISTORY))
    marker, store = tmp_path / "stalled", tmp_path / "store.db"
    env = {**os.environ, "HUMANSUPPORT_PLUGINS": "", "HUMANSUPPORT_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(marker), str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        wait_until(marker.exists, what="the sync to stall", timeout=120, alive=lambda: proc.poll() is None)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err.decode()
    error = json.loads(out)["error"]
    assert error["type"] == kind and error["exit_code"] == int(code) and "run the command again" in error["message"]
    assert b"Traceback" not in err

    with Store.open(f"sqlite:///{store}", create=False) as interrupted:
        cursors = interrupted.cursors("acmedesk")
        written = interrupted.counts("acmedesk")
    assert "customers" in cursors and "conversations" not in cursors  # an unfinished stream keeps no cursor
    assert written["conversations"] == 100 and written["messages"] > 0  # the finished batch stayed

    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    resumed = _sync_in_process(monkeypatch, str(store))
    assert resumed.exit_code == 0, resumed.output
    reference = tmp_path / "reference.db"
    assert _sync_in_process(monkeypatch, str(reference)).exit_code == 0
    assert _data(f"sqlite:///{store}") == _data(f"sqlite:///{reference}")


def test_fake_serve_prints_settings_that_the_cli_and_python_can_use(
    installed_registry: PluginRegistry, tmp_path: Path
) -> None:
    env = {**os.environ, "HUMANSUPPORT_CONFIG": str(tmp_path / "none.toml")}
    env.pop("HUMANSUPPORT_PLUGINS", None)
    (tmp_path / "none.toml").write_text("")
    command = [str(CLI), "fake", "serve", "zendesk", "--port", "0", "--customers", "20"]
    proc = subprocess.Popen([*command, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert set(info) == {"vendor", "url", "environment", "python", "clients", "control"}
        settings = info["environment"]
        assert settings["HUMANSUPPORT_ZENDESK_BASE_URL"] == info["url"]
        assert {"HUMANSUPPORT_ZENDESK_API_TOKEN", "HUMANSUPPORT_ZENDESK_EMAIL"} <= set(settings)
        assert info["control"]["reset"] == f"POST {info['url']}/_fake/reset"

        check = subprocess.run(
            [str(CLI), "check", "zendesk", "--json"],
            env={**env, **settings},
            capture_output=True,
            timeout=120,
        )
        assert check.returncode == 0, check.stderr.decode()
        assert json.loads(check.stdout)["ok"] is True
        assert httpx.get(info["url"] + "/_fake").json()["customers"] == 20

        scope: dict[str, Any] = {}
        reset_registry(installed_registry)  # the installed plugins, as in the user's Python
        try:
            exec(info["python"], scope)  # noqa: S102 - the one-liner the user is told to paste
            with scope["helpdesk"] as helpdesk:
                assert len(list(helpdesk.iter_agents())) > 0
        finally:
            reset_registry(None)

        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == ExitCode.TERMINATED, err.decode()
    assert json.loads(out.decode().strip().splitlines()[-1])["error"]["type"] == "Terminated"
    assert b"Traceback" not in err


@pytest.mark.parametrize("vendor", ["freshdesk", "helpscout", "intercom", "zendesk"])
def test_every_vendors_fake_accepts_the_settings_fake_serve_prints(
    installed_registry: PluginRegistry, vendor: str, tmp_path: Path
) -> None:
    from humansupport.cli import fake_connection
    from humansupport.connect import build_adapter
    from humansupport.testing.clock import LiveClock

    from .webhooks.support import serving

    fake_cls = installed_registry.fakes()[vendor]
    fake = fake_cls(history=generate_history(customers=10, agents=3, groups=1), clock=LiveClock())
    (tmp_path / "none.toml").write_text("")
    with serving(fake.asgi_app()) as url:  # type: ignore[arg-type]
        info = fake_connection(vendor, fake_cls, url)
        adapter = build_adapter(
            vendor, registry=installed_registry, environ=info["environment"], config_file=tmp_path / "none.toml"
        )

        async def check() -> Any:
            async with adapter:
                return await adapter.check()

        import asyncio

        assert asyncio.run(check()).ok
    assert all(r.status < 400 for r in fake.requests)
