"""The `Profile` an agent sees, the history facts it is built from, and the builder that runs enrichers.

History arrives as a plain `CustomerHistory` so this module never touches the store: `enrichment.history`
fills it from the store and the router's affinity (`StoreHistory`, `build_histories` for plain models).
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from ..errors import ConfigError, HumansupportError
from ..extensions import Enricher
from ..models import Customer, RatingScore

if TYPE_CHECKING:
    from ..testing.synthetic import SyntheticHistory

__all__ = [
    "CONTEXT_HISTORY",
    "CONTEXT_NOW",
    "CONTEXT_SETTINGS",
    "DEFAULT_ORDER",
    "PROFILE_FIELDS",
    "ConversationSummary",
    "CustomerHistory",
    "EnrichmentError",
    "EnrichmentSettings",
    "Profile",
    "ProfileBuilder",
    "RatingPoint",
    "history_from_synthetic",
    "local_time",
]

CONTEXT_HISTORY: Final = "history"
"""Context key: the customer's `CustomerHistory` (absent when the store has none yet)."""
CONTEXT_NOW: Final = "now"
"""Context key: the injected aware `datetime` every "days ago" and local time is computed from."""
CONTEXT_SETTINGS: Final = "settings"
"""Context key: the `EnrichmentSettings` in force."""

DEFAULT_ORDER: Final = ("helpdesk", "history", "consented_details", "picture", "social_links")


class EnrichmentError(HumansupportError):
    """An enricher broke its contract (an undeclared field, an unknown field) or failed; names the enricher."""

    def __init__(self, message: str, *, enricher: str, field: str | None = None) -> None:
        super().__init__(message)
        self.enricher = enricher
        self.field = field


@dataclass(frozen=True, kw_only=True)
class EnrichmentSettings:
    """Everything enrichment is configured with; the CLI fills it from `humansupport.toml`.

    `allowed_fields` is the consent allow-list: write-back keys (``picture_url``, ``details.pronouns``,
    ``social.*``; shell-style patterns) that may ever be written to the helpdesk. Empty allows nothing.
    """

    allowed_fields: frozenset[str] = frozenset()
    order: tuple[str, ...] = DEFAULT_ORDER
    details_file: Path | None = None
    gravatar_default: str = "identicon"
    gravatar_hash: Literal["sha256", "md5"] = "sha256"
    gravatar_size: int = 200
    attribute_prefix: str = "humansupport_"
    tags: tuple[str, ...] = ()
    note: bool = True
    max_value_length: int = 255
    max_note_length: int = 4000
    do_not_enrich_tags: frozenset[str] = frozenset({"do_not_enrich", "do-not-enrich"})
    do_not_enrich_attributes: frozenset[str] = frozenset({"do_not_enrich"})
    top_tags: int = 5

    def __post_init__(self) -> None:
        if not self.attribute_prefix or not self.attribute_prefix.replace("_", "").isalnum():
            raise ConfigError(f"attribute_prefix must be letters, digits and '_', got {self.attribute_prefix!r}")
        if self.max_value_length < 16 or self.max_note_length < 16:
            raise ConfigError("max_value_length and max_note_length must be at least 16")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> EnrichmentSettings:
        """From the ``[enrichment]`` table of `humansupport.toml` (lists become sets/tuples, paths Paths)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown enrichment setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        values: dict[str, Any] = dict(data)
        for name in ("allowed_fields", "do_not_enrich_tags", "do_not_enrich_attributes"):
            if name in values:
                values[name] = frozenset(_strings(values[name], name))
        for name in ("order", "tags"):
            if name in values:
                values[name] = tuple(_strings(values[name], name))
        if values.get("details_file") is not None:
            values["details_file"] = Path(values["details_file"])
        return cls(**values)

    def allows(self, key: str) -> bool:
        """Whether the consent allow-list lets `key` (e.g. ``details.pronouns``) be written back."""
        return any(fnmatch.fnmatchcase(key, pattern) for pattern in self.allowed_fields)

    def opted_out(self, customer: Customer) -> bool:
        """The customer's `do_not_enrich` tag or flag: then nothing is built or written for them."""
        tags = {t.strip().lower() for t in customer.tags}
        if tags & {t.lower() for t in self.do_not_enrich_tags}:
            return True
        return any(_truthy(customer.custom_attributes.get(name)) for name in self.do_not_enrich_attributes)


def _strings(value: Any, name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"enrichment setting {name} must be a list of strings, got {value!r}")
    return list(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y", "on"}
    return bool(value)


# -- history facts ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ConversationSummary:
    """The one line an agent reads about the last conversation: subject, date, outcome."""

    conversation_id: str
    subject: str | None
    date: datetime | None
    outcome: str

    def line(self) -> str:
        day = self.date.date().isoformat() if self.date else "unknown date"
        return f"{self.subject or '(no subject)'} — {day} — {self.outcome}"


@dataclass(frozen=True, kw_only=True)
class RatingPoint:
    at: datetime | None
    score: RatingScore
    agent_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class CustomerHistory:
    """Facts about a customer's past with the team; `enrichment.history.StoreHistory` fills it from the store."""

    customer_id: str
    conversation_count: int = 0
    first_contact: datetime | None = None
    last_conversation: ConversationSummary | None = None
    ratings: tuple[RatingPoint, ...] = ()
    tag_counts: Mapping[str, int] = field(default_factory=dict)
    preferred_agent_id: str | None = None
    preferred_agent_name: str | None = None
    preferred_agent_reason: str | None = None

    def top_tags(self, n: int) -> list[str]:
        """Most frequent first, ties alphabetical so the order is stable across runs."""
        return [t for t, _ in sorted(self.tag_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def history_from_synthetic(history: SyntheticHistory, *, now: datetime | None = None) -> dict[str, CustomerHistory]:
    """Kept for existing imports: `humansupport.enrichment.history.history_from_synthetic` (the store's affinity)."""
    from .history import history_from_synthetic as from_store

    return from_store(history, now=now)


# -- the profile -----------------------------------------------------------------------------------


class Profile(BaseModel):
    """What the agent sees about a customer; `sources` says which enricher set each field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str
    name: str | None = None
    email: str | None = None
    picture_url: str | None = None
    details: dict[str, str] = Field(default_factory=dict)
    social_links: dict[str, str] = Field(default_factory=dict)
    first_contact: datetime | None = None
    conversation_count: int | None = None
    preferred_agent: str | None = None
    preferred_agent_reason: str | None = None
    last_conversation: ConversationSummary | None = None
    satisfaction_history: list[RatingPoint] = Field(default_factory=list)
    top_tags: list[str] = Field(default_factory=list)
    organization: str | None = None
    locale: str | None = None
    timezone: str | None = None
    local_time: datetime | None = None
    do_not_enrich: bool = False
    sources: dict[str, str] = Field(default_factory=dict)

    def satisfaction_line(self) -> str | None:
        """``"5 good, 1 bad (last: good on 2026-10-02)"``, or None without ratings."""
        scored = [p for p in self.satisfaction_history if p.score in (RatingScore.GOOD, RatingScore.BAD)]
        if not scored:
            return None
        good = sum(1 for p in scored if p.score is RatingScore.GOOD)
        last = scored[-1]
        when = f" on {last.at.date().isoformat()}" if last.at else ""
        return f"{good} good, {len(scored) - good} bad (last: {last.score.value}{when})"


_NOT_PROVIDED: Final = frozenset({"customer_id", "local_time", "do_not_enrich", "sources"})
PROFILE_FIELDS: Final = frozenset(Profile.model_fields) - _NOT_PROVIDED
"""Field names an enricher may declare in `provides`."""
_DICT_FIELDS: Final = frozenset({"details", "social_links"})


def local_time(timezone: str | None, now: datetime) -> datetime | None:
    """`now` in the customer's IANA timezone, or None when the zone is missing or unknown."""
    if not timezone:
        return None
    try:
        return now.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return None


class ProfileBuilder:
    """Runs enrichers concurrently and merges their fields in configured order: the earlier enricher wins.

    Dict fields (`details`, `social_links`) merge key by key under the same rule. Details outside the
    consent allow-list are dropped here, so no card or patch ever shows them.
    """

    def __init__(self, enrichers: Sequence[Enricher], *, settings: EnrichmentSettings | None = None) -> None:
        self.settings = settings or EnrichmentSettings()
        by_name: dict[str, Enricher] = {}
        for enricher in enrichers:
            name = enricher.name
            if name in by_name:
                raise ConfigError(f"two enrichers are named {name!r}")
            unknown = sorted(set(enricher.provides) - PROFILE_FIELDS)
            if unknown:
                raise EnrichmentError(
                    f"enricher {name!r} declares unknown profile field(s) {', '.join(unknown)}",
                    enricher=name,
                    field=unknown[0],
                )
            by_name[name] = enricher
        missing = [n for n in self.settings.order if n not in by_name]
        if missing:
            raise ConfigError(
                f"enrichment order names unknown enricher(s) {', '.join(missing)} (known: {', '.join(sorted(by_name))})"
            )
        # configured ones first, in order; any others after, in the order given
        ordered = [by_name[n] for n in self.settings.order]
        ordered += [e for e in enrichers if e.name not in self.settings.order]
        self.enrichers: tuple[Enricher, ...] = tuple(ordered)

    async def build(
        self,
        customer: Customer,
        *,
        now: datetime,
        history: CustomerHistory | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Profile:
        """The customer's profile; an opted-out customer gets only their id and `do_not_enrich=True`."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if self.settings.opted_out(customer):
            return Profile(customer_id=customer.id, do_not_enrich=True)
        ctx: dict[str, Any] = {**(context or {}), CONTEXT_NOW: now, CONTEXT_SETTINGS: self.settings}
        if history is not None:
            ctx[CONTEXT_HISTORY] = history
        results = await asyncio.gather(*(self._run(e, customer, ctx) for e in self.enrichers))
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for enricher, result in zip(self.enrichers, results, strict=True):
            for key, value in result.items():
                if value is None or (isinstance(value, list | dict | tuple) and not value):
                    continue
                if key in _DICT_FIELDS:
                    merged = values.setdefault(key, {})
                    for sub, sub_value in dict(value).items():
                        if sub_value in (None, "") or sub in merged:
                            continue
                        if key == "details" and not self.settings.allows(f"details.{sub}"):
                            continue
                        merged[sub] = str(sub_value)
                        sources[f"{key}.{sub}"] = enricher.name
                elif key not in values:
                    values[key] = value
                    sources[key] = enricher.name
        try:
            return Profile(
                customer_id=customer.id,
                local_time=local_time(values.get("timezone"), now),
                sources=sources,
                **values,
            )
        except PydanticValidationError as exc:
            bad = str(exc.errors()[0]["loc"][0]) if exc.errors() and exc.errors()[0]["loc"] else "?"
            culprit = sources.get(bad, "?")
            raise EnrichmentError(
                f"enricher {culprit!r} gave {bad!r} a value of the wrong type for customer {customer.id}: "
                f"{exc.errors()[0]['msg']}",
                enricher=culprit,
                field=bad,
            ) from exc

    @staticmethod
    async def _run(enricher: Enricher, customer: Customer, ctx: Mapping[str, Any]) -> Mapping[str, Any]:
        try:
            result = await enricher.enrich(customer, ctx)
        except HumansupportError:
            raise
        except Exception as exc:
            raise EnrichmentError(
                f"enricher {enricher.name!r} failed for customer {customer.id}: {type(exc).__name__}: {exc}",
                enricher=enricher.name,
            ) from exc
        undeclared = sorted(set(result) - set(enricher.provides))
        if undeclared:
            raise EnrichmentError(
                f"enricher {enricher.name!r} returned field(s) it does not declare in `provides`: "
                f"{', '.join(undeclared)}",
                enricher=enricher.name,
                field=undeclared[0],
            )
        return result
