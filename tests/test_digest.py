"""The feedback digest against stores built by hand: a literal small case, and seeded random worlds whose
expected figures are computed here by brute force (sets and sorts over plain lists), on both backends."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from humansupport.insights import Period, ThemeMap, build_digest
from humansupport.insights.quotes import quote_of
from humansupport.models import Conversation, Message, SatisfactionRating
from humansupport.store import Store

END = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD = Period(END - timedelta(days=30), END)
TAGS = [
    ["billing", "refund"],
    ["Billing"],
    ["vip", "login"],
    ["login"],
    [],
    ["vip"],
    ["api", "vip"],
    ["api", "Reopened"],
]
AGENTS = ["a1", "a2", "a3"]
LATER = "A later message: quoted only when the first one has no text."


@dataclass
class Conv:
    id: str
    customer: str | None
    assignee: str | None
    status: str
    tags: list[str]
    created: datetime
    repliers: list[str] = field(default_factory=list)
    first_words: str | None = None
    ratings: list[tuple[str, datetime, str]] = field(default_factory=list)  # (id, at, score)


def make_world(seed: int, n: int = 120, *, span_days: float = 75) -> list[Conv]:
    """Conversations spread over the period, the one before and a little outside both."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        created = END - timedelta(seconds=rng.randrange(int(span_days * 86_400)))
        if rng.random() < 0.03:
            created = END + timedelta(hours=rng.randrange(1, 48))  # after `now`: in no period
        words = rng.choice(
            [
                None,
                "My card was charged twice.\nCall me on +44 20 7946 0958 or ann@example.com\n\nAnn",
                "Login fails since 2026-10-30 for order #4411223",
                "  ",
            ]
        )
        ratings = []
        for k in range(rng.choice([0, 0, 1, 1, 2])):
            ratings.append((f"r{i}-{k}", created + timedelta(hours=k + 1), rng.choice(["good", "bad", "offered"])))
        out.append(
            Conv(
                id=f"c{i:04d}",
                customer=rng.choice([None, *(f"u{k}" for k in range(15))]),
                assignee=rng.choice([None, *AGENTS]),
                status=rng.choice(["open", "solved", "closed", "pending"]),
                tags=rng.choice(TAGS),
                created=created,
                repliers=rng.sample(AGENTS, rng.randrange(3)),
                first_words=words,
                ratings=ratings,
            )
        )
    return out


def load(store: Store, world: list[Conv], account: str = "acct") -> None:
    batch: list[tuple[Conversation, list[Message]]] = []
    ratings: list[SatisfactionRating] = []
    for c in world:
        conv = Conversation(
            id=c.id,
            customer_id=c.customer,
            assignee_id=c.assignee,
            status=c.status,
            tags=c.tags,
            created_at=c.created,
            updated_at=c.created + timedelta(days=1),
        )
        msgs = []
        if c.first_words is not None:
            msgs.append(
                Message(id=f"{c.id}-m0", conversation_id=c.id, author_id=c.customer, author_role="customer",
                        body=c.first_words, created_at=c.created)
            )  # fmt: skip
            msgs.append(
                Message(id=f"{c.id}-m9", conversation_id=c.id, author_id=c.customer, author_role="customer",
                        body=LATER, created_at=c.created + timedelta(hours=5))
            )  # fmt: skip
        for k, agent in enumerate(c.repliers):
            msgs.append(
                Message(id=f"{c.id}-a{k}", conversation_id=c.id, author_id=agent, author_role="agent",
                        created_at=c.created + timedelta(hours=1 + k))
            )  # fmt: skip
        msgs.append(  # private notes do not make an agent "involved"
            Message(id=f"{c.id}-n", conversation_id=c.id, author_id="a9", author_role="agent", public=False,
                    created_at=c.created + timedelta(minutes=5))
        )  # fmt: skip
        batch.append((conv, msgs))
        ratings += [
            SatisfactionRating(id=rid, conversation_id=c.id, customer_id=c.customer, score=score, created_at=at)
            for rid, at, score in c.ratings
        ]
    store.write_conversations(account, batch)
    store.upsert_ratings(account, ratings)
    store.set_cursor(account, "conversations", END, items=len(world), at=END)


def oracle_theme(tags: list[str]) -> str:
    left = [t.strip().lower() for t in tags if t.strip().lower() != "vip"]
    return left[0] if left else "untagged"


def _first_text(c: Conv) -> str | None:
    """The first customer message with text (the store keeps none for blank ones)."""
    if c.first_words is None:
        return None
    return c.first_words.strip()[:1000] or LATER


def expected_digest(world: list[Conv], period: Period, *, examples: int) -> dict[str, Any]:
    prev = period.previous()
    now = [c for c in world if period.start <= c.created < period.end]
    before = [c for c in world if prev.start <= c.created < prev.end]
    themes = {oracle_theme(c.tags) for c in now + before}
    rows = []
    for theme in themes:
        mine = [c for c in now if oracle_theme(c.tags) == theme]
        old = [c for c in before if oracle_theme(c.tags) == theme]
        latest = [max(c.ratings, key=lambda r: (r[1], r[0]))[2] for c in mine if c.ratings]
        agents: Counter[str] = Counter()
        for c in mine:
            agents.update({*c.repliers, *([c.assignee] if c.assignee else [])})
        newest = sorted(mine, key=lambda c: (c.created, c.id), reverse=True)[:examples]
        rows.append(
            {
                "theme": theme,
                "conversations": len(mine),
                "customers": len({c.customer for c in mine if c.customer}),
                "previous_conversations": len(old),
                "previous_customers": len({c.customer for c in old if c.customer}),
                "good": latest.count("good"),
                "bad": latest.count("bad"),
                "agents": sorted(agents.items(), key=lambda kv: (-kv[1], kv[0])),
                "examples": [(c.id, f"https://hd.test/t/{c.id}", quote_of(_first_text(c))) for c in newest],
            }
        )
    rows.sort(key=lambda r: (-r["conversations"], -r["customers"], -r["previous_conversations"], r["theme"]))
    return {
        "conversations": len(now),
        "customers": len({c.customer for c in now if c.customer}),
        "previous": len(before),
        "themes": rows if now else [],
    }


def actual_digest(store: Store, period: Period, *, examples: int) -> dict[str, Any]:
    report = build_digest(
        store,
        "acct",
        period=period,
        themes=ThemeMap.of(ignore=["vip"]),
        examples=examples,
        link=lambda cid: f"https://hd.test/t/{cid}",
    )
    return {
        "conversations": report.conversations,
        "customers": report.customers,
        "previous": report.previous_conversations,
        "themes": [
            {
                "theme": t.theme,
                "conversations": t.conversations,
                "customers": t.customers,
                "previous_conversations": t.previous_conversations,
                "previous_customers": t.previous_customers,
                "good": t.good,
                "bad": t.bad,
                "agents": [(a, n) for a, _, n in t.agents],
                "examples": [(e.conversation_id, e.url, e.quote) for e in t.examples],
            }
            for t in report.themes
        ],
    }


def test_digest_matches_brute_force_on_random_worlds(store_url: str) -> None:
    with Store.open(store_url) as store:
        for seed in range(3):
            world = make_world(seed)
            load(store, world, account="acct")
            for period, examples in ((PERIOD, 3), (Period(END - timedelta(days=7), END), 1)):
                assert actual_digest(store, period, examples=examples) == expected_digest(
                    world, period, examples=examples
                )
            with store.begin() as conn:  # the next seed starts from an empty account
                for name in ("conversations", "messages", "ratings"):
                    conn.execute(store.t[name].delete())


def test_small_digest_by_hand(tmp_path: Any) -> None:
    day = timedelta(days=1)
    world = [
        Conv("1", "ann", "a1", "solved", ["refund"], END - 2 * day, ["a2"], "Refund please, ann@x.io",
             [("r1", END - day, "good")]),
        Conv("2", "ann", "a1", "open", ["refund"], END - 3 * day),
        Conv("3", "bob", None, "new", ["refund"], END - 40 * day),  # previous period
        Conv("4", None, "a2", "open", [], END - 5 * day, [], None, [("r2", END - 4 * day, "bad")]),
    ]  # fmt: skip
    with Store.open(tmp_path / "s.db") as store:
        load(store, world)
        report = build_digest(store, "acct", period=PERIOD, themes=ThemeMap(), agent_names={"a1": "Ann Agent"})
    assert (report.conversations, report.customers, report.previous_conversations) == (3, 1, 1)
    refund, untagged = report.themes
    assert (refund.theme, refund.conversations, refund.customers, refund.previous_conversations) == ("refund", 2, 1, 1)
    assert (refund.change, refund.change_share, refund.good, refund.bad, refund.good_share) == (1, 1.0, 1, 0, 1.0)
    assert refund.agents == [("a1", "Ann Agent", 2), ("a2", "a2", 1)]
    assert [(e.conversation_id, e.quote, e.url) for e in refund.examples] == [
        ("1", "Refund please, [email]", None),
        ("2", None, None),
    ]
    assert (untagged.theme, untagged.conversations, untagged.customers, untagged.bad) == ("untagged", 1, 0, 1)
    assert untagged.change_share is None  # nothing before: no relative change


def test_empty_period_is_a_clear_empty_report(tmp_path: Any) -> None:
    with Store.open(tmp_path / "s.db") as store:
        load(store, [Conv("1", "ann", "a1", "open", ["x"], END - timedelta(days=45))])
        report = build_digest(store, "acct", period=PERIOD, themes=ThemeMap())
    assert report.empty and report.themes == [] and report.previous_conversations == 1
    assert report.to_dict()["message"] == "no conversations in range"
