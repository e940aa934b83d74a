"""The built-in reply rules: hedging, reflexive-apology, false-hope and blame, each a table of phrases.

They reach the linter through the `register_reply_rules` hook like a plugin's rules: the registry registers
`BuiltinReplyRules` itself (as `humansupport.builtin.replies`). Every phrase carries the rewrite to suggest
for that phrase. docs/insights.md lists what each rule matches and what it leaves alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar, Final

from .. import literal_scan
from ..hookspecs import hookimpl
from ..literal_scan import ScanText
from ..reply_text import Phrase, ReplyText, RuleMatch, RuleOptions, phrase_pattern
from .linter import PhraseRule, Severity

if TYPE_CHECKING:
    from ..extensions import ReplyRule

__all__ = [
    "BUILTIN_REPLY_RULES",
    "Blame",
    "BuiltinReplyRules",
    "FalseHope",
    "Hedging",
    "ReflexiveApology",
    "has_next_step",
]


def _p(spec: str, rewrite: str, reason: str | None = None) -> Phrase:
    return Phrase(pattern=phrase_pattern(spec), rewrite=rewrite, reason=reason)


_WILL_OR_CHECK = "say 'will' or 'is' if you know; if you don't, say what you will check and when you will write back"


class Hedging(PhraseRule):
    """Words that make the customer unsure whether the answer holds ("should", "might", "I think")."""

    id: ClassVar[str] = "hedging"
    severity: ClassVar[str] = Severity.WARNING
    summary: ClassVar[str] = "hedging words: should, might, looks like, I think, probably"
    reason: ClassVar[str] = "hedging leaves the customer unsure whether this is the answer"
    default_rewrite: ClassVar[str] = _WILL_OR_CHECK
    phrases: ClassVar[tuple[Phrase, ...]] = (
        _p(r"(?:you )?should be able to", "'can' (e.g. 'You can now export the report')"),
        _p(r"should (?:now )?work", "'works' (or 'will work once you <step>')"),
        *(
            _p(rf"should (?:now )?be {state}", f"'is {state}' (or 'will be {state} by <date>')")
            for state in ("fixed", "resolved", "sorted", "working", "back", "live", "available", "visible", "gone")
        ),
        *(
            _p(rf"(?:you )?should {verb}", f"'will {verb}' (and when: 'within 10 minutes')")
            for verb in ("receive", "get", "see", "hear")
        ),
        _p(r"should arrive", "'will arrive' (and when: 'by Friday')"),
        _p(r"should(?:n't| not) (?:happen|be a problem|affect|cause)", "'won't happen' (and say what prevents it)"),
        _p(r"you should", "give the step in the imperative: 'Restart the app.'"),
        _p(r"should(?:n't| not)?", _WILL_OR_CHECK),
        _p(r"you might (?:want|wish|like) to", "give the step: 'Clear your cache, then reload.'"),
        _p(r"might(?:n't| not)?", "say what will happen, or what it depends on: 'This takes up to 2 days.'"),
        _p(
            r"(?:it |this |that )?(?:looks|seems|appears) (?:like|as if|as though)",
            "state what you found: 'The cause is …' / 'Your plan has …'",
        ),
        _p(r"(?:seems|appears) to (?:be|have)", "state it: 'is' / 'has'"),
        _p(r"(?:it )?(?:seems|appears) that", "state what you found: 'Your card expired on May 3.'"),
        _p(r"I (?:think|believe|guess|suppose|assume)", "drop it and state the fact (or say what you will check)"),
        _p(r"probably|possibly|presumably", "state what you know, or what you will check and when"),
        _p(r"hopefully", "'will', with the time: 'This will be live by Friday.'"),
    )
    exceptions: ClassVar[tuple[str, ...]] = (
        phrase_pattern(r"should you"),  # "Should you need anything, ..." is a conditional, not a hedge
        phrase_pattern(r"(?:with )?all (?:our|my|his|her|their|its) might"),
        phrase_pattern(r"you might (?:also )?(?:like|enjoy|be interested in)"),  # a pointer, not a hedge
        r"(?<!\w)(?:what|how)\b[^.?!\n]{0,60}?\b(?:looks|seems) like(?!\w)",  # "here is what it looks like"
    )


_NAME_IT = "name the actual problem and what you did: 'The export failed during our 9:00 outage; I re-ran it.'"


class ReflexiveApology(PhraseRule):
    """Stock apologies for "any inconvenience" that name nothing and read as scripted."""

    id: ClassVar[str] = "reflexive-apology"
    severity: ClassVar[str] = Severity.WARNING
    summary: ClassVar[str] = "stock apologies: sorry for any inconvenience, we regret any trouble"
    reason: ClassVar[str] = "a stock apology names nothing and reads as scripted"
    default_rewrite: ClassVar[str] = _NAME_IT
    phrases: ClassVar[tuple[Phrase, ...]] = (
        _p(
            r"(?:sorry|apologi[sz]e|apologies|regret) for (?:any|the) "
            r"(?:inconvenience|trouble|confusion|frustration|issues?)"
            r"(?: (?:this|that|it) (?:may|might|could|has|may have|might have|could have) (?:caused|cause)(?: you)?"
            r"| caused(?: you)?)?",
            _NAME_IT,
        ),
        _p(r"regret any (?:inconvenience|trouble)(?: (?:this|that|it) (?:may|might) (?:have )?caused?)?", _NAME_IT),
        _p(
            r"(?:please )?accept (?:our|my) (?:sincere |sincerest |deepest )?apolog(?:y|ies)",
            "say what went wrong and what you changed: 'We charged you twice; I refunded the second charge.'",
        ),
    )


_SAY_WHEN = "say what you will do and by when: 'I'm checking the billing logs and will update you by 3 pm today.'"

# one pattern per kind of next step (not one alternation): each is tried only where its words occur
_NEXT_STEP: Final = (
    *(
        re.compile(pattern, re.IGNORECASE)
        for pattern in (
            r"\b\d{1,2}(?::[0-5]\d)?\s?[ap]\.?m\b\.?",  # 3pm, 10:30 a.m.
            r"\b(?:[01]?\d|2[0-3]):[0-5]\d\b",  # 14:00
            r"\b(?:noon|midday|midnight|tomorrow|tonight|later today|eod|cob|close of business)\b",
            r"\bend of (?:the )?(?:day|week|month|business day)\b",
            r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b",  # 2026-12-01, 12/1
            r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?\b",
            r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b",
            r"\b(?:by|on|before|until|till|this|next|coming)\s+(?:mon|tues|wednes|thurs|fri|satur|sun)day\b",
            r"\b(?:within|in|under|in the next|over the next)\s+(?:\d+|a|an|one|two|three|four|five|six|seven|"
            r"eight|ten|twelve)(?:\s*-\s*\d+)?\s*(?:business\s+|working\s+)?(?:minutes?|mins?|hours?|hrs?|days?|weeks?)\b",
            r"#\d{2,}\b",  # ticket #4821
            r"\b(?:ticket|issue|case|bug|incident|reference|ref)\.?\s*(?:no\.?|number|#|:)?\s*[a-z]*-?\d+\b",
            # bounded runs: an unbounded one rescans to the end of a long token from every "http"/"{{" in it
            r"https?://\S{0,200}?(?:status|issues?|tickets?|incidents?)",
            r"\{\{[^}]{0,100}?(?:date|time|due|eta)[^}]{0,100}\}\}",  # a placeholder that fills in a date
        )
    ),
    re.compile(r"\b[A-Z][A-Z0-9]{1,9}-\d+\b"),  # JIRA-style PAY-123 (case matters)
)


def has_next_step(text: str | ScanText) -> bool:
    """Whether a reply names a concrete next step: a time, a date, a deadline, a duration, or a reference.

    The heuristic (docs/insights.md): "3 pm", "14:00", "tomorrow", "by Friday", "end of day", "Dec 3",
    "2026-12-03", "within 24 hours", "in 2 business days", "#4821", "ticket 4821", "PAY-123", a status or
    issue URL, or a `{{...due_date...}}` placeholder anywhere in the reply. Vague words ("soon", "shortly",
    "in a few days") are not a next step.
    """
    scan = text if isinstance(text, ScanText) else ScanText(text=text)
    return any(literal_scan.search(pattern, scan) is not None for pattern in _NEXT_STEP)


class FalseHope(PhraseRule):
    """Promises to look into it, follow up or escalate, flagged only when the reply names no next step."""

    id: ClassVar[str] = "false-hope"
    severity: ClassVar[str] = Severity.ERROR
    summary: ClassVar[str] = "promises with no next step: we'll look into it, we'll get back to you"
    reason: ClassVar[str] = "a promise with no time or next step leaves the customer waiting with nothing to hold on to"
    default_rewrite: ClassVar[str] = _SAY_WHEN
    phrases: ClassVar[tuple[Phrase, ...]] = (
        _p(
            r"(?:we|I|our team|the team)(?:'ll| will| shall| are going to|'re going to|'m going to| am going to)"
            r" (?:look|dig) into(?: (?:it|this|that|the (?:issue|problem|matter)|your (?:case|issue|request)))?",
            _SAY_WHEN,
        ),
        _p(
            r"(?:we|I)(?:'re| are|'m| am) (?:currently )?(?:looking into|investigating|checking on|working on)"
            r"(?: (?:it|this|that|the (?:issue|problem)|your (?:case|issue|request)))?",
            _SAY_WHEN,
        ),
        _p(r"(?:we|I)(?:'ll| will) investigate", "say what you will investigate and when you will report back"),
        _p(
            r"(?:we|I)(?:'ll| will) (?:get back to you|be in touch|follow up|let you know|update you"
            r"|keep you (?:posted|updated|in the loop))(?: (?:soon|shortly|as soon as (?:possible|we can)|asap))?",
            "give the time: 'I'll write to you by Thursday noon with what we found.'",
        ),
        _p(
            r"(?:our|the) (?:team|engineers|developers|specialists|product team) (?:is|are|will be)"
            r" (?:looking into|investigating|working on)(?: (?:it|this|that))?",
            _SAY_WHEN,
        ),
        _p(
            r"(?:has|have) been (?:escalated|passed on|forwarded)|(?:I've|I have|we've|we have) escalated",
            "say to whom, the reference and when: 'I've passed this to our payments team (ref PAY-123); "
            "I'll update you by Friday.'",
        ),
        _p(r"as soon as (?:possible|we can)|asap", "give a time, even a range: 'within 2 business days'"),
    )

    def check(self, reply: ReplyText, options: RuleOptions) -> Iterator[RuleMatch]:
        # the next step is a property of the whole reply: looked for once, not once per promise found
        if has_next_step(reply.scan):
            return iter(())
        return super().check(reply, options)


_DESCRIBE = (
    "describe what happened and the fix, without fault: 'The export needs the admin role; here is how to add it.'"
)


class Blame(PhraseRule):
    """Phrases that put the customer at fault ("you are using it wrong", "as I already said")."""

    id: ClassVar[str] = "blame"
    severity: ClassVar[str] = Severity.ERROR
    summary: ClassVar[str] = "blaming the customer: you are using it wrong, you must have, as I already said"
    reason: ClassVar[str] = "blaming the customer puts them on the defensive"
    default_rewrite: ClassVar[str] = _DESCRIBE
    phrases: ClassVar[tuple[Phrase, ...]] = (
        _p(
            r"you(?:'re| are) (?:using|doing|configuring|setting up|holding) (?:it|this|that|them|the \w+)"
            r" (?:wrong(?:ly)?|incorrectly|improperly|the wrong way)",
            "describe the working setup: 'To export, choose CSV under Settings > Data; here is a screenshot.'",
        ),
        _p(r"you must have", "state what happened: 'The file was deleted on May 3; here is how to restore it.'"),
        _p(r"you should have", "give the step for next time: 'Next time, save before closing; I restored it now.'"),
        _p(r"you (?:forgot|failed|neglected|omitted) to", "name the missing step: 'The form needs your VAT number.'"),
        _p(
            r"you did(?:n't| not) (?:read|follow|check|see|notice|pay attention)",
            "point to the step: 'Step 3 of the guide covers this: …'",
        ),
        _p(r"(?:your|user|customer)(?:'s)? (?:fault|mistake)|user error", _DESCRIBE),
        _p(
            r"as (?:I|we) (?:already |previously |have |had )*(?:said|mentioned|stated|explained|told you|noted)"
            r"|as (?:previously|already) (?:said|mentioned|stated|explained)|as stated (?:before|previously|earlier)",
            "restate the answer plainly, as if for the first time",
        ),
        _p(r"(?:clearly|plainly|explicitly) (?:stated|explained|documented|mentioned|written)", _DESCRIBE),
        _p(r"if you had (?:read|followed|checked|looked)", "give the step now, with a link to it"),
        _p(
            r"read the (?:manual|docs|documentation|instructions|guide|faq) (?:again|carefully|first|properly"
            r"|more carefully)",
            "link the exact section and quote the step",
        ),
    )


BUILTIN_REPLY_RULES: Final[tuple[type[PhraseRule], ...]] = (Hedging, ReflexiveApology, FalseHope, Blame)


class BuiltinReplyRules:
    """The core's own reply rules as a plugin; the registry registers it like any other."""

    @staticmethod
    @hookimpl
    def register_reply_rules() -> list[type[ReplyRule]]:
        return list(BUILTIN_REPLY_RULES)
