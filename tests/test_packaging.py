"""Every distribution (the core and one per plugin) carries full metadata, one source of its version, and an sdist
with what its tests need and nothing of the repository's other packages."""

from __future__ import annotations

import re
import subprocess
import tarfile
import tomllib
from pathlib import Path
from typing import Any

import pytest

import humansupport
from humansupport.plugins import CONTRACT_VERSION

from .wheel_install import ROOT, uv_binary

PLUGINS = sorted(p for p in (ROOT / "plugins").glob("humansupport-*") if (p / "pyproject.toml").exists())
PACKAGES = [ROOT, *PLUGINS]
#: the example plugin (the template `humansupport plugin new` copies): no real vendor, so no core extra installs it
EXAMPLE = ROOT / "plugins" / "humansupport-acmedesk"
VENDOR_PLUGINS = [p for p in PLUGINS if p != EXAMPLE]


def _project(folder: Path) -> dict[str, Any]:
    return dict(tomllib.loads((folder / "pyproject.toml").read_text())["project"])


def _hatch(folder: Path) -> dict[str, Any]:
    return dict(tomllib.loads((folder / "pyproject.toml").read_text())["tool"]["hatch"])


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_metadata_is_complete(folder: Path) -> None:
    project = _project(folder)
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert "MIT License" in (folder / "LICENSE").read_text()
    readme = (folder / project["readme"]).read_text()
    assert "pip install" in readme, "the README says how to install"
    assert {"Homepage", "Documentation", "Changelog", "Issues"} <= set(project["urls"])
    classifiers = project["classifiers"]
    assert "Programming Language :: Python :: 3.11" in classifiers and "Typing :: Typed" in classifiers
    assert project["requires-python"] == ">=3.11"


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_the_version_is_written_once(folder: Path) -> None:
    project, hatch = _project(folder), _hatch(folder)
    assert "version" not in project and project["dynamic"] == ["version"]
    source = folder / hatch["version"]["path"]
    assert re.findall(r'^__version__ = "([^"]+)"$', source.read_text(), re.M) == [humansupport.__version__]


def _major_minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


@pytest.mark.parametrize("folder", PLUGINS, ids=lambda p: p.name)
def test_plugins_pin_a_compatible_core_and_declare_the_contract(folder: Path) -> None:
    project = _project(folder)
    [core] = [d for d in project["dependencies"] if re.match(r"humansupport\b(?!-)", d)]
    lower, upper = re.fullmatch(r"humansupport>=([\d.]+),<([\d.]+)", core).groups()  # type: ignore[union-attr]
    assert _major_minor(lower) <= _major_minor(humansupport.__version__) < _major_minor(upper)
    [package] = (folder / "src").iterdir()
    assert f"__humansupport_contract__ = {CONTRACT_VERSION}\n" in (package / "__init__.py").read_text()
    # the core's extra for this vendor asks for the same range
    vendor = folder.name.removeprefix("humansupport-")
    if folder != EXAMPLE:
        assert _project(ROOT)["optional-dependencies"][vendor] == [f"{folder.name}>={lower},<{upper}"]


def test_core_extras() -> None:
    extras = _project(ROOT)["optional-dependencies"]
    vendors = [p.name.removeprefix("humansupport-") for p in VENDOR_PLUGINS]
    assert EXAMPLE in PLUGINS and "acmedesk" not in extras
    assert set(extras) == {*vendors, "rebalance", "postgres", "testing", "all"}
    assert {"numpy", "scipy", "ortools"} == {re.split(r"[<>=\[]", d)[0] for d in extras["rebalance"]}
    assert {"openapi-core", "pyyaml", "pytest"} == {re.split(r"[<>=\[]", d)[0] for d in extras["testing"]}
    base = {re.split(r"[<>=\[ ]", d)[0] for d in _project(ROOT)["dependencies"]}
    assert not base & {"numpy", "scipy", "ortools", "pandas"}, "the base install carries no scientific stack"
    [everything] = extras["all"]
    assert set(re.fullmatch(r"humansupport\[(.*)\]", everything).group(1).split(",")) == set(extras) - {"all"}  # type: ignore[union-attr]


@pytest.mark.parametrize("folder", [ROOT, ROOT / "plugins" / "humansupport-zendesk"], ids=lambda p: p.name)
def test_the_sdist_holds_its_package_tests_and_docs_only(folder: Path, tmp_path: Path) -> None:
    subprocess.run(
        [uv_binary(), "build", "--sdist", "--quiet", "--no-sources", "--out-dir", str(tmp_path), str(folder)],
        check=True,
        capture_output=True,
    )
    [sdist] = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    tops = {n.split("/")[0] for n in names}
    assert {"plugins", "bench", ".ci", "dist", ".venv"}.isdisjoint(tops)
    assert {"LICENSE", "README.md", "pyproject.toml", "tests", "src"} <= tops
    if folder == ROOT:
        assert {"docs", "mkdocs.yml", "CHANGELOG.md", "conftest.py"} <= tops and "tests/pgserver.py" in names
    else:
        assert {"tests/specs/openapi.yaml", "tests/specs/LICENSE", "tests/specs/SOURCES.md"} <= names
        assert "docs/vendors/zendesk.md" in names, "the vendor page its README and errors point to"
