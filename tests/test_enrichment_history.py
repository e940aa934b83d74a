"""The store as profile enrichment's history source agrees with enrichment's in-memory stand-in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from humansupport.enrichment.history import StoreHistory, history_from_synthetic
from humansupport.store import Store
from humansupport.testing.synthetic import SyntheticHistory


def test_store_history_matches_the_in_memory_facts(tmp_path: Path, synthetic_history: SyntheticHistory) -> None:
    h = synthetic_history
    with Store.open(tmp_path / "s.db") as store:
        store.upsert_agents("a", h.agents, seen_at=h.config.end)
        store.write_conversations("a", [(c, h.messages[c.id]) for c in h.conversations])
        store.upsert_ratings("a", h.ratings)
        source = StoreHistory(store, "a", now=h.config.end)
        expected = history_from_synthetic(h)
        agree = 0
        for customer in h.customers:
            got = source(customer.id)
            want = expected.get(customer.id)
            if want is None:
                assert got is None
                continue
            assert got is not None
            assert (got.conversation_count, got.first_contact, got.tag_counts) == (
                want.conversation_count,
                want.first_contact,
                want.tag_counts,
            )
            assert got.last_conversation is not None and want.last_conversation is not None
            assert got.last_conversation.conversation_id == want.last_conversation.conversation_id
            assert sorted(p.score for p in got.ratings) == sorted(p.score for p in want.ratings)
            if got.preferred_agent_id is not None:
                assert got.preferred_agent_reason and "repl" in got.preferred_agent_reason
            # affinity weighs outcomes and ratings too, so the preferred agent may differ, but rarely
            agree += got.preferred_agent_id == want.preferred_agent_id
        assert agree / len(expected) > 0.8
        assert source("nobody") is None


def test_a_deactivated_agent_is_never_the_preferred_agent(tmp_path: Path) -> None:
    from humansupport import Agent, Conversation, Message

    now = datetime(2026, 11, 1, tzinfo=UTC)
    with Store.open(tmp_path / "s.db") as store:
        store.upsert_agents("a", [Agent(id="7", name="Ola", active=False)], seen_at=now)
        conv = Conversation(id="c", status="solved", customer_id="u", created_at=now, subject="Refund")
        msg = Message(id="m", conversation_id="c", author_id="7", author_role="agent", created_at=now)
        store.write_conversations("a", [(conv, [msg])])
        got = StoreHistory(store, "a", now=now)("u")
        # Ola knows them but is deactivated: routing could not pick her, so no preferred agent is named
        assert got is not None and got.conversation_count == 1
        assert (got.preferred_agent_id, got.preferred_agent_name, got.preferred_agent_reason) == (None, None, None)
        store.upsert_agents("a", [Agent(id="8", name="Nina")], seen_at=now)
        later = Message(id="m2", conversation_id="c", author_id="8", author_role="agent", created_at=now)
        store.write_conversations("a", [(conv, [msg, later])])
        got = StoreHistory(store, "a", now=now)("u")
        assert got is not None and got.preferred_agent_name == "Nina"
