"""Continuity indices against hand-computed values, and the report on small hand-made histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from humansupport.metrics import ConversationFact, coc, metrics_from_facts, secon, upc

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seq", "u", "c", "s"),
    [
        ("AAB", 2 / 3, 1 / 3, 1 / 2),  # COC (2²+1²-3)/(3·2) = 2/6
        ("ABAB", 1 / 2, 1 / 3, 0.0),  # COC (4+4-4)/(4·3) = 4/12
        ("AAAA", 1.0, 1.0, 1.0),
        ("ABC", 1 / 3, 0.0, 0.0),
        ("ABAAC", 3 / 5, 0.3, 1 / 4),  # COC (9+1+1-5)/(5·4) = 6/20; one same-agent pair (A,A) of four
    ],
)
def test_indices_match_hand_computed_values(seq: str, u: float, c: float, s: float) -> None:
    agents = list(seq)
    assert upc(agents) == pytest.approx(u)
    assert coc(agents) == pytest.approx(c)
    assert secon(agents) == pytest.approx(s)


def test_indices_need_enough_conversations() -> None:
    with pytest.raises(ValueError, match="at least two"):
        coc(["A"])
    with pytest.raises(ValueError, match="at least two"):
        secon(["A"])
    with pytest.raises(ValueError, match="at least one"):
        upc([])


def _f(cid: str, customer: str, agent: str | None, day: int, **kw: object) -> ConversationFact:
    created = T0 + timedelta(days=day)
    return ConversationFact(
        id=cid,
        customer_id=customer,
        assignee_id=agent,
        status=str(kw.get("status", "solved")),
        created_at=created,
        first_reply_at=created + timedelta(hours=float(kw.get("reply_h", 1.0))),  # type: ignore[arg-type]
        last_message_at=created + timedelta(hours=float(kw.get("resolve_h", 4.0))),  # type: ignore[arg-type]
        rating=kw.get("rating"),  # type: ignore[arg-type]
    )


def test_report_on_a_hand_made_history() -> None:
    facts = [
        # customer u1: A, A, B -> preferred A for the 2nd (hit) and the 3rd (miss)
        _f("1", "u1", "A", 0, rating="good"),
        _f("2", "u1", "A", 3, rating="good", reply_h=3),
        _f("3", "u1", "B", 30, rating="bad"),
        # customer u2: B, then an open unassigned one -> preferred B, miss, open
        _f("4", "u2", "B", 1),
        _f("5", "u2", None, 40, status="open"),
        # customer u3: one conversation only
        _f("6", "u3", "A", 2, rating="bad"),
    ]
    overall = metrics_from_facts(facts).overall
    assert overall["customers_with_2_or_more"] == 1  # u2 has one assigned conversation only
    assert overall["upc"] == pytest.approx(round(2 / 3, 4))
    assert overall["coc"] == pytest.approx(round(1 / 3, 4))
    assert overall["secon"] == pytest.approx(0.5)
    assert overall["preferred_agent_share"] == pytest.approx(round(1 / 3, 4))  # #2 hit; #3, #5 missed
    assert overall["open_with_preferred_agent_share"] == 0.0
    # first contact with an agent: #1 good, #3 bad (B is new to u1), #6 bad -> 1/3; returning: #2 good -> 1
    assert overall["good_rating_share_first_contact"] == pytest.approx(round(1 / 3, 4))
    assert overall["good_rating_share_returning_same_agent"] == 1.0
    # #1 resolved at +4 h, #2 created 3 days later: a repeat contact; #2 -> #3 27 days: not; 5 resolved
    assert overall["repeat_contact_rate"] == pytest.approx(0.2)
    assert overall["median_first_reply_hours"] == 1.0
    assert overall["median_resolution_hours"] == 4.0


def test_per_agent_and_per_period() -> None:
    facts = [_f("1", "u1", "A", 0), _f("2", "u1", "A", 1, reply_h=2), _f("3", "u1", "B", 40)]
    report = metrics_from_facts(facts, agent_names={"A": "Ann"})
    assert report.per_agent["A"]["name"] == "Ann" and report.per_agent["A"]["conversations"] == 2
    assert report.per_agent["A"]["preferred_share_of_returning"] == 1.0
    assert report.per_agent["B"]["preferred_share_of_returning"] == 0.0
    assert report.per_agent["A"]["median_first_reply_hours"] == 1.5
    assert set(report.per_period) == {"2026-03", "2026-04"}
    assert report.per_period["2026-03"]["conversations"] == 2


def test_empty_history_gives_no_numbers_not_zeros() -> None:
    overall = metrics_from_facts([]).overall
    assert overall["upc"] is None and overall["preferred_agent_share"] is None
