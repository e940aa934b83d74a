"""humansupport-rt: Request Tracker (RT 5, REST2) as a humansupport helpdesk.

Registered through the entry point `rt` in the group `humansupport`; docs/vendors/rt.md has the mapping.
"""

from humansupport import AsyncHelpdesk as _AsyncHelpdesk
from humansupport import hookimpl as _hookimpl
from humansupport.testing import FakeHelpdesk as _FakeHelpdesk

from .adapter import RTAdapter, RTSettings
from .fake import FakeRT

__version__ = "0.2.0"
#: the humansupport plugin contract this plugin implements (checked when humansupport loads it)
__humansupport_contract__ = 1
__all__ = ["FakeRT", "RTAdapter", "RTSettings", "register_fakes", "register_helpdesks"]


@_hookimpl
def register_helpdesks() -> list[type[_AsyncHelpdesk]]:
    """The Request Tracker adapter."""
    return [RTAdapter]


@_hookimpl
def register_fakes() -> list[type[_FakeHelpdesk]]:
    """The stateful RT fake, for `humansupport demo`, `fake serve rt` and the conformance kit."""
    return [FakeRT]


for _exported in (RTAdapter, RTSettings, FakeRT):
    _exported.__module__ = __name__
del _exported
