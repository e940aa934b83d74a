"""The sample saved replies every fake is seeded with cover what the reply-certainty linter looks for."""

from __future__ import annotations

import pytest

from humansupport.testing import SAMPLE_SAVED_REPLIES, FakeClock, FakeHelpdesk, HistoryConfig, generate_history


def test_samples_cover_clean_and_every_problem_kind() -> None:
    assert 8 <= len(SAMPLE_SAVED_REPLIES) <= 10
    assert len({s.title for s in SAMPLE_SAVED_REPLIES}) == len(SAMPLE_SAVED_REPLIES)
    text = {s.title: s.body.lower() for s in SAMPLE_SAVED_REPLIES}
    assert any("should" in t or "might" in t or "i think" in t for t in text.values())
    assert any("sorry for any inconvenience" in t for t in text.values())
    assert any("we'll look into it" in t for t in text.values())
    assert any("using it wrong" in t for t in text.values())
    assert any(not s.body.isascii() for s in SAMPLE_SAVED_REPLIES)
    assert sum(1 for s in SAMPLE_SAVED_REPLIES if not s.issues) >= 3, "some replies are clean"
    assert all("\n\n" in s.body for s in SAMPLE_SAVED_REPLIES), "multi-paragraph, so line numbers matter"


def test_a_fake_without_saved_replies_seeds_none() -> None:
    fake = FakeHelpdesk(clock=FakeClock(), history=generate_history(HistoryConfig(customers=5, agents=2, groups=1)))
    assert fake.seed_saved_replies() == []
    with pytest.raises(NotImplementedError, match="FakeHelpdesk has no saved replies"):
        fake.add_saved_reply(title="x", body="y")
