"""The staged router on hand-made teams: every stage, every reason, and the fallbacks through the hook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from humansupport import Agent, ConfigError, Conversation, PluginRegistry
from humansupport.routing import AffinityIndex, LeastLoaded, RoundRobin, Router, RouterConfig

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def _agent(aid: str, **kw: object) -> Agent:
    base: dict[str, object] = {"id": aid, "name": aid.title(), "availability": "available", "group_ids": ["g"]}
    base.update(kw)
    return Agent.model_validate(base)


def _index() -> AffinityIndex:
    """Customer u knows ann best (5 recent replies), then bob (2), then cy (1, old)."""
    index = AffinityIndex(reference=NOW)
    for i in range(5):
        index.add_reply("u", "ann", "c1", NOW - timedelta(days=3 + i))
    for i in range(2):
        index.add_reply("u", "bob", "c2", NOW - timedelta(days=10 + i))
    index.add_reply("u", "cy", "c3", NOW - timedelta(days=20))
    return index


def _conv(**kw: object) -> Conversation:
    base: dict[str, object] = {
        "id": "x1",
        "status": "open",
        "customer_id": "u",
        "group_id": "g",
        "created_at": NOW - timedelta(hours=1),
    }
    base.update(kw)
    return Conversation.model_validate(base)


def _router(*agents: Agent, **kw: object) -> Router:
    team = list(agents) or [_agent("ann"), _agent("bob"), _agent("cy"), _agent("dee")]
    loads = kw.pop("loads", {})
    deleted = kw.pop("deleted", ())
    return Router(
        index=_index(),
        agents=team,
        loads=loads,  # type: ignore[arg-type]
        deleted=deleted,  # type: ignore[arg-type]
        config=RouterConfig(**kw),  # type: ignore[arg-type]
    )


def test_preferred_agent_when_eligible() -> None:
    d = _router().route(_conv(), now=NOW)
    assert (d.action, d.stage, d.agent_id) == ("assign", "preferred", "ann")
    assert d.reason.startswith("knows them best: 5 replies over 1 conversation, last 3 days ago")
    assert [c.agent_id for c in d.candidates] == ["bob", "cy"]  # the runners-up


def test_away_preferred_agent_is_waited_for_within_the_window() -> None:
    router = _router(_agent("ann", availability="away"), _agent("bob"), _agent("cy"), wait_for_preferred_hours=4)
    d = router.route(_conv(), now=NOW)
    assert (d.action, d.stage, d.agent_id) == ("wait", "wait", "ann")
    assert "waiting for Ann (away)" in d.reason and "3.0 h to go" in d.reason


def test_after_the_window_the_next_affine_agent_gets_it() -> None:
    router = _router(_agent("ann", availability="away"), _agent("bob"), _agent("cy"), wait_for_preferred_hours=4)
    d = router.route(_conv(created_at=NOW - timedelta(hours=5)), now=NOW)
    assert (d.action, d.stage, d.agent_id) == ("assign", "top_k", "bob")
    assert "Ann knows them best but is away" in d.reason


def test_email_stays_with_its_owner_when_configured() -> None:
    router = _router(_agent("ann", availability="offline"), _agent("bob"), keep_owner_channels=("email",))
    d = router.route(_conv(channel="email"), now=NOW)
    assert (d.stage, d.agent_id) == ("owner", "ann")
    chat = router.route(_conv(channel="chat"), now=NOW)
    assert chat.agent_id == "bob"


def test_full_preferred_agent_is_skipped() -> None:
    router = _router(_agent("ann", capacity=2), _agent("bob"), loads={"ann": 2})
    d = router.route(_conv(), now=NOW)
    assert d.agent_id == "bob" and "full (2 of 2 open)" in d.reason


def test_deactivated_and_deleted_agents_are_never_chosen() -> None:
    router = _router(_agent("ann", active=False), _agent("bob"), _agent("cy"), deleted={"bob"})
    d = router.route(_conv(), now=NOW)
    assert d.agent_id == "cy" and d.stage == "top_k"
    why = {c.agent_id: c.why_not for c in d.candidates}
    assert why == {"ann": "deactivated", "bob": "no longer in the helpdesk"}


def test_top_k_bounds_how_far_affinity_reaches() -> None:
    router = _router(
        _agent("ann", availability="away"), _agent("bob", availability="away"), _agent("cy"), _agent("dee")
    )
    assert router.route(_conv(), now=NOW).agent_id == "cy"
    narrow = _router(
        _agent("ann", availability="away"), _agent("bob", availability="away"), _agent("cy"), _agent("dee"), top_k=2
    )
    d = narrow.route(_conv(), now=NOW)
    assert d.stage == "fallback:least_loaded"


def test_customer_with_no_history_goes_to_the_fallback() -> None:
    router = _router(_agent("ann"), _agent("bob"), loads={"ann": 3, "bob": 1})
    d = router.route(_conv(customer_id="stranger"), now=NOW)
    assert (d.stage, d.agent_id) == ("fallback:least_loaded", "bob")
    assert d.reason.startswith("no history with this customer; least loaded in group g: Bob (1 open)")


def test_thin_history_under_the_threshold_is_not_trusted() -> None:
    router = _router(threshold=50.0)
    d = router.route(_conv(), now=NOW)
    assert d.stage.startswith("fallback") and "too thin" in d.reason


def test_group_membership_limits_the_pool() -> None:
    router = _router(_agent("ann", group_ids=["other"]), _agent("bob", group_ids=["other"]), _agent("cy"))
    d = router.route(_conv(), now=NOW)
    assert d.agent_id == "cy"
    assert router.route(_conv(group_id=None), now=NOW).agent_id == "ann"  # no group: the whole team


def test_already_assigned_by_a_human_is_left_alone() -> None:
    d = _router().route(_conv(assignee_id="dee"), now=NOW)
    assert (d.action, d.agent_id) == ("leave", "dee") and "left as is" in d.reason


def test_assigned_to_a_deactivated_agent_is_rerouted_and_says_why() -> None:
    router = _router(_agent("ann"), _agent("gone", active=False))
    d = router.route(_conv(assignee_id="gone"), now=NOW)
    assert d.agent_id == "ann" and d.reason.startswith("assignee Gone is deactivated; ")


def test_nobody_eligible_leaves_it_unassigned() -> None:
    router = _router(_agent("ann", availability="away"), _agent("bob", availability="offline"))
    d = router.route(_conv(customer_id="stranger"), now=NOW)
    assert d.action == "none" and d.agent_id is None and "no eligible agent in group g" in d.reason


def test_batch_routing_respects_capacity() -> None:
    router = _router(_agent("ann", capacity=1), _agent("bob", capacity=5))
    decisions = router.route_many([_conv(id="1"), _conv(id="2")], now=NOW)
    assert [d.agent_id for d in decisions] == ["ann", "bob"]


def test_closed_conversations_are_not_routed() -> None:
    assert _router().route(_conv(status="solved"), now=NOW).action == "leave"


def test_round_robin_takes_turns() -> None:
    router = _router(_agent("ann"), _agent("bob"), _agent("cy"), fallback="round_robin")
    router.strategy = RoundRobin()
    picks = [router.route(_conv(customer_id="stranger", id=str(i)), now=NOW).agent_id for i in range(4)]
    assert picks == ["ann", "bob", "cy", "ann"]


def test_least_loaded_uses_capacity_ratio() -> None:
    ann, bob = _agent("ann", capacity=10), _agent("bob", capacity=2)
    assert LeastLoaded().choose(_conv(), [ann, bob], {"ann": 4, "bob": 1}) == ann  # 0.4 < 0.5


def test_builtin_strategies_come_through_the_hook_and_plugins_add_more(plugin_registry: PluginRegistry) -> None:
    from humansupport import hookimpl

    class Fixed:
        name = "always_dee"

        def choose(self, conversation: Conversation, candidates: object, loads: object) -> Agent | None:
            return next(a for a in candidates if a.id == "dee")  # type: ignore[attr-defined]

    class FixedPlugin:
        @staticmethod
        @hookimpl
        def register_routing_strategies() -> list[type]:
            return [Fixed]

    plugin_registry.register(FixedPlugin, name="fixed")
    strategies = plugin_registry.routing_strategies()
    assert {"least_loaded", "round_robin", "always_dee"} <= set(strategies)
    assert [p.name for p in plugin_registry.plugins()] == ["fixed"]  # the core's own plugin is not listed
    router = Router(
        index=_index(),
        agents=[_agent("ann"), _agent("dee")],
        config=RouterConfig(fallback="always_dee"),
        strategies=strategies,  # type: ignore[arg-type]
    )
    assert router.route(_conv(customer_id="stranger"), now=NOW).stage == "fallback:always_dee"


def test_unknown_strategy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown routing strategy 'nope'"):
        _router(fallback="nope")


def test_decision_serializes() -> None:
    data = _router().route(_conv(), now=NOW).to_dict()
    assert data["agent_id"] == "ann" and data["candidates"][0]["agent_id"] == "bob" and data["score"] > 0
