"""Insights over the store: the feedback digest and the avoidable-contact report (issue 12)."""

from .avoidable import AvoidableReport, Finding, build_avoidable
from .digest import DigestReport, ThemeDigest, build_digest
from .masking import mask_contacts
from .periods import Period, parse_period
from .themes import UNTAGGED, ThemeMap

__all__ = [
    "UNTAGGED",
    "AvoidableReport",
    "DigestReport",
    "Finding",
    "Period",
    "ThemeDigest",
    "ThemeMap",
    "build_avoidable",
    "build_digest",
    "mask_contacts",
    "parse_period",
]
