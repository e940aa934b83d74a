"""`humansupport fake serve` + `humansupport check --base-url`: a real HTTP round trip on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import humansupport_acmedesk
import pytest
from humansupport_acmedesk import FakeAcme
from typer.testing import CliRunner

from humansupport import PluginRegistry
from humansupport.cli import app
from humansupport.testing import generate_history, served_fake


@pytest.fixture
def served() -> Iterator[tuple[FakeAcme, int]]:
    fake = FakeAcme(history=generate_history(customers=20, agents=4, groups=2), rate_limit_per_minute=500)
    with served_fake(fake) as running:
        yield fake, int(running.url.rsplit(":", 1)[1])


def test_check_against_the_fake_served_over_http(
    plugin_registry: PluginRegistry, served: tuple[FakeAcme, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, port = served
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", FakeAcme.token)
    result = CliRunner().invoke(app, ["check", "acmedesk", "--base-url", f"http://127.0.0.1:{port}", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["base_url"] == f"http://127.0.0.1:{port}"
    assert report["rate_limit"] == 500 and report["rate_remaining"] == 499
    assert [r.path for r in fake.requests] == ["/api/agents"]


def test_wrong_token_over_http_exits_with_auth_code(
    plugin_registry: PluginRegistry, served: tuple[FakeAcme, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, port = served
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", "sekret-wrong")
    result = CliRunner().invoke(app, ["check", "acmedesk", "--base-url", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 4
    assert "HUMANSUPPORT_ACMEDESK_API_TOKEN" in result.stderr and "sekret-wrong" not in result.output
