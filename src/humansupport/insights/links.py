"""Links back to the helpdesk: `--link-template`, else the adapter's `conversation_url` when its settings are
present (no request is sent), else none."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..errors import ConfigError, HumansupportError

__all__ = ["Linker", "open_linker", "template_linker"]

Linker = Callable[[str], str | None]


def template_linker(template: str) -> Linker:
    """`https://helpdesk.example/tickets/{id}` → a function of the conversation id."""
    if "{id}" not in template:
        raise ConfigError(f"--link-template {template!r} needs an {{id}} placeholder")
    try:
        template.format(id="1")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"--link-template {template!r}: {exc}; only {{id}} is filled in") from None
    return lambda cid: template.format(id=cid)


@contextmanager
def open_linker(vendor: str, template: str | None, *, account: str | None = None) -> Iterator[Linker | None]:
    """The linker for a report; an adapter that cannot be built (no credentials here) means no links."""
    if template:
        yield template_linker(template)
        return
    from ..clock import SYSTEM_CLOCK
    from ..connect import build_adapter

    try:
        adapter = build_adapter(vendor, account=account, clock=SYSTEM_CLOCK)
    except HumansupportError:
        yield None
        return
    try:
        yield adapter.conversation_url if adapter.conversation_url("1") else None
    finally:
        asyncio.run(adapter.aclose())
