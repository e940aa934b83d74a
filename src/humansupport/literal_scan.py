"""Regex matches found from the literal text each match starts with: exact like `finditer`, in linear time.

The reply rules are dozens of case-insensitive phrase patterns that start with a lookbehind (`(?<!\\w)`).
Python's `re` cannot skip ahead for such a pattern: it tries a match at every character, about 0.2 s per
pattern per 2 MiB, so a rule table cost seconds on a large reply. Here each pattern is read once (its parse
tree) for the few short literal prefixes every match must start with ("sho", "you", "i"); `str.find` on a
folded copy of the text (same length: ASCII lower case, the Unicode letters `re.IGNORECASE` equates with
ASCII ones, any decimal digit as "0") lists where those occur, and the pattern is only tried there, with
`Pattern.match` on the original text. Positions are tried in order and a match resumes the search at its
end, so the matches are those of `finditer`. A pattern whose start cannot be told (it may start with any
word character, say) is run with `finditer` as before.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

__all__ = ["ScanText", "Starts", "finditer", "search", "starts_of"]

_parser: Any = importlib.import_module("re._parser")  # the stdlib's own regex parser (3.11+), read-only use
_c: Any = importlib.import_module("re._constants")

#: prefixes longer than this add nothing: three characters already make candidates rare
_PREFIX_LEN: Final = 3
#: more distinct prefixes than this (a character class in each position) stop the expansion early
_MAX_PREFIXES: Final = 64
#: non-ASCII characters `re.IGNORECASE` matches with an ASCII letter (tests check this table against `re`)
CASE_EXTRAS: Final = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
#: more distinct first characters than this: candidates would be most words, `finditer` is cheaper
_MAX_FIRST_CHARS: Final = 8
#: above one candidate per this many characters, trying each costs more than `finditer`
CANDIDATE_SPACING: Final = 24
_ASCII_FOLD: Final = {
    **{ord(c): ord(c.lower()) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    **{c: ord(" ") for c in range(128) if chr(c).isspace()},
    **{ord(c): ord("0") for c in "123456789"},
}


def _fold_char(code: int) -> str:
    """The folded form of one pattern character (as `ScanText.folded` holds it)."""
    ch = chr(code)
    if ch.isspace():
        return " "
    if ch.isdecimal():
        return "0"
    if ch.isascii():
        return ch.lower()
    return CASE_EXTRAS.get(ch, ch)


@dataclass(frozen=True, kw_only=True)
class Starts:
    """What every match of a pattern starts with: one of `prefixes` (folded), after a non-word character if
    `word_start` (the pattern opens with `(?<!\\w)`, or `\\b` before a word character)."""

    prefixes: frozenset[str]
    word_start: bool


class _Unknown(Exception):
    """The start of the pattern cannot be told from its parse tree."""


def _chars(items: list[tuple[Any, Any]]) -> set[str] | None:
    """The folded characters a character class matches, or None when it is not a short explicit set."""
    out: set[str] = set()
    for op, av in items:
        if op is _c.LITERAL:
            if not chr(av).isascii():
                return None
            out.add(_fold_char(av))
        elif op is _c.RANGE:
            lo, hi = av
            if hi > 127 or hi - lo > 64:
                return None
            out.update(_fold_char(c) for c in range(lo, hi + 1))
        elif op is _c.CATEGORY and av is _c.CATEGORY_DIGIT:
            out.add("0")
        elif op is _c.CATEGORY and av is _c.CATEGORY_SPACE:
            out.add(" ")
        else:  # NEGATE, other categories
            return None
    return out


def _walk(items: list[tuple[Any, Any]], open_: set[str], closed: set[str]) -> set[str]:
    """Extends the prefixes in `open_` through a sequence; those that can grow no further go to `closed`.

    Returns the prefixes still open after the sequence. Zero-width items (assertions, anchors) are skipped:
    dropping a condition only adds candidate positions, which `Pattern.match` then rejects.
    """
    for op, av in items:
        if not open_:
            break
        if op in (_c.ASSERT, _c.ASSERT_NOT, _c.AT):
            continue
        if op is _c.LITERAL or op is _c.IN:
            chars = ({_fold_char(av)} if chr(av).isascii() else None) if op is _c.LITERAL else _chars(av)
            if chars is None or len(open_) * len(chars) > _MAX_PREFIXES:
                closed |= open_
                return set()
            open_ = {p + c for p in open_ for c in chars}
        elif op is _c.BRANCH:
            grown: set[str] = set()
            for alternative in av[1]:
                grown |= _walk(list(alternative.data), set(open_), closed)
            open_ = grown
        elif op is _c.SUBPATTERN:
            _, add_flags, del_flags, sub = av
            if (add_flags | del_flags) & ~(re.IGNORECASE | re.UNICODE):
                closed |= open_  # verbose/dotall/multiline flags inside: stop here
                return set()
            open_ = _walk(list(sub.data), open_, closed)
        elif op is _c.ATOMIC_GROUP:
            open_ = _walk(list(av.data), open_, closed)
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            once = _walk(list(sub.data), set(open_), closed)
            if hi != 1:  # more repetitions may follow: stop after the first
                closed |= once
                once = set()
            open_ = (once | open_) if lo == 0 else once
        else:  # ANY, NOT_LITERAL, group references, ...
            closed |= open_
            return set()
        done = {p for p in open_ if len(p) >= _PREFIX_LEN}
        closed |= done
        open_ -= done
    return open_


def _word_start(items: list[tuple[Any, Any]], prefixes: frozenset[str], flags: int) -> bool:
    """Whether the pattern opens with `(?<!\\w)`, or with `\\b` while every prefix starts with a word character."""
    if flags & re.ASCII or not items:
        return False
    op, av = items[0]
    if op is _c.ASSERT_NOT and av[0] == -1:
        return list(av[1].data) == [(_c.IN, [(_c.CATEGORY, _c.CATEGORY_WORD)])]
    if op is _c.AT and av is _c.AT_BOUNDARY:
        return all(p[0].isalnum() or p[0] == "_" for p in prefixes)
    return False


@lru_cache(maxsize=4096)
def _starts(pattern: str, flags: int) -> Starts | None:
    try:
        tree = _parser.parse(pattern, flags)
    except Exception:
        return None
    if tree.state.flags & re.VERBOSE:
        return None
    closed: set[str] = set()
    items = list(tree.data)
    closed |= _walk(items, {""}, closed)
    if not closed or "" in closed:
        return None
    # "i" already finds every place "i'll" could: keep only the shortest of nested prefixes
    kept = frozenset(p for p in closed if not any(q != p and p.startswith(q) for q in closed))
    return Starts(prefixes=kept, word_start=_word_start(items, kept, tree.state.flags))


def starts_of(pattern: re.Pattern[str]) -> Starts | None:
    """The literal starts of a compiled pattern, or None when they cannot be told (then `finditer` is used)."""
    return _starts(pattern.pattern, pattern.flags)


@lru_cache(maxsize=1024)
def _finder(prefix: str, word_start: bool) -> re.Pattern[str]:
    """`prefix` over the folded text, case-sensitive so `re` finds its literal start with a fast search.

    A word-start prefix made of word characters cannot overlap itself at word starts, so it is matched
    whole (the longest literal, the fastest search); any other is matched one character with a lookahead
    for the rest, so overlapping occurrences ("{{" in "{{{") are all found.
    """
    if word_start and all(c.isalnum() or c == "_" for c in prefix[:-1]):
        return re.compile(re.escape(prefix) + rf"(?<!\w.{{{len(prefix)}}})", re.DOTALL)
    rest = f"(?={re.escape(prefix[1:])})" if len(prefix) > 1 else ""
    return re.compile(re.escape(prefix[0]) + rest + (r"(?<!\w.)" if word_start else ""), re.DOTALL)


@dataclass(kw_only=True)
class ScanText:
    """A text and its folded twin, with the candidate positions found so far (shared by every pattern)."""

    text: str
    folded: str = ""
    _candidates: dict[Starts, list[int] | None] = field(default_factory=dict, repr=False)
    _positions: dict[tuple[str, bool], list[int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        table: dict[int, int | str] = dict(_ASCII_FOLD)
        if not self.text.isascii():
            for ch in set(self.text):
                if not ch.isascii() and (ch in CASE_EXTRAS or ch.isdecimal() or ch.isspace()):
                    table[ord(ch)] = _fold_char(ord(ch))
        self.folded = self.text.translate(table)

    def positions(self, prefix: str, *, word_start: bool) -> list[int]:
        """Where `prefix` occurs in the folded text (only where a word starts, if `word_start`), in order."""
        key = (prefix, word_start)
        found = self._positions.get(key)
        if found is None:
            found = [m.start() for m in _finder(prefix, word_start).finditer(self.folded)]
            self._positions[key] = found
        return found

    def candidates(self, starts: Starts) -> list[int] | None:
        """The sorted offsets where a match could begin, or None when they are too many to be worth trying one
        by one (more than one in `CANDIDATE_SPACING` characters: a single letter as prefix, say)."""
        if starts in self._candidates:
            return self._candidates[starts]
        limit = len(self.text) // CANDIDATE_SPACING + 64
        merged: list[int] | None = None
        first = {p[0] for p in starts.prefixes}
        # a class of letters first ([A-Z]) means nearly every word: then `finditer` is cheaper
        if len(first) <= _MAX_FIRST_CHARS:
            lists = [self.positions(p, word_start=starts.word_start) for p in starts.prefixes]
            merged = lists[0] if len(lists) == 1 else sorted({at for found in lists for at in found})
            if len(merged) > limit:
                merged = None
        self._candidates[starts] = merged
        return merged


def finditer(pattern: re.Pattern[str], scan: ScanText) -> Iterator[re.Match[str]]:
    """The matches `pattern.finditer(scan.text)` yields, trying the pattern only where one could start."""
    starts = starts_of(pattern)
    candidates = None if starts is None else scan.candidates(starts)
    if candidates is None:
        yield from pattern.finditer(scan.text)
        return
    text, match = scan.text, pattern.match
    resume = 0
    for at in candidates:
        if at < resume:
            continue
        found = match(text, at)
        if found is not None:
            yield found
            resume = found.end()  # every match holds its prefix: never empty


def search(pattern: re.Pattern[str], scan: ScanText) -> re.Match[str] | None:
    """The first match, like `pattern.search(scan.text)`."""
    return next(finditer(pattern, scan), None)
