"""Themes from conversation custom fields (issue 12): the rule, the vendor mappings on payloads shaped like each
vendor's docs, the store column and its migration, and every vendor's fake -> sync -> digest by product area."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from humansupport_freshdesk.fake import FRESHDESK_PRODUCT_AREA_FIELD
from humansupport_freshdesk.mapping import ticket_from_json
from humansupport_helpscout.fake import HELPSCOUT_PRODUCT_AREA_NAME
from humansupport_helpscout.mapping import conversation_from_hs
from humansupport_intercom.mapping import conversation_from_intercom
from humansupport_zendesk.fake import ZENDESK_PRODUCT_AREA_FIELD
from humansupport_zendesk.mapping import ticket_to_conversation
from typer.testing import CliRunner

from humansupport.cli import app
from humansupport.errors import ConfigError
from humansupport.insights import UNTAGGED, Period, ThemeMap, build_avoidable, build_digest
from humansupport.models import Conversation
from humansupport.plugins import PluginRegistry
from humansupport.store import SCHEMA_VERSION, Store, build_metadata
from humansupport.store.schema import CUSTOM_FIELDS_VERSION, MIGRATIONS
from humansupport.sync import sync_helpdesk
from humansupport.testing import PRODUCT_AREA_FIELD, PRODUCT_AREAS, FakeClock, generate_history

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HISTORY = generate_history(customers=30, agents=4, groups=3, seed=33)
END = HISTORY.config.end
PERIOD = Period(END - timedelta(days=120), END + timedelta(hours=2))
#: each vendor's own key for the synthetic `product_area` field, as its fake renders it
VENDOR_KEYS = {
    "freshdesk": FRESHDESK_PRODUCT_AREA_FIELD,
    "helpscout": HELPSCOUT_PRODUCT_AREA_NAME,
    "intercom": PRODUCT_AREA_FIELD,
    "zendesk": str(ZENDESK_PRODUCT_AREA_FIELD),
}


# -- the rule -------------------------------------------------------------------------------------------------


def test_first_listed_field_with_a_value_is_the_theme() -> None:
    themes = ThemeMap.of(fields=["area", "topic"])
    assert themes.theme_of(["billing"], {"topic": "Refunds", "area": "  Payments "}) == "payments"
    assert themes.theme_of(["billing"], {"topic": "Refunds"}) == "refunds"
    assert themes.theme_of(["billing"], {"area": "", "topic": None}) == "billing"  # blank: the tag rule
    assert themes.theme_of([], {"other": "x"}) == UNTAGGED
    assert themes.theme_of(["billing"], None) == "billing"


def test_without_configured_fields_custom_fields_are_ignored() -> None:
    assert ThemeMap().theme_of(["billing"], {"area": "payments"}) == "billing"


def test_field_values_go_through_the_theme_mapping_and_ignore_list() -> None:
    themes = ThemeMap.of({"money": ["payments", "refund"]}, ignore=["n/a"], fields=["area"])
    assert themes.theme_of(["x"], {"area": "Payments"}) == "money"
    assert themes.theme_of(["x"], {"area": "sign-in"}) == "sign-in"  # unmapped: the value itself
    assert themes.theme_of(["refund"], {"area": "N/A"}) == "money"  # ignored value: the tag rule decides


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["", "Mobile App", "web"], "mobile app"),  # multi-select: its first non-blank item
        (42, "42"),
        (True, "tag"),  # a checkbox names no theme
        ({"nested": 1}, "tag"),
        ([], "tag"),
    ],
)
def test_field_value_shapes(value: Any, expected: str) -> None:
    assert ThemeMap.of(fields=["f"]).theme_of(["tag"], {"f": value}) == expected


def test_fields_from_config_and_the_cli_override() -> None:
    config = {"insights": {"fields": ["product_area", " cf_area "], "themes": {"money": ["payments"]}}}
    assert ThemeMap.from_config(config).fields == ("product_area", "cf_area")
    assert ThemeMap.from_config(config, fields=["360000101"]).fields == ("360000101",)
    assert ThemeMap.from_config(config).theme_of([], {"product_area": "payments"}) == "money"
    for bad in ("product_area", [1], [""]):
        with pytest.raises(ConfigError, match="fields must be a list"):
            ThemeMap.from_config({"insights": {"fields": bad}})
    with pytest.raises(ConfigError, match="must not be empty"):
        ThemeMap.from_config({}, fields=["  "])


def test_model_keeps_keys_as_text_and_drops_unset_values() -> None:
    conv = Conversation(id="1", custom_fields={1: "a", "b": None, "c": False})
    assert conv.custom_fields == {"1": "a", "c": False}
    assert Conversation(id="1", custom_fields=None).custom_fields == {}
    assert Conversation(id="1", custom_fields=["not", "a", "map"]).custom_fields == {}


# -- vendor mappings (payloads shaped like each vendor's docs and samples) -------------------------------------


def test_zendesk_ticket_custom_fields_by_id() -> None:
    ticket = {
        "id": 35436,
        "status": "open",
        "tags": ["enterprise"],
        "custom_fields": [
            {"id": 27642, "value": "745"},
            {"id": 27648, "value": "yes"},
            {"id": 27650, "value": None},
            {"id": 27651, "value": ["mobile", "web"]},
            {"id": 27652, "value": False},
            {"value": "no id"},
            "junk",
        ],
    }
    conv = ticket_to_conversation(ticket)
    assert conv is not None
    assert conv.custom_fields == {"27642": "745", "27648": "yes", "27651": ["mobile", "web"], "27652": False}
    assert ticket_to_conversation({"id": 1, "custom_fields": None}).custom_fields == {}  # type: ignore[union-attr]


def test_freshdesk_ticket_custom_fields_by_name() -> None:
    ticket = {
        "id": 1,
        "status": 2,
        "custom_fields": {"cf_product_area": "Payments", "cf_plan": None, "cf_escalated": True},
    }
    assert ticket_from_json(ticket).custom_fields == {"cf_product_area": "Payments", "cf_escalated": True}
    assert ticket_from_json({"id": 2, "custom_fields": "bad"}).custom_fields == {}


def test_helpscout_custom_fields_by_name_with_the_shown_text() -> None:
    item = {
        "id": 10,
        "status": "active",
        "customFields": [
            {"id": 8, "name": "Account Type", "value": "8518", "text": "Free"},  # a dropdown: value is the option id
            {"id": 6688, "name": "Account Status", "value": "33077", "text": "Trial"},
            {"id": 9, "name": "Order", "value": "A-17"},  # a text field without `text`
            {"id": 10, "name": "Notes", "value": None, "text": ""},
            {"id": 11, "value": "nameless"},
        ],
    }
    expected = {"Account Type": "Free", "Account Status": "Trial", "Order": "A-17"}
    assert conversation_from_hs(item).custom_fields == expected


def test_intercom_conversation_custom_attributes() -> None:
    item = {
        "type": "conversation",
        "id": "123",
        "state": "open",
        "custom_attributes": {"issue_type": "Billing", "priority_score": 3, "resolved_by_bot": None},
    }
    assert conversation_from_intercom(item).custom_fields == {"issue_type": "Billing", "priority_score": 3}
    assert conversation_from_intercom({"id": "1", "custom_attributes": []}).custom_fields == {}


# -- store ----------------------------------------------------------------------------------------------------


def test_store_round_trips_custom_fields(store_url: str) -> None:
    fields = {"360000101": "payments", "27651": ["mobile", "web"], "n": 3}
    with Store.open(store_url) as store:
        store.write_conversations("a", [(Conversation(id="c1", custom_fields=fields, created_at=T0), None)])
        store.write_conversations("a", [(Conversation(id="c2", created_at=T0), None)])
        assert store.conversation("a", "c1").custom_fields == fields  # type: ignore[union-attr]
        assert store.conversation("a", "c2").custom_fields == {}  # type: ignore[union-attr]


def test_upgrade_to_the_custom_fields_version_keeps_rows(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    previous = CUSTOM_FIELDS_VERSION - 1
    old = build_metadata(previous)
    with engine.begin() as conn:
        for step in range(1, previous + 1):
            MIGRATIONS[step](conn)
        conn.execute(sa.text("INSERT INTO meta (key, value) VALUES ('schema_version', :v)"), {"v": str(previous)})
        conn.execute(
            old.tables["conversations"].insert(),
            [{"account": "a", "id": "c1", "status": "open", "tags": ["x"], "created_at": T0, "updated_at": T0}],
        )
        assert "custom_fields" not in {c["name"] for c in sa.inspect(conn).get_columns("conversations")}
    engine.dispose()
    with Store.open(store_url) as store:
        assert store.schema_version() == SCHEMA_VERSION >= CUSTOM_FIELDS_VERSION
        kept = store.conversation("a", "c1")
        assert kept is not None and kept.tags == ["x"] and kept.custom_fields == {}
        store.write_conversations("a", [(kept.model_copy(update={"custom_fields": {"area": "sign-in"}}), None)])
        day = Period(T0, T0 + timedelta(days=1))
        digest = build_digest(store, "a", period=day, themes=ThemeMap.of(fields=["area"]))
        assert [(t.theme, t.conversations) for t in digest.themes] == [("sign-in", 1)]


# -- synthetic history ----------------------------------------------------------------------------------------


def test_synthetic_product_area_follows_the_topic() -> None:
    by_tags: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for conv in HISTORY.conversations:
        assert set(conv.custom_fields) == {PRODUCT_AREA_FIELD}
        area = conv.custom_fields[PRODUCT_AREA_FIELD]
        assert area in PRODUCT_AREAS
        by_tags[tuple(t for t in conv.tags[:2])].add(area)
    assert all(len(areas) == 1 for areas in by_tags.values()), "one topic, one product area"
    assert len({a for areas in by_tags.values() for a in areas}) > 3
    # the area is not the tag theme: a report by field really reads the field
    assert not {a for areas in by_tags.values() for a in areas} & {c.tags[0] for c in HISTORY.conversations}


# -- every vendor: fake -> sync -> digest by the vendor's key for product_area -----------------------------------


@pytest.mark.parametrize("vendor", sorted(VENDOR_KEYS))
def test_digest_by_product_area_on_every_vendor(
    installed_registry: PluginRegistry, vendor: str, tmp_path: Path
) -> None:
    clock = FakeClock(start=END + timedelta(minutes=30))
    fake = installed_registry.fakes()[vendor](history=HISTORY, clock=clock)
    cls = installed_registry.helpdesk(vendor)
    settings = cls.settings_model.model_validate(fake.adapter_settings())
    key = VENDOR_KEYS[vendor]

    with Store.open(tmp_path / "s.db") as store:

        async def go() -> None:
            async with cls.from_settings(settings, transport=fake.transport(), clock=clock) as adapter:
                await sync_helpdesk(adapter, store, account=vendor, clock=clock)

        asyncio.run(go())
        themes = ThemeMap.of(fields=[key])
        digest = build_digest(store, vendor, period=PERIOD, themes=themes, examples=0)
        avoidable = build_avoidable(store, vendor, period=PERIOD, themes=themes, examples=0)
        synced = store.conversation(vendor, HISTORY.conversations[0].id)

    assert synced is not None
    assert synced.custom_fields == {key: HISTORY.conversations[0].custom_fields[PRODUCT_AREA_FIELD]}
    inside = [c for c in HISTORY.conversations if c.created_at and PERIOD.contains(c.created_at)]
    expected = Counter(c.custom_fields[PRODUCT_AREA_FIELD] for c in inside)
    customers: dict[str, set[str | None]] = defaultdict(set)
    for c in inside:
        customers[c.custom_fields[PRODUCT_AREA_FIELD]].add(c.customer_id)
    assert {t.theme: t.conversations for t in digest.themes} == dict(expected)
    assert {t.theme: t.customers for t in digest.themes} == {a: len(ids) for a, ids in customers.items()}
    reopened = Counter(c.custom_fields[PRODUCT_AREA_FIELD] for c in inside if "reopened" in c.tags)
    assert {f.theme: f.conversations for f in avoidable.of_kind("reopened")} == dict(reopened)


def test_cli_field_option_themes_the_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no humansupport.toml from the repository
    url = f"sqlite:///{tmp_path / 's.db'}"
    with Store.open(url) as store:
        store.write_conversations(
            "zendesk",
            [
                (Conversation(id="1", tags=["billing"], created_at=T0, custom_fields={"360000101": "payments"}), None),
                (Conversation(id="2", tags=["billing"], created_at=T0, custom_fields={"9": "x"}), None),
            ],
        )
        store.set_cursor("zendesk", "conversations", T0, items=2, at=T0)  # an account the store knows
    args = ["digest", "zendesk", "--store", url, "--since", "7d", "--until", (T0 + timedelta(days=1)).isoformat()]
    runner = CliRunner()
    by_field = runner.invoke(app, [*args, "--format", "json", "--field", "360000101"])
    assert by_field.exit_code == 0, by_field.output
    assert '"theme": "payments"' in by_field.stdout and '"theme": "billing"' in by_field.stdout
    blank = runner.invoke(app, [*args, "--field", " "])
    assert blank.exit_code != 0 and "must not be empty" in blank.output
    (tmp_path / "humansupport.toml").write_text('[insights]\nfields = ["9"]\n', encoding="utf-8")
    from_file = runner.invoke(app, [*args, "--format", "json"])
    assert from_file.exit_code == 0, from_file.output
    assert '"theme": "x"' in from_file.stdout and '"theme": "billing"' in from_file.stdout
    assert '"theme": "payments"' not in from_file.stdout
