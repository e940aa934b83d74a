"""Intercom plugin for humansupport: adapter, settings, stateful fake and the plugin hooks.

Installed, it registers under the entry point `intercom` in the group `humansupport`; see
docs/vendors/intercom.md for credentials, permissions, data attributes and limits.
"""

import typing as _typing

import humansupport
import humansupport.testing

from .adapter import ConversationPage, IntercomAdapter, IntercomRateLimiter, IntercomSettings
from .fake import FakeIntercom, IntercomApiError

if _typing.TYPE_CHECKING:
    import typer

__version__ = "0.2.0"
#: the humansupport plugin contract this plugin implements (checked when humansupport loads it)
__humansupport_contract__ = 1
__all__ = [
    "ConversationPage",
    "FakeIntercom",
    "IntercomAdapter",
    "IntercomApiError",
    "IntercomRateLimiter",
    "IntercomSettings",
    "register_commands",
    "register_fakes",
    "register_helpdesks",
]


@humansupport.hookimpl
def register_helpdesks() -> list[type[humansupport.AsyncHelpdesk]]:
    """The Intercom adapter."""
    return [IntercomAdapter]


@humansupport.hookimpl
def register_commands(cli: "typer.Typer") -> None:
    """`humansupport intercom setup`: creates the contact data attributes profile enrichment writes."""
    from .commands import intercom_app

    cli.add_typer(intercom_app(), name="intercom")


@humansupport.hookimpl
def register_fakes() -> list[type[humansupport.testing.FakeHelpdesk]]:
    """The stateful Intercom fake, for `humansupport demo`, `humansupport fake serve intercom` and benchmarks."""
    return [FakeIntercom]


for _exported in (
    ConversationPage,
    FakeIntercom,
    IntercomAdapter,
    IntercomApiError,
    IntercomRateLimiter,
    IntercomSettings,
):
    _exported.__module__ = __name__  # tracebacks and reprs name the package, not the private module
del _exported
