"""Applying a rebalance plan: journal, lock, optimistic concurrency, faults, kills and resume."""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from humansupport_acmedesk import AcmeAdapter, AcmeSettings, FakeAcme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humansupport.errors import ConfigError, LockHeldError
from humansupport.models import Conversation, ConversationStatus
from humansupport.routing.rebalance import Move, MoveReason, RebalancePlan, RebalanceTotals
from humansupport.routing.rebalance_apply import (
    JournalState,
    RebalanceApplyReport,
    _Journal,
    apply_rebalance,
    rebalance_lock,
)
from humansupport.store import Store
from humansupport.testing import FakeClock, FakeHelpdesk
from humansupport.testing.synthetic import HistoryConfig, SyntheticHistory, generate_history

ACCOUNT = "acmedesk"
_HISTORY: dict[int, SyntheticHistory] = {}


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing on the way up catches it."""


@dataclass
class Env:
    fake: FakeAcme
    clock: FakeClock
    store: Store

    def adapter(self, *, transport: httpx.AsyncBaseTransport | None = None) -> AcmeAdapter:
        return AcmeAdapter.from_settings(
            AcmeSettings(api_token=FakeAcme.token), transport=transport or self.fake.transport(), clock=self.clock
        )

    def writes(self) -> Counter[str]:
        """Successful writes per conversation, as the helpdesk saw them."""
        return Counter(r.path.rsplit("/", 1)[-1] for r in self.fake.requests if r.method == "PUT" and r.status == 200)


def _env(store_url: str, *, open_conversations: int = 30) -> Env:
    history = _HISTORY.setdefault(5, generate_history(HistoryConfig(customers=40, agents=6, groups=2, seed=5)))
    clock = FakeClock(start=history.config.end + timedelta(hours=1))
    fake = FakeAcme(history=history, clock=clock)
    for conv in sorted(fake.conversations.values(), key=lambda c: int(c.id))[:open_conversations]:
        fake.conversations[conv.id] = conv.model_copy(update={"status": ConversationStatus.OPEN})
    return Env(fake=fake, clock=clock, store=Store.open(store_url))


def _plan(env: Env, n: int = 20) -> RebalancePlan:
    """Moves of `n` open conversations to another active agent, guarded by the versions the adapter reads."""

    async def read() -> list[Conversation]:
        async with env.adapter() as adapter:
            return [c async for c in adapter.iter_conversations() if c.status.is_open][:n]

    convs = asyncio.run(read())
    assert len(convs) == n
    return _plan_from(convs, sorted(a.id for a in env.fake.agents.values() if a.active), env)


def _plan_from(convs: list[Conversation], agents: list[str], env: Env) -> RebalancePlan:
    n = len(convs)
    moves = [
        Move(
            conversation_id=c.id,
            customer_id=c.customer_id,
            from_agent_id=c.assignee_id,
            to_agent_id=next(a for a in agents[i % len(agents) :] + agents if a != c.assignee_id),
            reason=MoveReason.HIGHER_AFFINITY,
            explanation="test move",
            score_before=0.0,
            score_after=1.0,
            score_delta=1.0,
            expected_updated_at=c.updated_at,
            expected_version=c.version,
        )
        for i, c in enumerate(convs)
    ]
    totals = RebalanceTotals(
        considered=n,
        excluded=0,
        moves=n,
        affinity_before=0.0,
        affinity_after=float(n),
        affinity_gained=float(n),
        agents_over_capacity_before=0,
        agents_over_capacity_after=0,
        unassigned_before=0,
        unassigned_after=0,
        objective=0.0,
        optimal=True,
        gap=0.0,
        solver="test",
        solve_seconds=0.0,
    )
    return RebalancePlan(created_at=env.clock.now(), moves=moves, unplaced=[], excluded={}, totals=totals)


def _apply(
    env: Env, plan: RebalancePlan | None, *, transport: httpx.AsyncBaseTransport | None = None, **kw: Any
) -> RebalanceApplyReport:
    async def go() -> RebalanceApplyReport:
        async with env.adapter(transport=transport) as adapter:
            return await apply_rebalance(adapter, env.store, plan, account=ACCOUNT, clock=env.clock, **kw)

    return asyncio.run(go())


@pytest.fixture
def env(store_url: str) -> Iterator[Env]:
    e = _env(store_url)
    yield e
    e.store.close()


def test_applies_every_move_once_verified_and_journaled(env: Env) -> None:
    plan = _plan(env)
    report = _apply(env, plan, chunk_size=7)
    assert report.outcome == "ok", report.summary()
    assert report.counts["applied"] == len(plan.moves) == 20
    for move in plan.moves:
        assert env.fake.conversations[move.conversation_id].assignee_id == move.to_agent_id
    assert set(env.writes().values()) == {1}
    assert "20 applied" in report.summary()


def test_human_changes_between_plan_and_apply_are_skipped_never_overwritten(env: Env) -> None:
    plan = _plan(env)
    reassigned, closed, deleted = (m.conversation_id for m in plan.moves[:3])
    human = next(a for a in env.fake.agents if a not in (plan.moves[0].to_agent_id, plan.moves[0].from_agent_id))
    env.clock.advance(60)
    env.fake.touch_conversation(reassigned, assignee_id=human)
    env.fake.touch_conversation(closed, status=ConversationStatus.CLOSED)
    del env.fake.conversations[deleted]
    report = _apply(env, plan)
    states = {e.conversation_id: e.state for e in report.entries}
    assert states[reassigned] is JournalState.SKIPPED_STALE
    assert states[closed] is JournalState.SKIPPED_STALE
    assert states[deleted] is JournalState.SKIPPED_GONE
    assert env.fake.conversations[reassigned].assignee_id == human
    assert env.fake.conversations[closed].status is ConversationStatus.CLOSED
    assert report.counts["applied"] == len(plan.moves) - 3
    assert report.outcome == "partial"
    assert reassigned not in env.writes() and closed not in env.writes()


def test_agent_deactivated_mid_run_gets_no_more_conversations(env: Env) -> None:
    plan = _plan(env)
    victim = plan.moves[-1].to_agent_id

    def deactivate(chunks_done: int) -> None:
        if chunks_done == 1:
            env.fake.agents[victim] = env.fake.agents[victim].model_copy(update={"active": False})

    report = _apply(env, plan, chunk_size=5, agents_refresh_seconds=0.0, after_chunk=deactivate)
    later = [e for e in report.entries if e.seq >= 5 and e.to_agent_id == victim]
    assert later and all(e.state is JournalState.SKIPPED_STALE for e in later)
    assert all("deactivated" in (e.message or "") for e in later)
    assert not {e.conversation_id for e in later} & set(env.writes())
    assert report.outcome == "partial"


def test_429_storm_and_5xx_mid_apply_still_apply_each_move_once(env: Env) -> None:
    plan = _plan(env)
    env.fake.fail_next(429, times=8, skip=3, match=lambda r: r.method == "PUT", headers={"Retry-After": "2"})
    env.fake.fail_next(503, times=4, skip=10, match=lambda r: r.method == "PUT")
    report = _apply(env, plan, chunk_size=6)
    assert report.outcome == "ok", report.summary()
    assert set(env.writes().values()) == {1}
    assert env.clock.slept >= 2  # waited for Retry-After instead of hammering


def test_persistent_5xx_fails_and_a_failed_move_never_blocks_the_next_night(env: Env) -> None:
    plan = _plan(env)
    stuck = plan.moves[4].conversation_id
    env.fake.fail_next(500, times=1000, match=lambda r: r.method == "PUT" and r.url.path.endswith(f"/{stuck}"))
    report = _apply(env, plan)
    assert report.outcome == "error"
    assert [e.conversation_id for e in report.entries if e.state is JournalState.FAILED] == [stuck]
    assert stuck not in env.writes()
    assert _apply(env, None, resume=True).run_id is None  # only failed moves left: the run is finished
    env.fake.faults.clear()
    retry = _plan(env, n=5)  # tomorrow's plan covers the conversation again
    assert _apply(env, retry).outcome == "ok"
    assert env.writes()[stuck] == 1


def test_failed_moves_of_an_unfinished_run_are_retried_by_resume(env: Env) -> None:
    plan = _plan(env)
    stuck = plan.moves[1].conversation_id
    env.fake.fail_next(500, times=1000, match=lambda r: r.method == "PUT" and r.url.path.endswith(f"/{stuck}"))
    # retries of the 500s take seconds of (fake) time; 100 s a chunk makes the budget stop after 2 chunks
    report = _apply(env, plan, chunk_size=4, max_runtime=150, after_chunk=lambda _: env.clock.advance(100))
    assert report.stopped_early and report.counts["failed"] == 1 and report.counts["planned"] == 12
    with pytest.raises(ConfigError, match="--resume"):
        _apply(env, plan)  # a new apply refuses while a run is unfinished
    env.fake.faults.clear()
    again = _apply(env, None, resume=True)
    assert again.resumed and again.run_id == report.run_id and again.outcome == "ok"
    assert set(env.writes().values()) == {1}


def test_max_runtime_stops_between_chunks_and_resume_continues(env: Env) -> None:
    plan = _plan(env)
    report = _apply(env, plan, chunk_size=4, max_runtime=25, after_chunk=lambda _: env.clock.advance(10))
    assert report.stopped_early
    assert report.counts["applied"] == 12 and report.counts["planned"] == 8
    assert report.outcome == "partial" and "--resume" in report.summary()
    rest = _apply(env, None, resume=True, chunk_size=4)
    assert rest.outcome == "ok" and rest.counts["applied"] == 20
    assert set(env.writes().values()) == {1}


def test_second_concurrent_run_refuses(env: Env) -> None:
    plan = _plan(env)
    with rebalance_lock(env.store, ACCOUNT), pytest.raises(LockHeldError, match="another rebalance"):
        _apply(env, plan)
    assert not env.writes()
    assert _apply(env, plan).outcome == "ok"  # released: the next run goes ahead


def test_resume_without_unfinished_run_and_without_plan_is_a_no_op(env: Env) -> None:
    report = _apply(env, None, resume=True)
    assert report.run_id is None and report.outcome == "ok"


def _killing(fake: FakeHelpdesk, after: int, *, before_landing: bool = False) -> httpx.MockTransport:
    """Lets `after` requests through, then dies right after the next one lands (or just before it is sent)."""
    seen = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal seen
        if before_landing and seen >= after:
            raise Killed(f"killed before request {seen + 1}")
        response = fake(request)
        seen += 1
        if seen > after:
            raise Killed(f"killed after request {seen}")
        return response

    return httpx.MockTransport(handler)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kill_after=st.integers(min_value=0, max_value=12),
    chunk=st.integers(min_value=1, max_value=8),
    before_landing=st.booleans(),
)
def test_killed_at_any_point_then_resumed_every_move_ends_exactly_once(
    kill_after: int, chunk: int, before_landing: bool
) -> None:
    """1 agents listing + 12 writes: every request is a possible kill point, before or after it lands."""
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(f"sqlite:///{Path(tmp) / 'store.db'}")
        try:
            plan = _plan(env, n=12)
            human_changed = plan.moves[7].conversation_id
            env.fake.touch_conversation(human_changed, assignee_id=None)
            with pytest.raises(Killed):
                _apply(
                    env, plan, chunk_size=chunk, transport=_killing(env.fake, kill_after, before_landing=before_landing)
                )
            report = _apply(env, None, resume=True, chunk_size=chunk)
            assert report.resumed
            states = {e.conversation_id: e.state for e in report.entries}
            assert len(states) == 12
            assert states[human_changed] is JournalState.SKIPPED_STALE
            assert env.fake.conversations[human_changed].assignee_id is None
            for move in plan.moves:
                if move.conversation_id != human_changed:
                    assert states[move.conversation_id] is JournalState.APPLIED
                    assert env.fake.conversations[move.conversation_id].assignee_id == move.to_agent_id
            assert max(env.writes().values()) == 1  # no move written twice
            assert human_changed not in env.writes()
        finally:
            env.store.close()


def test_lock_files_are_per_account(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store, rebalance_lock(store, "a"), rebalance_lock(store, "b"):
        with pytest.raises(LockHeldError):
            with rebalance_lock(store, "a"):
                pass


def test_killed_mid_run_then_resumed_on_each_backend(env: Env) -> None:
    plan = _plan(env, n=10)
    with pytest.raises(Killed):
        _apply(env, plan, chunk_size=3, transport=_killing(env.fake, 5))
    assert 0 < sum(env.writes().values()) < 10
    report = _apply(env, None, resume=True, chunk_size=3)
    assert report.resumed and report.outcome == "ok"
    assert set(env.writes().values()) == {1}


def test_killed_after_a_chunk_was_journaled_resumes_the_rest() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(f"sqlite:///{Path(tmp) / 'store.db'}")
        try:
            plan = _plan(env, n=10)

            def die(chunks_done: int) -> None:
                if chunks_done == 2:
                    raise Killed("between chunks")

            with pytest.raises(Killed):
                _apply(env, plan, chunk_size=3, after_chunk=die)
            assert sum(env.writes().values()) == 6
            report = _apply(env, None, resume=True, chunk_size=3)
            assert report.counts["applied"] == 10 and set(env.writes().values()) == {1}
        finally:
            env.store.close()


def test_guarded_apply_from_timestamps_alone_skips_human_changes_and_resumes(tmp_path: Path) -> None:
    """A vendor without versions (no optimistic concurrency): the plan holds only `updated_at`, the adapter's
    re-read guard compares it, and the applier skips what a human changed since planning and resumes the rest."""
    env = _env(f"sqlite:///{tmp_path / 'guard.db'}", open_conversations=12)
    try:

        async def read() -> list[Conversation]:
            async with env.adapter() as adapter:
                return [
                    c.model_copy(update={"version": None})
                    async for c in adapter.iter_conversations()
                    if c.status.is_open
                ]

        convs = asyncio.run(read())[:12]
        assert len(convs) == 12
        plan = _plan_from(convs, sorted(a.id for a in env.fake.agents.values() if a.active), env)
        assert all(m.expected_version is None and m.expected_updated_at for m in plan.moves)
        human = plan.moves[2].conversation_id
        env.clock.advance(60)
        env.fake.touch_conversation(human, assignee_id=None)
        with pytest.raises(Killed):
            _apply(env, plan, chunk_size=4, transport=_killing(env.fake, 9))  # part of the moves
        report = _apply(env, None, resume=True, chunk_size=4)
        states = {e.conversation_id: e.state for e in report.entries}
        assert states.pop(human) is JournalState.SKIPPED_STALE
        assert set(states.values()) == {JournalState.APPLIED}
        assert env.fake.conversations[human].assignee_id is None
        assert env.writes() and max(env.writes().values()) == 1 and human not in env.writes()
        for move in plan.moves:
            if move.conversation_id != human:
                assert env.fake.conversations[move.conversation_id].assignee_id == move.to_agent_id
    finally:
        env.store.close()


def test_version_2_store_gains_the_journal_and_keeps_its_rows(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from humansupport.store import SCHEMA_VERSION, build_metadata

    url = f"sqlite:///{tmp_path / 'v2.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        build_metadata(2).create_all(conn)
        conn.execute(sa.text("INSERT INTO meta (key, value) VALUES ('schema_version', '2')"))
        conn.execute(sa.text("INSERT INTO groups (account, id, name, agent_ids) VALUES ('a', '1', 'g', '[]')"))
    engine.dispose()
    with Store.open(url) as store:
        assert store.schema_version() == SCHEMA_VERSION  # 3 here; renumbered if a merge adds another
        assert [g.id for g in store.groups("a")] == ["1"]
        assert "rebalance_journal" in sa.inspect(store.engine).get_table_names()


def test_a_run_in_another_process_holds_the_lock(env: Env) -> None:
    """Two real processes: the lock is the operating system's (flock) or the server's (advisory lock)."""
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from humansupport.store import Store\n"
            "from humansupport.routing.rebalance_apply import rebalance_lock\n"
            "with Store.open(sys.argv[1]) as s, rebalance_lock(s, sys.argv[2]):\n"
            "    print('held', flush=True)\n"
            "    sys.stdin.readline()\n",
            env.store.engine.url.render_as_string(hide_password=False),
            ACCOUNT,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeldError, match="another rebalance"):
            _apply(env, _plan(env, n=3))
        assert not env.writes()
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    assert _apply(env, _plan(env, n=3)).outcome == "ok"


def test_finished_runs_older_than_the_retention_are_pruned(env: Env) -> None:
    first = _apply(env, _plan(env, 5), chunk_size=5)
    assert first.outcome == "ok" and first.pruned_runs == 0
    env.clock.advance(timedelta(days=91).total_seconds())
    second = _apply(env, _plan(env, 4), chunk_size=4)
    assert second.pruned_runs == 1  # the first run, 91 days old with the default 90-day retention
    journal = _Journal(env.store)
    assert journal.entries(first.run_id or "") == [] and len(journal.entries(second.run_id or "")) == 4
    env.clock.advance(1)
    stopped = _apply(env, _plan(env, 6), chunk_size=2, max_runtime=1, after_chunk=lambda _: env.clock.advance(2))
    assert stopped.counts["planned"] == 4
    env.clock.advance(timedelta(days=365).total_seconds())
    assert journal.prune(ACCOUNT, before=env.clock.now()) == 1  # the second run; the unfinished one stays
    assert len(journal.entries(stopped.run_id or "")) == 6
    resumed = _apply(env, None, resume=True, journal_retention=None)
    assert resumed.run_id == stopped.run_id and resumed.pruned_runs == 0
