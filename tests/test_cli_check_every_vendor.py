"""`humansupport check` on every first-party fake, including one that sends no rate-limit figures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from humansupport.cli import ExitCode, app
from humansupport.helpdesk import CheckReport
from humansupport.plugins import PluginRegistry
from humansupport.testing import FakeClock, generate_history

VENDORS = ["freshdesk", "helpscout", "intercom", "zendesk"]
HISTORY = generate_history(customers=10, agents=3, groups=2, seed=3)


def _use_fake(monkeypatch: pytest.MonkeyPatch, registry: PluginRegistry, vendor: str, **fake_kw: Any) -> Any:
    import humansupport.cli as cli
    from humansupport.connect import build_adapter

    fake = registry.fakes()[vendor](history=HISTORY, clock=FakeClock(start=HISTORY.config.end), **fake_kw)

    def with_fake(name: str, **kw: Any) -> Any:
        kw["settings"] = {**fake.adapter_settings(), **(kw.get("settings") or {})}
        return build_adapter(name, registry=registry, transport=fake.transport(), **{**kw, "clock": fake.clock})

    monkeypatch.setattr(cli, "build_adapter", with_fake)
    return fake


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("rate_limit", [None, 300])
def test_check_prints_ok_and_headroom_or_says_it_is_unknown(
    installed_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, vendor: str, rate_limit: int | None
) -> None:
    # `fake serve` starts fakes without a rate limit, as docs/vendors/*.md show: some send no remaining figure
    _use_fake(monkeypatch, installed_registry, vendor, rate_limit_per_minute=rate_limit)
    result = CliRunner().invoke(app, ["check", vendor])
    assert result.exit_code == ExitCode.OK, result.output
    assert result.exception is None and "Traceback" not in result.output
    assert f"{vendor}: ok" in result.stdout and "rate limit:" in result.stdout
    as_json = CliRunner().invoke(app, ["check", vendor, "--json"])
    assert as_json.exit_code == ExitCode.OK, as_json.output
    assert json.loads(as_json.stdout)["ok"] is True


@pytest.mark.parametrize(
    ("limit", "remaining", "expected"),
    [
        (None, None, "rate limit: unknown (the helpdesk sent no rate-limit headers yet)"),
        (400.0, None, "rate limit: 400 requests/min, remaining unknown (the helpdesk sent no remaining count)"),
        (None, 12.0, "rate limit: 12 requests left, limit unknown"),
        (400.0, 399.0, "rate limit: 399 of 400 requests/min left"),
    ],
)
def test_check_line_for_every_combination_of_rate_figures(
    monkeypatch: pytest.MonkeyPatch, limit: float | None, remaining: float | None, expected: str
) -> None:
    import humansupport.cli as cli

    class Adapter:
        async def __aenter__(self) -> Adapter:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def check(self) -> CheckReport:
            return CheckReport(vendor="acmedesk", ok=True, rate_limit=limit, rate_remaining=remaining)

    monkeypatch.setattr(cli, "build_adapter", lambda *a, **kw: Adapter())
    result = CliRunner().invoke(app, ["check", "acmedesk"])
    assert result.exit_code == ExitCode.OK, result.output
    assert result.stdout.splitlines()[:2] == ["acmedesk: ok", expected]
