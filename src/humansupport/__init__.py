"""humansupport: human-centric support on top of the helpdesks teams already use.

The public API is exactly `__all__` (a test pins it). Submodules hold the implementation; the names below
report `humansupport` as their module so tracebacks and docs show the stable import path. They are imported on
first access (PEP 562), so `import humansupport` and `humansupport --version` stay fast: pydantic, httpx and the
rest load only when a name that needs them is used.
"""

# only private names or modules at the top level: a test checks that the public namespace is exactly __all__
import contextlib as _contextlib
import importlib as _importlib
import sys as _sys
import types as _types
import typing as _typing

__version__ = "0.2.0"

__all__ = [
    "aconnect",
    "Agent",
    "AgentAvailability",
    "Assignment",
    "AssignmentOutcome",
    "AssignmentResult",
    "AsyncHelpdesk",
    "AuthenticationError",
    "AuthorRole",
    "Capabilities",
    "CheckReport",
    "Clock",
    "ConfigError",
    "ConflictError",
    "connect",
    "Conversation",
    "ConversationStatus",
    "Customer",
    "Enricher",
    "error_from_response",
    "get_registry",
    "Group",
    "Helpdesk",
    "HelpdeskError",
    "HelpdeskSettings",
    "hookimpl",
    "HumansupportError",
    "LockHeldError",
    "Message",
    "NoHistoryError",
    "NotFoundError",
    "PaginationLoopError",
    "PermissionDeniedError",
    "PluginError",
    "PluginInfo",
    "PluginRegistry",
    "ProfilePatch",
    "RateLimitError",
    "RatingScore",
    "ReplyRule",
    "RoutingStrategy",
    "SatisfactionRating",
    "SavedReply",
    "ServerError",
    "StoreError",
    "SYSTEM_CLOCK",
    "SystemClock",
    "TransportError",
    "UnsupportedOperationError",
    "ValidationError",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookSubscription",
]

#: public name -> the submodule that defines it
_SOURCES: dict[str, str] = {
    "aconnect": ".connect",
    "connect": ".connect",
    "Agent": ".models",
    "AgentAvailability": ".models",
    "Assignment": ".models",
    "AssignmentOutcome": ".models",
    "AssignmentResult": ".models",
    "AuthorRole": ".models",
    "Capabilities": ".models",
    "Conversation": ".models",
    "ConversationStatus": ".models",
    "Customer": ".models",
    "Group": ".models",
    "Message": ".models",
    "ProfilePatch": ".models",
    "RatingScore": ".models",
    "SatisfactionRating": ".models",
    "SavedReply": ".models",
    "WebhookEvent": ".models",
    "WebhookEventType": ".models",
    "WebhookSubscription": ".models",
    "AsyncHelpdesk": ".helpdesk",
    "CheckReport": ".helpdesk",
    "Helpdesk": ".helpdesk",
    "AuthenticationError": ".errors",
    "ConfigError": ".errors",
    "ConflictError": ".errors",
    "error_from_response": ".errors",
    "HelpdeskError": ".errors",
    "HumansupportError": ".errors",
    "LockHeldError": ".errors",
    "NoHistoryError": ".errors",
    "NotFoundError": ".errors",
    "PaginationLoopError": ".errors",
    "PermissionDeniedError": ".errors",
    "PluginError": ".errors",
    "RateLimitError": ".errors",
    "ServerError": ".errors",
    "StoreError": ".errors",
    "TransportError": ".errors",
    "UnsupportedOperationError": ".errors",
    "ValidationError": ".errors",
    "Clock": ".clock",
    "SYSTEM_CLOCK": ".clock",
    "SystemClock": ".clock",
    "Enricher": ".extensions",
    "ReplyRule": ".extensions",
    "RoutingStrategy": ".extensions",
    "get_registry": ".plugins",
    "PluginInfo": ".plugins",
    "PluginRegistry": ".plugins",
    "HelpdeskSettings": ".config",
    "hookimpl": ".hookspecs",
}


def __getattr__(name: str) -> _typing.Any:
    """Imports the public API on first access to any of its names (then plain globals: no further calls)."""
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _load_public_api()
    return globals()[name]


def _load_public_api() -> None:
    """Binds every name of `__all__` here and reports `humansupport` as its module (the stable import path)."""
    namespace = globals()
    for public, source in _SOURCES.items():
        value = getattr(_importlib.import_module(source, __name__), public)
        if isinstance(value, type) or callable(value):
            with _contextlib.suppress(AttributeError, TypeError):
                value.__module__ = __name__
        namespace[public] = value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(_types.ModuleType):
    """Keeps a public function bound when its same-named submodule is imported (`connect` is both).

    Importing `humansupport.connect` sets the package attribute `connect` to the submodule; the public API
    promises the function, which the eager imports used to rebind. The submodule stays in `sys.modules`.
    """

    def __setattr__(self, name: str, value: _typing.Any) -> None:
        if isinstance(value, _types.ModuleType) and name in _SOURCES and value.__name__ == f"{__name__}.{name}":
            value = getattr(value, name)
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


if _typing.TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
    from .clock import SYSTEM_CLOCK, Clock, SystemClock
    from .config import HelpdeskSettings
    from .connect import aconnect, connect
    from .errors import (
        AuthenticationError,
        ConfigError,
        ConflictError,
        HelpdeskError,
        HumansupportError,
        LockHeldError,
        NoHistoryError,
        NotFoundError,
        PaginationLoopError,
        PermissionDeniedError,
        PluginError,
        RateLimitError,
        ServerError,
        StoreError,
        TransportError,
        UnsupportedOperationError,
        ValidationError,
        error_from_response,
    )
    from .extensions import Enricher, ReplyRule, RoutingStrategy
    from .helpdesk import AsyncHelpdesk, CheckReport, Helpdesk
    from .hookspecs import hookimpl
    from .models import (
        Agent,
        AgentAvailability,
        Assignment,
        AssignmentOutcome,
        AssignmentResult,
        AuthorRole,
        Capabilities,
        Conversation,
        ConversationStatus,
        Customer,
        Group,
        Message,
        ProfilePatch,
        RatingScore,
        SatisfactionRating,
        SavedReply,
        WebhookEvent,
        WebhookEventType,
        WebhookSubscription,
    )
    from .plugins import PluginInfo, PluginRegistry, get_registry
