"""The repository is self-contained: every file a test, fixture or bench reads is committed inside it.

A clone with nothing beside it must pass `make test` (`.ci/run` proves it in a fresh clone); these tests catch a
path that leaves the repository before CI does, and keep the copied vendor material traceable (SOURCES.md).
"""

from __future__ import annotations

import hashlib
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())
#: where code that reads files lives: the core, the plugins (sources and tests), tests and benches
SCANNED = [ROOT / "src", ROOT / "tests", ROOT / "bench", *(p / "src" for p in PLUGINS), *(p / "tests" for p in PLUGINS)]
#: a path to the sibling folder the vendor material used to be read from (the audit hook in conftest.py catches
#: any other data file opened beside the repository at run time)
_LEAVING = re.compile(r"\.\./shared|shared/specs")


def _string_literals(path: Path) -> list[tuple[int, str]]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return [(t.start[0], t.string) for t in tokens if t.type == tokenize.STRING]


def _python_files() -> list[Path]:
    me = Path(__file__).resolve()
    return sorted(f for folder in SCANNED for f in folder.rglob("*.py") if ".venv" not in f.parts and f != me)


def test_no_code_path_leaves_the_repository() -> None:
    """String literals naming `../shared` or `shared/specs`, and `"shared"` path parts."""
    found = []
    for path in [*_python_files(), ROOT / "conftest.py"]:
        for line, literal in _string_literals(path):
            if literal.startswith(('"""', "'''")):
                continue  # a docstring: prose, not a path
            text = literal.strip("\"'rbf")
            if _LEAVING.search(text) or text == "shared":
                found.append(f"{path.relative_to(ROOT)}:{line}: {literal}")
    assert not found, "paths leaving the repository:\n" + "\n".join(found)


def test_no_build_or_ci_file_reaches_beside_the_repository() -> None:
    files = [ROOT / "Makefile", ROOT / ".ci" / "run", ROOT / "pyproject.toml", *(p / "pyproject.toml" for p in PLUGINS)]
    found = [f"{f.relative_to(ROOT)}: {line}" for f in files for line in f.read_text().splitlines()
             if "../shared" in line or "shared/specs" in line]  # fmt: skip
    assert not found, found


def test_the_scan_sees_a_path_leaving_the_repository(tmp_path: Path) -> None:
    """The scan is not vacuous: the old way of finding the vendor files is caught."""
    sample = tmp_path / "conftest.py"
    sample.write_text(
        'SPECS = here.parent / "shared" / "specs"\nOTHER = Path("../shared/specs/zendesk")\n"""../shared"""\n'
    )
    hits = [lit for _, lit in _string_literals(sample) if not lit.startswith('"""')]
    assert [h for h in hits if _LEAVING.search(h.strip("\"'")) or h.strip("\"'") == "shared"] == [
        '"shared"',
        '"../shared/specs/zendesk"',
    ]
    assert len(_python_files()) > 100


def test_a_data_file_beside_the_repository_cannot_be_opened() -> None:
    """The root conftest's audit hook refuses it, before the file system is even asked."""
    beside = ROOT.parent / "shared" / "specs" / "zendesk" / "openapi.yaml"
    with pytest.raises(RuntimeError, match="outside the repository"):
        beside.open()
    with pytest.raises(RuntimeError, match="outside the repository"):
        (ROOT / ".." / "shared.json").read_text()
    assert (ROOT / "pyproject.toml").read_text()  # inside: fine


#: plugins holding copied vendor material (tests/specs); the example plugin's description is the project's own,
#: and the Request Tracker plugin copies none: it is tested against a real RT server installed from Debian
VENDOR_PLUGINS = [p for p in PLUGINS if (p / "tests" / "specs").is_dir()]


def test_the_plugins_with_copied_vendor_material_are_found() -> None:
    names = {p.name for p in VENDOR_PLUGINS}
    assert {f"humansupport-{v}" for v in ("zendesk", "helpscout", "freshdesk", "intercom")} <= names


@pytest.mark.parametrize("plugin", VENDOR_PLUGINS, ids=lambda p: p.name)
def test_vendor_material_is_in_the_plugin_with_license_and_sources(plugin: Path) -> None:
    """Each plugin's tests/specs holds its LICENSE, a SOURCES.md naming origin and commit, and a sha256 per file."""
    specs = plugin / "tests" / "specs"
    assert (specs / "LICENSE").read_text().strip()
    sources = (specs / "SOURCES.md").read_text()
    assert re.search(r"https://github\.com/\S+", sources), "SOURCES.md names no origin"
    assert re.search(r"`[0-9a-f]{40}`", sources), "SOURCES.md names no commit"
    listed = dict(re.findall(r"`([^`]+\.(?:ya?ml|json))`[^\n]*?`([0-9a-f]{64})`", sources))
    listed |= dict(re.findall(r"\| `([^`]+)` \|[^\n]*`([0-9a-f]{64})` \|", sources))
    files = sorted(f for f in specs.rglob("*") if f.is_file() and f.name not in ("SOURCES.md",))
    for file in files:
        rel = file.relative_to(specs).as_posix()
        if file.name == "LICENSE":
            assert hashlib.sha256(file.read_bytes()).hexdigest() in sources, f"{rel}: sha256 not in SOURCES.md"
            continue
        assert rel in listed, f"{rel} is not listed in SOURCES.md"
        assert hashlib.sha256(file.read_bytes()).hexdigest() == listed[rel], f"{rel} differs from SOURCES.md"
