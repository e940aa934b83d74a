"""humansupport plugin for Freshdesk: the adapter, its settings, the stateful fake, and the plugin hooks."""

import humansupport
import humansupport.testing

from .adapter import FreshdeskAdapter, FreshdeskSettings
from .fake import FakeFreshdesk

__version__ = "0.2.0"
#: the humansupport plugin contract this plugin implements (checked when humansupport loads it)
__humansupport_contract__ = 1
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
