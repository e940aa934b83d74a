"""Each built-in reply rule on known inputs: what it must find (with the rewrite) and what it must leave alone."""

from __future__ import annotations

import pytest

from humansupport.plugins import PluginRegistry
from humansupport.replies.linter import Linter, Severity
from humansupport.replies.rules import BUILTIN_REPLY_RULES, has_next_step

RULES = {cls.id: cls for cls in BUILTIN_REPLY_RULES}


def found(text: str, rule: str, *, markdown: bool = False) -> list[str]:
    report = Linter(rules={rule: RULES[rule]}).lint_text(text, markdown=markdown)
    assert not report.warnings
    return [f.text for f in report.findings]


POSITIVE = [
    # (rule, text, matched phrases in order, a word the first suggestion must contain)
    ("hedging", "This should work now.", ["should work"], "works"),
    ("hedging", "The sync should be fixed tomorrow.", ["should be fixed"], "is fixed"),
    ("hedging", "You should be able to export it.", ["You should be able to"], "can"),
    ("hedging", "You should receive a receipt.", ["You should receive"], "will receive"),
    ("hedging", "You should restart the app.", ["You should"], "imperative"),
    ("hedging", "That shouldn't happen again.", ["shouldn't happen"], "won't"),
    ("hedging", "It might take a day.", ["might"], "depends"),
    ("hedging", "It looks like your card expired.", ["It looks like"], "found"),
    ("hedging", "I think the export is stuck.", ["I think"], "state the fact"),
    ("hedging", "i BELIEVE it's done", ["i BELIEVE"], "state the fact"),
    ("hedging", "Hopefully it is live on Monday.", ["Hopefully"], "will"),
    ("hedging", "It's probably cached.", ["probably"], "what you know"),
    ("hedging", "It seems to be a DNS issue.", ["seems to be"], "is"),
    ("hedging", "It appears that your card expired.", ["It appears that"], "found"),
    ("hedging", "The fix should\nwork now.", ["should\nwork"], "works"),  # a line wrap inside the phrase
    ("hedging", "SHOULD WORK", ["SHOULD WORK"], "works"),
    ("reflexive-apology", "Sorry for any inconvenience.", ["Sorry for any inconvenience"], "actual problem"),
    (
        "reflexive-apology",
        "We apologise for the inconvenience this may have caused you.",
        ["apologise for the inconvenience this may have caused you"],
        "actual problem",
    ),
    ("reflexive-apology", "We regret any inconvenience.", ["regret any inconvenience"], "actual problem"),
    ("reflexive-apology", "Apologies for any confusion!", ["Apologies for any confusion"], "actual problem"),
    ("reflexive-apology", "Please accept our sincere apologies.", ["Please accept our sincere apologies"], "charged"),
    ("false-hope", "We'll look into it.", ["We'll look into it"], "by when"),
    ("false-hope", "We\u2019ll look into it.", ["We\u2019ll look into it"], "by when"),  # curly apostrophe
    ("false-hope", "We will\ninvestigate.", ["We will\ninvestigate"], "report back"),
    ("false-hope", "I'm looking into this for you.", ["I'm looking into this"], "by when"),
    ("false-hope", "We'll get back to you shortly.", ["We'll get back to you shortly"], "Thursday"),
    ("false-hope", "Your case has been escalated.", ["has been escalated"], "reference"),
    ("false-hope", "Our team is investigating.", ["Our team is investigating"], "by when"),
    ("false-hope", "We'll fix it as soon as possible.", ["as soon as possible"], "range"),
    ("blame", "You are using it wrong.", ["You are using it wrong"], "working setup"),
    ("blame", "you're configuring the webhook incorrectly", ["you're configuring the webhook incorrectly"], "setup"),
    ("blame", "You must have deleted it.", ["You must have"], "what happened"),
    ("blame", "You forgot to add the VAT number.", ["You forgot to"], "missing step"),
    ("blame", "As I already said, the limit is 10.", ["As I already said"], "restate"),
    ("blame", "This is user error.", ["user error"], "without fault"),
    ("blame", "You didn't read the guide.", ["You didn't read"], "step"),
    ("blame", "Please read the documentation carefully.", ["read the documentation carefully"], "section"),
]


@pytest.mark.parametrize(("rule", "text", "phrases", "hint"), POSITIVE, ids=[f"{r[0]}:{r[1][:30]}" for r in POSITIVE])
def test_rule_finds_phrase_with_specific_rewrite(rule: str, text: str, phrases: list[str], hint: str) -> None:
    report = Linter(rules={rule: RULES[rule]}).lint_text(text)
    assert [f.text for f in report.findings] == phrases
    first = report.findings[0]
    assert hint.lower() in first.suggestion.lower()
    assert first.rule == rule and first.reason and first.severity is Severity(RULES[rule].severity)


NEGATIVE = [
    ("hedging", "My shoulder hurts."),  # "should" inside "shoulder"
    ("hedging", "Should you need anything, reply here."),  # a conditional, not a hedge
    ("hedging", "We fought with all our might."),  # documented: not flagged
    ("hedging", "Here is what the new dashboard looks like."),
    ("hedging", "The mighty export works."),
    ("hedging", "You might also like our new reports."),
    ("hedging", "It works. I've refunded the charge."),
    ("reflexive-apology", "Sorry, the export failed during our outage at 9:00; I re-ran it."),
    ("reflexive-apology", "I'm sorry to hear the export failed."),
    ("false-hope", "We'll look into it and update you by Friday."),
    ("false-hope", "We're looking into this; expect an update within 24 hours."),
    ("false-hope", "Escalated to payments: it has been escalated as PAY-123."),
    ("false-hope", "I've refunded it."),
    ("blame", "You are all set."),
    ("blame", "Here is your error message explained."),
    ("blame", "You received the wrong item; a new one ships today."),
]


@pytest.mark.parametrize(("rule", "text"), NEGATIVE, ids=[f"{r[0]}:{r[1][:30]}" for r in NEGATIVE])
def test_rule_leaves_fine_text_alone(rule: str, text: str) -> None:
    assert found(text, rule) == []


def test_overlapping_phrases_keep_the_most_specific() -> None:
    report = Linter(rules={"hedging": RULES["hedging"]}).lint_text("It should now be fixed and should work.")
    assert [(f.text, f.column) for f in report.findings] == [("should now be fixed", 4), ("should work", 28)]


NEXT_STEPS = [
    ("I'll update you at 3pm.", True),
    ("I'll update you at 10:30 a.m.", True),
    ("Expect news at 14:00.", True),
    ("by Friday", True),
    ("tomorrow morning", True),
    ("by end of day", True),
    ("on Dec 3rd", True),
    ("on 3 December", True),
    ("on 2026-12-03", True),
    ("within 24 hours", True),
    ("in 2 business days", True),
    ("see ticket #4821", True),
    ("tracked as PAY-123", True),
    ("bug 77", True),
    ("https://status.acme.test/incidents/9", True),
    ("by {{ticket.due_date}}", True),
    ("soon", False),
    ("shortly", False),
    ("in a few days", False),
    ("as soon as possible", False),
    ("we'll be in touch", False),
    ("pay 300 dollars", False),
]


@pytest.mark.parametrize(("text", "expected"), NEXT_STEPS)
def test_next_step_heuristic(text: str, expected: bool) -> None:
    assert has_next_step(text) is expected


def test_false_hope_is_judged_on_the_whole_reply() -> None:
    reply = "We'll look into it.\n\nThanks for your patience.\n\nI'll write again by Thursday noon."
    assert found(reply, "false-hope") == []
    assert found(reply.replace(" by Thursday noon", ""), "false-hope") == ["We'll look into it"]


def test_next_step_inside_a_code_block_does_not_count() -> None:
    reply = "We'll look into it.\n\n```\nretry at 14:00\n```\n"
    assert found(reply, "false-hope", markdown=True) == ["We'll look into it"]


def test_builtins_come_through_the_registry_hook(plugin_registry: PluginRegistry) -> None:
    assert plugin_registry.reply_rules() == RULES
    assert all(p.name != "humansupport.builtin.replies" for p in plugin_registry.plugins())
