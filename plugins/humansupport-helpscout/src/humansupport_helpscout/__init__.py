"""humansupport plugin for Help Scout (Mailbox API 2.0): adapter, stateful fake and webhook helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import humansupport

from .adapter import HelpScoutAdapter, HelpScoutSettings
from .fake import FakeHelpScout

if TYPE_CHECKING:
    from humansupport.testing import FakeHelpdesk

__version__ = "0.2.0"
#: the humansupport plugin contract this plugin implements (checked when humansupport loads it)
__humansupport_contract__ = 1
__all__ = ["FakeHelpScout", "HelpScoutAdapter", "HelpScoutSettings", "register_fakes", "register_helpdesks"]


@humansupport.hookimpl
def register_helpdesks() -> list[type[humansupport.AsyncHelpdesk]]:
    """The Help Scout adapter."""
    return [HelpScoutAdapter]


@humansupport.hookimpl
def register_fakes() -> list[type[FakeHelpdesk]]:
    """The stateful Help Scout fake (for `humansupport demo`, `fake serve` and benchmarks)."""
    return [FakeHelpScout]


for _obj in (FakeHelpScout, HelpScoutAdapter, HelpScoutSettings):
    _obj.__module__ = __name__
del _obj
