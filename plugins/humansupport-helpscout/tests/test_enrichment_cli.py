"""`setup`, `profile` and `enrich` through the humansupport CLI against this plugin and its fake (moved here from
the core tests, which name no vendor)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import humansupport_helpscout as helpscout
import pytest
from typer.testing import CliRunner

from humansupport import PluginRegistry
from humansupport.cli import ExitCode, app
from humansupport.testing import FakeClock
from humansupport.testing.synthetic import HistoryConfig, generate_history

runner = CliRunner()


@pytest.fixture
def fake(plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    import humansupport.cli as cli

    plugin_registry.register(helpscout, name="helpscout")
    history = generate_history(HistoryConfig(customers=12, agents=4, groups=2, seed=3))
    clock = FakeClock(start=history.config.end)
    fake = helpscout.FakeHelpScout(clock=clock, history=history)
    for slug in [s for s in fake.property_definitions if s.startswith("humansupport_")]:
        del fake.property_definitions[slug]  # a fresh account: none of our properties yet

    def build(vendor: str, **_: Any) -> Any:
        assert vendor == "helpscout"
        settings = helpscout.HelpScoutSettings(**helpscout.FakeHelpScout.adapter_settings())
        return helpscout.HelpScoutAdapter.from_settings(settings, transport=fake.transport(), clock=clock)

    monkeypatch.setattr(cli, "build_adapter", build)
    monkeypatch.setattr(cli, "SYSTEM_CLOCK", clock)
    config = tmp_path / "humansupport.toml"
    # Help Scout's Background holds 200 characters: keep our note block within it
    config.write_text(
        '[enrichment]\nallowed_fields = ["conversation_count", "preferred_agent", "top_tags", "details.plan"]\n'
        "max_note_length = 200\n"
    )
    monkeypatch.setenv("HUMANSUPPORT_CONFIG", str(config))
    fake.store = str(tmp_path / "hs.db")
    assert runner.invoke(app, ["sync", "helpscout", "--store", fake.store]).exit_code == 0
    return fake


def _json(fake: Any, *args: str, code: int = 0, store: bool = True) -> Any:
    result = runner.invoke(app, [*args, "--json", *(["--store", fake.store] if store else [])])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_undefined_property_names_the_slug_and_setup_then_setup_creates_them(fake: Any) -> None:
    customer_id = sorted(fake.customers)[0]
    out = _json(fake, "profile", "helpscout", customer_id, "--write", code=ExitCode.ERROR)
    message = out["error"]["message"]
    assert out["error"]["type"] == "WriteBackError" and "humansupport setup helpscout" in message
    assert "humansupport_" in message

    created = _json(fake, "setup", "helpscout", store=False)
    assert "humansupport_conversations" in created["created"] and "humansupport_detail_plan" in created["created"]
    assert fake.property_definitions["humansupport_conversations"]["type"] == "number"
    assert _json(fake, "setup", "helpscout", store=False)["created"] == []

    wrote = _json(fake, "profile", "helpscout", customer_id, "--write")
    assert wrote["written"] and wrote["mismatches"] == []
    conversations = sum(1 for c in fake.conversations.values() if c.customer_id == customer_id)
    assert str(fake.customers[customer_id].custom_attributes["humansupport_conversations"]) == str(conversations)


def test_enrich_writes_changed_customers_once(fake: Any) -> None:
    _json(fake, "setup", "helpscout", store=False)
    first = _json(fake, "enrich", "helpscout", "--write")
    assert first["report"]["written"] == len(first["plans"]) > 0 and first["report"]["failed"] == {}
    writes = fake.writes
    again = _json(fake, "enrich", "helpscout", "--write")
    assert again["report"]["written"] == 0 and again["plans"] == [] and fake.writes == writes
