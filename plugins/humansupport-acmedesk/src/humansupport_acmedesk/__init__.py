"""humansupport-acmedesk: the AcmeDesk helpdesk plugin, built on `humansupport.vendor`.

The adapter, its fake and the hooks that hand them to humansupport, which finds the package through the entry
point `acmedesk` in the group `humansupport` (humansupport's docs/plugins.md says what each hook returns).
"""

from humansupport import AsyncHelpdesk as _AsyncHelpdesk
from humansupport import hookimpl as _hookimpl
from humansupport.testing import FakeHelpdesk as _FakeHelpdesk

from .adapter import AcmeAdapter, AcmeSettings
from .fake import FakeAcme

__version__ = "0.2.0"
#: the humansupport plugin contract this plugin implements (checked when humansupport loads it)
__humansupport_contract__ = 1
__all__ = [
    "AcmeAdapter",
    "AcmeSettings",
    "FakeAcme",
    "register_fakes",
    "register_helpdesks",
]


@_hookimpl
def register_helpdesks() -> list[type[_AsyncHelpdesk]]:
    """The AcmeDesk adapter."""
    return [AcmeAdapter]


@_hookimpl
def register_fakes() -> list[type[_FakeHelpdesk]]:
    """The stateful AcmeDesk fake, for `humansupport demo`, `fake serve` and the conformance kit."""
    return [FakeAcme]


for _exported in (AcmeAdapter, AcmeSettings, FakeAcme):
    _exported.__module__ = __name__  # tracebacks and reprs name this package, not its submodule
del _exported
