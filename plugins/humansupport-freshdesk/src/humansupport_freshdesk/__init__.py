"""humansupport plugin for Freshdesk: the adapter, its settings, the stateful fake, and the plugin hooks."""

import humansupport
import humansupport.testing

from .adapter import FreshdeskAdapter, FreshdeskSettings
from .fake import FakeFreshdesk

__all__ = ["FakeFreshdesk", "FreshdeskAdapter", "FreshdeskSettings", "register_fakes", "register_helpdesks"]

for _exported in (FakeFreshdesk, FreshdeskAdapter, FreshdeskSettings):
    _exported.__module__ = __name__  # tracebacks and reprs name the public module


@humansupport.hookimpl
def register_helpdesks() -> list[type[humansupport.AsyncHelpdesk]]:
    """The Freshdesk adapter."""
    return [FreshdeskAdapter]


@humansupport.hookimpl
def register_fakes() -> list[type[humansupport.testing.FakeHelpdesk]]:
    """The stateful Freshdesk fake (demo, `humansupport fake serve freshdesk`, benchmarks)."""
    return [FakeFreshdesk]
