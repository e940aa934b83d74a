"""Testing tools for plugin authors: the conformance kit, the fake-helpdesk base, a fake clock, synthetic data."""

from typing import TYPE_CHECKING

from .clock import FakeClock, LiveClock
from .fake import FakeBadRequest, FakeHelpdesk, Fault, RecordedRequest, route
from .saved_replies import SAMPLE_SAVED_REPLIES, SampleSavedReply
from .serving import ServedFake, served_fake
from .synthetic import (
    PRODUCT_AREA_FIELD,
    PRODUCT_AREAS,
    HistoryConfig,
    SyntheticHistory,
    generate_history,
    iter_history_conversations,
)

__all__ = [
    "AdapterConformance",
    "ContractTransport",
    "FakeBadRequest",
    "FakeClock",
    "FakeHelpdesk",
    "Fault",
    "HistoryConfig",
    "KitConfig",
    "LiveClock",
    "PRODUCT_AREAS",
    "PRODUCT_AREA_FIELD",
    "RecordedRequest",
    "SAMPLE_SAVED_REPLIES",
    "SampleSavedReply",
    "ServedFake",
    "SyntheticHistory",
    "Undescribed",
    "generate_history",
    "iter_history_conversations",
    "route",
    "served_fake",
]

if TYPE_CHECKING:
    from .conformance import AdapterConformance, KitConfig
    from .contract import ContractTransport, Undescribed


def __getattr__(name: str) -> object:
    # the kit imports pytest; load it only when asked so `fake serve` and the demo run without pytest
    if name in ("AdapterConformance", "KitConfig"):
        from . import conformance

        return getattr(conformance, name)
    if name in ("ContractTransport", "Undescribed"):
        # needs the `testing` extra (openapi-core): loaded only when a contract test asks for it
        from . import contract

        return getattr(contract, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
