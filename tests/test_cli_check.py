"""`humansupport check` prints every combination of rate figures a helpdesk may send (each plugin's fake is
checked by the kit's `test_cli_commands_on_the_fake`)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from humansupport.cli import ExitCode, app
from humansupport.helpdesk import CheckReport


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
