"""`humansupport rebalance` end to end on the acmedesk fake: plan from the store, save, apply, lock, exit codes."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import humansupport_acmedesk
import pytest
from humansupport_acmedesk import AcmeAdapter, AcmeSettings, FakeAcme
from typer.testing import CliRunner

from humansupport import PluginRegistry
from humansupport.cli import ExitCode, app
from humansupport.routing.rebalance import RebalancePlan
from humansupport.routing.rebalance_apply import rebalance_lock
from humansupport.store import Store
from humansupport.testing import FakeClock
from humansupport.testing.synthetic import HistoryConfig, generate_history

runner = CliRunner()


@dataclass
class Env:
    fake: FakeAcme
    store: str

    def run(self, *args: str) -> Any:
        return runner.invoke(app, [*args, "--store", self.store])

    def puts(self) -> list[str]:
        return [r.path for r in self.fake.requests if r.method == "PUT"]


@pytest.fixture
def env(plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Env:
    import humansupport.cli as cli

    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    history = generate_history(HistoryConfig(customers=40, agents=6, groups=2, seed=5))
    clock = FakeClock(start=history.config.end)
    fake = FakeAcme(history=history, clock=clock)

    def build(vendor: str, **_: Any) -> AcmeAdapter:
        assert vendor == "acmedesk"
        return AcmeAdapter.from_settings(
            AcmeSettings(api_token=FakeAcme.token), transport=fake.transport(), clock=clock
        )

    monkeypatch.setattr(cli, "build_adapter", build)
    monkeypatch.setattr(cli, "SYSTEM_CLOCK", clock)
    return Env(fake=fake, store=str(tmp_path / "hs.db"))


def test_empty_store_says_to_sync_first(env: Env) -> None:
    Store.open(env.store).close()
    result = env.run("rebalance", "acmedesk", "--json")
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert "humansupport sync" in json.loads(result.stdout)["error"]["message"]


def test_dry_run_plans_saves_and_writes_nothing_then_apply_applies_the_saved_plan(env: Env, tmp_path: Path) -> None:
    assert env.run("sync", "acmedesk", "--json").exit_code == 0
    plan_file = tmp_path / "plan.json"
    result = env.run("rebalance", "acmedesk", "--json", "--output", str(plan_file))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["dry_run"] is True and doc["apply"] is None
    moves = doc["plan"]["moves"]
    assert moves, "the synthetic history has unassigned conversations and agents away or deactivated"
    assert not env.puts()
    plan = RebalancePlan.load(plan_file)
    assert plan.vendor == "acmedesk" and plan.account == "acmedesk" and len(plan.moves) == len(moves)

    applied = env.run("rebalance", "apply", str(plan_file), "--json")
    assert applied.exit_code == 0, applied.output
    report = json.loads(applied.stdout)
    assert report["counts"]["applied"] == len(moves)
    for move in plan.moves:
        assert env.fake.conversations[move.conversation_id].assignee_id == move.to_agent_id
    assert len(env.puts()) == len(moves)

    # the same plan again: every conversation changed since planning (by the first apply) -> skipped, exit 6
    again = env.run("rebalance", "apply", str(plan_file))
    assert again.exit_code == ExitCode.PARTIAL, again.output
    assert f"{len(moves)} skipped (changed since planning)" in again.stdout


def test_human_readable_table_and_summary_line(env: Env) -> None:
    assert env.run("sync", "acmedesk").exit_code == 0
    result = env.run("rebalance", "plan", "acmedesk", "--max-moves", "2")
    assert result.exit_code == 0, result.output
    assert "dry run: nothing was assigned" in result.stdout
    assert "rebalance: 2 moves" in result.stdout


def test_apply_refuses_while_another_run_holds_the_lock(env: Env) -> None:
    assert env.run("sync", "acmedesk").exit_code == 0
    with Store.open(env.store) as store, rebalance_lock(store, "acmedesk"):
        result = env.run("rebalance", "acmedesk", "--apply", "--json")
    assert result.exit_code == ExitCode.LOCKED, result.output
    assert "another rebalance" in json.loads(result.stdout)["error"]["message"]
    assert not env.puts()


def test_capacity_infeasible_assigns_what_fits_and_reports_the_rest(env: Env) -> None:
    assert env.run("sync", "acmedesk").exit_code == 0
    held = Counter(c.assignee_id for c in env.fake.conversations.values() if c.status.is_open and c.assignee_id)
    receiving = sorted(a.id for a in env.fake.agents.values() if a.active and a.availability == "available")
    roomy = receiving[0]
    for agent in list(env.fake.agents.values()):  # everyone full, one agent with one free seat
        env.fake.agents[agent.id] = agent.model_copy(update={"capacity": held[agent.id] + (agent.id == roomy)})
    result = env.run("rebalance", "acmedesk", "--json", "--apply")
    doc = json.loads(result.stdout)
    plan = doc["plan"]
    assert plan["totals"]["unassigned_before"] >= 2
    assert len(plan["moves"]) == 1 and plan["moves"][0]["to_agent_id"] == roomy
    assert "no capacity" in {u["reason"] for u in plan["unplaced"]}
    assert result.exit_code == 0 and doc["apply"]["counts"]["applied"] == 1


def test_apply_needs_a_plan_or_resume(env: Env) -> None:
    result = env.run("rebalance", "apply")
    assert result.exit_code == ExitCode.USAGE
    missing = env.run("rebalance", "apply", "nope.json", "--json")
    assert missing.exit_code == ExitCode.CONFIG


def test_max_runtime_exits_partial_and_resume_finishes_for_cron(env: Env) -> None:
    assert env.run("sync", "acmedesk").exit_code == 0
    env.fake.latency = 2.0  # each request takes 2 s of the injected clock: the team read alone uses the budget
    stopped = env.run("rebalance", "acmedesk", "--apply", "--max-runtime", "1")
    assert stopped.exit_code == ExitCode.PARTIAL, stopped.output
    last = stopped.stdout.strip().splitlines()[-1]
    assert last.startswith("rebalance apply (run ") and "stopped at --max-runtime" in last and "--resume" in last
    assert not env.puts()
    refused = env.run("rebalance", "acmedesk", "--apply")
    assert refused.exit_code == ExitCode.CONFIG and "--resume" in refused.output
    resumed = env.run("rebalance", "apply", "--resume", "--vendor", "acmedesk", "--json")
    assert resumed.exit_code == 0, resumed.output
    doc = json.loads(resumed.stdout)
    assert doc["resumed"] and doc["counts"]["planned"] == 0 and doc["counts"]["applied"] > 0
    assert len(env.puts()) == doc["counts"]["applied"]


def test_resume_alone_finds_the_unfinished_run_in_the_journal(env: Env) -> None:
    assert env.run("sync", "acmedesk").exit_code == 0
    env.fake.latency = 2.0
    assert env.run("rebalance", "acmedesk", "--apply", "--max-runtime", "1").exit_code == ExitCode.PARTIAL
    env.fake.latency = 0.0
    resumed = env.run("rebalance", "apply", "--resume", "--json")  # no PLAN, no --vendor: docs/cli.md allows it
    assert resumed.exit_code == 0, resumed.output
    doc = json.loads(resumed.stdout)
    assert doc["resumed"] and doc["counts"]["planned"] == 0 and doc["counts"]["applied"] > 0
    again = env.run("rebalance", "apply", "--resume")
    assert again.exit_code == 0 and "nothing to do" in again.stdout
