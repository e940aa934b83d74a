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


TESTS = Path(__file__).resolve().parent
PLUGIN_IMPORT = re.compile(
    r"^\s*(?:from|import)\s+humansupport_(?:zendesk|intercom|freshdesk|helpscout)\b"
    r"|(?:import_module|importorskip|__import__)\(\s*[\"']humansupport_(?:zendesk|intercom|freshdesk|helpscout)\b"
)


def test_core_tests_import_no_vendor_plugin() -> None:
    """Core tests use the example plugin (humansupport_acmedesk) or humansupport.testing; a vendor's own
    behaviour is tested in that plugin's tests/ (the conformance kit runs the features there for every plugin)."""
    hits = [
        f"{path.relative_to(TESTS.parent)}:{number}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if path != Path(__file__).resolve()  # this file's own examples
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PLUGIN_IMPORT.search(line)
    ]
    assert not hits, "core tests import a vendor plugin:\n" + "\n".join(hits)


def test_the_import_pattern_catches_each_form() -> None:
    for line in (
        "from humansupport_zendesk import FakeZendesk",
        "    from humansupport_helpscout.mapping import x",
        "import humansupport_intercom",
        'pytest.importorskip("humansupport_helpscout")',
        "importlib.import_module('humansupport_freshdesk')",
    ):
        assert PLUGIN_IMPORT.search(line), line
    assert not PLUGIN_IMPORT.search("from humansupport_acmedesk import FakeAcme")
