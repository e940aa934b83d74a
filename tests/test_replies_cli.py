"""`humansupport replies lint` and `replies rules` end to end: files, stdin, a vendor's saved replies, the hook."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from humansupport_acmedesk import AcmeAdapter, AcmeSettings
from typer.testing import CliRunner

from humansupport import AsyncHelpdesk, Capabilities, PluginError, PluginRegistry, SavedReply, hookimpl
from humansupport.cli import ExitCode, app
from humansupport.extensions import ReplyRule
from humansupport.replies import Linter, Phrase, PhraseRule, RuleMatch, RuleOptions, phrase_pattern
from humansupport.reply_text import ReplyText

runner = CliRunner()

SAVED = [
    SavedReply(id="7", vendor="replydesk", title="Refund", body="Hi,\nsorry for any inconvenience.\n", kind="macro",
               url="https://replydesk.test/admin/macros/7"),
    SavedReply(id="8", vendor="replydesk", title="Bug", body="We'll look into it and write by Friday 3 pm.",
               kind="macro"),
    SavedReply(id="9", vendor="replydesk", title=None, body="You are using it\nwrong.", kind="macro"),
]  # fmt: skip


class ReplyDeskSettings(AcmeSettings):
    vendor = "replydesk"


class ReplyDeskAdapter(AcmeAdapter):
    """AcmeDesk with saved replies (served from memory: the linter's path, not HTTP, is under test)."""

    vendor = "replydesk"
    settings_model = ReplyDeskSettings
    capabilities = Capabilities(saved_replies=True)

    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        for reply in SAVED:
            yield reply


class NoRepliesSettings(AcmeSettings):
    vendor = "noreplies"


class NoRepliesAdapter(AcmeAdapter):
    vendor = "noreplies"
    settings_model = NoRepliesSettings

    def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        return AsyncHelpdesk.iter_saved_replies(self)  # the contract's default, whatever AcmeAdapter grows


class DeskPlugin:
    @staticmethod
    @hookimpl
    def register_helpdesks() -> list[type[AsyncHelpdesk]]:
        return [ReplyDeskAdapter, NoRepliesAdapter]


# -- a third-party rule, as docs/plugins.md shows it ---------------------------------------------------------


class Jargon(PhraseRule):
    id: ClassVar[str] = "jargon"
    severity: ClassVar[str] = "info"
    summary: ClassVar[str] = "internal words customers do not use"
    reason: ClassVar[str] = "customers do not know our internal words"
    phrases: ClassVar[tuple[Phrase, ...]] = (
        Phrase(pattern=phrase_pattern(r"L2|tier 2"), rewrite="'our billing specialists'"),
    )


class JargonPlugin:
    @staticmethod
    @hookimpl
    def register_reply_rules() -> list[type[ReplyRule]]:
        return [Jargon]


class Exploding:
    id: ClassVar[str] = "exploding"
    severity: ClassVar[str] = "error"
    summary: ClassVar[str] = "raises"

    def check(self, reply: ReplyText, options: RuleOptions) -> Iterator[RuleMatch]:
        raise RuntimeError("boom")


@pytest.fixture
def registry(plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> PluginRegistry:
    plugin_registry.register(DeskPlugin, name="desks")
    for vendor in ("REPLYDESK", "NOREPLIES"):
        monkeypatch.setenv(f"HUMANSUPPORT_{vendor}_API_TOKEN", secrets.token_hex(8))
    monkeypatch.delenv("HUMANSUPPORT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray humansupport.toml
    return plugin_registry


def run(*args: str, stdin: bytes | None = None) -> Any:
    return runner.invoke(app, ["replies", *args], input=stdin)


@pytest.fixture
def macros(tmp_path: Path) -> Path:
    root = tmp_path / "macros"
    (root / "billing").mkdir(parents=True)
    (root / "billing" / "refund.md").write_text("# Refund\n\nIt should work now.\n\n```\nit should\n```\n")
    (root / "billing" / "legacy.txt").write_bytes("Sorry for any inconvenience \x93caf\xe9\x94".encode("latin-1"))
    (root / "ok.md").write_text("Your refund is on its way; it reaches your card by Friday.\n")
    (root / "image.png").write_bytes(b"\x89PNG\x00\x00")  # not a reply suffix: not read
    (root / ".git").mkdir()
    (root / ".git" / "notes.md").write_text("I think this is not a reply")
    return root


def test_directory_text_output_and_exit_1(registry: PluginRegistry, macros: Path) -> None:
    result = run("lint", str(macros))
    assert result.exit_code == ExitCode.ERROR, result.output
    out = result.stdout
    assert f"{macros}/billing/refund.md:3:4 hedging (warning)" in out and "\u2192 'works'" in out
    assert f"{macros}/billing/legacy.txt:1:1 reflexive-apology" in out and "read as Windows-1252" in out
    assert "notes.md" not in out and "image.png" not in out and "ok.md" not in out
    assert "2 findings (2 warning) in 2 of 3 replies" in out


def test_json_schema(registry: PluginRegistry, macros: Path) -> None:
    result = run("lint", str(macros), "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1
    assert doc["summary"] == {
        "replies": 3,
        "replies_with_findings": 2,
        "skipped": 0,
        "checked": 3,
        "findings": 2,
        "by_rule": {"hedging": 1, "reflexive-apology": 1},
        "by_severity": {"info": 0, "warning": 2, "error": 0},
        "fail_on": "info",
        "failing": 2,
        "failed": True,
    }
    legacy = next(r for r in doc["replies"] if r["source"]["name"].endswith("legacy.txt"))
    assert legacy["encoding"] == "cp1252" and legacy["warnings"] and legacy["skipped"] is None
    assert set(legacy["source"]) == {"name", "kind", "path", "vendor", "id", "title", "url"}
    assert legacy["findings"][0] == {
        "rule": "reflexive-apology",
        "severity": "warning",
        "line": 1,
        "column": 1,
        "end_line": 1,
        "end_column": 28,
        "text": "Sorry for any inconvenience",
        "reason": "a stock apology names nothing and reads as scripted",
        "suggestion": legacy["findings"][0]["suggestion"],
    }
    assert json.loads(run("lint", str(macros), "--json").stdout) == doc


def test_clean_input_exits_0_and_fail_on_filters(registry: PluginRegistry, macros: Path) -> None:
    ok = run("lint", str(macros / "ok.md"))
    assert ok.exit_code == 0 and "No findings in 1 replies." in ok.stdout
    assert run("lint", str(macros), "--fail-on", "error").exit_code == 0
    assert run("lint", str(macros), "--disable", "hedging", "--disable", "reflexive-apology").exit_code == 0


def test_stdin_is_markdown(registry: PluginRegistry) -> None:
    result = run("lint", "-", "--json", stdin="```\nI think\n```\nWe'll look into it.".encode("utf-16"))
    doc = json.loads(result.stdout)
    assert result.exit_code == 1
    assert [(f["rule"], f["line"]) for f in doc["replies"][0]["findings"]] == [("false-hope", 4)]
    assert doc["replies"][0]["source"]["kind"] == "stdin" and doc["replies"][0]["encoding"] == "utf-16"


def test_github_annotations(registry: PluginRegistry, macros: Path) -> None:
    result = run("lint", str(macros / "billing" / "refund.md"), "--format", "github")
    assert result.exit_code == 1
    assert result.stdout.startswith(f"::warning file={macros}/billing/refund.md,line=3,col=4,endLine=3,endColumn=15,")
    assert "title=hedging (warning)::" in result.stdout


def test_usage_errors_exit_2(registry: PluginRegistry, tmp_path: Path) -> None:
    assert run("lint").exit_code == ExitCode.USAGE
    missing = run("lint", str(tmp_path / "nope.md"))
    assert missing.exit_code == ExitCode.USAGE and "no such file or directory" in missing.output
    assert run("lint", "-", "--fail-on", "loud", stdin=b"").exit_code == ExitCode.USAGE
    assert run("lint", "-", "--format", "xml", stdin=b"").exit_code == ExitCode.USAGE


def test_config_errors_exit_3(registry: PluginRegistry, tmp_path: Path) -> None:
    (tmp_path / "humansupport.toml").write_text('[replies.rules.hedgeing]\nseverity = "info"\n')
    result = run("lint", "-", "--json", stdin=b"It should work.")
    assert result.exit_code == ExitCode.CONFIG
    assert "unknown reply rule 'hedgeing'" in json.loads(result.stdout)["error"]["message"]
    assert run("lint", "-", "--config", str(tmp_path / "missing.toml"), stdin=b"x").exit_code == ExitCode.CONFIG
    assert run("lint", "-", "--disable", "nope", stdin=b"x").exit_code == ExitCode.CONFIG


def test_config_file_is_read(registry: PluginRegistry, tmp_path: Path) -> None:
    config = tmp_path / "team.toml"
    config.write_text('[replies]\nfail_on = "error"\n[replies.rules.hedging]\nextra = ["perhaps"]\n')
    result = run("lint", "-", "--config", str(config), "--json", stdin=b"Perhaps.")
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["summary"]["findings"] == 1 and doc["summary"]["fail_on"] == "error"


def test_vendor_saved_replies(registry: PluginRegistry) -> None:
    result = run("lint", "--vendor", "replydesk", "--json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    by_id = {r["source"]["id"]: r for r in doc["replies"]}
    assert set(by_id) == {"7", "8", "9"}
    assert by_id["7"]["source"] == {
        "name": 'replydesk macro 7 "Refund"',
        "kind": "macro",
        "path": None,
        "vendor": "replydesk",
        "id": "7",
        "title": "Refund",
        "url": "https://replydesk.test/admin/macros/7",
    }
    assert [(f["rule"], f["line"], f["column"]) for f in by_id["7"]["findings"]] == [("reflexive-apology", 2, 1)]
    assert by_id["8"]["findings"] == []  # a next step: "by Friday 3 pm"
    assert [(f["rule"], f["text"]) for f in by_id["9"]["findings"]] == [("blame", "You are using it\nwrong")]
    text = run("lint", "--vendor", "replydesk").stdout
    assert 'replydesk macro 7 "Refund"  https://replydesk.test/admin/macros/7' in text
    assert "replydesk macro 7:2:1 reflexive-apology" in text


def test_vendor_without_saved_replies_exits_3(registry: PluginRegistry) -> None:
    result = run("lint", "--vendor", "noreplies", "--json")
    assert result.exit_code == ExitCode.CONFIG
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "UnsupportedOperationError" and "export them to text files" in error["message"]
    assert run("lint", "--vendor", "nosuchdesk").exit_code == ExitCode.CONFIG


def test_third_party_rule_through_the_hook(registry: PluginRegistry) -> None:
    registry.register(JargonPlugin, name="jargon")
    assert set(registry.reply_rules()) == {"blame", "false-hope", "hedging", "jargon", "reflexive-apology"}
    result = run("lint", "-", "--json", stdin=b"I passed this to L2.")
    finding = json.loads(result.stdout)["replies"][0]["findings"][0]
    assert (finding["rule"], finding["severity"], finding["text"]) == ("jargon", "info", "L2")
    assert run("lint", "-", "--fail-on", "warning", stdin=b"I passed this to L2.").exit_code == 0
    rules = json.loads(run("rules", "--json").stdout)
    assert {r["id"]: r["severity"] for r in rules}["jargon"] == "info"
    table = run("rules").stdout
    assert "jargon" in table and "hedging" in table


def test_a_rule_that_raises_is_a_warning_not_a_crash() -> None:
    report = Linter(rules={"exploding": Exploding}).lint_text("anything")
    assert report.findings == [] and report.warnings == ["rule exploding failed: RuntimeError: boom"]


def test_bad_rule_registrations_are_plugin_errors(plugin_registry: PluginRegistry) -> None:
    class Clash(Jargon):
        pass

    class Nameless:
        id = "Not Kebab"

        def check(self) -> None: ...

    class Bad:
        @staticmethod
        @hookimpl
        def register_reply_rules() -> list[type[Any]]:
            return [Jargon, Clash]

    plugin_registry.register(Bad, name="bad")
    with pytest.raises(PluginError, match="'jargon' is provided by both"):
        plugin_registry.reply_rules()
    plugin_registry.pm.unregister(name="bad")

    class Worse:
        @staticmethod
        @hookimpl
        def register_reply_rules() -> list[type[Any]]:
            return [Nameless]

    plugin_registry.register(Worse, name="worse")
    with pytest.raises(PluginError, match="kebab-case id"):
        plugin_registry.reply_rules()


def test_docs_example_output_is_current(plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    monkeypatch.delenv("HUMANSUPPORT_CONFIG", raising=False)
    command = "$ humansupport replies lint docs/examples/replies\n"
    page = (root / "docs" / "insights.md").read_text()
    documented = page.split(command, 1)[1].split("\n```", 1)[0]
    result = run("lint", "docs/examples/replies")
    assert result.exit_code == 1
    assert result.stdout.rstrip("\n") == documented


class OutOfRange(Exploding):
    id: ClassVar[str] = "out-of-range"

    def check(self, reply: ReplyText, options: RuleOptions) -> Iterator[RuleMatch]:
        yield RuleMatch(start=0, end=len(reply.text) + 5, reason="r", suggestion="s")


class Unbuildable(Exploding):
    id: ClassVar[str] = "unbuildable"

    def __init__(self) -> None:
        raise ValueError("needs arguments")


def test_rules_returning_bad_matches_or_failing_to_build() -> None:
    report = Linter(rules={"out-of-range": OutOfRange}).lint_text("text")
    assert report.findings == [] and "not an in-range RuleMatch" in report.warnings[0]
    with pytest.raises(PluginError, match="'unbuildable' could not be created: ValueError"):
        Linter(rules={"unbuildable": Unbuildable})
