"""Masking e-mail addresses and phone numbers in quotes: examples plus hypothesis properties (every generated
address or international number is masked; dates, order ids and amounts never are)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from humansupport.insights.masking import EMAIL_MASK, PHONE_MASK, mask_contacts


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call +44 20 7946 0958 now", f"call {PHONE_MASK} now"),
        ("or (555) 123-4567.", f"or {PHONE_MASK}."),
        ("+1-555-0123", PHONE_MASK),
        ("020 7946 0958", PHONE_MASK),
        ("555.123.4567", PHONE_MASK),
        ("+33 1 23 45 67 89", PHONE_MASK),
        ("+49 (0)30 1234567", PHONE_MASK),
        ("ann.lee+x@example.co.uk wrote", f"{EMAIL_MASK} wrote"),
        ("mail Zoë.Müller@beispiel.de", f"mail {EMAIL_MASK}"),
        ("on 2026-11-01 at 10:30", "on 2026-11-01 at 10:30"),
        ("01/11/2026 and 1.11.2026", "01/11/2026 and 1.11.2026"),
        ("order #12345678, INV-48213, req_12345", "order #12345678, INV-48213, req_12345"),
        ("import 48213 rows, paid 10 000 000 and 1.250.000", "import 48213 rows, paid 10 000 000 and 1.250.000"),
        ("steps 1 2 3 4 5 6 7 8, version 1.2.3", "steps 1 2 3 4 5 6 7 8, version 1.2.3"),
    ],
)
def test_examples(text: str, masked: str) -> None:
    assert mask_contacts(text) == masked


_local = st.from_regex(r"[a-z][a-z0-9._+-]{0,15}[a-z0-9]", fullmatch=True).filter(lambda s: ".." not in s)
_domain = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9](\.[a-z]{2,6}){1,2}", fullmatch=True)
_emails = st.builds(lambda a, b: f"{a}@{b}", _local, _domain)
_digits = st.integers(min_value=10, max_value=9999)
_phones = st.builds(
    lambda cc, sep, groups: "+" + str(cc) + sep + sep.join(str(g).zfill(3) for g in groups),
    st.integers(min_value=1, max_value=999),
    st.sampled_from([" ", "-", "."]),
    st.lists(st.integers(min_value=100, max_value=9999), min_size=2, max_size=3),
)
_dates = st.builds(
    lambda y, m, d, fmt: fmt.format(y=y, m=m, d=d),
    st.integers(min_value=1990, max_value=2099),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=28),
    st.sampled_from(["{y}-{m:02d}-{d:02d}", "{d:02d}/{m:02d}/{y}", "{d}.{m}.{y}", "{y}/{m}/{d}"]),
)
_order_ids = st.builds(
    lambda prefix, n: f"{prefix}{n}", st.sampled_from(["#", "INV-", "req_", "ORD-", "order "]), st.integers(0, 10**12)
)
_filler = st.sampled_from(["Hi,", "please call", "thanks", "my order", "see", "and", "(urgent)"])


@given(_emails, _filler, _filler)
def test_every_email_is_masked(email: str, before: str, after: str) -> None:
    out = mask_contacts(f"{before} {email} {after}")
    assert email not in out and "@" not in out and EMAIL_MASK in out


@given(_phones, _filler, _filler)
def test_every_international_number_is_masked(phone: str, before: str, after: str) -> None:
    out = mask_contacts(f"{before} {phone} {after}.")
    assert phone not in out and PHONE_MASK in out
    assert sum(ch.isdigit() for ch in out) == 0


@given(st.lists(st.one_of(_dates, _order_ids, st.integers(0, 10**9).map(str)), min_size=1, max_size=4), _filler)
def test_dates_order_ids_and_amounts_are_kept(tokens: list[str], filler: str) -> None:
    text = f" {filler} ".join(tokens)
    assert mask_contacts(text) == text


@given(st.text(max_size=200))
def test_masking_is_idempotent_and_never_fails(text: str) -> None:
    once = mask_contacts(text)
    assert mask_contacts(once) == once
