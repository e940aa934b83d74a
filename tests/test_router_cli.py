"""`humansupport sync`, `route` and `metrics` end to end on the acmedesk fake, including the bad inputs."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import humansupport_acmedesk
import pytest
import sqlalchemy as sa
from humansupport_acmedesk import AcmeAdapter, AcmeSettings, FakeAcme
from typer.testing import CliRunner

from humansupport import PluginRegistry
from humansupport.cli import ExitCode, app
from humansupport.testing import FakeClock
from humansupport.testing.synthetic import HistoryConfig, generate_history

runner = CliRunner()


@dataclass
class Env:
    fake: FakeAcme
    store: str

    def run(self, *args: str) -> Any:
        return runner.invoke(app, [*args, "--store", self.store])


@pytest.fixture
def env(plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Env:
    import humansupport.cli as cli

    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    history = generate_history(HistoryConfig(customers=25, agents=6, groups=2, seed=5))
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


def _unassigned_open(fake: FakeAcme) -> list[str]:
    return sorted(c.id for c in fake.conversations.values() if c.status.is_open and c.assignee_id is None)


def test_sync_then_route_one_conversation_dry_run(env: Env) -> None:
    result = env.run("sync", "acmedesk", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["items"]["conversations"] == len(env.fake.conversations) and summary["messages"] > 0
    target = _unassigned_open(env.fake)[0]
    routed = env.run("route", "acmedesk", target, "--json")
    assert routed.exit_code == 0, routed.output
    decision = json.loads(routed.stdout)["decisions"][0]
    assert decision["conversation_id"] == target and decision["action"] == "assign" and decision["reason"]
    assert env.fake.conversations[target].assignee_id is None  # dry run


def test_sync_reports_requests_429s_and_duration_per_stream(env: Env) -> None:
    result = env.run("sync", "acmedesk", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    streams = summary["streams"]
    assert set(streams) >= {"agents", "groups", "customers", "conversations", "ratings"}
    for stream in streams.values():
        assert set(stream) == {"items", "requests", "rate_limited", "seconds"}
    assert streams["conversations"]["requests"] >= 1 and streams["conversations"]["rate_limited"] == 0
    assert summary["requests"] == sum(s["requests"] for s in streams.values())
    assert summary["rate_limited"] == 0 and summary["seconds"] >= 0
    human = env.run("sync", "acmedesk")
    assert human.exit_code == 0, human.output
    assert "requests" in human.stdout and "answered 429" in human.stdout
    assert any(line.strip().startswith("conversations") for line in human.stdout.splitlines())


def test_unknown_conversation_id_is_a_clear_error(env: Env) -> None:
    env.run("sync", "acmedesk")
    result = env.run("route", "acmedesk", "no-such-id", "--json")
    assert result.exit_code == ExitCode.ERROR
    assert "unknown conversation 'no-such-id'" in json.loads(result.stdout)["error"]["message"]


def test_conversation_assigned_by_a_human_is_left(env: Env) -> None:
    env.run("sync", "acmedesk")
    target = next(c for c in env.fake.conversations.values() if c.status.is_open and c.assignee_id)
    result = env.run("route", "acmedesk", target.id, "--json", "--apply")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)["decisions"][0]
    assert decision["action"] == "leave" and "left as is" in decision["reason"]
    assert env.fake.conversations[target.id].assignee_id == target.assignee_id


def test_route_new_apply_assigns_and_verifies(env: Env) -> None:
    env.run("sync", "acmedesk")
    waiting = _unassigned_open(env.fake)
    result = env.run("route", "acmedesk", "--new", "--apply", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assigned = {d["conversation_id"]: d["agent_id"] for d in out["decisions"] if d["action"] == "assign"}
    assert set(assigned) <= set(waiting) and assigned
    assert {a["outcome"] for a in out["applied"]} == {"verified"}
    for cid, agent in assigned.items():
        assert env.fake.conversations[cid].assignee_id == agent


def test_conversation_changed_since_sync_is_skipped_not_overwritten(env: Env) -> None:
    env.run("sync", "acmedesk")
    target = _unassigned_open(env.fake)[0]
    env.fake.clock.advance(120)
    env.fake.touch_conversation(target, subject="a human edited this")
    result = env.run("route", "acmedesk", "--new", "--apply", "--json")
    assert result.exit_code == ExitCode.PARTIAL, result.output
    applied = {a["conversation_id"]: a["outcome"] for a in json.loads(result.stdout)["applied"]}
    assert applied[target] == "conflict"
    assert env.fake.conversations[target].assignee_id is None


def test_agent_deactivated_or_deleted_since_sync_is_not_chosen(env: Env) -> None:
    env.run("sync", "acmedesk")
    first = json.loads(env.run("route", "acmedesk", "--new", "--json").stdout)["decisions"]
    chosen = {d["agent_id"] for d in first if d["action"] == "assign"}
    off, gone = sorted(chosen)[:2] if len(chosen) > 1 else (sorted(chosen)[0], None)
    env.fake.agents[off] = env.fake.agents[off].model_copy(update={"active": False})
    if gone:
        del env.fake.agents[gone]
    again = json.loads(env.run("route", "acmedesk", "--new", "--json").stdout)["decisions"]
    assert not {d["agent_id"] for d in again if d["action"] == "assign"} & {off, gone}


def test_route_before_any_sync_says_what_to_do(env: Env) -> None:
    from humansupport.store import Store

    Store.open(env.store).close()
    result = env.run("route", "acmedesk", "--new")
    assert result.exit_code == ExitCode.CONFIG and "humansupport sync acmedesk" in result.output


def test_route_needs_an_id_or_new(env: Env) -> None:
    assert env.run("route", "acmedesk").exit_code == ExitCode.USAGE


def test_metrics_from_the_store(env: Env) -> None:
    env.run("sync", "acmedesk")
    result = env.run("metrics", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["account"] == "acmedesk"
    assert 0 < data["overall"]["preferred_agent_share"] < 1 and data["overall"]["coc"] is not None
    table = env.run("metrics")
    assert table.exit_code == 0 and "secon" in table.stdout


def test_metrics_without_history_is_a_config_error(env: Env) -> None:
    from humansupport.store import Store

    Store.open(env.store).close()
    result = env.run("metrics")
    assert result.exit_code == ExitCode.CONFIG and "humansupport sync" in result.output


def test_sync_on_a_locked_store_exits_locked(env: Env) -> None:
    from humansupport.store import Store

    Store.open(env.store).close()
    other = sqlite3.connect(env.store, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    import humansupport.store.store as store_module

    real_open = store_module.Store.open.__func__  # type: ignore[attr-defined]

    def quick_open(cls: Any, target: Any = None, **kw: Any) -> Any:
        return real_open(cls, target, **{**kw, "lock_timeout": 0.05})

    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(store_module.Store, "open", classmethod(quick_open))
            result = env.run("sync", "acmedesk", "--json")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == ExitCode.LOCKED, result.output
    assert "locked by another process" in json.loads(result.stdout)["error"]["message"]


def test_sync_on_a_future_schema_refuses_and_changes_nothing(env: Env) -> None:
    from humansupport.store import Store

    Store.open(env.store).close()
    engine = sa.create_engine(f"sqlite:///{env.store}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = '42' WHERE key = 'schema_version'"))
    engine.dispose()
    result = env.run("sync", "acmedesk")
    assert result.exit_code == ExitCode.ERROR and "newer than this humansupport" in result.output
    with sqlite3.connect(env.store) as conn:
        assert conn.execute("SELECT count(*) FROM conversations").fetchone() == (0,)


def test_route_options_reach_the_router(env: Env) -> None:
    env.run("sync", "acmedesk")
    target = _unassigned_open(env.fake)[0]
    result = env.run("route", "acmedesk", target, "--json", "--threshold", "1000000", "--fallback", "round_robin")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)["decisions"][0]
    assert decision["stage"] in ("fallback:round_robin", "none") and "too thin" in decision["reason"]
    bad = env.run("route", "acmedesk", target, "--fallback", "nope")
    assert bad.exit_code == ExitCode.CONFIG and "unknown routing strategy" in bad.output


def test_routing_table_in_the_config_file_and_options_override_it(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from humansupport.cli import _routing_config

    config = tmp_path / "humansupport.toml"
    config.write_text('[routing]\nthreshold = 2.5\nhalf_life_days = 30\nkeep_owner_channels = ["email"]\n')
    monkeypatch.setenv("HUMANSUPPORT_CONFIG", str(config))
    router, affinity = _routing_config({"threshold": None, "top_k": 5, "groups": ("g1",)})
    assert (router.threshold, router.top_k, router.groups, router.keep_owner_channels) == (2.5, 5, ("g1",), ("email",))
    assert affinity.half_life_days == 30
    router, _ = _routing_config({"threshold": 0.1})
    assert router.threshold == 0.1
    config.write_text("[routing]\nthresold = 1\n")
    result = env.run("route", "acmedesk", "--new")
    assert result.exit_code == ExitCode.CONFIG and "thresold" in result.output
    config.write_text("[routing]\nhalf_life_days = 0\n")
    assert env.run("route", "acmedesk", "--new").exit_code == ExitCode.CONFIG


def test_half_life_option_changes_the_scores(env: Env) -> None:
    env.run("sync", "acmedesk")
    target = _unassigned_open(env.fake)[0]

    def top_score(*extra: str) -> float:
        out = json.loads(env.run("route", "acmedesk", target, "--json", *extra).stdout)["decisions"][0]
        scores = [out["score"] or 0.0] + [c["score"] for c in out["candidates"]]
        return max(scores)

    assert top_score("--half-life-days", "7") < top_score("--half-life-days", "365")


def test_keep_owner_channel_option_reaches_the_router(env: Env) -> None:
    env.run("sync", "acmedesk")
    away = {a.id for a in env.fake.agents.values() if str(a.availability) in ("away", "offline") and a.active}
    decisions = json.loads(env.run("route", "acmedesk", "--new", "--json").stdout)["decisions"]
    blocked = [
        d for d in decisions if any(c["agent_id"] in away for c in d["candidates"][:1]) and d["stage"] != "preferred"
    ]
    channels = {env.fake.conversations[d["conversation_id"]].channel for d in blocked} - {None}
    if not channels:
        pytest.skip("this seed has no conversation whose preferred agent is away")
    channel = sorted(channels)[0]
    kept = json.loads(env.run("route", "acmedesk", "--new", "--json", "--keep-owner-channel", channel).stdout)
    assert any(d["stage"] == "owner" for d in kept["decisions"])
