"""The reply-certainty check (`humansupport replies lint`): rules that find hedging, reflexive apologies, false
hope and blame in saved replies and files, and the linter that runs them.

`linter.py` (the `Linter`, `LintConfig` from `[replies]`, reports, `PhraseRule`), `rules.py` (the built-in
rules and their hookimpl), `sources.py` (files, stdin and a helpdesk's saved replies), `output.py` (the human
report and GitHub annotations). What a rule reads and returns is the contract module `humansupport.reply_text`.
"""

from ..reply_text import Phrase, ReplySource, ReplyText, RuleMatch, RuleOptions, phrase_pattern
from .linter import Finding, LintConfig, Linter, LintReport, PhraseRule, ReplyReport, Severity

__all__ = [
    "Finding",
    "LintConfig",
    "LintReport",
    "Linter",
    "Phrase",
    "PhraseRule",
    "ReplyReport",
    "ReplySource",
    "ReplyText",
    "RuleMatch",
    "RuleOptions",
    "Severity",
    "phrase_pattern",
]
