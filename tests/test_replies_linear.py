"""`replies lint` does linear work: the next-step scan once per reply, regexes tried only where a match can
start (and then exactly `finditer`'s matches), Markdown masking and ignore markers without rescans."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from humansupport import literal_scan
from humansupport.replies import Linter
from humansupport.replies import rules as reply_rules
from humansupport.replies.rules import _NEXT_STEP, BUILTIN_REPLY_RULES
from humansupport.reply_text import ReplySource, _mask_inline_code, parse_reply

RULES = {cls.id: cls for cls in BUILTIN_REPLY_RULES}
PROMISES = "We'll look into it. I'm looking into this. Our team is investigating. It has been escalated. "
PATTERNS = [
    *(phrase.compiled() for cls in BUILTIN_REPLY_RULES for phrase in cls.phrases),
    *(re.compile(p, re.IGNORECASE) for cls in BUILTIN_REPLY_RULES for p in cls.exceptions),
    *_NEXT_STEP,
]


@pytest.mark.parametrize("copies", [1, 50, 500])
def test_the_next_step_is_looked_for_once_per_reply_however_many_promises(
    monkeypatch: pytest.MonkeyPatch, copies: int
) -> None:
    calls: list[object] = []
    real = reply_rules.has_next_step

    def counting(text: object) -> bool:
        calls.append(text)
        return real(text)  # type: ignore[arg-type]

    monkeypatch.setattr(reply_rules, "has_next_step", counting)
    report = Linter(rules=RULES).lint_text(PROMISES * copies)
    assert sum(f.rule == "false-hope" for f in report.findings) == 4 * copies
    assert len(calls) == 1  # it was once per promise found: 4 * copies scans of the whole reply


def test_patterns_are_tried_only_where_their_words_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Work grows with the text, not with (phrases x characters): count `Pattern.match` calls per reply size."""
    tried: list[int] = []
    real = literal_scan.finditer

    def counting(pattern: re.Pattern[str], scan: literal_scan.ScanText) -> object:
        starts = literal_scan.starts_of(pattern)
        candidates = None if starts is None else scan.candidates(starts)
        tried.append(len(scan.text) if candidates is None else len(candidates))
        return real(pattern, scan)

    monkeypatch.setattr(literal_scan, "finditer", counting)
    work = []
    for copies in (100, 400):
        tried.clear()
        Linter(rules=RULES).lint_text(PROMISES * copies)
        work.append(sum(tried))
    assert work[1] <= 4.5 * work[0]  # linear: four times the text, about four times the tries
    # plain finditer tries every pattern at every character: here a small fraction of that
    assert work[1] < 0.05 * len(PROMISES) * 400 * len(tried)


TEXTS = st.text(
    alphabet=st.sampled_from(
        [
            *"should you I we'll it looks like sorry as soon 12 pm ticket #42 PAY-1 {{due_date}} http://status.x ",
            "\u017f",
            "\u212a",
            "\u0130",
            "\u0131",
            "\u0663",
            "\u00a0",
            "\n",
            "\t",
            "_",
            "é",
            "`",
            "-",
            ".",
        ]
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_literal_scan_finds_exactly_what_finditer_finds(text: str) -> None:
    scan = literal_scan.ScanText(text=text)
    for pattern in PATTERNS:
        assert [m.span() for m in literal_scan.finditer(pattern, scan)] == [m.span() for m in pattern.finditer(text)]


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"(?<!\w)(?:should)(?!\w)", "\u017fhould SHOULD shouldn't"),  # long s matches s under IGNORECASE
        (r"\bkey\b", "\u212aey KEY"),  # Kelvin sign
        (r"(?<!\w)I\s+think", "\u0130\u00a0think i\tthink"),
        (r"\b\d{1,2}\s?pm\b", "\u0663pm and 3 pm"),  # an Arabic-Indic digit is a \d
        (r"#\d{2,}", "##42 #\u0664\u0665"),
        (r"\{\{[^}]{0,100}?due", "{{{ due"),  # overlapping prefixes
        (r"(?x) a b", "ab"),  # verbose: not analysed, plain finditer
        (r"(?<!\w)(?:as|asap)", "as asap"),
    ],
)
def test_literal_scan_matches_finditer_on_unicode_edge_cases(pattern: str, text: str) -> None:
    compiled = re.compile(pattern, re.IGNORECASE)
    scan = literal_scan.ScanText(text=text)
    assert [m.span() for m in literal_scan.finditer(compiled, scan)] == [m.span() for m in compiled.finditer(text)]


def test_the_case_table_is_every_non_ascii_letter_ignorecase_equates_with_ascii() -> None:
    found = {chr(c) for c in range(0x80, 0x30000) if re.fullmatch("[a-z]", chr(c), re.IGNORECASE)}
    assert found == set(literal_scan.CASE_EXTRAS)


_OLD_INLINE_CODE = re.compile(r"(?<!`)(?P<ticks>`+)(?!`)[^\n]+?(?<!`)(?P=ticks)(?!`)")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("`` x\n")), max_size=80))
def test_inline_code_masking_matches_the_code_span_regex(text: str) -> None:
    expected = _OLD_INLINE_CODE.sub(lambda m: re.sub(r"[^\n]", "\x00", m.group(0)), text)
    assert _mask_inline_code(text) == expected


def test_unpaired_backtick_runs_on_one_long_line_are_not_rescanned() -> None:
    text = " ".join("`" * k + "x" for k in range(1, 700))  # every run unpaired: the regex rescanned the line
    reply = parse_reply(text + " you should see", source=ReplySource(name="t"), markdown=True)
    assert reply.searchable.endswith("you should see")


def test_consecutive_marker_lines_all_cover_the_next_line_of_prose() -> None:
    text = "<!-- humansupport: ignore hedging -->\n" * 3000 + "\nIt might work.\nIt might not.\n"
    report = Linter(rules=RULES).lint_text(text, markdown=True)
    assert [(f.line, f.text) for f in report.findings] == [(3003, "might not")]
