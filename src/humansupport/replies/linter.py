"""The reply-certainty check: rules find phrasing that hedges, apologises by reflex, gives false hope or blames.

A rule (the `humansupport.extensions.ReplyRule` protocol, contributed through the `register_reply_rules`
hook) returns `RuleMatch`es as character offsets into `ReplyText.searchable`; the `Linter` turns them into
`Finding`s with line, column, severity, reason and a suggested rewrite, after `[replies]` configuration
and ignore markers. `PhraseRule` is the base for rules that are a table of phrases, as the built-ins are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, Final

from .. import literal_scan
from ..errors import ConfigError, PluginError
from ..reply_text import (
    Phrase,
    ReplySource,
    ReplyText,
    RuleMatch,
    RuleOptions,
    compiled_phrase,
    parse_reply,
    phrase_pattern,
)

if TYPE_CHECKING:
    from ..extensions import ReplyRule

__all__ = [
    "DEFAULT_REWRITE",
    "JSON_SCHEMA_VERSION",
    "Finding",
    "LintConfig",
    "LintReport",
    "Linter",
    "Phrase",
    "PhraseRule",
    "ReplyReport",
    "RuleMatch",
    "RuleOptions",
    "RuleSettings",
    "Severity",
    "phrase_pattern",
]

#: bumped when a key of `LintReport.to_dict()` changes meaning or goes away (adding keys does not bump it)
JSON_SCHEMA_VERSION: Final = 1
#: what a configured extra phrase suggests when its table gives no `rewrite`
DEFAULT_REWRITE: Final = "say it plainly: what is true now, what you did, and what happens next and when"


class Severity(StrEnum):
    """How much a finding matters; `--fail-on` compares by this order."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, value: object, *, where: str) -> Severity:
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ConfigError(f"{where}: severity {value!r} is not one of info, warning, error") from None


_RANK: Final = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class PhraseRule:
    """Base for rules that are a table of phrases; subclasses set the class variables and may override `keep`.

    Matching is case-insensitive, whole-word, tolerant of curly apostrophes and line wraps. Where phrases
    overlap, the earliest and then longest wins, so a specific phrase ("should be able to") beats a general
    one ("should") and carries its more specific rewrite.
    """

    id: ClassVar[str] = ""
    severity: ClassVar[str] = Severity.WARNING
    summary: ClassVar[str] = ""
    reason: ClassVar[str] = ""
    default_rewrite: ClassVar[str] = DEFAULT_REWRITE  # for phrases added by configuration
    phrases: ClassVar[tuple[Phrase, ...]] = ()
    exceptions: ClassVar[tuple[str, ...]] = ()  # regexes of uses that are fine ("with all our might")

    def check(self, reply: ReplyText, options: RuleOptions) -> Iterator[RuleMatch]:
        scan = reply.scan
        allowed = sorted(
            (m.start(), m.end())
            for pattern in (*self.exceptions, *options.allow)
            for m in literal_scan.finditer(compiled_phrase(pattern), scan)
        )
        phrases = (*self.phrases, *options.extra)
        found: list[tuple[int, int, int]] = []  # (start, -length, phrase index): sorts earliest, then longest
        for index, phrase in enumerate(phrases):
            for m in literal_scan.finditer(phrase.compiled(), scan):
                start, end = m.span()
                if end > start:
                    found.append((start, start - end, index))
        found.sort()
        last_end = -1
        # one sweep over both sorted lists (not every allowed span per match): a match is allowed when an
        # allowed span starting at or before it reaches at least to its end
        next_allowed, reach = 0, -1
        for start, negative_length, index in found:
            if start < last_end:
                continue
            end, phrase = start - negative_length, phrases[index]
            while next_allowed < len(allowed) and allowed[next_allowed][0] <= start:
                reach = max(reach, allowed[next_allowed][1])
                next_allowed += 1
            if end <= reach:
                continue
            if not self.keep(reply, start, end):
                continue
            last_end = end
            yield RuleMatch(start=start, end=end, reason=phrase.reason or self.reason, suggestion=phrase.rewrite)

    def keep(self, reply: ReplyText, start: int, end: int) -> bool:
        """Whether a phrase match is a finding; override for context (false hope checks for a next step)."""
        return True


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem: where (1-based line/column; `end_*` is just past the match), which rule, why, what instead."""

    rule: str
    severity: Severity
    line: int
    column: int
    end_line: int
    end_column: int
    text: str
    reason: str
    suggestion: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "text": self.text,
            "reason": self.reason,
            "suggestion": self.suggestion,
        }


@dataclass(kw_only=True)
class ReplyReport:
    """The findings for one reply, how its bytes were decoded, and warnings (or why it was skipped)."""

    source: ReplySource
    findings: list[Finding] = field(default_factory=list)
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.to_dict(),
            "encoding": self.encoding,
            "warnings": list(self.warnings),
            "skipped": self.skipped,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(kw_only=True)
class LintReport:
    """Every reply linted in one run; `failed` decides the exit code."""

    replies: list[ReplyReport] = field(default_factory=list)
    fail_on: Severity = Severity.INFO

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.replies for f in r.findings]

    @property
    def failing(self) -> int:
        """Findings at or above `fail_on`."""
        return sum(1 for f in self.findings if f.severity.rank >= self.fail_on.rank)

    @property
    def failed(self) -> bool:
        return self.failing > 0

    @property
    def checked(self) -> int:
        """Replies actually linted: a run whose every input was skipped (binary, too large) checked nothing."""
        return sum(1 for r in self.replies if not r.skipped)

    def summary(self) -> dict[str, Any]:
        findings = self.findings
        by_rule: dict[str, int] = {}
        for f in findings:
            by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
        return {
            "replies": len(self.replies),
            "replies_with_findings": sum(1 for r in self.replies if r.findings),
            "skipped": sum(1 for r in self.replies if r.skipped),
            "checked": self.checked,
            "findings": len(findings),
            "by_rule": dict(sorted(by_rule.items())),
            "by_severity": {s.value: sum(1 for f in findings if f.severity is s) for s in Severity},
            "fail_on": self.fail_on.value,
            "failing": self.failing,
            "failed": self.failed,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "summary": self.summary(),
            "replies": [r.to_dict() for r in self.replies],
        }


# -- configuration ------------------------------------------------------------------------------------

_RULE_KEYS: Final = frozenset({"enabled", "severity", "extra", "allow"})
_TOP_KEYS: Final = frozenset({"disable", "fail_on", "rules"})


@dataclass(frozen=True, kw_only=True)
class RuleSettings:
    """`[replies.rules.<id>]`: switch a rule off, change its severity, add phrases, allow phrases."""

    enabled: bool = True
    severity: Severity | None = None
    extra: tuple[Phrase, ...] = ()
    allow: tuple[str, ...] = ()


def _phrases(value: object, *, where: str, default_rewrite: str) -> tuple[Phrase, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of phrases")
    out: list[Phrase] = []
    for item in value:
        if isinstance(item, str):
            out.append(Phrase.literal(item, rewrite=default_rewrite))
        elif isinstance(item, dict) and isinstance(item.get("phrase"), str):
            unknown = sorted(set(item) - {"phrase", "rewrite", "reason"})
            if unknown:
                raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: phrase, rewrite, reason)")
            rewrite = item.get("rewrite", default_rewrite)
            reason = item.get("reason")
            why = None if reason is None else str(reason)
            out.append(Phrase.literal(item["phrase"], rewrite=str(rewrite), reason=why))
        else:
            raise ConfigError(f"{where}: {item!r} is neither a phrase nor a table with a `phrase` key")
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class LintConfig:
    """What `[replies]` in humansupport.toml (and the command line) says about the rules."""

    rules: Mapping[str, RuleSettings] = field(default_factory=dict)
    fail_on: Severity = Severity.INFO

    @classmethod
    def from_table(
        cls, table: Mapping[str, Any], *, rules: Mapping[str, type[ReplyRule]], disable: Sequence[str] = ()
    ) -> LintConfig:
        """Validates `[replies]`: unknown keys, rule ids and severities are a `ConfigError` naming them."""
        unknown = sorted(set(table) - _TOP_KEYS)
        if unknown:
            raise ConfigError(f"[replies]: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_TOP_KEYS))}")
        known = ", ".join(sorted(rules)) or "none"
        listed = table.get("disable") or []
        if not isinstance(listed, list) or not all(isinstance(r, str) for r in listed):
            raise ConfigError("[replies] disable must be a list of rule ids")
        disabled = [*listed, *disable]
        for rule_id in disabled:
            if rule_id not in rules:
                raise ConfigError(f"cannot disable unknown reply rule {rule_id!r} (rules: {known})")
        per_rule = table.get("rules") or {}
        if not isinstance(per_rule, dict):
            raise ConfigError("[replies.rules] must be a table of rule tables")
        settings: dict[str, RuleSettings] = {}
        for rule_id, raw in per_rule.items():
            where = f"[replies.rules.{rule_id}]"
            if rule_id not in rules:
                raise ConfigError(f"{where}: unknown reply rule {rule_id!r} (rules: {known})")
            if not isinstance(raw, dict):
                raise ConfigError(f"{where} must be a table")
            bad = sorted(set(raw) - _RULE_KEYS)
            if bad:
                raise ConfigError(f"{where}: unknown key(s) {', '.join(bad)}; known: {', '.join(sorted(_RULE_KEYS))}")
            rewrite = str(getattr(rules[rule_id], "default_rewrite", DEFAULT_REWRITE))
            allow = raw.get("allow", [])
            if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
                raise ConfigError(f"{where}: allow must be a list of phrases")
            if not isinstance(raw.get("enabled", True), bool):
                raise ConfigError(f"{where}: enabled must be true or false")
            settings[rule_id] = RuleSettings(
                enabled=raw.get("enabled", True),
                severity=None if "severity" not in raw else Severity.parse(raw["severity"], where=where),
                extra=_phrases(raw.get("extra", []), where=f"{where} extra", default_rewrite=rewrite),
                allow=tuple(p.pattern for p in _phrases(allow, where=f"{where} allow", default_rewrite="")),
            )
        for rule_id in disabled:
            base = settings.get(rule_id, RuleSettings())
            settings[rule_id] = RuleSettings(enabled=False, severity=base.severity, extra=base.extra, allow=base.allow)
        fail_on = Severity.parse(table.get("fail_on", "info"), where="[replies] fail_on")
        return cls(rules=settings, fail_on=fail_on)


# -- the linter ---------------------------------------------------------------------------------------


class Linter:
    """Runs every enabled rule over a reply and turns matches into findings (ignore markers applied)."""

    def __init__(self, *, rules: Mapping[str, type[ReplyRule]], config: LintConfig | None = None) -> None:
        self.config = config or LintConfig()
        self.rule_ids = frozenset(rules)
        self._rules: list[tuple[ReplyRule, Severity, RuleOptions]] = []
        self._severity: dict[str, Severity | None] = {}
        for rule_id, cls in sorted(rules.items()):
            settings = self.config.rules.get(rule_id, RuleSettings())
            self._severity[rule_id] = None
            if not settings.enabled:
                continue
            severity = settings.severity or Severity.parse(getattr(cls, "severity", "warning"), where=rule_id)
            self._severity[rule_id] = severity
            try:
                rule = cls()
            except Exception as exc:
                raise PluginError(f"reply rule {rule_id!r} could not be created: {type(exc).__name__}: {exc}") from None
            self._rules.append((rule, severity, RuleOptions(extra=settings.extra, allow=settings.allow)))

    def severity_of(self, rule_id: str) -> Severity | None:
        """A rule's severity in this run, or None when it is switched off."""
        return self._severity.get(rule_id)

    def lint(self, reply: ReplyText, *, encoding: str | None = None, warnings: Iterable[str] = ()) -> ReplyReport:
        """The findings for one reply, sorted by position; a rule that raises becomes a warning, not a crash."""
        report = ReplyReport(source=reply.source, encoding=encoding, warnings=list(warnings))
        unknown = sorted(reply.marker_rules - self.rule_ids)
        if unknown:
            report.warnings.append(f"ignore marker names unknown rule(s): {', '.join(unknown)}")
        markers = bool(reply.ignore_all or reply.ignore_lines)
        for rule, severity, options in self._rules:
            try:
                matches = list(rule.check(reply, options))
            except Exception as exc:  # a third-party rule must not stop the run
                report.warnings.append(f"rule {rule.id} failed: {type(exc).__name__}: {exc}")
                continue
            for match in matches:
                if not isinstance(match, RuleMatch) or not 0 <= match.start < match.end <= len(reply.text):
                    report.warnings.append(f"rule {rule.id} returned {match!r}, not an in-range RuleMatch; ignored")
                    continue
                line, column = reply.position(match.start)
                if markers and reply.ignored(rule.id, line):
                    continue
                end_line, end_column = reply.position(match.end)
                report.findings.append(
                    Finding(
                        rule=rule.id,
                        severity=severity,
                        line=line,
                        column=column,
                        end_line=end_line,
                        end_column=end_column,
                        text=reply.text[match.start : match.end],
                        reason=match.reason,
                        suggestion=match.suggestion,
                    )
                )
        report.findings.sort(key=attrgetter("line", "column", "rule"))
        return report

    def lint_text(self, text: str, *, name: str = "<text>", markdown: bool = False) -> ReplyReport:
        """Lints a string (tests, scripts)."""
        return self.lint(parse_reply(text, source=ReplySource(name=name, kind="text"), markdown=markdown))
