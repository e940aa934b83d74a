"""Themes from conversation custom fields: the rule, the store column and its migration, and the CLI option.
Each vendor's mapping is tested in its plugin; fake -> sync -> digest by field is the kit's custom-field check."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from humansupport.cli import app
from humansupport.errors import ConfigError
from humansupport.insights import UNTAGGED, Period, ThemeMap, build_digest
from humansupport.models import Conversation
from humansupport.store import SCHEMA_VERSION, Store, build_metadata
from humansupport.store.schema import CUSTOM_FIELDS_VERSION, MIGRATIONS
from humansupport.testing import PRODUCT_AREA_FIELD, PRODUCT_AREAS, generate_history

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HISTORY = generate_history(customers=30, agents=4, groups=3, seed=33)
END = HISTORY.config.end
PERIOD = Period(END - timedelta(days=120), END + timedelta(hours=2))


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
