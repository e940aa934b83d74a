"""The tag → theme rule, periods and quotes: each rule against hand-picked inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from humansupport.errors import ConfigError
from humansupport.insights import UNTAGGED, Period, ThemeMap, parse_period
from humansupport.insights.periods import parse_duration
from humansupport.insights.quotes import quote_of

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tags", "theme"),
    [
        ([], UNTAGGED),
        (None, UNTAGGED),
        (["vip"], UNTAGGED),  # ignored tags make no theme
        (["Refund", "vip"], "billing"),  # case and spaces do not matter
        (["vip", " LOGIN "], "access"),
        (["api", "invoice"], "billing"),  # the first configured theme wins, not the first tag
        (["webhooks", "export"], "webhooks"),  # nothing mapped: the first remaining tag is its own theme
    ],
)
def test_theme_rule(tags: list[str] | None, theme: str) -> None:
    themes = ThemeMap.of({"billing": ["refund", "invoice"], "access": ["login", "2fa"], "api": []}, ignore=["VIP"])
    assert themes.theme_of(tags) == theme


def test_default_rule_is_the_first_tag() -> None:
    assert ThemeMap().theme_of(["technical", "login"]) == "technical"


def test_themes_from_config() -> None:
    themes = ThemeMap.from_config({"insights": {"themes": {"billing": ["refund"]}, "ignore_tags": ["vip"]}})
    assert themes.theme_of(["vip", "refund"]) == "billing" and themes.theme_of(["vip"]) == UNTAGGED
    assert ThemeMap.from_config({}).theme_of(["x"]) == "x"


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"themes": {"billing": "refund"}}, "list of tag strings"),
        ({"themes": ["billing"]}, "must map a theme"),
        ({"ignore_tags": "vip"}, "ignore_tags"),
        ({"theme": {}}, "unknown key"),
        ("billing", "must be a table"),
    ],
)
def test_bad_theme_config_is_a_config_error(table: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ThemeMap.from_config({"insights": table})


def test_periods() -> None:
    assert parse_period("30d", now=NOW) == Period(NOW - timedelta(days=30), NOW)
    assert parse_period("2w", now=NOW).previous() == Period(NOW - timedelta(weeks=4), NOW - timedelta(weeks=2))
    assert parse_period("2026-10-01", now=NOW).start == datetime(2026, 10, 1, tzinfo=UTC)
    assert parse_period("2026-10-01T12:00:00+02:00", now=NOW).start == datetime(2026, 10, 1, 10, tzinfo=UTC)
    assert parse_duration("12h") == timedelta(hours=12)
    for bad in ("0d", "-3d", "thirty days", "2026-13-01"):
        with pytest.raises(ValueError):
            parse_period(bad, now=NOW)
    with pytest.raises(ValueError, match="not before now"):
        parse_period("2026-12-01", now=NOW)


def test_quote_is_the_first_paragraph_masked_and_clipped() -> None:
    assert quote_of("Hi,\nmy card was charged twice. Call +44 20 7946 0958.\n\nAnn\nann@example.com") == (
        "Hi, my card was charged twice. Call [phone]."
    )
    assert quote_of("\n\n  \n") is None and quote_of(None) is None
    clipped = quote_of("word " * 100, limit=30)
    assert clipped is not None and len(clipped) <= 30 and clipped.endswith("…") and "wor…" not in clipped
