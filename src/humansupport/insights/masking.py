"""Masks e-mail addresses and phone numbers in customer quotes before they leave the store in a report.

Phones: a `+` and 7-15 digits in groups (international), or 7-15 digits in at least two groups of two or more
digits split by spaces, dots, dashes or a parenthesised area code (national). Not masked: bare digit runs
(order numbers, amounts), thousands groups (10 000 000), digits glued to letters or `#` (INV-48213, #10023,
req_123), dates (2026-11-01, 01/11/2026, 1.11.2026) and times. Over-masking a lookalike is the safe side.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["EMAIL_MASK", "PHONE_MASK", "mask_contacts", "mask_emails", "mask_phones"]

EMAIL_MASK: Final = "[email]"
PHONE_MASK: Final = "[phone]"

_EMAIL: Final = re.compile(
    r"(?<![\w.+-])[\w.+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])", re.UNICODE
)
# a candidate: optional +, then digit groups joined by one separator; the checks below decide
_PHONE: Final = re.compile(
    r"(?<![\w#/+.\-])(?:\+\s?)?(?:\(\d{1,5}\)|\d{1,5})(?:[ .\-]?(?:\(\d{1,5}\)|\d{1,6})){1,6}(?![\w/\-]|\.\d)"
)
_DATE: Final = re.compile(r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")


def mask_emails(text: str) -> str:
    return _EMAIL.sub(EMAIL_MASK, text)


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(ch.isdigit() for ch in found)
    if not 7 <= digits <= 15 or _DATE.match(found):
        return found
    if found.startswith("+"):
        return PHONE_MASK
    groups = re.findall(r"\d+", found)
    if len(groups) < 2 or any(len(g) < 2 for g in groups):
        return found  # a bare run (order number) or loose single digits ("1 2 3 ...")
    if len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:]) and "(" not in found:
        return found  # thousands grouped by spaces or dots: 10 000 000, 1.250.000
    return PHONE_MASK


def mask_phones(text: str) -> str:
    return _PHONE.sub(_phone, text)


def mask_contacts(text: str) -> str:
    """E-mail addresses first (their digits must not read as phones), then phone numbers."""
    return mask_phones(mask_emails(text))
