"""HTML to plain text for saved replies and macros, with line breaks kept so a linter can report line numbers.

Vendors store reply texts as HTML (a saved reply's `text`, `content_html` or `body`). `html_to_text` renders
it the way an agent reads it: paragraphs and headings are separated by a blank line, `<br>`, list items, table
rows and other blocks start a new line, list items get "- ", entities are unescaped and runs of HTML whitespace
collapse to one space (except inside `<pre>`). Script and style contents are dropped. Only the standard
library's `html.parser` is used: it never raises on bad markup.
"""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser
from typing import Final

__all__ = ["html_to_text", "looks_like_html", "text_to_html"]

#: blocks separated from their neighbours by a blank line
_PARAGRAPHS: Final = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "hr"})
#: blocks that start on a new line of their own
_LINES: Final = frozenset(
    {
        "div",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "nav",
        "main",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "li",
        "tr",
        "figure",
        "figcaption",
        "address",
        "details",
        "summary",
        "form",
        "fieldset",
    }
)
_DROPPED: Final = frozenset({"script", "style", "head", "title", "template", "noscript"})
_SPACE: Final = re.compile(r"[ \t\n\r\f]+")
_TAG: Final = re.compile(r"<[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?/?>|</[a-zA-Z][a-zA-Z0-9-]*\s*>")


def looks_like_html(text: str) -> bool:
    """True when `text` holds at least one HTML tag (plain-text bodies keep their own line breaks)."""
    return bool(_TAG.search(text))


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._pending = 0  # newlines owed before the next text
        self._dropped = 0
        self._pre = 0
        self._at_line_start = True
        self._trailing = 0  # newlines the output ends with

    # -- breaks --------------------------------------------------------------------------------------

    def _break(self, newlines: int) -> None:
        if self.out:
            self._pending = max(self._pending, newlines)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self._dropped += 1
            return
        if tag == "br":
            self._newline()
            return
        if tag in _PARAGRAPHS:
            self._break(2)
        elif tag in _LINES:
            self._break(1)
        if tag == "pre":
            self._pre += 1
        if tag == "li":
            self._text("- ", raw=True)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._newline()
        elif tag == "hr" or tag in _PARAGRAPHS:
            self._break(2)
        elif tag in _LINES:
            self._break(1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self._dropped = max(0, self._dropped - 1)
            return
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag in _PARAGRAPHS:
            self._break(2)
        elif tag in _LINES:
            self._break(1)
        elif tag in ("td", "th"):
            self._text(" ", raw=False)

    def _newline(self) -> None:
        """A `<br>`: a line break of its own (a blank line after another one); a block end after it adds none."""
        self._flush_pending()
        self._append("\n")

    def _flush_pending(self) -> None:
        """Blocks ask for "at least N newlines here": only the newlines the output does not end with yet."""
        if self._pending and self.out:
            missing = self._pending - self._trailing
            if missing > 0:
                self._append("\n" * missing)
        self._pending = 0

    def _append(self, text: str) -> None:
        self.out.append(text)
        stripped = text.rstrip("\n")
        self._trailing = len(text) - len(stripped) + (self._trailing if not stripped else 0)
        self._at_line_start = text.endswith("\n")

    # -- text ----------------------------------------------------------------------------------------

    def handle_data(self, data: str) -> None:
        if self._dropped:
            return
        self._text(data, raw=bool(self._pre))

    def _text(self, data: str, *, raw: bool) -> None:
        data = data.replace("\xa0", " ")
        if not raw:
            data = _SPACE.sub(" ", data)
            if self._at_line_start or self._pending:
                data = data.lstrip(" ")
            if not data:
                return
        self._flush_pending()
        self._append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: blocks and `<br>` become line breaks, entities are unescaped."""
    parser = _TextParser()
    parser.feed(html)
    if parser.rawdata.lstrip().startswith("<"):
        parser.rawdata = ""  # a tag cut off at the end (a truncated body) is markup, not text
    parser.close()
    lines = [line.rstrip() for line in "".join(parser.out).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def text_to_html(text: str) -> str:
    """The HTML an editor stores for plain text: blank-line-separated paragraphs in `<p>`, line breaks as `<br>`.

    The inverse of `html_to_text` for text whose lines have no surrounding spaces (fakes store samples this way).
    """
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(htmllib.escape(line.strip(), quote=False) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
