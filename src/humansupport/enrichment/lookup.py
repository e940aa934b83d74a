"""Finding the one customer a command means, by id or email, without ever guessing between two."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import HumansupportError, NotFoundError
from ..helpdesk import AsyncHelpdesk
from ..models import Customer

__all__ = ["CustomerErasedError", "CustomerLookupError", "resolve_customer"]


class CustomerLookupError(HumansupportError):
    """No customer, or several, match what was asked; `candidates` lists the ids when several do."""

    def __init__(self, message: str, *, key: str, candidates: list[str] | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.candidates = candidates or []


class CustomerErasedError(CustomerLookupError):
    """The customer was erased (`profile --forget`): their tombstone keeps humansupport from profiling or
    writing them again."""


def _addresses(customer: Customer) -> set[str]:
    return {e.strip().lower() for e in (customer.email, *customer.emails) if e}


async def resolve_customer(adapter: AsyncHelpdesk, key: str, *, known: Iterable[Customer] | None = None) -> Customer:
    """The customer with id `key`, or the only one with email `key`, as the helpdesk has it now.

    `known` is what the caller already holds (the store's customers): the helpdesk's `find_customer`
    returns at most one, so duplicates are found there. Several matches raise `CustomerLookupError`
    listing them; we never pick one.
    """
    key = key.strip()
    if "@" not in key:
        try:
            return await adapter.get_customer(key)
        except NotFoundError as exc:
            raise CustomerLookupError(f"{adapter.vendor} has no customer with id {key!r}", key=key) from exc
    email = key.lower()
    matches = {c.id: c for c in known or () if email in _addresses(c)}
    found = await adapter.find_customer(email=key)
    if found is not None and email in _addresses(found):
        matches.setdefault(found.id, found)
    if not matches:
        raise CustomerLookupError(f"{adapter.vendor} has no customer with email {key!r}", key=key)
    if len(matches) > 1:
        ids = sorted(matches)
        raise CustomerLookupError(
            f"{len(ids)} customers in {adapter.vendor} have the email {key!r} (ids {', '.join(ids)}); name one by id",
            key=key,
            candidates=ids,
        )
    (only,) = matches.values()
    if found is not None and found.id == only.id:
        return found
    return await adapter.get_customer(only.id)  # the caller's copy may be stale: diff against the helpdesk
