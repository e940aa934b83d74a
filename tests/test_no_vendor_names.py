"""The core names no vendor: what differs per helpdesk comes from its plugin through the contract.

Every line of the core's Python counts (code, docstrings and comments): a vendor's admin screen, error shape,
URL or default belongs in its plugin (an adapter attribute such as `field_setup`, `conversation_url`, the
manual steps of an `UnsupportedOperationError`), and examples use the example plugin, acmedesk.
"""

from __future__ import annotations

import re
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "src" / "humansupport"
VENDOR = re.compile(r"zendesk|intercom|freshdesk|help\s*scout", re.IGNORECASE)


def test_no_vendor_name_in_the_core() -> None:
    hits = [
        f"{path.relative_to(CORE.parent)}:{number}: {line.strip()}"
        for path in sorted(CORE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if VENDOR.search(line)
    ]
    assert not hits, "the core names a vendor:\n" + "\n".join(hits)


def test_the_pattern_catches_each_spelling() -> None:
    for name in ("Zendesk", "intercom", "FRESHDESK", "helpscout", "Help Scout", "humansupport_helpscout"):
        assert VENDOR.search(name), name
    assert not VENDOR.search("acmedesk")
