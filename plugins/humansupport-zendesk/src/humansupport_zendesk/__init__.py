"""humansupport-zendesk: Zendesk Support as a humansupport helpdesk (adapter, fake, webhooks).

Registered through the entry point `zendesk` in the group `humansupport`; see docs/vendors/zendesk.md.
"""

from humansupport import AsyncHelpdesk as _AsyncHelpdesk
from humansupport import hookimpl as _hookimpl
from humansupport.testing import FakeHelpdesk as _FakeHelpdesk

from .adapter import PROFILE_USER_FIELDS, ExportPage, ZendeskAdapter, ZendeskSettings
from .fake import FakeZendesk

__version__ = "0.2.0"
#: the humansupport plugin contract this plugin implements (checked when humansupport loads it)
__humansupport_contract__ = 1
__all__ = [
    "ExportPage",
    "FakeZendesk",
    "PROFILE_USER_FIELDS",
    "register_fakes",
    "register_helpdesks",
    "ZendeskAdapter",
    "ZendeskSettings",
]


@_hookimpl
def register_helpdesks() -> list[type[_AsyncHelpdesk]]:
    """The Zendesk adapter."""
    return [ZendeskAdapter]


@_hookimpl
def register_fakes() -> list[type[_FakeHelpdesk]]:
    """The stateful Zendesk fake, for `humansupport demo`, `fake serve` and benchmarks."""
    return [FakeZendesk]


for _exported in (ExportPage, FakeZendesk, ZendeskAdapter, ZendeskSettings):
    _exported.__module__ = __name__  # tracebacks and reprs say humansupport_zendesk.ZendeskAdapter
del _exported
