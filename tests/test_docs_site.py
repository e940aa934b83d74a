"""The docs site: every public name in the generated API reference, no network at build time.

`make docs` (run by `make test`) builds the site strictly through tests/offline_docs_build.py; these tests
check what the build alone would not.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import humansupport

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"
#: where a name cannot be rendered under its `humansupport.` path (the submodule of the same name shadows it)
RENDERED_AS = {"connect": "humansupport.connect.connect"}


def _directives() -> set[str]:
    return {
        line.removeprefix("::: ").strip()
        for page in REFERENCE.glob("*.md")
        for line in page.read_text().splitlines()
        if line.startswith("::: ")
    }


@pytest.mark.parametrize("name", humansupport.__all__)
def test_every_public_name_is_in_the_api_reference(name: str) -> None:
    assert RENDERED_AS.get(name, f"humansupport.{name}") in _directives()


@pytest.mark.parametrize("module", ["humansupport.hookspecs", "humansupport.testing", "humansupport.config"])
def test_the_plugin_author_surface_is_in_the_api_reference(module: str) -> None:
    assert module in _directives()


def _mkdocs_config() -> dict[str, object]:
    class _Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may use `!!python/name:` tags for extensions; read them as plain strings here
    _Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: suffix)
    return dict(yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader))  # noqa: S506 - SafeLoader subclass


def test_the_site_is_strict_and_uses_no_plugin_that_fetches_at_build_time() -> None:
    config = _mkdocs_config()
    assert config["strict"] is True and config["docs_dir"] == "docs" and config["site_dir"] == "site"
    validation = config["validation"]
    assert isinstance(validation, dict) and set(validation.values()) == {"warn"}  # warnings fail a strict build
    plugins = {p if isinstance(p, str) else next(iter(p)) for p in config["plugins"]}  # type: ignore[attr-defined]
    assert plugins <= {"search", "mkdocstrings", "autorefs"}, "social/optimize/privacy fetch from the network"
    theme = config["theme"]
    assert isinstance(theme, dict) and theme["font"] is False  # no Google Fonts request in the reader's browser
    assert "site/" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_offline_guard_refuses_connections() -> None:
    probe = """
import socket, sys
sys.path.insert(0, "tests")
import offline_docs_build as build
build.forbid_network()
for attempt in (lambda: socket.getaddrinfo("example.com", 443), lambda: socket.socket().connect(("127.0.0.1", 9))):
    try:
        attempt()
    except OSError as exc:
        print(exc)
print(len(build.attempts))
"""
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "the docs build may not use the network (socket.getaddrinfo)",
        "the docs build may not use the network (socket.connect)",
        "2",
    ]
