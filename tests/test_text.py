"""html_to_text: what agents read, line by line, so `replies lint` can point at a line."""

from __future__ import annotations

import pytest

from humansupport.text import html_to_text, looks_like_html, text_to_html


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("Hi there,<br /><br />Of course you can.<br>Bye", "Hi there,\n\nOf course you can.\nBye"),
        ("<ul><li>first</li><li>second</li></ul>after", "- first\n- second\nafter"),
        ("<div>a</div><div>b</div>", "a\nb"),
        ("<h2>Title</h2>Body", "Title\n\nBody"),
        ("Fish &amp; chips &lt;3 &eacute;t&eacute; &#8212; &nbsp;ok", "Fish & chips <3 été — ok"),
        ("<p>  lots   of\n  spaces  </p>", "lots of spaces"),
        ("<pre>keep\n  this</pre>", "keep\n  this"),
        ("<p>x</p><script>alert(1)</script><style>p{}</style><p>y</p>", "x\n\ny"),
        ("<p>Hi <b>Ada</b>,</p>", "Hi Ada,"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"),
        ("unclosed <b>bold <p>para", "unclosed bold\n\npara"),
        ('<p>Hi <attribute key="user.name" default="there"/>!</p>', "Hi !"),
        ("", ""),
        ("plain text", "plain text"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_line_numbers_follow_the_blocks() -> None:
    text = html_to_text("<p>Hello,</p><p>I think this should work.</p><p>Thanks</p>")
    lines = text.splitlines()
    assert lines[2] == "I think this should work."  # line 3 as a linter counts


def test_no_tags_survive_even_broken_markup() -> None:
    for html in ("<p <b>x", "<<p>>y</p>", "<a href='x'>link</a", "<!-- c --><p>z</p>"):
        assert "<p" not in html_to_text(html) and "</" not in html_to_text(html)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("<p>x</p>", True), ("a<br/>b", True), ("x < y and y > z", False), ("plain\ntext", False), ("<3", False)],
)
def test_looks_like_html(text: str, expected: bool) -> None:
    assert looks_like_html(text) is expected


def test_text_to_html_round_trips() -> None:
    text = "Hi <Ada> & co,\n\nLine one\nLine two\n\nBye — Jürgen"
    html = text_to_html(text)
    assert html == "<p>Hi &lt;Ada&gt; &amp; co,</p><p>Line one<br>Line two</p><p>Bye — Jürgen</p>"
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<div>Hi,</div><div><br></div><div>Line</div>", "Hi,\n\nLine"),  # Freshdesk's editor
        ("<div>A<br></div><div>B</div>", "A\nB"),  # a <br> ending a block adds no line
        ("<p>A<br></p><p>B</p>", "A\n\nB"),
        ("A<br><br><br>B", "A\n\n\nB"),
    ],
)
def test_blank_lines_as_a_browser_shows_them(html: str, text: str) -> None:
    assert html_to_text(html) == text
