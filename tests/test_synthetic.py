"""The synthetic history is shared by tests, demo, benches and fakes: its invariants and patterns must hold."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from humansupport.models import AgentAvailability, AuthorRole, ConversationStatus, RatingScore
from humansupport.testing.synthetic import (
    HistoryConfig,
    SyntheticHistory,
    generate_history,
    iter_history_conversations,
)

RESOLVED = (ConversationStatus.SOLVED, ConversationStatus.CLOSED)


@pytest.fixture(scope="module")
def history() -> SyntheticHistory:
    return generate_history()


def _dump(h: SyntheticHistory) -> dict[str, object]:
    return {
        "groups": [g.model_dump() for g in h.groups],
        "agents": [a.model_dump() for a in h.agents],
        "customers": [c.model_dump() for c in h.customers],
        "conversations": [c.model_dump() for c in h.conversations],
        "messages": {k: [m.model_dump() for m in v] for k, v in h.messages.items()},
        "ratings": [r.model_dump() for r in h.ratings],
        "usual": h.usual_agents,
    }


def _check_invariants(h: SyntheticHistory) -> None:
    """Structural truths every consumer relies on, whatever the config."""
    cfg = h.config
    start, end = cfg.start, cfg.end
    assert len(h.customers) == cfg.customers
    assert len(h.agents) == cfg.agents
    assert len(h.groups) == cfg.groups

    for kind, ids in (
        ("group", [g.id for g in h.groups]),
        ("agent", [a.id for a in h.agents]),
        ("customer", [c.id for c in h.customers]),
        ("conversation", [c.id for c in h.conversations]),
        ("message", [m.id for thread in h.messages.values() for m in thread]),
        ("rating", [r.id for r in h.ratings]),
    ):
        assert len(ids) == len(set(ids)), f"duplicate {kind} id"
        assert all(i.isdigit() for i in ids), f"{kind} ids must be numeric-looking"
    agents = {a.id: a for a in h.agents}
    customers = {c.id: c for c in h.customers}
    groups = {g.id: g for g in h.groups}
    assert not set(agents) & set(customers), "agents and customers share the user id space"

    for g in h.groups:
        assert g.agent_ids, "every group has an agent"
        for agent_id in g.agent_ids:
            assert g.id in agents[agent_id].group_ids
    for a in h.agents:
        assert 1 <= len(a.group_ids) <= 2
        assert a.capacity is not None
        assert 5 <= a.capacity <= 25
    for c in h.customers:
        assert c.email is not None
        assert all(e.endswith(("@example.com", ".test")) for e in [c.email, *c.emails])
        assert "plan" in c.custom_attributes
        assert h.usual_agent(c.id) in agents

    assert set(h.messages) == {c.id for c in h.conversations}
    for conv in h.conversations:
        assert conv.customer_id in customers
        assert conv.assignee_id is None or conv.assignee_id in agents
        assert conv.group_id is None or conv.group_id in groups
        assert conv.version is None
        assert conv.created_at is not None
        assert conv.updated_at is not None
        thread = h.messages[conv.id]
        assert 2 <= len(thread) <= 8
        assert thread[0].author_role is AuthorRole.CUSTOMER
        assert thread[0].public
        times = [m.created_at for m in thread]
        assert all(t is not None and t.tzinfo is not None for t in times)
        assert all(start <= t <= end for t in times if t is not None)
        assert all(a < b for a, b in itertools.pairwise(times) if a and b)
        assert conv.created_at == times[0]
        assert times[-1] is not None
        assert times[-1] <= conv.updated_at <= end
        if conv.assignee_id is None:
            assert conv.status is ConversationStatus.NEW
            assert all(m.author_role is not AuthorRole.AGENT for m in thread)
        for m in thread:
            assert m.conversation_id == conv.id
            if m.author_role is AuthorRole.CUSTOMER:
                assert m.author_id == conv.customer_id
                assert m.public
            elif m.author_role is AuthorRole.AGENT:
                assert m.author_id in agents
            else:
                assert m.author_role is AuthorRole.SYSTEM
                assert m.author_id is None

    convs = {c.id: c for c in h.conversations}
    for r in h.ratings:
        assert r.conversation_id in convs
        conv = convs[r.conversation_id]
        assert conv.status in RESOLVED
        assert r.customer_id == conv.customer_id
        assert r.agent_id == conv.assignee_id
        assert r.score in (RatingScore.GOOD, RatingScore.BAD)
        assert r.created_at is not None
        assert conv.updated_at is not None
        last = h.messages[conv.id][-1].created_at
        assert last is not None
        assert last < r.created_at <= conv.updated_at


def test_default_history_holds_invariants(history: SyntheticHistory) -> None:
    _check_invariants(history)


def test_same_config_gives_identical_history(history: SyntheticHistory) -> None:
    assert _dump(generate_history(HistoryConfig())) == _dump(history)


def test_different_seed_gives_different_history(history: SyntheticHistory) -> None:
    other = generate_history(seed=8)
    assert [c.model_dump() for c in other.customers] != [c.model_dump() for c in history.customers]
    assert [c.model_dump() for c in other.conversations] != [c.model_dump() for c in history.conversations]


def test_overrides_replace_config_fields() -> None:
    h = generate_history(HistoryConfig(seed=3), customers=5, agents=3, groups=2)
    assert (h.config.seed, h.config.customers, h.config.agents, h.config.groups) == (3, 5, 3, 2)
    with pytest.raises(TypeError):
        generate_history(nonsense=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"end": datetime(2026, 11, 1)},  # naive
        {"groups": 5, "agents": 3},
        {"continuity": 1.5},
        {"customers": 0},
    ],
)
def test_invalid_config_is_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        HistoryConfig(**kwargs)  # type: ignore[arg-type]


def test_window_is_months_before_end() -> None:
    assert HistoryConfig().start == datetime(2025, 11, 1, tzinfo=UTC)
    march_end = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert HistoryConfig(months=1, end=march_end).start == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert HistoryConfig(months=14, end=march_end).start == datetime(2025, 1, 28, 12, tzinfo=UTC)


def test_open_backlog_is_recent_and_partly_unassigned(history: SyntheticHistory) -> None:
    unresolved = [c for c in history.conversations if c.status not in RESOLVED]
    share = len(unresolved) / len(history.conversations)
    assert abs(share - history.config.open_share) < 0.03
    assert history.open_conversations()
    assert all(c.status.is_open for c in history.open_conversations())
    unassigned = [c for c in unresolved if c.assignee_id is None]
    assert 0.15 < len(unassigned) / len(unresolved) < 0.45
    assert any(c.group_id is None for c in unassigned), "some arrive unrouted"
    statuses = Counter(c.status for c in history.conversations)
    for status in (*RESOLVED, ConversationStatus.NEW, ConversationStatus.OPEN, ConversationStatus.PENDING):
        assert statuses[status] > 0
    assert any("reopened" in c.tags for c in history.conversations)
    recent = history.config.end.timestamp() - 15 * 86_400
    assert all(c.created_at is not None and c.created_at.timestamp() > recent for c in unresolved)


def test_agents_include_away_and_one_deactivated_with_history(history: SyntheticHistory) -> None:
    availability = Counter(a.availability for a in history.agents if a.active)
    assert availability[AgentAvailability.AWAY] + availability[AgentAvailability.OFFLINE] >= 1
    assert availability[AgentAvailability.AVAILABLE] >= len(history.agents) // 2
    gone = [a for a in history.agents if not a.active]
    assert len(gone) == 1
    handled = [c for c in history.conversations if c.assignee_id == gone[0].id]
    assert handled, "the deactivated agent has past history"
    assert all(c.status in RESOLVED for c in handled)
    assert len({a.capacity for a in history.agents}) > 3


def test_contact_frequency_is_heavy_tailed(history: SyntheticHistory) -> None:
    per_customer = Counter(c.customer_id for c in history.conversations)
    counts = [per_customer[c.id] for c in history.customers]
    assert min(counts) >= 1
    assert sum(n <= 3 for n in counts) / len(counts) > 0.5
    assert 0.05 < sum(n >= 10 for n in counts) / len(counts) < 0.4


def test_arrivals_favour_weekdays(history: SyntheticHistory) -> None:
    days = Counter(c.created_at.weekday() for c in history.conversations if c.created_at is not None)
    weekday_mean = sum(days[d] for d in range(5)) / 5
    weekend_mean = (days[5] + days[6]) / 2
    assert weekend_mean < 0.6 * weekday_mean


@pytest.mark.parametrize("continuity", [0.7, 0.35])
def test_returning_customers_get_usual_agent_at_continuity_rate(continuity: float) -> None:
    h = generate_history(continuity=continuity) if continuity != 0.7 else generate_history()
    agents = {a.id: a for a in h.agents}
    members = {g.id: g.agent_ids for g in h.groups}
    seen: set[str] = set()
    hits = total = 0
    for conv in h.conversations:  # per customer, in time order
        assert conv.customer_id is not None
        returning = conv.customer_id in seen
        seen.add(conv.customer_id)
        usual = h.usual_agent(conv.customer_id)
        assert usual is not None
        eligible = agents[usual].active and conv.group_id is not None and usual in members[conv.group_id]
        if returning and eligible and conv.assignee_id is not None:
            total += 1
            hits += conv.assignee_id == usual
    assert total > 1000
    assert abs(hits / total - continuity) < 0.1


def test_ratings_favour_the_usual_agent(history: SyntheticHistory) -> None:
    resolved = [c for c in history.conversations if c.status in RESOLVED]
    assert 0.2 < len(history.ratings) / len(resolved) < 0.4
    convs = {c.id: c for c in history.conversations}
    good: dict[bool, list[bool]] = {True: [], False: []}
    for r in history.ratings:
        assert r.conversation_id is not None
        customer = convs[r.conversation_id].customer_id
        assert customer is not None
        good[r.agent_id == history.usual_agent(customer)].append(r.score is RatingScore.GOOD)
    rate = {k: sum(v) / len(v) for k, v in good.items()}
    assert rate[True] > rate[False]
    assert any(r.score is RatingScore.BAD for r in history.ratings)
    assert any(r.comment for r in history.ratings)


def test_messages_look_like_support(history: SyntheticHistory) -> None:
    messages = [m for thread in history.messages.values() for m in thread]
    roles = Counter(m.author_role for m in messages)
    assert roles[AuthorRole.CUSTOMER] and roles[AuthorRole.AGENT] and roles[AuthorRole.SYSTEM]
    assert any(not m.public and m.author_role is AuthorRole.AGENT for m in messages), "internal notes"
    pii = re.compile(r"[\w.+-]+@[\w-]+\.(?:com|test)|\+1-555-01\d\d|\+44 20 7946 0\d{3}")
    customer_bodies = [m.body or "" for m in messages if m.author_role is AuthorRole.CUSTOMER]
    assert 0 < sum(bool(pii.search(b)) for b in customer_bodies) < len(customer_bodies) / 5
    channels = Counter(c.channel for c in history.conversations)
    assert set(channels) == {"email", "chat", "web", "phone"}
    assert all(c.tags and c.subject for c in history.conversations)
    second_agent = any(
        m.author_role is AuthorRole.AGENT and m.author_id != conv.assignee_id
        for conv in history.conversations
        for m in history.messages[conv.id]
    )
    assert second_agent


def test_streaming_yields_same_data_as_list() -> None:
    config = HistoryConfig(seed=11, customers=25, agents=4, groups=2)
    h = generate_history(config)
    streamed = list(iter_history_conversations(config))
    assert [c.model_dump() for c, _, _ in streamed] == [c.model_dump() for c in h.conversations]
    assert {c.id: [m.model_dump() for m in ms] for c, ms, _ in streamed} == {
        k: [m.model_dump() for m in v] for k, v in h.messages.items()
    }
    assert [r.model_dump() for _, _, r in streamed if r is not None] == [r.model_dump() for r in h.ratings]


def test_streaming_is_lazy() -> None:
    stream = iter_history_conversations(customers=5000)
    first = next(stream)
    assert first[0].id == "100001"


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    customers=st.integers(min_value=1, max_value=30),
    agents=st.integers(min_value=1, max_value=8),
    groups=st.integers(min_value=1, max_value=8),
    months=st.integers(min_value=1, max_value=24),
)
def test_invariants_hold_for_any_small_config(seed: int, customers: int, agents: int, groups: int, months: int) -> None:
    h = generate_history(seed=seed, customers=customers, agents=agents, groups=min(groups, agents), months=months)
    _check_invariants(h)
