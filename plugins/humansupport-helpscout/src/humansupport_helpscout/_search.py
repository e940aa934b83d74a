"""The fake's reading of Help Scout's search syntax (`query=` on `GET /v2/conversations` and `/v2/customers`).

Help Scout documents queries such as `(email:"a@b.com")`, `(tag:"vip" OR tag:"billing")`, `(customerIds:123)`,
`(status:active AND NOT tag:"spam")` and ranges `modifiedAt:[2024-06-01T00:00:00Z TO *]`
(developer.helpscout.com/mailbox-api/endpoints/conversations/list, vendors/helpscout.md §3). This parses that
grammar: `field:value` terms (value quoted, bare, or a `[from TO to]` range), bare words (full text), parentheses,
`NOT` (or a leading `-`), `AND`, `OR` and adjacency as AND; NOT binds tightest, then AND, then OR. What a field
means is up to the caller's `Matcher`, so the same parser serves conversations and customers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Query", "QueryError", "Range", "parse"]

T = TypeVar("T")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<open>\() | (?P<close>\)) |
        (?P<field>[A-Za-z][A-Za-z0-9_.]*):(?:"(?P<qval>[^"]*)"|\[(?P<range>[^\]]*)\]|(?P<val>[^\s()"]+)) |
        "(?P<phrase>[^"]*)" |
        (?P<neg>-)(?=\S) |
        (?P<word>[^\s()"]+)
    )""",
    re.VERBOSE,
)


class QueryError(ValueError):
    """A query the syntax does not allow (the fake answers 400 with `path: query`)."""


@dataclass(frozen=True)
class Range:
    """`[low TO high]`; `*` (None) is open."""

    low: str | None
    high: str | None


@dataclass(frozen=True)
class _Term:
    field: str | None  # None: a bare word or phrase (full text)
    value: str | Range


@dataclass(frozen=True)
class _Not:
    inner: _Node


@dataclass(frozen=True)
class _All:
    parts: tuple[_Node, ...]


@dataclass(frozen=True)
class _Any:
    parts: tuple[_Node, ...]


_Node = _Term | _Not | _All | _Any
#: `matcher(field, value, record)`: whether one term holds for a record (field None: full text)
Matcher = Callable[[str | None, "str | Range", T], bool]


@dataclass(frozen=True)
class Query(Generic[T]):
    root: _Node

    def matches(self, record: T, matcher: Matcher[T]) -> bool:
        return _eval(self.root, record, matcher)

    def fields(self) -> set[str]:
        return _fields(self.root)

    def terms(self) -> list[tuple[str | None, str | Range]]:
        """Every `field:value` (field None for full text) in the query."""
        return _terms(self.root)


def parse(text: str) -> Query[object]:
    tokens = _tokenize(text)
    if not tokens:
        raise QueryError("query may not be empty")
    parser = _Parser(tokens)
    root = parser.expression()
    if parser.pos != len(tokens):
        raise QueryError(f"unexpected {tokens[parser.pos][1]!r} in query")
    return Query(root)


def _tokenize(text: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise QueryError(f"cannot read the query at {text[pos : pos + 20]!r}")
        pos = m.end()
        if m["open"]:
            out.append(("(", "("))
        elif m["close"]:
            out.append((")", ")"))
        elif m["field"]:
            if m["range"] is not None:
                parts = m["range"].split(" TO ")
                if len(parts) != 2:
                    raise QueryError(f"a range is [from TO to], got [{m['range']}]")
                low, high = (p.strip() for p in parts)
                value: str | Range = Range(None if low == "*" else low, None if high == "*" else high)
            else:
                value = m["qval"] if m["qval"] is not None else m["val"]
            out.append(("term", _Term(m["field"], value)))
        elif m["phrase"] is not None:
            out.append(("term", _Term(None, m["phrase"])))
        elif m["neg"]:
            out.append(("NOT", "-"))
        elif m["word"] in ("AND", "OR", "NOT"):
            out.append((m["word"], m["word"]))
        else:
            out.append(("term", _Term(None, m["word"])))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, object]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def expression(self) -> _Node:
        parts = [self._conjunction()]
        while self._peek() == "OR":
            self.pos += 1
            parts.append(self._conjunction())
        return parts[0] if len(parts) == 1 else _Any(tuple(parts))

    def _conjunction(self) -> _Node:
        parts = [self._unary()]
        while self._peek() in ("AND", "NOT", "(", "term"):
            if self._peek() == "AND":
                self.pos += 1
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else _All(tuple(parts))

    def _unary(self) -> _Node:
        kind = self._peek()
        if kind == "NOT":
            self.pos += 1
            return _Not(self._unary())
        if kind == "(":
            self.pos += 1
            inner = self.expression()
            if self._peek() != ")":
                raise QueryError("unbalanced parentheses in query")
            self.pos += 1
            return inner
        if kind == "term":
            term = self.tokens[self.pos][1]
            self.pos += 1
            assert isinstance(term, _Term)
            return term
        raise QueryError(f"expected a term, got {kind or 'the end of the query'}")


def _eval(node: _Node, record: T, matcher: Matcher[T]) -> bool:
    if isinstance(node, _Term):
        return matcher(node.field, node.value, record)
    if isinstance(node, _Not):
        return not _eval(node.inner, record, matcher)
    if isinstance(node, _All):
        return all(_eval(p, record, matcher) for p in node.parts)
    return any(_eval(p, record, matcher) for p in node.parts)


def _fields(node: _Node) -> set[str]:
    if isinstance(node, _Term):
        return {node.field} if node.field else set()
    if isinstance(node, _Not):
        return _fields(node.inner)
    return set().union(*(_fields(p) for p in node.parts))


def _terms(node: _Node) -> list[tuple[str | None, str | Range]]:
    if isinstance(node, _Term):
        return [(node.field, node.value)]
    if isinstance(node, _Not):
        return _terms(node.inner)
    return [t for p in node.parts for t in _terms(p)]
