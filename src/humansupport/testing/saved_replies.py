"""Realistic saved replies every vendor fake is seeded with, so `humansupport replies lint --vendor X` has data.

Some are clean; others hedge ("should", "might", "I think", "looks like"), apologise by reflex ("sorry for any
inconvenience"), promise to "look into it" with no next step, or blame the customer. One is German (non-ASCII),
one says "we'll look into it" *with* a concrete next step (a linter should accept it). Bodies are plain text
with line breaks; a fake stores them as its vendor does (HTML where the vendor keeps HTML).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["ISSUE_RULES", "SAMPLE_SAVED_REPLIES", "SampleSavedReply"]

#: the reply check's rule id for each problem family a sample declares in `issues`
ISSUE_RULES = {"apology": "reflexive-apology", "hedging": "hedging", "false-hope": "false-hope", "blame": "blame"}


@dataclass(frozen=True, kw_only=True)
class SampleSavedReply:
    """A saved reply as an admin would write it: a title and a plain-text body (blank lines between paragraphs)."""

    title: str
    body: str
    #: what a reply-certainty linter should flag in it (rule families; empty when the reply is clean)
    issues: tuple[str, ...] = ()


SAMPLE_SAVED_REPLIES: Final[tuple[SampleSavedReply, ...]] = (
    SampleSavedReply(
        title="Password reset link",
        body=(
            "Hi there,\n\n"
            "I've sent a new password reset link to the address on your account.\n"
            "It works for 24 hours; if it expires, reply here and I'll send another.\n\n"
            "Best,\nThe Support Team"
        ),
    ),
    SampleSavedReply(
        title="Bug report received",
        body=(
            "Hello,\n\n"
            "Thanks for letting us know about this problem.\n"
            "We'll look into it and get back to you.\n\n"
            "Kind regards"
        ),
        issues=("false-hope",),
    ),
    SampleSavedReply(
        title="Shipping delay",
        body=(
            "Hi,\n\n"
            "We are sorry for any inconvenience this may have caused.\n"
            "Your parcel should arrive in the next few days.\n\n"
            "Thanks for your patience"
        ),
        issues=("apology", "hedging"),
    ),
    SampleSavedReply(
        title="Sync troubleshooting",
        body=(
            "Hi,\n\nI think the sync might be stuck on an old token.\nSigning out and in again should fix it.\n\nCheers"
        ),
        issues=("hedging",),
    ),
    SampleSavedReply(
        title="Import failed: wrong file",
        body=(
            "Hello,\n\n"
            "The import failed because you are using it wrong: you uploaded an XLS file instead of a CSV.\n"
            "Please read the guide before contacting us.\n\n"
            "Regards"
        ),
        issues=("blame",),
    ),
    SampleSavedReply(
        title="Refund confirmed",
        body=(
            "Hi,\n\n"
            "I've refunded $40.00 to the card ending 4242.\n"
            "Your bank will show it within 5 business days; the reference is RF-2210.\n\n"
            "Best,\nThe Support Team"
        ),
    ),
    SampleSavedReply(
        title="Rückerstattung veranlasst",
        body=(
            "Hallo,\n\n"
            "wir haben Ihre Rückerstattung über 49 € veranlasst.\n"
            "Sie erscheint innerhalb von fünf Werktagen auf Ihrem Konto.\n\n"
            "Viele Grüße\nJürgen aus dem Support-Team"
        ),
    ),
    SampleSavedReply(
        title="Feature request: dark mode",
        body=("Hi,\n\nLooks like dark mode isn't available yet.\nWe'll look into it.\n\nThanks"),
        issues=("hedging", "false-hope"),
    ),
    SampleSavedReply(
        title="Escalated to engineering",
        body=(
            "Hi,\n\n"
            "We'll look into it: I've opened ENG-1234 with our engineers and will email you by Friday with what "
            "they found.\n\n"
            "Best,\nThe Support Team"
        ),
    ),
    SampleSavedReply(
        title="Outage update",
        body=(
            "Hello,\n\n"
            "Logins failed between 09:10 and 09:40 UTC because of an expired certificate; we replaced it and logins "
            "work again.\n"
            "We are adding an expiry alert so this does not happen again.\n\n"
            "Best,\nThe Support Team"
        ),
    ),
)
