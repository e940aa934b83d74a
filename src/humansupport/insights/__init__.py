"""Insights: the feedback digest and avoidable-contact report over the store.

The reply-certainty check (`humansupport replies lint`) lives in `replies`, `reply_rules`, `reply_text`,
`reply_sources` and `reply_output`; import it from those modules (it is not re-exported here).
"""

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
