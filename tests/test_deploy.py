"""deploy/: the compose example is well formed and every humansupport command in it parses as the CLI would.

Docker does not run here; these checks catch what a reader would hit first: YAML errors, a service missing,
options that do not exist (renamed since), a proxy not pointing at the receivers, a secret in the compose file.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer
import yaml

from humansupport.cli import app

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _parse(args: list[str]) -> dict[str, Any]:
    """Resolves `humansupport ARGS` through the CLI's click tree without running it; bad options raise."""
    command: Any = typer.main.get_command(app)
    ctx = command.make_context("humansupport", list(args), resilient_parsing=False)
    while hasattr(command, "resolve_command"):  # a group (typer's own click or click's)
        pending = [*getattr(ctx, "_protected_args", ctx.__dict__.get("protected_args", [])), *ctx.args]
        name, sub, rest = command.resolve_command(ctx, pending)
        assert sub is not None and name is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return dict(ctx.params)


def _commands(service: dict[str, Any]) -> list[list[str]]:
    command = service["command"]
    if service.get("entrypoint") == ["sh", "-c"]:
        script = command[0] if isinstance(command, list) else command
        return [shlex.split(m) for m in re.findall(r"humansupport ([^;]+)", script)]
    return [list(command)]


def test_the_compose_file_has_replicas_a_store_a_proxy_and_the_scheduled_jobs() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"postgres", "webhooks", "proxy", "sync", "rebalance"}
    assert services["webhooks"]["deploy"]["replicas"] >= 2
    assert services["postgres"]["image"].startswith("postgres:")
    assert "pgdata" in compose["volumes"]
    for name in ("webhooks", "sync", "rebalance"):
        service = services[name]
        assert service["environment"]["HUMANSUPPORT_STORE"].startswith("postgresql://"), name
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert service["env_file"] == "humansupport.env", name
    text = (DEPLOY / "compose.yaml").read_text()
    assert not re.search(r"(API_TOKEN|WEBHOOK_SECRET|PASSWORD)\s*[:=]\s*[A-Za-z0-9]{8,}", text)  # secrets elsewhere


def test_every_humansupport_command_in_it_parses() -> None:
    services = _compose()["services"]
    serve = _parse(_commands(services["webhooks"])[0])
    assert serve["accounts"] == ["zendesk"] and serve["retain_days"] >= 7
    assert serve["host"] == "0.0.0.0"  # noqa: S104 - all interfaces inside its container, behind the proxy
    (sync,) = _commands(services["sync"])
    assert sync[0] == "sync" and _parse(sync)["vendor"] == "zendesk"
    (rebalance,) = _commands(services["rebalance"])
    params = _parse(rebalance)
    assert params["apply"] and params["resume"]


def test_the_proxy_balances_over_the_receivers() -> None:
    services = _compose()["services"]
    conf = (DEPLOY / "nginx.conf").read_text()
    port = _parse(_commands(services["webhooks"])[0])["port"]
    assert f"server webhooks:{port}" in conf and "proxy_pass http://humansupport_webhooks" in conf
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["proxy"]["volumes"]


def test_the_env_example_names_real_settings_and_holds_no_secret() -> None:
    from .conftest import first_party_registry

    fields = set(first_party_registry().helpdesk("zendesk").settings_model.model_fields)
    for line in (DEPLOY / "humansupport.env.example").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if key.startswith("HUMANSUPPORT_ZENDESK_"):
            assert key.removeprefix("HUMANSUPPORT_ZENDESK_").lower() in fields, key
            if key.endswith(("TOKEN", "SECRET")):
                assert value == "", key
