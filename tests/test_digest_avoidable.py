"""The avoidable-contact report against hand-built stores: brute-force expectations for repeat contacts and
rising themes, reopenings written through the store's own status history, and the bad inputs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from humansupport.insights import Period, ThemeMap, build_avoidable
from humansupport.models import Conversation
from humansupport.store import Store

from .test_digest import END, PERIOD, Conv, load, make_world, oracle_theme

THEMES = ThemeMap.of(ignore=["vip"])


def expected(world: list[Conv], period: Period, within: timedelta, min_rise: float, min_count: int) -> dict[str, Any]:
    inside = [c for c in world if period.start <= c.created < period.end]
    repeats: dict[str, list[Conv]] = {}
    for c in inside:
        if c.customer is None:
            continue
        earlier = [
            d
            for d in world
            if d.customer == c.customer
            and oracle_theme(d.tags) == oracle_theme(c.tags)
            and (d.created, d.id) < (c.created, c.id)
            and c.created - d.created <= within
        ]
        if earlier:
            repeats.setdefault(oracle_theme(c.tags), []).append(c)
    split = period.start + period.length / 2
    days = period.days / 2
    rising: dict[str, list[Conv]] = {}
    for theme in {oracle_theme(c.tags) for c in inside}:
        before = [c for c in inside if oracle_theme(c.tags) == theme and c.created < split]
        after = [c for c in inside if oracle_theme(c.tags) == theme and c.created >= split]
        if len(after) >= min_count and len(after) / days > len(before) / days * (1 + min_rise):
            rising[theme] = after
    tagged: dict[str, list[Conv]] = {}
    for c in inside:
        if "reopened" in [t.lower() for t in c.tags]:
            tagged.setdefault(oracle_theme(c.tags), []).append(c)
    found = {
        (kind, t): (len({c.customer for c in cs if c.customer}), len(cs))
        for kind, groups in (("repeat_contact", repeats), ("rising", rising), ("reopened", tagged))
        for t, cs in groups.items()
    }
    return {"conversations": len(inside), "findings": found}


@pytest.mark.parametrize("within_days", [3, 10])
def test_findings_match_brute_force(store_url: str, within_days: int) -> None:
    within = timedelta(days=within_days)
    with Store.open(store_url) as store:
        for seed in (11, 12):
            world = make_world(seed, n=150)
            load(store, world)
            report = build_avoidable(store, "acct", period=PERIOD, themes=THEMES, within=within, min_rise=0.2)
            got = {(f.kind, f.theme): (f.customers, f.conversations) for f in report.findings}
            assert {"conversations": report.conversations, "findings": got} == expected(world, PERIOD, within, 0.2, 3)
            keys = [(-f.customers, -f.conversations) for f in report.findings]
            assert keys == sorted(keys)  # by people touched first
            with store.begin() as conn:
                for name in ("conversations", "messages", "ratings"):
                    conn.execute(store.t[name].delete())


def test_small_case_by_hand(tmp_path: Any) -> None:
    day = timedelta(days=1)
    world = [
        # ann: billing twice within 2 days (a repeat), then again 20 days later (not one)
        Conv("1", "ann", "a1", "solved", ["billing"], END - 28 * day),
        Conv("2", "ann", "a1", "solved", ["billing"], END - 26 * day),
        Conv("3", "ann", "a1", "solved", ["billing"], END - 6 * day),
        # bob: login after a login 32 days ago -> outside 7 days; billing before the period within 7 days of #5
        Conv("4", "bob", "a2", "solved", ["billing"], END - 33 * day),
        Conv("5", "bob", "a2", "open", ["billing"], END - 29 * day),
        # login rises: none in the first half, three from three people in the second
        Conv("6", "cy", None, "new", ["login"], END - 3 * day),
        Conv("7", "di", None, "new", ["login"], END - 2 * day),
        Conv("8", None, None, "new", ["login"], END - day),
        # a reopen known only by its tag (before our first sync), and one tagged before the period
        Conv("9", "cy", "a1", "open", ["export", "reopened"], END - 10 * day),
        Conv("10", "cy", "a1", "open", ["export", "reopened"], END - 31 * day),
    ]
    with Store.open(tmp_path / "s.db") as store:
        load(store, world)
        # a reopen: solved -> open (counted), then open -> pending (not one); #4 reopened 32 days ago: before the period
        solved = Conversation(id="3", status="open", customer_id="ann", tags=["billing"], created_at=END - 6 * day)
        store.write_conversations("acct", [(solved.model_copy(update={"updated_at": END - 5 * day}), None)])
        store.set_assignee("acct", solved.model_copy(update={"status": "pending", "updated_at": END - 4 * day}))
        old = Conversation(
            id="4",
            status="open",
            customer_id="bob",
            tags=["billing"],
            created_at=END - 33 * day,
            updated_at=END - 32 * day,
        )
        store.write_conversations("acct", [(old, None)])
        report = build_avoidable(store, "acct", period=PERIOD, themes=THEMES, within=7 * day)
    got = {(f.kind, f.theme): (f.customers, f.conversations, f.detail) for f in report.findings}
    assert got == {
        ("repeat_contact", "billing"): (2, 2, {}),  # #2 (ann) and #5 (bob, after #4 four days before)
        ("reopened", "billing"): (1, 1, {"reopenings": 1}),
        ("reopened", "export"): (1, 1, {"reopenings": 1}),
        ("rising", "login"): (
            2,
            3,
            {"before": 0, "after": 3, "before_per_day": 0.0, "after_per_day": 0.2, "rise": None},
        ),
    }
    assert [f.kind for f in report.findings] == [
        "rising",
        "repeat_contact",
        "reopened",
        "reopened",
    ]  # people, then volume
    assert report.of_kind("repeat_contact")[0].examples == [("2", None), ("5", None)]  # newest first


def test_after_outside_the_period_and_bad_window_are_refused(tmp_path: Any) -> None:
    with Store.open(tmp_path / "s.db") as store:
        with pytest.raises(ValueError, match="inside the period"):
            build_avoidable(store, "acct", period=PERIOD, themes=THEMES, after=END + timedelta(days=1))
        with pytest.raises(ValueError, match="positive"):
            build_avoidable(store, "acct", period=PERIOD, themes=THEMES, within=timedelta(0))
        empty = build_avoidable(store, "acct", period=PERIOD, themes=THEMES)
    assert empty.empty and empty.findings == [] and empty.to_dict()["message"] == "no conversations in range"
