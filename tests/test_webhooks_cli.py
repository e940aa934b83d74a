"""`humansupport webhooks register` and `serve`'s configuration errors, through the CLI (exit codes, no secrets)."""

from __future__ import annotations

import json
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from humansupport_acmedesk import AcmeAdapter
from pydantic import SecretStr
from typer.testing import CliRunner

from humansupport import PluginRegistry, hookimpl
from humansupport.cli import app
from humansupport.errors import ConfigError
from humansupport.helpdesk import AsyncHelpdesk
from humansupport.models import WebhookEventType, WebhookSubscription
from humansupport.webhooks import parse_account_spec


class HookedAcme(AcmeAdapter):
    """Acme whose API creates subscriptions and, like Zendesk, generates the signing secret itself."""

    calls: ClassVar[list[dict[str, Any]]] = []
    vendor_secret: ClassVar[str | None] = None

    #: like Help Scout: a webhook already on the URL, whose secret the vendor never shows again
    existing: ClassVar[bool] = False

    async def register_webhook(
        self, *, url: str, secret: str | None = None, events: Sequence[WebhookEventType] | None = None
    ) -> WebhookSubscription:
        HookedAcme.calls.append({"url": url, "secret": secret})
        generated = HookedAcme.vendor_secret  # vendor-made (Zendesk) ...
        if generated is None and secret is None and not HookedAcme.existing:
            generated = "made-by-adapter-" + secrets.token_hex(4)  # ... or the adapter's (Help Scout)
        return WebhookSubscription(
            id="wh-1",
            vendor=self.vendor,
            url=url,
            events=["conversation.created", "conversation.assigned"],
            secret=SecretStr(generated) if generated else None,
        )


class HookedPlugin:
    @staticmethod
    @hookimpl
    def register_helpdesks() -> list[type[AsyncHelpdesk]]:
        return [HookedAcme]


class PlainAcme(AcmeAdapter):
    """Acme as a vendor whose API cannot create subscriptions: the contract's default, which explains how."""

    register_webhook = AsyncHelpdesk.register_webhook
    capabilities = AcmeAdapter.capabilities.model_copy(update={"webhook_registration": False})


class PlainPlugin:
    @staticmethod
    @hookimpl
    def register_helpdesks() -> list[type[AsyncHelpdesk]]:
        return [PlainAcme]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", "tok-" + secrets.token_hex(4))
    monkeypatch.delenv("HUMANSUPPORT_ACMEDESK_WEBHOOK_SECRET", raising=False)
    monkeypatch.chdir(tmp_path)
    HookedAcme.calls.clear()
    HookedAcme.vendor_secret = None
    return tmp_path


def test_register_writes_a_vendor_generated_secret_to_a_private_file(
    plugin_registry: PluginRegistry, env: Path
) -> None:
    plugin_registry.register(HookedPlugin, name="acmedesk")
    vendor_secret = "vs-" + secrets.token_hex(8)
    HookedAcme.vendor_secret = vendor_secret
    result = CliRunner().invoke(app, ["webhooks", "register", "acmedesk", "--url", "https://hooks.example.test/w"])
    assert result.exit_code == 0, result.output
    assert vendor_secret not in result.output
    secret_file = env / "acmedesk-webhook-secret"
    assert secret_file.read_text().strip() == vendor_secret
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert "HUMANSUPPORT_ACMEDESK_WEBHOOK_SECRET" in result.output and "wh-1" in result.output
    assert HookedAcme.calls[0]["url"] == "https://hooks.example.test/w"


def test_register_passes_the_secret_from_the_environment(
    plugin_registry: PluginRegistry, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin_registry.register(HookedPlugin, name="acmedesk")
    chosen = "ours-" + secrets.token_hex(8)
    monkeypatch.setenv("MY_HOOK_SECRET", chosen)
    result = CliRunner().invoke(
        app,
        [
            "webhooks",
            "register",
            "acmedesk",
            "--url",
            "https://h.example.test/",
            "--secret-env",
            "MY_HOOK_SECRET",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["secret_file"] is None and data["secret_env"] == "MY_HOOK_SECRET" and "secret" not in data
    assert HookedAcme.calls == [{"url": "https://h.example.test/", "secret": chosen}]
    assert not (env / "acmedesk-webhook-secret").exists()


def test_register_show_secret_prints_it_on_request(plugin_registry: PluginRegistry, env: Path) -> None:
    plugin_registry.register(HookedPlugin, name="acmedesk")
    result = CliRunner().invoke(
        app, ["webhooks", "register", "acmedesk", "--url", "https://h.example.test/", "--show-secret", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert HookedAcme.calls[0]["secret"] is None  # none in the environment: the vendor side makes one
    generated = data["secret"]
    assert generated.startswith("made-by-adapter-")
    assert (env / "acmedesk-webhook-secret").read_text().strip() == generated


def test_register_where_the_api_cannot_prints_the_steps_and_exits_3(plugin_registry: PluginRegistry, env: Path) -> None:
    plugin_registry.register(PlainPlugin, name="acmedesk")
    result = CliRunner().invoke(app, ["webhooks", "register", "acmedesk", "--url", "https://h.example.test/w"])
    assert result.exit_code == 3
    assert "https://h.example.test/w" in result.stderr and "HUMANSUPPORT_ACMEDESK_WEBHOOK_SECRET" in result.stderr


def test_register_refuses_a_url_that_is_not_http(plugin_registry: PluginRegistry, env: Path) -> None:
    plugin_registry.register(HookedPlugin, name="acmedesk")
    result = CliRunner().invoke(app, ["webhooks", "register", "acmedesk", "--url", "hooks.example.test"])
    assert result.exit_code == 3 and HookedAcme.calls == []


def test_serve_without_a_secret_exits_3_naming_the_variable(plugin_registry: PluginRegistry, env: Path) -> None:
    plugin_registry.register(PlainPlugin, name="acmedesk")
    result = CliRunner().invoke(app, ["webhooks", "serve", "acmedesk", "--store", str(env / "s.db")])
    assert result.exit_code == 3
    assert "HUMANSUPPORT_ACMEDESK_WEBHOOK_SECRET" in result.stderr


def test_serve_refuses_two_accounts_with_one_label(
    plugin_registry: PluginRegistry, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin_registry.register(PlainPlugin, name="acmedesk")
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_WEBHOOK_SECRET", secrets.token_hex(8))
    result = CliRunner().invoke(
        app, ["webhooks", "serve", "acmedesk", "acmedesk", "--store", str(env / "s.db"), "--port", "0"]
    )
    assert result.exit_code == 3 and "unique" in result.stderr


def test_account_spec_parsing() -> None:
    assert parse_account_spec("zendesk").account == "zendesk"
    spec = parse_account_spec("zendesk=eu")
    assert (spec.vendor, spec.account) == ("zendesk", "eu")
    with pytest.raises(ConfigError):
        parse_account_spec("zendesk=a/b")


def test_register_again_without_a_secret_keeps_the_existing_one(
    plugin_registry: PluginRegistry, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Help Scout never shows a webhook's secret again: nothing is generated or written, and the user is told to
    keep the saved one (a secret written here that the vendor never received would break verification)."""
    plugin_registry.register(HookedPlugin, name="acmedesk")
    monkeypatch.setattr(HookedAcme, "existing", True)
    result = CliRunner().invoke(app, ["webhooks", "register", "acmedesk", "--url", "https://h.example.test/"])
    assert result.exit_code == 0, result.output
    assert HookedAcme.calls == [{"url": "https://h.example.test/", "secret": None}]
    assert not (env / "acmedesk-webhook-secret").exists()
    assert "does not show its secret again" in result.output
