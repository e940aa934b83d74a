"""Claims in the docs that drifted from the code once, checked against the code where that can be done."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.main import get_command

from humansupport.cli import app
from humansupport.plugins import PluginRegistry

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _read(name: str) -> str:
    return " ".join((DOCS / name).read_text(encoding="utf-8").split())  # line wraps do not split a claim


@pytest.mark.parametrize("vendor", ["freshdesk", "helpscout", "intercom", "zendesk"])
def test_every_fake_credential_is_in_its_vendor_page(installed_registry: PluginRegistry, vendor: str) -> None:
    page = _read(f"vendors/{vendor}.md")
    settings = installed_registry.fakes()[vendor].adapter_settings()
    missing = [k for k, v in settings.items() if k != "base_url" and str(v) not in page]
    assert not missing, f"docs/vendors/{vendor}.md does not give the fake's {missing}"


def test_no_page_says_a_first_party_plugin_has_not_landed() -> None:
    for page in DOCS.rglob("*.md"):
        assert "not landed" not in page.read_text(encoding="utf-8"), page


def test_the_zendesk_conversation_count_is_documented_as_all_time() -> None:
    from datetime import timedelta

    from humansupport.enrichment.history import build_histories
    from humansupport.testing import generate_history

    history = generate_history(customers=5, agents=2, groups=1, seed=3)
    first = history.conversations[0]
    old = first.model_copy(update={"id": "old-1", "created_at": history.config.end - timedelta(days=800)})
    counts = build_histories(
        conversations=[*history.conversations, old],
        messages={},
        ratings=[],
        agents=history.agents,
        now=history.config.end,
    )
    mine = sum(1 for c in history.conversations if c.customer_id == first.customer_id)
    assert first.customer_id is not None
    assert counts[first.customer_id].conversation_count == mine + 1  # two years old and still counted
    row = next(line for line in (DOCS / "vendors" / "zendesk.md").read_text().splitlines() if "_conversations`" in line)
    assert "12 months" not in row and "all time" in row


def test_setup_is_a_command_and_no_vendor_page_calls_it_missing() -> None:
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert "setup" in commands
    intercom = _read("vendors/intercom.md")
    assert "`humansupport setup intercom`" in intercom and "no per-vendor setup hook" not in intercom


def test_the_account_label_default_is_documented_as_the_vendor_name() -> None:
    from humansupport.cli import AccountOption

    help_text = AccountOption.__metadata__[0].help  # type: ignore[attr-defined]
    assert "default: the vendor name" in help_text
    configuration = _read("configuration.md")
    assert "or the vendor's name, or `--account`" in configuration
    assert "defaults to the vendor's own account identifier" not in configuration


def test_the_cli_page_says_zendesk_makes_its_own_webhook_secret(installed_registry: PluginRegistry) -> None:
    register = installed_registry.helpdesk("zendesk").register_webhook
    assert "Zendesk generates the signing secret itself" in " ".join((register.__doc__ or "").split())
    assert re.search(r"Zendesk generates its own signing secret", _read("cli.md"))
