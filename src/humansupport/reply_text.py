"""One reply's text as the rules see it: where it came from, what to skip, and offsets to line/column.

Rules search `ReplyText.searchable`, a copy of the text with the same length (so an offset means the same
character in both) in which curly apostrophes are straight, and what is not reply prose is blanked out:
Markdown fenced code blocks, inline code, HTML comments, YAML front matter, and ignore markers. Lines are
1-based and split on "\\n" ("\\r\\n" works too); columns are 1-based and count Unicode code points.

Ignore markers (in any file or saved reply, usually inside an HTML comment so Markdown hides them):
`humansupport: ignore-file [RULE ...]` skips the whole reply; `humansupport: ignore [RULE ...]` skips its
own line when the line holds other text, else the next non-blank line. No rule ids means every rule;
text after ` -- ` is a free-form reason.

This module is the contract a reply rule is written against (`humansupport.extensions.ReplyRule`): what it
reads (`ReplyText`), what it returns (`RuleMatch`) and what it is configured with (`RuleOptions`, `Phrase`).
The linter that runs the rules is the feature package `humansupport.replies`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Final

from .errors import ConfigError
from .literal_scan import ScanText

__all__ = [
    "ALL_RULES",
    "Phrase",
    "ReplySource",
    "ReplyText",
    "RuleMatch",
    "RuleOptions",
    "compiled_phrase",
    "parse_reply",
    "phrase_pattern",
]

#: the rule-id set meaning "every rule" in an ignore marker
ALL_RULES: Final = "*"
_MASK: Final = "\x00"  # not a word character and not whitespace: no phrase matches or spans it
_APOSTROPHES: Final = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'"})
_MARKER = re.compile(
    r"humansupport:[ \t]*(?P<kind>ignore-file|ignore)\b(?P<rest>(?:(?!-->)[^\n])*)(?:-->)?", re.IGNORECASE
)
_FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[^\n]*$", re.MULTILINE)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_TICKS = re.compile(r"`+")
_QUOTE_PREFIX = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.MULTILINE)
_NEWLINE = re.compile("\n")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


@dataclass(frozen=True, kw_only=True)
class ReplySource:
    """Where a reply came from: a file (or stdin), or a saved reply read through a helpdesk plugin."""

    name: str
    kind: str = "file"  # file | stdin | a SavedReply.kind (macro, saved_reply, canned_response, ...)
    path: str | None = None
    vendor: str | None = None
    id: str | None = None
    title: str | None = None
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "path": self.path,
            "vendor": self.vendor,
            "id": self.id,
            "title": self.title,
            "url": self.url,
        }


@dataclass(frozen=True, kw_only=True)
class ReplyText:
    """The original text, its searchable twin, ignore markers, and the offset -> line/column index."""

    source: ReplySource
    text: str
    searchable: str
    ignore_all: frozenset[str] = frozenset()
    ignore_lines: dict[int, frozenset[str]] = field(default_factory=dict)
    marker_rules: frozenset[str] = frozenset()  # every rule id a marker named (checked against known rules)
    _line_starts: list[int] = field(default_factory=list, repr=False)

    @cached_property
    def scan(self) -> ScanText:
        """`searchable` with its folded twin, made once per reply and shared by every rule (see literal_scan)."""
        return ScanText(text=self.searchable)

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def ignored(self, rule_id: str, line: int) -> bool:
        """Whether an ignore marker silences this rule on this line."""
        for rules in (self.ignore_all, self.ignore_lines.get(line, frozenset())):
            if ALL_RULES in rules or rule_id in rules:
                return True
        return False


def _blank(chars: list[str], start: int, end: int, fill: str = _MASK) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = fill


def _mask_fences(text: str, chars: list[str]) -> None:
    """Blanks fenced code blocks; an unclosed fence runs to the end, as in CommonMark."""
    pos = 0
    while (opening := _FENCE_OPEN.search(text, pos)) is not None:
        fence = opening.group("fence")
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        after = opening.end()
        found = closing.search(text, after + 1) if after < len(text) else None
        end = found.end() if found else len(text)
        _blank(chars, opening.start(), end)
        pos = end


def _rule_ids(rest: str) -> frozenset[str]:
    spec = rest.split("--", 1)[0]  # " -- reason" and a closing "-->" end the list
    ids = frozenset(tok.lower() for tok in re.split(r"[\s,]+", spec) if tok)
    return ids or frozenset({ALL_RULES})


def parse_reply(text: str, *, source: ReplySource, markdown: bool = False) -> ReplyText:
    """Builds the searchable twin of `text` and reads its ignore markers."""
    chars = list(text.translate(_APOSTROPHES))
    if markdown:
        if (front := _FRONT_MATTER.match(text)) is not None:
            _blank(chars, 0, front.end())
        _mask_fences(text, chars)
        for m in _QUOTE_PREFIX.finditer(text):
            _blank(chars, m.start(), m.end(), " ")
    starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
    ignore_all: set[str] = set()
    ignore_lines: dict[int, set[str]] = {}
    named: set[str] = set()
    next_prose = 0  # the first line with prose after the last lone marker (past the last line: none)
    for m in _MARKER.finditer(text):
        rules = _rule_ids(m.group("rest"))
        named |= rules - {ALL_RULES}
        line = bisect.bisect_right(starts, m.start())
        _blank(chars, m.start(), m.end())
        if m.group("kind").lower() == "ignore-file":
            ignore_all |= rules
            continue
        target = line
        if not _has_prose(_line(text, starts, line)):  # a marker alone on its line covers the next line of text
            # markers come in order: while the last search's answer lies ahead, the lines up to it are known to
            # hold no prose, so consecutive marker lines share one forward scan (not one scan each)
            if next_prose <= line:
                lines = range(line + 1, len(starts) + 1)
                next_prose = next((n for n in lines if _has_prose(_line(text, starts, n))), len(starts) + 1)
            target = next_prose if next_prose <= len(starts) else line
        ignore_lines.setdefault(target, set()).update(rules)
    if markdown:  # after the markers: a marker inside a comment was read above, the comment is not prose
        for m in _HTML_COMMENT.finditer(text):
            _blank(chars, m.start(), m.end())
        searchable = "".join(chars)
        searchable = _mask_inline_code(searchable)
    else:
        searchable = "".join(chars)
    return ReplyText(
        source=source,
        text=text,
        searchable=searchable,
        ignore_all=frozenset(ignore_all),
        ignore_lines={k: frozenset(v) for k, v in ignore_lines.items()},
        marker_rules=frozenset(named),
        _line_starts=starts,
    )


def _mask_inline_code(text: str) -> str:
    """Blanks inline code spans: a run of backticks up to the next run of the same length on its line.

    A regex with a backreference did this, but rescanned to the end of the line from every run that has
    no partner (super-linear on one long line of backticks); here each run is looked at once.
    """
    runs = [(m.start(), m.end()) for m in _TICKS.finditer(text)]
    partner: list[int | None] = [None] * len(runs)
    later: dict[int, int] = {}  # run length -> index of the nearest such run to the right, on the same line
    for i in range(len(runs) - 1, -1, -1):
        start, end = runs[i]
        if i + 1 < len(runs) and text.find("\n", end, runs[i + 1][0]) != -1:
            later = {}  # a newline between this run and the next: spans never cross it
        partner[i] = later.get(end - start)
        later[end - start] = i
    pieces: list[str] = []
    done = i = 0
    while i < len(runs):
        j = partner[i]
        if j is None:
            i += 1
            continue
        pieces += [text[done : runs[i][0]], _MASK * (runs[j][1] - runs[i][0])]
        done = runs[j][1]
        i = j + 1
    return "".join(pieces) + text[done:] if pieces else text


def _has_prose(line: str) -> bool:
    """Whether a line holds anything but ignore markers, HTML comments and whitespace."""
    return bool(_HTML_COMMENT.sub("", _MARKER.sub("", line)).strip(" \t\r<!->"))


def _line(text: str, starts: list[int], line: int) -> str:
    end = starts[line] - 1 if line < len(starts) else len(text)
    return text[starts[line - 1] : end]


@lru_cache(maxsize=4096)
def compiled_phrase(pattern: str) -> re.Pattern[str]:
    """A phrase regex compiled case-insensitive (cached: every reply tries the same phrases)."""
    return re.compile(pattern, re.IGNORECASE)


def phrase_pattern(spec: str) -> str:
    """A regex for a phrase: whole words only, any whitespace (a line wrap too) between words.

    `spec` is a regex whose literal spaces stand for "one or more whitespace characters"; it may not start
    or end inside a word ("should" never matches in "shoulder" or "shouldn't").
    """
    return r"(?<!\w)(?:" + re.sub(r" +", r"\\s+", spec.strip()) + r")(?!\w)"


@dataclass(frozen=True, kw_only=True)
class Phrase:
    """One phrase a `PhraseRule` looks for, with the rewrite to suggest (and a reason, else the rule's)."""

    pattern: str
    rewrite: str
    reason: str | None = None

    @classmethod
    def literal(cls, text: str, *, rewrite: str, reason: str | None = None) -> Phrase:
        """A phrase given as plain words (configuration): escaped, case-insensitive, wraps allowed."""
        words = [re.escape(w).replace("'", "['\u2019]") for w in text.split()]
        if not words:
            raise ConfigError("an empty phrase in [replies] configuration")
        return cls(pattern=phrase_pattern(" ".join(words)), rewrite=rewrite, reason=reason)

    def compiled(self) -> re.Pattern[str]:
        return compiled_phrase(self.pattern)


@dataclass(frozen=True, kw_only=True)
class RuleMatch:
    """What a rule found: offsets into `ReplyText.searchable` (end exclusive), why, and what to write instead."""

    start: int
    end: int
    reason: str
    suggestion: str


@dataclass(frozen=True, kw_only=True)
class RuleOptions:
    """Per-rule settings a rule receives: phrases added and phrases allowed by `[replies.rules.<id>]`."""

    extra: tuple[Phrase, ...] = ()
    allow: tuple[str, ...] = ()  # regexes (built with `phrase_pattern`); a match inside one is dropped
