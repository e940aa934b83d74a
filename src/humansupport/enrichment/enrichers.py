"""Built-in enrichers and the plugin object that registers them through `register_enrichers`.

Each is a class with no constructor arguments (the registry instantiates classes); what it needs comes
from the context: `CONTEXT_SETTINGS`, `CONTEXT_NOW` and `CONTEXT_HISTORY` (see `profile`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Final
from urllib.parse import urlencode, urlsplit

from ..errors import ConfigError
from ..extensions import Enricher
from ..hookspecs import hookimpl
from ..models import Customer
from .profile import CONTEXT_HISTORY, CONTEXT_SETTINGS, CustomerHistory, EnrichmentSettings

__all__ = [
    "BUILTIN_ENRICHERS",
    "SOCIAL_NETWORKS",
    "ConsentedDetailsEnricher",
    "EnrichmentPlugin",
    "HelpdeskEnricher",
    "HistoryEnricher",
    "PictureEnricher",
    "SocialLinksEnricher",
    "gravatar_url",
    "load_details_file",
]


def _settings(context: Mapping[str, Any]) -> EnrichmentSettings:
    settings = context.get(CONTEXT_SETTINGS)
    return settings if isinstance(settings, EnrichmentSettings) else EnrichmentSettings()


class HelpdeskEnricher:
    """What the helpdesk already knows about the person: name, email, organization, locale, timezone."""

    name: ClassVar[str] = "helpdesk"
    provides: ClassVar[frozenset[str]] = frozenset({"name", "email", "organization", "locale", "timezone"})

    async def enrich(self, customer: Customer, context: Mapping[str, Any]) -> Mapping[str, Any]:
        return {
            "name": customer.name,
            "email": customer.email,
            "organization": customer.organization,
            "locale": customer.locale,
            "timezone": customer.timezone,
        }


class HistoryEnricher:
    """The shared history, from the `CustomerHistory` in the context (nothing when there is none yet)."""

    name: ClassVar[str] = "history"
    provides: ClassVar[frozenset[str]] = frozenset(
        {
            "first_contact",
            "conversation_count",
            "preferred_agent",
            "preferred_agent_reason",
            "last_conversation",
            "satisfaction_history",
            "top_tags",
        }
    )

    async def enrich(self, customer: Customer, context: Mapping[str, Any]) -> Mapping[str, Any]:
        history = context.get(CONTEXT_HISTORY)
        if not isinstance(history, CustomerHistory) or history.customer_id != customer.id:
            return {}
        return {
            "first_contact": history.first_contact,
            "conversation_count": history.conversation_count,
            "preferred_agent": history.preferred_agent_name,
            "preferred_agent_reason": history.preferred_agent_reason,
            "last_conversation": history.last_conversation,
            "satisfaction_history": list(history.ratings),
            "top_tags": history.top_tags(_settings(context).top_tags),
        }


def gravatar_url(email: str, *, default: str = "identicon", size: int = 200, algorithm: str = "sha256") -> str:
    """Gravatar's image URL for an email: the hash of the trimmed, lower-cased address; no network call.

    `default` is what Gravatar serves when the address has no image (``identicon``, ``mp``, ``404``,
    ``blank``, ... or an https URL of your own).
    """
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"gravatar hashes with sha256 or md5, not {algorithm!r}")
    digest = hashlib.new(algorithm, email.strip().lower().encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"https://gravatar.com/avatar/{digest}?{urlencode({'d': default, 's': size})}"


class PictureEnricher:
    """The helpdesk's own photo, else a Gravatar URL for the primary email."""

    name: ClassVar[str] = "picture"
    provides: ClassVar[frozenset[str]] = frozenset({"picture_url"})

    async def enrich(self, customer: Customer, context: Mapping[str, Any]) -> Mapping[str, Any]:
        if customer.avatar_url:
            return {"picture_url": customer.avatar_url}
        email = customer.email or next(iter(customer.emails), None)
        if not email:
            return {}
        s = _settings(context)
        return {
            "picture_url": gravatar_url(
                email, default=s.gravatar_default, size=s.gravatar_size, algorithm=s.gravatar_hash
            )
        }


_KEY_COLUMNS: Final = ("email", "customer_id")


def _detail_key(raw: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")


def load_details_file(path: Path) -> dict[str, dict[str, str]]:
    """Reads the team's consented-details file into ``{"email:<addr>" | "id:<id>": {detail: value}}``.

    CSV: a header row with an ``email`` and/or ``customer_id`` column, one column per detail. JSON: a
    list of such objects, or an object keyed by email or customer id. Empty values are skipped.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read the consented details file {path}: {exc.strerror or exc}") from exc
    rows: list[dict[str, Any]]
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
        if isinstance(data, dict):
            rows = []
            for key, value in data.items():
                if not isinstance(value, dict):
                    raise ConfigError(f"{path}: the entry for {key!r} must be an object of details")
                rows.append({("email" if "@" in key else "customer_id"): key, **value})
        elif isinstance(data, list) and all(isinstance(r, dict) for r in data):
            rows = data
        else:
            raise ConfigError(f"{path} must hold a list of objects or an object keyed by email or customer id")
    else:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        columns = {_detail_key(c) for c in reader.fieldnames or []}
        if not columns & set(_KEY_COLUMNS):
            raise ConfigError(f"{path} needs an 'email' or 'customer_id' column (found: {', '.join(sorted(columns))})")
        rows = list(reader)
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        clean = {_detail_key(str(k)): v for k, v in row.items() if k is not None}
        details = {
            k: str(v).strip() for k, v in clean.items() if k not in _KEY_COLUMNS and v is not None and str(v).strip()
        }
        email = str(clean.get("email") or "").strip().lower()
        cid = str(clean.get("customer_id") or "").strip()
        for key in ([f"email:{email}"] if email else []) + ([f"id:{cid}"] if cid else []):
            out.setdefault(key, {}).update(details)
    return out


class ConsentedDetailsEnricher:
    """Details the customer chose to share: the team's file first, then existing vendor fields (and phone).

    Only details whose ``details.<key>`` the consent allow-list names are returned at all.
    """

    name: ClassVar[str] = "consented_details"
    provides: ClassVar[frozenset[str]] = frozenset({"details"})

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[float, dict[str, dict[str, str]]]] = {}

    def _file(self, path: Path) -> dict[str, dict[str, str]]:
        try:
            mtime = path.stat().st_mtime
        except OSError as exc:
            raise ConfigError(f"cannot read the consented details file {path}: {exc.strerror or exc}") from exc
        cached = self._cache.get(path)
        if cached is None or cached[0] != mtime:
            cached = (mtime, load_details_file(path))
            self._cache[path] = cached
        return cached[1]

    async def enrich(self, customer: Customer, context: Mapping[str, Any]) -> Mapping[str, Any]:
        s = _settings(context)
        found: dict[str, str] = {}
        if s.details_file is not None:
            table = self._file(s.details_file)
            keys = [f"id:{customer.id}"] + [
                f"email:{e.strip().lower()}" for e in [customer.email, *customer.emails] if e
            ]
            for key in keys:
                for detail, value in table.get(key, {}).items():
                    found.setdefault(detail, value)
        vendor_fields = {**customer.custom_attributes, "phone": customer.phone}
        for attr, value in vendor_fields.items():
            if attr.startswith(s.attribute_prefix) or value is None or isinstance(value, dict | list):
                continue
            detail = _detail_key(attr)
            if str(value).strip():
                found.setdefault(detail, str(value).strip())
        return {"details": {k: v for k, v in found.items() if s.allows(f"details.{k}")}}


SOCIAL_NETWORKS: Final = {  # host -> network name; the social_links enricher recognizes these
    "linkedin.com": "linkedin",
    "twitter.com": "twitter",
    "x.com": "twitter",
    "github.com": "github",
    "facebook.com": "facebook",
    "instagram.com": "instagram",
    "youtube.com": "youtube",
    "mastodon.social": "mastodon",
    "bsky.app": "bluesky",
}
_URL: Final = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)


def _strings(value: Any, skip_prefix: str, depth: int = 0) -> Iterator[str]:
    """Every string in a vendor payload, except under keys we wrote (our copies must not feed back)."""
    if depth > 6:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not (isinstance(key, str) and key.startswith(skip_prefix)):
                yield from _strings(item, skip_prefix, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, skip_prefix, depth + 1)


def _network(url: str) -> str | None:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    host = host.removeprefix("www.").removeprefix("m.")
    for domain, network in SOCIAL_NETWORKS.items():
        if host == domain or host.endswith("." + domain):
            return network
    return None


class SocialLinksEnricher:
    """Social profile links already present in the vendor's fields (custom attributes and raw payload)."""

    name: ClassVar[str] = "social_links"
    provides: ClassVar[frozenset[str]] = frozenset({"social_links"})

    async def enrich(self, customer: Customer, context: Mapping[str, Any]) -> Mapping[str, Any]:
        prefix = _settings(context).attribute_prefix
        links: dict[str, str] = {}
        for text in _strings([customer.custom_attributes, customer.raw], prefix):
            for match in _URL.finditer(text):
                url = match.group(0).rstrip(".,;)")
                network = _network(url)
                if network is not None and network not in links:
                    links[network] = url
        return {"social_links": links}


BUILTIN_ENRICHERS: Final[tuple[type[Enricher], ...]] = (
    HelpdeskEnricher,
    HistoryEnricher,
    ConsentedDetailsEnricher,
    PictureEnricher,
    SocialLinksEnricher,
)


class EnrichmentPlugin:
    """The built-in enrichers as a plugin; the core registry registers it like any other."""

    @staticmethod
    @hookimpl
    def register_enrichers() -> list[type[Enricher]]:
        return list(BUILTIN_ENRICHERS)
