"""humansupport-zendesk: Zendesk Support as a humansupport helpdesk (adapter, fake, webhooks).

Registered through the entry point `zendesk` in the group `humansupport`; see docs/vendors/zendesk.md.
"""

from __future__ import annotations

from humansupport import AsyncHelpdesk, hookimpl
from humansupport.testing import FakeHelpdesk

from .adapter import ExportPage, ZendeskAdapter, ZendeskSettings
from .fake import FakeZendesk

__all__ = ["ExportPage", "FakeZendesk", "ZendeskAdapter", "ZendeskSettings", "register_fakes", "register_helpdesks"]


@hookimpl
def register_helpdesks() -> list[type[AsyncHelpdesk]]:
    """The Zendesk adapter."""
    return [ZendeskAdapter]


@hookimpl
def register_fakes() -> list[type[FakeHelpdesk]]:
    """The stateful Zendesk fake, for `humansupport demo`, `fake serve` and benchmarks."""
    return [FakeZendesk]
