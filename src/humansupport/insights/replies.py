"""Moved to `humansupport.replies` (the linter) and `humansupport.reply_text` (what a rule reads and returns).

Plugins written against this path keep working: the names a reply rule uses are re-exported here.
"""

from ..replies import Finding, LintConfig, Linter, LintReport, PhraseRule, ReplyReport, Severity
from ..reply_text import Phrase, RuleMatch, RuleOptions, phrase_pattern

__all__ = [
    "Finding",
    "LintConfig",
    "LintReport",
    "Linter",
    "Phrase",
    "PhraseRule",
    "ReplyReport",
    "RuleMatch",
    "RuleOptions",
    "Severity",
    "phrase_pattern",
]
