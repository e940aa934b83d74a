"""`humansupport demo` through the CLI runner: acmedesk's fake, the vendor choice, and no plugin at all."""

from __future__ import annotations

import json
from pathlib import Path

import humansupport_acmedesk
from typer.testing import CliRunner

from humansupport import PluginRegistry
from humansupport.cli import ExitCode, app
from humansupport.testing.saved_replies import ISSUE_RULES, SAMPLE_SAVED_REPLIES

runner = CliRunner()


def test_demo_syncs_routes_and_compares_metrics(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    result = runner.invoke(app, ["demo", "--json", "--customers", "40"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["vendor"] == "acmedesk" and report["requests"] > report["conversations"]
    assert report["routed"] > 0 and report["assigned"] + report["waiting_or_unassigned"] == report["routed"]
    before, after = report["before"], report["after"]
    assert after["open_with_preferred_agent_share"] > before["open_with_preferred_agent_share"]
    assert all(d["reason"] for d in report["decisions"])
    assert report["usual_agent_eligible"] >= report["to_usual_agent"] > 0
    # insights on the same data: the digest's top themes, and the saved replies through the reply check
    themes = report["themes"]
    assert themes and all(t["conversations"] >= t["customers"] > 0 for t in themes)
    assert [t["conversations"] for t in themes] == sorted((t["conversations"] for t in themes), reverse=True)
    replies = report["replies"]
    assert replies["replies"] == len(SAMPLE_SAVED_REPLIES)
    assert replies["flagged"] == sum(bool(s.issues) for s in SAMPLE_SAVED_REPLIES)
    assert set(replies["by_rule"]) == {ISSUE_RULES[i] for s in SAMPLE_SAVED_REPLIES for i in s.issues}
    # it ends with the routing replay: one line, and the HTML report with the trade-off chart
    simulation = report["simulation"]
    assert (
        simulation["summary"].startswith("acmedesk: replayed")
        and "preferred-agent routing gives" in simulation["summary"]
    )
    page = Path(simulation["report"])
    assert page.exists() and "<svg" in page.read_text()


def test_demo_prints_tables_for_people(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    result = runner.invoke(app, ["demo", "--customers", "20"])
    assert result.exit_code == 0, result.output
    assert "before / after routing" in result.stdout and "a few routing decisions" in result.stdout
    assert "feedback digest" in result.stdout and "reply-certainty check" in result.stdout
    last = " ".join(result.stdout.split("done in")[-1].split())
    assert "preferred-agent routing gives" in last and "report: " in last and last.endswith(".html")


def test_demo_unknown_vendor_is_a_config_error(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    result = runner.invoke(app, ["demo", "--vendor", "nosuchdesk"])
    assert result.exit_code == ExitCode.CONFIG and "acmedesk" in result.output


def test_demo_without_plugins_routes_the_synthetic_data(plugin_registry: PluginRegistry) -> None:
    result = runner.invoke(app, ["demo", "--json", "--customers", "40"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["vendor"] is None and report["requests"] == 0 and "No helpdesk plugin" in report["note"]
    assert report["themes"] and report["replies"] is None  # no helpdesk, no saved replies
    assert report["after"]["open_with_preferred_agent_share"] > report["before"]["open_with_preferred_agent_share"]
