"""What the reply rules see: Markdown masking, ignore markers, positions, encodings and `[replies]` configuration."""

from __future__ import annotations

import codecs
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from humansupport.errors import ConfigError
from humansupport.replies.linter import LintConfig, Linter, Severity
from humansupport.replies.rules import BUILTIN_REPLY_RULES
from humansupport.replies.sources import decode_bytes

RULES = {cls.id: cls for cls in BUILTIN_REPLY_RULES}


def lint(text: str, *, markdown: bool = True, config: dict[str, Any] | None = None) -> list[tuple[str, int, int, str]]:
    linter = Linter(rules=RULES, config=LintConfig.from_table(config or {}, rules=RULES))
    return [(f.rule, f.line, f.column, f.text) for f in linter.lint_text(text, markdown=markdown).findings]


# -- Markdown ----------------------------------------------------------------------------------------------


def test_fenced_code_blocks_inline_code_comments_and_front_matter_are_skipped() -> None:
    text = (
        "---\ntitle: I think this is metadata\n---\n"
        "Run `it should work` here.\n"
        "```bash\n# you should see this\n```\n"
        "~~~~\nmight\n~~~~\n"
        "<!-- I think this comment is private -->\n"
        "It might work.\n"
    )
    assert lint(text) == [("hedging", 12, 4, "might")]


def test_unclosed_fence_runs_to_the_end() -> None:
    assert lint("It works.\n```\nit should work\n") == []


def test_plain_text_is_not_masked() -> None:
    assert lint("Run `it should work`.", markdown=False) == [("hedging", 1, 9, "should work")]


def test_quoted_lines_still_match_across_a_wrap() -> None:
    assert lint("> We'll look\n> into it.") == [("false-hope", 1, 3, "We'll look\n> into it")]


# -- ignore markers ----------------------------------------------------------------------------------------


def test_marker_alone_on_a_line_covers_the_next_non_blank_line() -> None:
    text = "<!-- humansupport: ignore hedging -->\n\nIt should work.\nIt might work."
    assert lint(text) == [("hedging", 4, 4, "might")]


def test_marker_on_a_line_with_text_covers_that_line_and_only_named_rules() -> None:
    text = "Sorry for any inconvenience, it should work. <!-- humansupport: ignore hedging -- legal wording -->"
    assert [r[0] for r in lint(text)] == ["reflexive-apology"]


def test_marker_in_plain_text_and_all_rules() -> None:
    assert lint("It should work. humansupport: ignore", markdown=False) == []


def test_ignore_file_marker() -> None:
    text = "It should work.\nI think so.\nYou are using it wrong.\n<!-- humansupport: ignore-file hedging -->"
    assert [r[0] for r in lint(text)] == ["blame"]


def test_marker_naming_an_unknown_rule_warns() -> None:
    report = Linter(rules=RULES).lint_text("<!-- humansupport: ignore hedgeing -->\nIt should work.")
    assert report.warnings == ["ignore marker names unknown rule(s): hedgeing"]
    assert [f.rule for f in report.findings] == ["hedging"]


# -- configuration -----------------------------------------------------------------------------------------


def test_disable_severity_and_fail_on() -> None:
    config = LintConfig.from_table(
        {"disable": ["blame"], "fail_on": "error", "rules": {"hedging": {"severity": "info"}}}, rules=RULES
    )
    linter = Linter(rules=RULES, config=config)
    findings = linter.lint_text("You are using it wrong. It should work.").findings
    assert [(f.rule, f.severity) for f in findings] == [("hedging", Severity.INFO)]
    assert linter.severity_of("blame") is None and config.fail_on is Severity.ERROR


def test_extra_phrases_and_allowed_phrases() -> None:
    config = {
        "rules": {
            "hedging": {
                "extra": ["perhaps", {"phrase": "kind of", "rewrite": "say it plainly", "reason": "vague"}],
                "allow": ["should be fine"],
            },
            "false-hope": {"enabled": False},
        }
    }
    found = lint("Perhaps it is kind\nof slow. It should be fine. We'll look into it.", config=config)
    assert found == [("hedging", 1, 1, "Perhaps"), ("hedging", 1, 15, "kind\nof")]
    linter = Linter(rules=RULES, config=LintConfig.from_table(config, rules=RULES))
    kind_of = linter.lint_text("kind of").findings[0]
    assert (kind_of.reason, kind_of.suggestion) == ("vague", "say it plainly")
    assert linter.lint_text("perhaps").findings[0].suggestion == RULES["hedging"].default_rewrite


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"rulez": {}}, "unknown key(s) rulez"),
        ({"disable": ["nope"]}, "unknown reply rule 'nope'"),
        ({"rules": {"nope": {}}}, "unknown reply rule 'nope'"),
        ({"rules": {"hedging": {"severty": "info"}}}, "unknown key(s) severty"),
        ({"rules": {"hedging": {"severity": "loud"}}}, "'loud' is not one of"),
        ({"rules": {"hedging": {"extra": "perhaps"}}}, "expected a list"),
        ({"rules": {"hedging": {"extra": [3]}}}, "neither a phrase"),
        ({"rules": {"hedging": {"extra": [" "]}}}, "empty phrase"),
        ({"fail_on": "never"}, "'never' is not one of"),
        ({"disable": "blame"}, "disable must be a list"),
        ({"rules": {"blame": {"enabled": "no"}}}, "enabled must be true or false"),
        ({"rules": {"blame": {"allow": "x"}}}, "allow must be a list"),
        ({"rules": {"blame": "off"}}, "must be a table"),
        ({"rules": ["blame"]}, "must be a table of rule tables"),
    ],
)
def test_bad_configuration_is_a_config_error_naming_it(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        LintConfig.from_table(table, rules=RULES)
    assert message in str(info.value)


def test_a_configured_phrase_is_literal_not_a_regex() -> None:
    config = {"rules": {"hedging": {"extra": ["a.b (c"]}}}
    assert lint("axb (c and a.b (c", config=config) == [("hedging", 1, 12, "a.b (c")]


# -- encodings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding", "warned"),
    [
        ("We\u2019ll look into it".encode(), "utf-8", False),
        (codecs.BOM_UTF8 + "We\u2019ll look into it".encode(), "utf-8-sig", False),
        ("We\u2019ll look into it".encode("utf-16"), "utf-16", False),  # with its BOM
        (codecs.BOM_UTF16_BE + "We\u2019ll look into it".encode("utf-16-be"), "utf-16", False),
        ("We\u2019ll look into it".encode("utf-32"), "utf-32", False),
        ("We\u2019ll look into it".encode("cp1252"), "cp1252", True),  # a smart quote byte 0x92
        (b"We'll look into it \x81 caf\xe9", "latin-1", True),  # 0x81 is undefined in cp1252
    ],
)
def test_decoding_never_fails_and_says_when_it_guessed(data: bytes, encoding: str, warned: bool) -> None:
    decoded = decode_bytes(data)
    assert decoded.encoding == encoding and bool(decoded.warning) is warned
    assert decoded.text is not None and decoded.text.replace("\u2019", "'").startswith("We'll look into it")


def test_binary_and_broken_bom_input() -> None:
    assert decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00").skipped == "binary file (NUL bytes and no byte-order mark)"
    broken = decode_bytes(codecs.BOM_UTF8 + b"ok \xff")
    assert broken.text == "ok \ufffd" and broken.warning and "invalid utf-8-sig" in broken.warning


# -- properties --------------------------------------------------------------------------------------------

_WORDS = st.sampled_from(
    ["should", "might", "I", "think", "we'll", "we\u2019ll", "look", "into", "it", "sorry", "for", "any",
     "inconvenience", "you", "are", "using", "wrong", "```", "`", "<!--", "-->", "humansupport:", "ignore",
     "hedging", "\n", "\r\n", " ", "caf\u00e9", "\U0001f600", "#12", "by", "Friday", ">", "---"]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(_WORDS | st.text(max_size=8), max_size=40).map(" ".join), st.booleans())
def test_lint_never_raises_and_positions_point_at_the_match(text: str, markdown: bool) -> None:
    report = Linter(rules=RULES).lint_text(text, markdown=markdown)
    lines = text.split("\n")
    for f in report.findings:
        offset = sum(len(line) + 1 for line in lines[: f.line - 1]) + f.column - 1
        assert text[offset : offset + len(f.text)] == f.text and f.text.strip()
        end = sum(len(line) + 1 for line in lines[: f.end_line - 1]) + f.end_column - 1
        assert end == offset + len(f.text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_skip(data: bytes) -> None:
    decoded = decode_bytes(data)
    assert (decoded.text is None) == (decoded.skipped is not None)
    if decoded.text is not None:
        Linter(rules=RULES).lint_text(decoded.text)


def test_stacked_markers_all_cover_the_next_line_of_text() -> None:
    text = "<!-- humansupport: ignore hedging -->\n<!-- humansupport: ignore blame -->\n\nYou must have. It might."
    assert lint(text) == []
    assert [r[0] for r in lint(text.replace("ignore blame", "ignore false-hope"))] == ["blame"]
