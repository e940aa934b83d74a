"""Each built-in enricher, the consented-details file formats, and registration through the plugin hook."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from humansupport.enrichment.enrichers import (
    BUILTIN_ENRICHERS,
    ConsentedDetailsEnricher,
    EnrichmentPlugin,
    HelpdeskEnricher,
    HistoryEnricher,
    PictureEnricher,
    SocialLinksEnricher,
    gravatar_url,
    load_details_file,
)
from humansupport.enrichment.profile import (
    CONTEXT_HISTORY,
    CONTEXT_SETTINGS,
    ConversationSummary,
    CustomerHistory,
    EnrichmentSettings,
    ProfileBuilder,
)
from humansupport.errors import ConfigError
from humansupport.extensions import Enricher
from humansupport.models import Customer
from humansupport.plugins import PluginRegistry

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _ctx(**settings: Any) -> dict[str, Any]:
    return {CONTEXT_SETTINGS: EnrichmentSettings(**settings)}


def test_builtins_implement_the_enricher_protocol_and_register_through_the_hook() -> None:
    assert all(isinstance(cls(), Enricher) for cls in BUILTIN_ENRICHERS)
    registry = PluginRegistry()  # the core registers its own enrichers, like the built-in routing strategies
    assert set(registry.enrichers()) == {"helpdesk", "history", "consented_details", "picture", "social_links"}
    assert registry.enrichers()["picture"] is PictureEnricher
    assert registry.plugins() == []  # part of the core, not an installed plugin
    registry.register(EnrichmentPlugin(), name="humansupport-enrichment")  # registering it again changes nothing
    assert set(registry.enrichers()) == set(EnrichmentSettings().order)
    # what the CLI will do: instantiate what the registry holds, in the configured order
    builder = ProfileBuilder([cls() for cls in registry.enrichers().values()])
    assert [e.name for e in builder.enrichers] == list(EnrichmentSettings().order)


async def test_helpdesk_enricher_copies_what_the_helpdesk_knows() -> None:
    customer = Customer(
        id="1", name="Ana", email="a@x.test", organization="Org", locale="fr-FR", timezone="Europe/Paris"
    )
    assert await HelpdeskEnricher().enrich(customer, {}) == {
        "name": "Ana",
        "email": "a@x.test",
        "organization": "Org",
        "locale": "fr-FR",
        "timezone": "Europe/Paris",
    }


async def test_history_enricher_reads_the_history_in_the_context_for_that_customer_only() -> None:
    history = CustomerHistory(
        customer_id="1",
        conversation_count=4,
        first_contact=NOW,
        last_conversation=ConversationSummary(conversation_id="9", subject="Hi", date=NOW, outcome="solved"),
        tag_counts={"a": 1, "b": 3, "c": 2},
        preferred_agent_name="Nina",
        preferred_agent_reason="because",
    )
    ctx = {**_ctx(top_tags=2), CONTEXT_HISTORY: history}
    out = await HistoryEnricher().enrich(Customer(id="1"), ctx)
    assert out["conversation_count"] == 4 and out["top_tags"] == ["b", "c"]
    assert out["preferred_agent"] == "Nina" and out["last_conversation"].subject == "Hi"
    assert set(out) == HistoryEnricher.provides
    assert await HistoryEnricher().enrich(Customer(id="2"), ctx) == {}  # someone else's history
    assert await HistoryEnricher().enrich(Customer(id="1"), _ctx()) == {}  # no store yet


def test_gravatar_url_hashes_the_trimmed_lower_cased_email() -> None:
    # the example address from Gravatar's documentation and its published MD5
    md5 = gravatar_url(" MyEmailAddress@example.com ", algorithm="md5", default="mp", size=80)
    assert urlsplit(md5).path == "/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346"
    assert parse_qs(urlsplit(md5).query) == {"d": ["mp"], "s": ["80"]}
    sha = gravatar_url("MyEmailAddress@example.com")
    expected = hashlib.sha256(b"myemailaddress@example.com").hexdigest()
    assert urlsplit(sha).netloc == "gravatar.com" and urlsplit(sha).path == f"/avatar/{expected}"
    assert parse_qs(urlsplit(sha).query)["d"] == ["identicon"]
    with pytest.raises(ValueError, match="sha256 or md5"):
        gravatar_url("a@b.test", algorithm="sha1")


async def test_picture_prefers_the_helpdesk_photo_then_gravatar_then_nothing() -> None:
    own = Customer(id="1", email="a@b.test", avatar_url="https://cdn.desk.test/1.png")
    assert await PictureEnricher().enrich(own, _ctx()) == {"picture_url": "https://cdn.desk.test/1.png"}
    by_email = await PictureEnricher().enrich(Customer(id="2", emails=["B@b.test"]), _ctx(gravatar_default="404"))
    assert by_email["picture_url"] == gravatar_url("b@b.test", default="404")
    assert await PictureEnricher().enrich(Customer(id="3"), _ctx()) == {}


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "details.csv"
    path.write_text(text, encoding="utf-8")
    return path


async def test_consented_details_from_csv_keyed_by_email_or_id_filtered_by_the_allow_list(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "Email,customer_id,Pronouns,Preferred Name,Birthday\nANA@x.test,,she/her,Annie,1990-01-01\n,42,he/him,,\n",
    )
    ctx = _ctx(details_file=path, allowed_fields=frozenset({"details.pronouns", "details.preferred_name"}))
    enricher = ConsentedDetailsEnricher()
    ana = await enricher.enrich(Customer(id="1", email=" ana@X.test"), ctx)
    assert ana == {"details": {"pronouns": "she/her", "preferred_name": "Annie"}}  # birthday not consented
    assert await enricher.enrich(Customer(id="42"), ctx) == {"details": {"pronouns": "he/him"}}
    assert await enricher.enrich(Customer(id="5", email="nobody@x.test"), ctx) == {"details": {}}


async def test_consented_details_from_json_and_from_vendor_fields(tmp_path: Path) -> None:
    path = tmp_path / "details.json"
    path.write_text(json.dumps({"ana@x.test": {"pronouns": "she/her"}, "42": {"pronouns": "he/him"}}))
    ctx = _ctx(details_file=path, allowed_fields=frozenset({"details.pronouns", "details.plan"}))
    customer = Customer(
        id="42",
        custom_attributes={"plan": "pro", "Pronouns": "ignored: file wins", "humansupport_detail_plan": "ours", "x": 1},
    )
    assert await ConsentedDetailsEnricher().enrich(customer, ctx) == {"details": {"pronouns": "he/him", "plan": "pro"}}
    phone_ok = _ctx(allowed_fields=frozenset({"details.phone"}))
    with_phone = Customer(id="7", phone="+1-555-0100")
    assert await ConsentedDetailsEnricher().enrich(with_phone, phone_ok) == {"details": {"phone": "+1-555-0100"}}
    assert await ConsentedDetailsEnricher().enrich(with_phone, _ctx()) == {"details": {}}
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"email": "ana@x.test", "pronouns": "she/her"}]))
    assert load_details_file(listed) == {"email:ana@x.test": {"pronouns": "she/her"}}


def test_bad_details_files_are_config_errors_naming_the_file(tmp_path: Path) -> None:
    no_key = _csv(tmp_path, "name,pronouns\nAna,she/her\n")
    with pytest.raises(ConfigError, match="'email' or 'customer_id' column"):
        load_details_file(no_key)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"bad\.json"):
        load_details_file(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_details_file(tmp_path / "missing.csv")


async def test_consented_details_reloads_a_changed_file(tmp_path: Path) -> None:
    path = _csv(tmp_path, "email,pronouns\na@x.test,she/her\n")
    ctx = _ctx(details_file=path, allowed_fields=frozenset({"details.*"}))
    enricher = ConsentedDetailsEnricher()
    assert await enricher.enrich(Customer(id="1", email="a@x.test"), ctx) == {"details": {"pronouns": "she/her"}}
    path.write_text("email,pronouns\na@x.test,they/them\n")
    os.utime(path, (1_000_000_000, 1_000_000_000))  # a different mtime, whatever the filesystem resolution
    assert await enricher.enrich(Customer(id="1", email="a@x.test"), ctx) == {"details": {"pronouns": "they/them"}}


async def test_social_links_found_in_custom_attributes_and_nested_raw_payload() -> None:
    customer = Customer(
        id="1",
        custom_attributes={"profile": "see https://www.linkedin.com/in/ana-lopez, thanks", "site": "https://ana.dev"},
        raw={
            "social_profiles": {"data": [{"type": "twitter", "url": "https://x.com/ana"}]},
            "websites": ["http://github.com/ana"],
            "notes": "not a link: linkedin.com/in/fake",
        },
    )
    out = await SocialLinksEnricher().enrich(customer, _ctx())
    assert out == {
        "social_links": {
            "linkedin": "https://www.linkedin.com/in/ana-lopez",
            "twitter": "https://x.com/ana",
            "github": "http://github.com/ana",
        }
    }
    stale = Customer(
        id="3",
        raw={
            "custom_attributes": {"humansupport_social_github": "https://github.com/old"},
            "gh": "https://github.com/new",
        },
    )
    assert await SocialLinksEnricher().enrich(stale, _ctx()) == {"social_links": {"github": "https://github.com/new"}}
    tricky = Customer(id="2", custom_attributes={"u": "https://linkedin.com.evil.test/in/x"})
    assert await SocialLinksEnricher().enrich(tricky, _ctx()) == {"social_links": {}}


async def test_all_builtins_together_on_one_customer(tmp_path: Path) -> None:
    path = _csv(tmp_path, "email,pronouns\nana@x.test,she/her\n")
    settings = EnrichmentSettings(details_file=path, allowed_fields=frozenset({"details.pronouns"}))
    builder = ProfileBuilder([cls() for cls in BUILTIN_ENRICHERS], settings=settings)
    customer = Customer(id="1", name="Ana", email="ana@x.test", raw={"twitter": "https://twitter.com/ana"})
    profile = await builder.build(customer, now=NOW, history=CustomerHistory(customer_id="1", conversation_count=2))
    assert profile.name == "Ana" and profile.conversation_count == 2
    assert profile.details == {"pronouns": "she/her"}
    assert profile.picture_url == gravatar_url("ana@x.test")
    assert profile.social_links == {"twitter": "https://twitter.com/ana"}
    assert profile.sources["picture_url"] == "picture" and profile.sources["details.pronouns"] == "consented_details"


def test_csv_cells_may_hold_quoted_commas_and_newlines(tmp_path: Path) -> None:
    path = _csv(tmp_path, 'email,bio\nana@x.test,"Loves cats, dogs\nand long walks"\n')
    assert load_details_file(path) == {"email:ana@x.test": {"bio": "Loves cats, dogs\nand long walks"}}
