"""Every import in the documentation's code blocks works, and the error tables say how many they list."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
_FROM = re.compile(r"^\s*from\s+([\w.]+)\s+import\s+(\([^)]*\)|[^\n#]+)", re.MULTILINE)
_IMPORT = re.compile(r"^\s*import\s+([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)", re.MULTILINE)
_OURS = ("humansupport",)  # humansupport and the plugins (humansupport_zendesk, ...)


def _imports() -> list[tuple[str, str, str | None]]:
    """(page, module, name) for every import of our packages in a fenced code block."""
    found: list[tuple[str, str, str | None]] = []
    for page in PAGES:
        rel = str(page.relative_to(ROOT))
        for block in _BLOCK.findall(page.read_text(encoding="utf-8")):
            for module, names in _FROM.findall(block):
                if module.startswith(_OURS):
                    for name in re.split(r"[\s,()]+", names.strip()):
                        if name and name != "as" and not found_alias(names, name):
                            found.append((rel, module, name))
            for spec in _IMPORT.findall(block):
                for part in spec.split(","):
                    module = part.split(" as ")[0].strip()
                    if module.startswith(_OURS):
                        found.append((rel, module, None))
    return found


def found_alias(names: str, name: str) -> bool:
    """Whether `name` is the alias in `X as name` (not something to import)."""
    return re.search(rf"\bas\s+{re.escape(name)}\b", names) is not None


IMPORTS = _imports()


def test_the_docs_have_imports_to_check() -> None:
    assert len(IMPORTS) > 10


@pytest.mark.parametrize(("page", "module", "name"), IMPORTS, ids=[f"{p}:{m}:{n}" for p, m, n in IMPORTS])
def test_every_documented_import_works(page: str, module: str, name: str | None) -> None:
    imported = importlib.import_module(module)
    if name is not None and name != "*":
        assert hasattr(imported, name) or importlib.util.find_spec(f"{module}.{name}") is not None, (
            f"{page}: `from {module} import {name}` fails"
        )


def test_the_errors_page_counts_what_it_lists() -> None:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    words = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
    for claim in re.finditer(r"adds (two|three|four|five|six|seven)\b[^\n]*\n(?:[^\n]*\n)*?\n((?:\|[^\n]*\n)+)", text):
        rows = [r for r in claim.group(2).splitlines() if r.startswith("| `")]
        assert len(rows) == words[claim.group(1)], f"errors.md says {claim.group(1)} and lists {len(rows)}"
