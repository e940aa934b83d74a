"""The CLI end to end against the real RT holding the synthetic history: sync, route --new (dry run, then
--apply), rebalance plan + apply with a person's change in between, enrich --write, digest."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import humansupport_rt
import pytest
from typer.testing import CliRunner

import humansupport.cli as cli
from humansupport import PluginRegistry
from humansupport.testing import FakeClock, generate_history

from .conftest import RT_HISTORY, RTLive
from .live import LiveRT


def test_cli_on_the_real_rt(
    rt_live: RTLive, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, plugin_registry: PluginRegistry
) -> None:
    plugin_registry.register(humansupport_rt, name="rt")  # whatever HUMANSUPPORT_PLUGINS the suite runs under
    history = generate_history(RT_HISTORY)
    live = LiveRT(rt_live.server, rt_live.loaded, rt_live.snapshot, clock=FakeClock(start=history.config.end))
    live.load(history)
    server = rt_live.server
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUMANSUPPORT_CONFIG", raising=False)
    monkeypatch.setenv("HUMANSUPPORT_RT_BASE_URL", server.url)
    monkeypatch.setenv("HUMANSUPPORT_RT_USERNAME", "root")
    monkeypatch.setenv("HUMANSUPPORT_RT_PASSWORD", "password")
    allowed = '[enrichment]\nallowed_fields = ["conversation_count", "preferred_agent"]\n'
    (tmp_path / "humansupport.toml").write_text(allowed)
    store = ["--store", f"sqlite:///{tmp_path / 'hs.db'}"]
    runner = CliRunner()

    def run(*args: str, codes: tuple[int, ...] = (0,)) -> Any:
        result = runner.invoke(cli.app, [*args, "--json"])
        assert "Traceback" not in result.output, result.output
        assert result.exit_code in codes, f"{' '.join(args)}: exit {result.exit_code}\n{result.output}"
        return json.loads(result.stdout)

    def last_txn() -> int:
        return int(server.sql("SELECT MAX(id) FROM Transactions")[0][0])

    def owners() -> dict[str, str]:
        return {str(t): str(o) for t, o in server.sql("SELECT id, Owner FROM Tickets")}

    synced = run("sync", "rt", *store)
    assert synced["streams"]["conversations"]["items"] == len(history.conversations)
    assert synced["streams"]["messages"]["items"] == sum(len(v) for v in history.messages.values())
    # the fewest requests: a page of tickets, pages of transactions and attachments, the people
    assert synced["requests"] < 40, synced

    # route --new: a dry run writes nothing; --apply assigns the unassigned open tickets in RT
    unassigned = [c.id for c in live.conversations.values() if c.status.is_open and c.assignee_id is None]
    assert unassigned, "the history holds no unassigned open ticket to route"
    before = last_txn()
    planned = run("route", "rt", "--new", *store)
    assert last_txn() == before, "route --new without --apply wrote to RT"
    assert planned
    run("route", "rt", "--new", "--apply", *store, codes=(0, 6))
    now = owners()
    assert any(now[cid] != live.loaded.nobody for cid in unassigned), "route --new --apply assigned nothing in RT"

    # rebalance: plan, a person reassigns one planned ticket in RT, apply: that move is skipped, theirs kept
    run("sync", "rt", *store)
    plan = run("rebalance", "plan", "rt", "--move-penalty", "0", "--output", str(tmp_path / "plan.json"), *store)
    moves = plan["plan"]["moves"]
    assert moves, f"the rebalance planned no move: {plan['summary']}"
    taken = moves[0]["conversation_id"]
    person = next(
        a for a in live.agents.values() if a.active and a.id not in (moves[0].get("to_agent_id"), now.get(taken))
    )
    with httpx.Client(base_url=server.api, auth=server.auth) as http:
        assert http.put(f"/ticket/{taken}", json={"Owner": int(person.id)}).status_code == 200
    applied = run("rebalance", "apply", str(tmp_path / "plan.json"), *store, codes=(6,))
    assert owners()[taken] == person.id, "rebalance overwrote a person's reassignment"
    assert applied

    # enrich --write: the profile fields land on RT's users; digest reads the synced history
    enriched = run("enrich", "rt", "--write", *store)
    assert enriched["dry_run"] is False
    written = server.sql(
        "SELECT COUNT(*) FROM ObjectCustomFieldValues v JOIN CustomFields f ON f.id = v.CustomField "
        "WHERE f.LookupType = 'RT::User' AND v.Disabled = 0"
    )[0][0]
    assert int(written) > 0
    digest = run("digest", "rt", "--since", f"{(timedelta(days=400)).days}d", *store)
    assert digest["conversations"] > 0
