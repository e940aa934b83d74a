"""Deterministic synthetic support history shared by tests, the demo, the benchmarks and the vendor fakes.

Routing, rebalance and relationship metrics only show their worth on data with real patterns, so the
history has them: heavy-tailed contact frequency, business-hour arrival in the customer's timezone, a
usual agent per customer who gets returning conversations with probability `continuity`, a backlog of
open (some unassigned) conversations at `end`, away/offline agents, one deactivated agent with past
history, and ratings that are better when the usual agent answered.

Everything comes from one ``random.Random(config.seed)``: the same config always yields the same history,
and nothing reads the wall clock.

Ids are numeric-looking strings so fakes of int-keyed helpdesks can use ``int(id)``:
groups from ``101``, agents from ``2001``, customers from ``10001``, conversations from ``100001``,
messages from ``10000001``, ratings from ``700001``. Agents and customers never share an id (both are
"users" in some helpdesks). Within a type ids are unique; across types only agent/customer uniqueness is promised.

Size: with the defaults a customer has about 11 conversations and ~50 messages per 12 months (the ratio
scales linearly with ``months``), so ``customers=20000`` streams roughly 1 M messages (~10 s); the default
300 customers give ~14 000 messages in ~0.2 s.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from humansupport.models import (
    Agent,
    AgentAvailability,
    AuthorRole,
    Conversation,
    ConversationStatus,
    Customer,
    Group,
    Message,
    RatingScore,
    SatisfactionRating,
)

__all__ = [
    "PRODUCT_AREAS",
    "PRODUCT_AREA_FIELD",
    "HistoryConfig",
    "SyntheticHistory",
    "generate_history",
    "iter_history_conversations",
]

#: the one conversation custom field every synthetic conversation carries (`Conversation.custom_fields`); its
#: value comes from the conversation's topic, so it costs no random draw and differs from the tag themes
PRODUCT_AREA_FIELD: Final = "product_area"

_DAY: Final = 86_400
_HOUR: Final = 3_600

# Id bases (see module docstring).
_GROUP_BASE: Final = 101
_AGENT_BASE: Final = 2_001
_CUSTOMER_BASE: Final = 10_001
_CONVERSATION_BASE: Final = 100_001
_MESSAGE_BASE: Final = 10_000_001
_RATING_BASE: Final = 700_001

# Unresolved conversations were created in this many days before `end`; resolved ones may be anywhere.
_OPEN_WINDOW_DAYS: Final = 14
# A resolved conversation is CLOSED once its last message is older than this; closing happens later.
_CLOSE_AFTER_DAYS: Final = 7
_CLOSE_DELAY_DAYS: Final = 4
# Messages end at least this long before `end`, so ratings and closing fit inside the window.
_TAIL_MARGIN: Final = 600


@dataclass(frozen=True, kw_only=True)
class HistoryConfig:
    """Size and shape of a synthetic history; every knob has a realistic default.

    ``contacts_per_year`` is the median contact rate; ``contact_spread`` is the log-normal sigma that
    makes it heavy-tailed (most customers 1-3 a year, a minority 10+), capped at ``max_contacts_per_year``.
    ``open_share`` counts every unresolved conversation (new/open/pending/on_hold) at ``end``.
    """

    seed: int = 7
    customers: int = 300
    agents: int = 12
    groups: int = 3
    months: int = 12
    end: datetime = datetime(2026, 11, 1, tzinfo=UTC)
    continuity: float = 0.7
    home_group_share: float = 0.85
    contacts_per_year: float = 2.2
    contact_spread: float = 1.9
    max_contacts_per_year: float = 150.0
    open_share: float = 0.06
    unassigned_share: float = 0.3
    reopen_share: float = 0.05
    away_share: float = 0.2
    deactivated_agents: int = 1
    rating_rate: float = 0.3
    pii_rate: float = 0.1

    def __post_init__(self) -> None:
        if self.end.tzinfo is None:
            raise ValueError("HistoryConfig.end must be timezone-aware")
        if self.customers < 1 or self.agents < 1 or self.groups < 1 or self.months < 1:
            raise ValueError("customers, agents, groups and months must be at least 1")
        if self.groups > self.agents:
            raise ValueError("every group needs an agent: groups must not exceed agents")
        if self.deactivated_agents < 0:
            raise ValueError("deactivated_agents must not be negative")
        if self.contacts_per_year <= 0 or self.contact_spread < 0 or self.max_contacts_per_year <= 0:
            raise ValueError("contact rates must be positive")
        for name in (
            "continuity",
            "home_group_share",
            "open_share",
            "unassigned_share",
            "reopen_share",
            "away_share",
            "rating_rate",
            "pii_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value!r}")

    @property
    def start(self) -> datetime:
        """`months` calendar months before `end` (day clamped to 28): the history's first instant."""
        end = self.end.astimezone(UTC)
        years, month0 = divmod(end.month - 1 - self.months, 12)
        return end.replace(year=end.year + years, month=month0 + 1, day=min(end.day, 28))


@dataclass(frozen=True, kw_only=True)
class SyntheticHistory:
    """A whole generated history in memory; `usual_agents` is the ground truth routing should find."""

    config: HistoryConfig
    groups: list[Group]
    agents: list[Agent]
    customers: list[Customer]
    conversations: list[Conversation]
    messages: dict[str, list[Message]]
    ratings: list[SatisfactionRating]
    usual_agents: dict[str, str] = field(default_factory=dict, repr=False)

    def message_count(self) -> int:
        return sum(len(thread) for thread in self.messages.values())

    def open_conversations(self) -> list[Conversation]:
        """Conversations that wait on the team at `end` (``status.is_open``: new/open/on_hold)."""
        return [c for c in self.conversations if c.status.is_open]

    def usual_agent(self, customer_id: str) -> str | None:
        """The agent a customer mostly talks to (may be deactivated; routing must then fall back)."""
        return self.usual_agents.get(customer_id)


def generate_history(config: HistoryConfig | None = None, /, **overrides: Any) -> SyntheticHistory:
    """Builds the whole history in memory; ``overrides`` replace fields of `config` (or the defaults)."""
    cfg = _configure(config, overrides)
    gen = _Generator(cfg)
    conversations: list[Conversation] = []
    messages: dict[str, list[Message]] = {}
    ratings: list[SatisfactionRating] = []
    # Tens of thousands of long-lived objects would trigger repeated full GC passes (~1/3 of the time).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for conversation, thread, rating in gen.conversations():
            conversations.append(conversation)
            messages[conversation.id] = thread
            if rating is not None:
                ratings.append(rating)
    finally:
        if gc_was_enabled:
            gc.enable()
    return SyntheticHistory(
        config=cfg,
        groups=gen.groups,
        agents=gen.agents,
        customers=gen.customers,
        conversations=conversations,
        messages=messages,
        ratings=ratings,
        usual_agents={c.id: gen.agents[p.usual].id for c, p in zip(gen.customers, gen.profiles, strict=True)},
    )


def iter_history_conversations(
    config: HistoryConfig | None = None, /, **overrides: Any
) -> Iterator[tuple[Conversation, list[Message], SatisfactionRating | None]]:
    """Streams the same conversations as `generate_history`, in the same order, for million-message benches.

    Memory grows with the number of customers, not of messages. Order is customer by customer, each
    customer's conversations in time order (sort by ``created_at`` for a global timeline).
    """
    cfg = _configure(config, overrides)
    return _Generator(cfg).conversations()


def _configure(config: HistoryConfig | None, overrides: dict[str, Any]) -> HistoryConfig:
    base = config if config is not None else HistoryConfig()
    return dataclasses.replace(base, **overrides) if overrides else base


# --------------------------------------------------------------------------------------------- vocabulary

_GROUP_NAMES: Final = ("Billing", "Technical", "Onboarding", "Accounts", "Integrations", "Shipping")


@dataclass(frozen=True, slots=True)
class _Topic:
    subject: str
    tags: tuple[str, ...]
    opener: str


#: product area by a topic's second tag (its specific subject); several topics share an area
_AREA_BY_TAG: Final[dict[str, str]] = {
    "refund": "payments",
    "double-charge": "payments",
    "invoice": "payments",
    "plan-change": "plans",
    "login": "sign-in",
    "api": "developer-api",
    "export": "data-export",
    "setup": "workspace-setup",
    "invite": "team-invites",
    "import": "data-import",
    "gdpr": "privacy",
    "ownership": "account-settings",
    "profile": "account-settings",
    "slack": "chat-apps",
    "salesforce": "crm-sync",
    "tracking": "deliveries",
    "damage": "deliveries",
}
#: every value `product_area` takes, sorted (fakes give dropdown options stable ids from this order)
PRODUCT_AREAS: Final[tuple[str, ...]] = tuple(sorted(set(_AREA_BY_TAG.values())))

_TOPICS: Final[dict[str, tuple[_Topic, ...]]] = {
    "Billing": (
        _Topic(
            "Refund for invoice INV-{n}",
            ("billing", "refund"),
            "I was charged for invoice INV-{n} after I cancelled. Can I get a refund?",
        ),
        _Topic(
            "Charged twice this month",
            ("billing", "double-charge"),
            "My card was charged twice this month for the same subscription.",
        ),
        _Topic(
            "How do I change my plan?",
            ("billing", "plan-change"),
            "We want to move to a different plan. How do I do that without losing data?",
        ),
        _Topic(
            "Invoice address is wrong",
            ("billing", "invoice"),
            "The billing address on our last invoice is wrong, please update it.",
        ),
    ),
    "Technical": (
        _Topic(
            "Can't log in since this morning",
            ("technical", "login"),
            "I can't log in since this morning, it just says 'invalid session'.",
        ),
        _Topic(
            "API returns 500 on /v2/orders",
            ("technical", "api"),
            "Our integration gets HTTP 500 from /v2/orders since yesterday (request id req_{n}).",
        ),
        _Topic(
            "Webhook deliveries failing",
            ("technical", "api", "webhooks"),
            "None of our webhooks were delivered in the last hours.",
        ),
        _Topic(
            "Export to CSV times out",
            ("technical", "export"),
            "Exporting our data to CSV times out after a minute.",
        ),
        _Topic(
            "Two-factor code not arriving",
            ("technical", "login", "2fa"),
            "The two-factor code never arrives on my phone.",
        ),
    ),
    "Onboarding": (
        _Topic(
            "Help setting up my workspace",
            ("onboarding", "setup"),
            "We just signed up. Could someone walk us through setting up the workspace?",
        ),
        _Topic(
            "How do I invite my team?",
            ("onboarding", "invite"),
            "How do I invite the rest of my team? The invite button is greyed out.",
        ),
        _Topic(
            "Importing data from a spreadsheet",
            ("onboarding", "import"),
            "I'd like to import about {n} rows from a spreadsheet. What format do you need?",
        ),
    ),
    "Accounts": (
        _Topic(
            "Please delete my account",
            ("accounts", "gdpr"),
            "Please delete my account and all personal data you hold about me.",
        ),
        _Topic(
            "Change account owner",
            ("accounts", "ownership"),
            "Our account owner left the company. How do we transfer ownership?",
        ),
        _Topic(
            "Update my email address",
            ("accounts", "profile"),
            "I need to change the email address on my account.",
        ),
    ),
    "Integrations": (
        _Topic(
            "Slack integration not posting",
            ("integrations", "slack"),
            "The Slack integration stopped posting to our channel.",
        ),
        _Topic(
            "Salesforce sync stuck",
            ("integrations", "salesforce"),
            "The Salesforce sync has been stuck at {n}% for a day.",
        ),
    ),
    "Shipping": (
        _Topic(
            "Where is my order #{n}?",
            ("shipping", "tracking"),
            "Order #{n} was supposed to arrive last week. Where is it?",
        ),
        _Topic(
            "Package arrived damaged",
            ("shipping", "damage"),
            "The package arrived damaged. What are my options?",
        ),
    ),
}

_CUSTOMER_FOLLOWUPS: Final = (
    "Thanks, that worked!",
    "Still seeing the same problem, any update?",
    "Here is a screenshot of what I see.",
    "Could you check again please? It happened again just now.",
    "Great, thank you {agent_first}!",
    "Sorry for the late reply. Yes, that's the account.",
    "It works on my laptop but not on my phone.",
)
_AGENT_REPLIES: Final = (
    "Hi {first}, thanks for reaching out! I'm looking into this now.",
    "Hi {first}, I've fixed this on our side. Could you try again?",
    "Thanks {first}. Could you send me the exact error message you see?",
    "I've escalated this to our engineers and will update you within a day.",
    "Done! Let me know if anything else comes up. {agent_first}",
    "Hi {first}, good news: this is sorted. Have a great day!",
    "I can see what happened there. I've corrected it and added a note to your account.",
)
_NOTES: Final = (
    "Checked the logs: matches known issue ENG-{n}.",
    "Customer is on the {plan} plan; offered a one-month credit.",
    "Repro'd on staging, filed a bug.",
    "Second time this quarter for this customer, keep an eye on it.",
)
_PII_SNIPPETS: Final = (
    " You can reach me at {email} or {phone}.",
    " My colleague {other_email} has the details.",
    " Call me on {phone} if easier.",
)
_GOOD_COMMENTS: Final = (
    "Thanks {agent_first}, super helpful!",
    "Quick and friendly as always.",
    "Solved in minutes, great service.",
)
_BAD_COMMENTS: Final = (
    "Took far too long.",
    "Had to explain everything again to someone new.",
    "Problem isn't really solved.",
)

_FIRST_NAMES: Final = (
    "Ada", "Ben", "Chloe", "Dmitri", "Elena", "Farah", "Gustavo", "Hana", "Ivan", "Jana", "Kofi", "Lena",
    "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tomás", "Uma", "Víctor", "Wen", "Yara",
    "Zoë", "Aiko", "Bruno", "Camille", "Dario", "Emeka",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Andersen", "Bianchi", "Costa", "Dubois", "Eriksson", "Fischer", "García", "Haddad", "Ito", "Jensen",
    "Kowalski", "López", "Müller", "Nakamura", "Okafor", "Petrov", "Quispe", "Rossi", "Silva", "Tanaka",
    "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhang",
)  # fmt: skip
_ORGS: Final = (
    "Acme Widgets", "Globex", "Initech", "Umbrella Analytics", "Stark Logistics", "Wayne Foods", "Hooli",
    "Vandelay Imports", "Soylent Labs", "Tyrell Systems", "Wonka Sweets", "Pied Piper", "Massive Dynamic",
    "Monarch Travel", "Bluth Company", "Dunder Mifflin", "Prestige Worldwide", "Oceanic Air",
)  # fmt: skip
# (locale, timezone, UTC offset in hours; DST ignored: it only shapes business-hour arrival)
_LOCALES: Final = (
    ("en-US", "America/New_York", -5.0),
    ("en-US", "America/Los_Angeles", -8.0),
    ("en-GB", "Europe/London", 0.0),
    ("de-DE", "Europe/Berlin", 1.0),
    ("fr-FR", "Europe/Paris", 1.0),
    ("es-ES", "Europe/Madrid", 1.0),
    ("pt-BR", "America/Sao_Paulo", -3.0),
    ("ja-JP", "Asia/Tokyo", 9.0),
    ("en-IN", "Asia/Kolkata", 5.5),
    ("en-AU", "Australia/Sydney", 10.0),
)
_LOCALE_WEIGHTS: Final = (30, 12, 14, 12, 6, 5, 6, 5, 5, 5)
_PLANS: Final = ("free", "starter", "pro", "enterprise")
_PLAN_WEIGHTS: Final = (30, 35, 25, 10)
_CUSTOMER_TAGS: Final = ("beta", "newsletter", "partner", "churn-risk", "trial")
_CHANNELS: Final = ("email", "chat", "web", "phone")
_CHANNEL_WEIGHTS: Final = (45, 25, 20, 10)
_MESSAGE_COUNTS: Final = (2, 3, 4, 5, 6, 7, 8)
_MESSAGE_COUNT_WEIGHTS: Final = (12, 20, 20, 16, 13, 10, 9)
# Arrival weight per local hour and weekday: most contacts in business hours on weekdays.
_HOUR_WEIGHTS: Final = (
    0.04, 0.03, 0.03, 0.03, 0.04, 0.06, 0.12, 0.3, 0.7, 1.0, 1.0, 1.0,
    0.9, 1.0, 1.0, 1.0, 0.9, 0.6, 0.4, 0.3, 0.25, 0.15, 0.1, 0.06,
)  # fmt: skip
_WEEKEND_WEIGHT: Final = 0.3
# Mean seconds until the next agent / customer message, by channel.
_AGENT_GAP: Final = {"email": 4 * _HOUR, "web": 5 * _HOUR, "chat": 120, "phone": 600}
_CUSTOMER_GAP: Final = {"email": 8 * _HOUR, "web": 10 * _HOUR, "chat": 90, "phone": 900}


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch if ch.isalnum() else "-" for ch in ascii_text.lower()).strip("-")


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# --------------------------------------------------------------------------------------------- generator


@dataclass(slots=True)
class _Profile:
    """Hidden per-customer traits that drive conversations but are not in the Customer record."""

    first: str
    plan: str
    home_group: int
    usual: int
    yearly_rate: float
    utc_offset: int
    email: str


class _Generator:
    """Builds the organisation eagerly, then streams conversations from the same RNG."""

    def __init__(self, config: HistoryConfig) -> None:
        self.cfg = config
        self.rng = random.Random(config.seed)
        self.end_ts = int(config.end.timestamp())
        self.start_ts = int(config.start.timestamp())
        self.groups: list[Group] = []
        self.agents: list[Agent] = []
        self.customers: list[Customer] = []
        self.profiles: list[_Profile] = []
        self.group_topics: list[tuple[_Topic, ...]] = []
        self.members: list[list[int]] = []
        self.deactivated_at: dict[int, int] = {}
        self._build_organisation()
        self._build_customers()

    # ---- organisation

    def _build_organisation(self) -> None:
        cfg, rng = self.cfg, self.rng
        names: list[str] = []
        for g in range(cfg.groups):
            base = _GROUP_NAMES[g % len(_GROUP_NAMES)]
            cycle = g // len(_GROUP_NAMES)
            names.append(base if cycle == 0 else f"{base} {cycle + 1}")
            self.group_topics.append(_TOPICS[base])
        self.members = [[] for _ in range(cfg.groups)]
        agent_groups: list[list[int]] = []
        for a in range(cfg.agents):
            mine = [a % cfg.groups]
            if cfg.groups > 1 and rng.random() < 0.35:
                mine.append(rng.choice([g for g in range(cfg.groups) if g != mine[0]]))
            agent_groups.append(mine)
            for g in mine:
                self.members[g].append(a)

        # Deactivated agents: only those whose every group keeps another active member.
        deactivated: list[int] = []
        for _ in range(cfg.deactivated_agents):
            candidates = [
                a
                for a in range(cfg.agents)
                if a not in deactivated
                and all(any(m != a and m not in deactivated for m in self.members[g]) for g in agent_groups[a])
            ]
            if not candidates:
                break
            deactivated.append(rng.choice(candidates))
        span = self.end_ts - self.start_ts
        for a in deactivated:
            self.deactivated_at[a] = self.end_ts - int(span * rng.uniform(0.15, 0.35))

        active = [a for a in range(cfg.agents) if a not in self.deactivated_at]
        n_away = round(cfg.away_share * len(active))
        if cfg.away_share > 0 and len(active) >= 4:
            n_away = max(n_away, 1)
        away = rng.sample(active, min(n_away, max(len(active) - 1, 0)))

        for a in range(cfg.agents):
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            if a in self.deactivated_at:
                availability = AgentAvailability.OFFLINE
            elif a in away:
                availability = rng.choice((AgentAvailability.AWAY, AgentAvailability.OFFLINE))
            else:
                availability = AgentAvailability.AVAILABLE
            agent_id = str(_AGENT_BASE + a)
            self.agents.append(
                Agent(
                    id=agent_id,
                    name=f"{first} {last}",
                    email=f"{_slug(first)}.{_slug(last)}.{agent_id}@support.example.com",
                    active=a not in self.deactivated_at,
                    availability=availability,
                    capacity=rng.randint(5, 25),
                    group_ids=[str(_GROUP_BASE + g) for g in agent_groups[a]],
                    avatar_url=f"https://avatars.example.com/agents/{agent_id}.png" if rng.random() < 0.8 else None,
                )
            )
        for g, name in enumerate(names):
            self.groups.append(
                Group(
                    id=str(_GROUP_BASE + g),
                    name=name,
                    agent_ids=[str(_AGENT_BASE + a) for a in self.members[g]],
                )
            )

    # ---- customers

    def _build_customers(self) -> None:
        cfg, rng = self.cfg, self.rng
        used_locals: dict[str, int] = {}
        group_weights = [cfg.groups - g + 1 for g in range(cfg.groups)]
        org_plans = {org: rng.choices(_PLANS, weights=(0, 20, 45, 35))[0] for org in _ORGS}
        for c in range(cfg.customers):
            cid = str(_CUSTOMER_BASE + c)
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            org = rng.choice(_ORGS) if rng.random() < 0.6 else None
            domain = f"{_slug(org)}.test" if org else "example.com"
            local = f"{_slug(first)}.{_slug(last)}"
            seen = used_locals.get(f"{local}@{domain}", 0)
            used_locals[f"{local}@{domain}"] = seen + 1
            email = f"{local}{seen + 1 if seen else ''}@{domain}"
            emails = [email]
            if rng.random() < 0.15:
                emails.append(f"{_slug(first)}{c}@example.test")
            locale, tz, offset = rng.choices(_LOCALES, weights=_LOCALE_WEIGHTS)[0]
            plan = org_plans[org] if org else rng.choices(_PLANS, weights=_PLAN_WEIGHTS)[0]
            tags = [t for t in _CUSTOMER_TAGS if rng.random() < 0.08]
            if plan == "enterprise" and rng.random() < 0.5:
                tags.insert(0, "vip")
            created = self.start_ts - rng.randint(1, 900) * _DAY - rng.randint(0, _DAY - 1)
            updated = rng.randint(created, self.end_ts - 1)
            self.customers.append(
                Customer(
                    id=cid,
                    name=f"{first} {last}",
                    email=email,
                    emails=emails,
                    phone=self._phone() if rng.random() < 0.4 else None,
                    avatar_url=f"https://avatars.example.com/u/{cid}.png" if rng.random() < 0.3 else None,
                    organization=org,
                    locale=locale,
                    timezone=tz,
                    tags=tags,
                    custom_attributes={
                        "plan": plan,
                        "seats": rng.randint(1, 5) if plan in ("free", "starter") else rng.randint(5, 400),
                        "signup_source": rng.choice(("web", "sales", "partner", "app_store")),
                        "account_id": f"ACC-{c + 1:06d}",
                    },
                    notes="Prefers email over phone." if rng.random() < 0.05 else None,
                    created_at=_ts(created),
                    updated_at=_ts(updated),
                )
            )
            home = rng.choices(range(cfg.groups), weights=group_weights)[0]
            members = self.members[home]
            usual = rng.choices(members, weights=[self.agents[a].capacity or 1 for a in members])[0]
            rate = cfg.contacts_per_year * math.exp(rng.gauss(0.0, cfg.contact_spread))
            self.profiles.append(
                _Profile(
                    first=first,
                    plan=plan,
                    home_group=home,
                    usual=usual,
                    yearly_rate=min(rate, cfg.max_contacts_per_year),
                    utc_offset=int(offset * _HOUR),
                    email=email,
                )
            )

    def _phone(self) -> str:
        # Reserved fictional ranges: NANP 555-01xx and Ofcom's 020 7946 0xxx drama numbers.
        if self.rng.random() < 0.7:
            return f"+1-555-01{self.rng.randint(0, 99):02d}"
        return f"+44 20 7946 0{self.rng.randint(0, 999):03d}"

    # ---- conversations

    def _arrival(self, lo: int, hi: int, offset: int) -> int:
        """A time in [lo, hi) biased to weekday business hours in the customer's timezone."""
        rng = self.rng
        while True:
            ts = rng.randrange(lo, hi)
            local = ts + offset
            weight = _HOUR_WEIGHTS[(local % _DAY) // _HOUR]
            if (local // _DAY + 3) % 7 >= 5:  # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
                weight *= _WEEKEND_WEIGHT
            if rng.random() < weight:
                return ts

    def _active(self, agent: int, ts: int) -> bool:
        left = self.deactivated_at.get(agent)
        return left is None or ts < left

    def _assignee(self, profile: _Profile, group: int, ts: int, first: bool) -> int:
        members = [a for a in self.members[group] if self._active(a, ts)]
        if profile.usual in members:
            if first or self.rng.random() < self.cfg.continuity:
                return profile.usual
            others = [a for a in members if a != profile.usual]
            return self.rng.choice(others) if others else profile.usual
        return self.rng.choice(members)

    def conversations(self) -> Iterator[tuple[Conversation, list[Message], SatisfactionRating | None]]:
        cfg, rng = self.cfg, self.rng
        conversation_seq = _CONVERSATION_BASE
        message_seq = _MESSAGE_BASE
        rating_seq = _RATING_BASE
        years = cfg.months / 12
        open_lo = max(self.start_ts, self.end_ts - _OPEN_WINDOW_DAYS * _DAY)
        latest = self.end_ts - _HOUR
        for customer, profile in zip(self.customers, self.profiles, strict=True):
            expected = profile.yearly_rate * years
            count = max(1, int(expected) + (1 if rng.random() < expected - int(expected) else 0))
            plan: list[tuple[int, bool]] = []
            for _ in range(count):
                unresolved = rng.random() < cfg.open_share
                lo = open_lo if unresolved else self.start_ts
                plan.append((self._arrival(lo, latest, profile.utc_offset), unresolved))
            plan.sort()
            for index, (created, unresolved) in enumerate(plan):
                conversation, thread, rating = self._conversation(
                    customer=customer,
                    profile=profile,
                    conversation_id=str(conversation_seq),
                    first_message_seq=message_seq,
                    rating_id=str(rating_seq),
                    created=created,
                    unresolved=unresolved,
                    first=index == 0,
                )
                conversation_seq += 1
                message_seq += len(thread)
                if rating is not None:
                    rating_seq += 1
                yield conversation, thread, rating

    def _conversation(
        self,
        *,
        customer: Customer,
        profile: _Profile,
        conversation_id: str,
        first_message_seq: int,
        rating_id: str,
        created: int,
        unresolved: bool,
        first: bool,
    ) -> tuple[Conversation, list[Message], SatisfactionRating | None]:
        cfg, rng = self.cfg, self.rng
        groups = cfg.groups
        if groups > 1 and rng.random() >= cfg.home_group_share:
            group = rng.choice([g for g in range(groups) if g != profile.home_group])
        else:
            group = profile.home_group
        topic = rng.choice(self.group_topics[group])
        channel = rng.choices(_CHANNELS, weights=_CHANNEL_WEIGHTS)[0]
        number = rng.randint(1000, 99999)
        unassigned = unresolved and rng.random() < cfg.unassigned_share
        reopened = rng.random() < cfg.reopen_share
        assignee = None if unassigned else self._assignee(profile, group, created, first)
        n = rng.choices(_MESSAGE_COUNTS, weights=_MESSAGE_COUNT_WEIGHTS)[0]

        if assignee is None:
            kinds = ["customer", "autoreply"] + (["customer"] if rng.random() < 0.3 else [])
            status = ConversationStatus.NEW
            reopened = False
        elif reopened and n >= (4 if unresolved else 5):
            kinds = self._kinds(n - 2 if unresolved else n - 3)
            kinds[-1] = "agent"
            kinds += ["solved", "customer"] if unresolved else ["solved", "customer", "agent"]
        else:
            reopened = False
            kinds = self._kinds(n)

        # Message times: exponential gaps by channel, squeezed to end before `end` if needed.
        gaps: list[float] = []
        for kind in kinds[1:]:
            mean = float(_CUSTOMER_GAP[channel] if kind == "customer" else _AGENT_GAP[channel])
            if kind in ("autoreply", "assign", "solved"):
                mean = 30.0
            gaps.append(max(1.0, rng.expovariate(1.0 / mean)))
        room = self.end_ts - _TAIL_MARGIN - created
        total = sum(gaps)
        if total > room - len(gaps):
            scale = (room - len(gaps)) / total
            gaps = [g * scale for g in gaps]
        times = [created]
        for gap in gaps:
            times.append(times[-1] + max(1, int(gap)))
        last = times[-1]

        if assignee is None:
            pass
        elif unresolved:
            if reopened or kinds[-1] != "agent":
                status = ConversationStatus.OPEN
            else:
                status = ConversationStatus.ON_HOLD if rng.random() < 0.1 else ConversationStatus.PENDING
        elif last < self.end_ts - _CLOSE_AFTER_DAYS * _DAY:
            status = ConversationStatus.CLOSED
        else:
            status = ConversationStatus.SOLVED

        second = self._second_agent(group, assignee, created)
        fill = {
            "first": profile.first,
            "agent_first": (self.agents[assignee].name or "").split(" ")[0] if assignee is not None else "",
            "plan": profile.plan,
            "n": str(number),
            "email": profile.email,
            "phone": "+1-555-01" + f"{number % 100:02d}",
            "other_email": f"{_slug(rng.choice(_FIRST_NAMES))}.{number % 1000}@example.com",
        }
        thread: list[Message] = []
        for i, (kind, at) in enumerate(zip(kinds, times, strict=True)):
            author_id: str | None
            public = True
            if kind == "customer":
                role, author_id = AuthorRole.CUSTOMER, customer.id
                if i == 0:
                    body = topic.opener.format_map(fill)
                    if rng.random() < cfg.pii_rate:
                        body += rng.choice(_PII_SNIPPETS).format_map(fill)
                    body += f"\n\n{profile.first}"
                else:
                    body = rng.choice(_CUSTOMER_FOLLOWUPS).format_map(fill)
            elif kind in ("agent", "note"):
                assert assignee is not None
                author = second if second is not None and rng.random() < 0.15 else assignee
                role, author_id = AuthorRole.AGENT, str(_AGENT_BASE + author)
                if kind == "note":
                    public = False
                    body = rng.choice(_NOTES).format_map(fill)
                else:
                    body = rng.choice(_AGENT_REPLIES).format_map(fill)
            else:
                role, author_id = AuthorRole.SYSTEM, None
                if kind == "autoreply":
                    body = "We received your request and will get back to you shortly."
                elif kind == "assign":
                    assert assignee is not None
                    public = False
                    body = f"Assigned to {self.agents[assignee].name}"
                else:
                    public = False
                    body = "Status changed to solved"
            thread.append(
                Message(
                    id=str(first_message_seq + i),
                    conversation_id=conversation_id,
                    author_id=author_id,
                    author_role=role,
                    public=public,
                    body=body,
                    created_at=_ts(at),
                )
            )

        updated = last
        rating: SatisfactionRating | None = None
        resolved = status in (ConversationStatus.SOLVED, ConversationStatus.CLOSED)
        if status is ConversationStatus.CLOSED:
            updated = last + _CLOSE_DELAY_DAYS * _DAY
        if resolved and assignee is not None and rng.random() < cfg.rating_rate:
            horizon = (updated if status is ConversationStatus.CLOSED else self.end_ts) - last
            rated_at = last + max(1, min(int(rng.expovariate(1.0 / (6 * _HOUR))), horizon - 1))
            updated = max(updated, rated_at)
            good = rng.random() < (0.92 if assignee == profile.usual else 0.72)
            comments = _GOOD_COMMENTS if good else _BAD_COMMENTS
            rating = SatisfactionRating(
                id=rating_id,
                conversation_id=conversation_id,
                customer_id=customer.id,
                agent_id=str(_AGENT_BASE + assignee),
                score=RatingScore.GOOD if good else RatingScore.BAD,
                comment=rng.choice(comments).format_map(fill) if rng.random() < 0.4 else None,
                created_at=_ts(rated_at),
            )

        tags = list(topic.tags)
        if reopened:
            tags.append("reopened")
        if customer.tags and customer.tags[0] == "vip":
            tags.append("vip")
        unrouted = assignee is None and rng.random() < 0.2
        conversation = Conversation(
            id=conversation_id,
            status=status,
            subject=topic.subject.format_map(fill),
            customer_id=customer.id,
            assignee_id=None if assignee is None else str(_AGENT_BASE + assignee),
            group_id=None if unrouted else str(_GROUP_BASE + group),
            channel=channel,
            tags=tags,
            created_at=_ts(created),
            updated_at=_ts(updated),
            custom_fields={PRODUCT_AREA_FIELD: _AREA_BY_TAG[topic.tags[1]]},
        )
        return conversation, thread, rating

    def _kinds(self, n: int) -> list[str]:
        """Customer first, then agent/customer turns with occasional internal notes and assign events."""
        rng = self.rng
        kinds = ["customer"]
        agent_turn = True
        while len(kinds) < n:
            r = rng.random()
            if len(kinds) == 1 and n >= 3 and r < 0.15:
                kinds.append("assign")
            elif agent_turn and r < 0.12:
                kinds.append("note")
            else:
                kinds.append("agent" if agent_turn else "customer")
                agent_turn = not agent_turn
        return kinds

    def _second_agent(self, group: int, assignee: int | None, ts: int) -> int | None:
        if assignee is None or self.rng.random() >= 0.1:
            return None
        others = [a for a in self.members[group] if a != assignee and self._active(a, ts)]
        return self.rng.choice(others) if others else None
