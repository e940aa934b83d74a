"""Affinity: decay, outcomes, Wilson-weighted ratings, stickiness, cold start, explanations, refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from humansupport import Conversation, Message, SatisfactionRating
from humansupport.routing import AffinityConfig, AffinityIndex, wilson_lower_bound
from humansupport.store import Store
from humansupport.testing.synthetic import SyntheticHistory

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_wilson_lower_bound_hand_computed() -> None:
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(2, 2) == pytest.approx(0.3424, abs=1e-4)
    assert wilson_lower_bound(20, 20) == pytest.approx(0.8389, abs=1e-4)
    assert wilson_lower_bound(0, 5) == 0.0
    # small samples are distrusted: 2/2 is worth less than 18/20 though its raw mean is higher
    assert wilson_lower_bound(2, 2) < wilson_lower_bound(18, 20)


def test_one_reply_one_half_life_ago_scores_one_half() -> None:
    index = AffinityIndex(reference=NOW)
    index.add_reply("u", "a", "c1", _ago(90))
    score = index.score("u", "a", now=NOW)
    assert score is not None and score.score == pytest.approx(0.5)


def test_decay_sums_replies_and_the_reference_time_does_not_matter() -> None:
    for reference in (NOW, NOW - timedelta(days=400), NOW + timedelta(days=30)):
        index = AffinityIndex(reference=reference)
        index.add_reply("u", "a", "c1", NOW)
        index.add_reply("u", "a", "c2", _ago(180))
        assert index.score("u", "a", now=NOW).score == pytest.approx(1.25)  # type: ignore[union-attr]


def test_half_life_is_configurable() -> None:
    index = AffinityIndex(reference=NOW, config=AffinityConfig(half_life_days=30))
    index.add_reply("u", "a", "c1", _ago(60))
    assert index.score("u", "a", now=NOW).score == pytest.approx(0.25)  # type: ignore[union-attr]


def test_solved_counts_more_and_reopened_less() -> None:
    index = AffinityIndex(reference=NOW)
    for conv in ("solved", "reopened", "open"):
        index.add_reply(conv, "a", conv, NOW)
    index.set_outcome("solved", status="solved", tags=[])
    index.set_outcome("reopened", status="solved", tags=["reopened"])
    index.set_outcome("open", status="open", tags=[])
    assert index.score("solved", "a", now=NOW).score == pytest.approx(1.25)  # type: ignore[union-attr]
    assert index.score("reopened", "a", now=NOW).score == pytest.approx(0.5)  # type: ignore[union-attr]
    assert index.score("open", "a", now=NOW).score == pytest.approx(1.0)  # type: ignore[union-attr]


def test_ratings_move_the_score_by_wilson_bounds() -> None:
    index = AffinityIndex(reference=NOW)
    index.add_reply("u", "good", "c1", NOW)
    index.add_reply("u", "bad", "c2", NOW)
    index.add_rating("r1", "u", "good", "good")
    index.add_rating("r2", "u", "good", "good")
    index.add_rating("r2", "u", "good", "good")  # the same rating twice counts once
    index.add_rating("r3", "u", "bad", "bad")
    index.add_rating("r4", "u", "bad", "offered")  # not a score
    good = index.score("u", "good", now=NOW)
    bad = index.score("u", "bad", now=NOW)
    assert good is not None and good.score == pytest.approx(1 + wilson_lower_bound(2, 2))
    assert bad is not None and bad.score == pytest.approx(1 - wilson_lower_bound(1, 1))
    assert good.good_ratings == 2 and bad.bad_ratings == 1


def test_stickiness_window_ignores_old_contacts_and_cold_start_is_empty() -> None:
    index = AffinityIndex(reference=NOW, config=AffinityConfig(stickiness_days=30))
    index.add_reply("u", "old", "c1", _ago(45))
    index.add_reply("u", "recent", "c2", _ago(10))
    assert [s.agent_id for s in index.scores("u", now=NOW)] == ["recent"]
    assert index.scores("nobody", now=NOW) == []
    only_old = AffinityIndex(reference=NOW, config=AffinityConfig(stickiness_days=30))
    only_old.add_reply("u", "old", "c1", _ago(45))
    assert only_old.scores("u", now=NOW) == []


def test_explanation_reads_like_a_person_wrote_it() -> None:
    index = AffinityIndex(reference=NOW)
    for i in range(14):
        index.add_reply("u", "a", f"c{i % 5}", _ago(12 + i))
    index.add_rating("r1", "u", "a", "good")
    index.add_rating("r2", "u", "a", "good")
    score = index.score("u", "a", now=NOW)
    assert score is not None
    assert score.explanation == "14 replies over 5 conversations, last 12 days ago, 2 good ratings"
    single = AffinityIndex(reference=NOW)
    single.add_reply("u", "a", "c", NOW)
    assert single.score("u", "a", now=NOW).explanation == "1 reply over 1 conversation, last today"  # type: ignore[union-attr]


def test_scores_are_ranked_best_first() -> None:
    index = AffinityIndex(reference=NOW)
    index.add_reply("u", "a", "c1", _ago(100))
    for _ in range(3):
        index.add_reply("u", "b", "c2", _ago(5))
    assert [s.agent_id for s in index.scores("u", now=NOW)] == ["b", "a"]
    assert [s.agent_id for s in index.scores("u", now=NOW, limit=1)] == ["b"]


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="half_life"):
        AffinityConfig(half_life_days=0)
    with pytest.raises(ValueError, match="stickiness"):
        AffinityConfig(stickiness_days=-1)


def test_built_from_the_store_and_refreshed_incrementally(tmp_path: Path, synthetic_history: SyntheticHistory) -> None:
    h = synthetic_history
    with Store.open(tmp_path / "s.db") as store:
        store.write_conversations("a", [(c, h.messages[c.id]) for c in h.conversations])
        store.upsert_ratings("a", h.ratings)
        index = AffinityIndex.build(store, "a", now=h.config.end)
        # the usual agent is the top-affinity agent for most returning customers
        returning = [c.id for c in h.customers if len(index.known_agents(c.id)) >= 1]
        tops = [index.scores(cid, now=h.config.end)[0].agent_id for cid in returning]
        hits = sum(top == h.usual_agent(cid) for top, cid in zip(tops, returning, strict=True))
        assert hits / len(returning) > 0.6
        customer = returning[0]
        before = index.scores(customer, now=h.config.end)[0]
        conv = Conversation(id="new", status="open", customer_id=customer, created_at=h.config.end)
        reply = Message(
            id="m-new",
            conversation_id="new",
            author_id=before.agent_id,
            author_role="agent",
            created_at=h.config.end + timedelta(minutes=5),
        )
        store.write_conversations("a", [(conv, [reply])])
        store.upsert_ratings("a", [SatisfactionRating(id="r-new", customer_id=customer, agent_id="x", score="good")])
        assert index.refresh(store, "a") == 1
        after = index.score(customer, before.agent_id, now=h.config.end)
        assert after is not None and after.replies == before.replies + 1
        assert index.refresh(store, "a") == 0  # nothing new: nothing added twice
