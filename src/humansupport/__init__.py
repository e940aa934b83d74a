"""humansupport: human-centric support on top of the helpdesks teams already use.

The public API is exactly `__all__` (a test pins it). Submodules hold the implementation; the names below
report `humansupport` as their module so tracebacks and docs show the stable import path.
"""

from contextlib import suppress as _suppress

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

__version__ = "0.1.0"

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

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        with _suppress(AttributeError, TypeError):
            _obj.__module__ = __name__
del _name, _obj
