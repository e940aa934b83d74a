"""`humansupport webhooks register` through the real Zendesk and Help Scout plugins and their fakes: the secret
written to the file is the one the helpdesk signs with, and a second run creates nothing and breaks nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from humansupport.plugins import PluginRegistry
from humansupport.testing import FakeClock, generate_history
from humansupport.webhooks.service import RegisterResult, register_webhook

HISTORY = generate_history(customers=3, agents=2, groups=1, seed=4)
URL = "https://hooks.example.test/webhooks/{vendor}/main"


def _signing_secret(fake: object, vendor: str) -> str:
    if vendor == "zendesk":
        (secret,) = fake.webhook_secrets.values()  # type: ignore[attr-defined]
        return str(secret)
    (hook,) = fake.webhooks.values()  # type: ignore[attr-defined]
    return str(hook["secret"])


@pytest.mark.parametrize("vendor", ["zendesk", "helpscout"])
def test_register_twice_writes_the_secret_the_helpdesk_signs_with(
    installed_registry: PluginRegistry, vendor: str, tmp_path: Path
) -> None:
    clock = FakeClock(start=HISTORY.config.end + timedelta(minutes=1))
    fake = installed_registry.fakes()[vendor](history=HISTORY, clock=clock)
    cls = installed_registry.helpdesk(vendor)
    settings = cls.settings_model.model_validate(fake.adapter_settings())
    target = tmp_path / "secret"
    url = URL.format(vendor=vendor)

    async def register() -> RegisterResult:
        async with cls.from_settings(settings, transport=fake.transport(), clock=clock) as adapter:
            return await register_webhook(adapter, url=url, secret_env="UNSET_FOR_TEST", secret_file=target, environ={})

    first = asyncio.run(register())
    assert first.secret_file == target
    assert target.read_text().strip() == _signing_secret(fake, vendor)
    second = asyncio.run(register())
    assert second.subscription.id == first.subscription.id
    assert len(fake.webhooks) == 1  # type: ignore[attr-defined]
    assert target.read_text().strip() == _signing_secret(fake, vendor)  # still the one the helpdesk signs with
