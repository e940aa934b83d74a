"""`humansupport plugin new NAME`: a new helpdesk plugin, rendered from the example plugin.

The template is the example plugin, `plugins/humansupport-acmedesk`: a complete plugin for the imaginary vendor
AcmeDesk, built only on `humansupport.vendor`. Its package, API description and tests ship inside this package
under `plugin_template/`, each with a `.tmpl` suffix so that no tool imports, lints or collects them
(tests/test_plugin_new.py keeps them identical to the example's files), beside the `pyproject.toml`, `README.md`
and `LICENSE` that a new plugin gets instead of the example's.

Rendering renames AcmeDesk throughout, paths included: `acmedesk` becomes NAME, `ACMEDESK` NAME in capitals,
`AcmeDesk` and `Acme` the title (`AcmeAdapter` -> `MydeskAdapter`, `FakeAcme` -> `FakeMydesk`),
`humansupport_acmedesk` the package and `humansupport-acmedesk` the distribution. The version starts at 0.1.0,
the core dependency pins the running core's minor series and the plugin declares its plugin contract, so the new
plugin installs and passes its tests before anyone edits it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final

__all__ = [
    "EMPTY_FILES",
    "EXAMPLE_VENDOR",
    "SHARED_WITH_EXAMPLE",
    "TEMPLATE_SUFFIX",
    "PluginNames",
    "ScaffoldError",
    "new_plugin",
    "plugin_names",
    "render_plugin",
    "template_files",
]

#: the example plugin's vendor: every spelling of it in the template is renamed
EXAMPLE_VENDOR: Final = "acmedesk"
TEMPLATE_SUFFIX: Final = ".tmpl"
#: the template's files that are the example plugin's own, byte for byte (paths inside the plugin folder)
SHARED_WITH_EXAMPLE: Final = (
    "src/humansupport_acmedesk/__init__.py",
    "src/humansupport_acmedesk/adapter.py",
    "src/humansupport_acmedesk/fake.py",
    "tests/contract.py",
    "tests/openapi.yaml",
    "tests/test_conformance.py",
    "tests/test_plugin.py",
)
#: written empty (not shipped: a wheel holding two identical files is flagged)
EMPTY_FILES: Final = ("src/humansupport_acmedesk/py.typed",)
_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
_MAX_NAME = 20
_SPELLINGS = re.compile(r"humansupport[-_]acmedesk|acmedesk\.test|ACMEDESK|AcmeDesk|acmedesk|Acme|acme")


class ScaffoldError(ValueError):
    """A name or folder `plugin new` cannot use; `param` names the argument at fault (the CLI exits 2)."""

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, kw_only=True)
class PluginNames:
    """Every name of one plugin, derived from its vendor name."""

    vendor: str  # `mydesk`: the entry point, the adapter's `vendor`, `HUMANSUPPORT_MYDESK_*`
    title: str  # `Mydesk`: class names (`MydeskAdapter`, `MydeskSettings`, `FakeMydesk`) and prose

    @property
    def package(self) -> str:
        """The import package, `humansupport_mydesk`."""
        return f"humansupport_{self.vendor}"

    @property
    def distribution(self) -> str:
        """The distribution (`pip install` name), `humansupport-mydesk`; also the folder it is written to."""
        return f"humansupport-{self.vendor.replace('_', '-')}"

    @property
    def host(self) -> str:
        """The vendor name as a host name label (no underscores): the fake API's `api.<host>.test`."""
        return self.vendor.replace("_", "-")

    @property
    def classes(self) -> tuple[str, str, str]:
        """The adapter, settings and fake class names."""
        return f"{self.title}Adapter", f"{self.title}Settings", f"Fake{self.title}"


def plugin_names(name: str) -> PluginNames:
    """The names of plugin NAME, or a `ScaffoldError` saying what a vendor name may be."""
    from .plugins import published_vendors

    if name.startswith(("humansupport-", "humansupport_")):
        short = name.split("-", 1)[-1] if "-" in name else name.split("_", 1)[-1]
        raise ScaffoldError(
            f"{name!r}: give the vendor name, without the prefix (e.g. {short!r}: the plugin is then "
            f"humansupport-{short})",
            param="NAME",
        )
    if not _NAME.fullmatch(name) or len(name) > _MAX_NAME:
        raise ScaffoldError(
            f"{name!r} is not a vendor name: use lowercase letters and digits, starting with a letter, words "
            f"joined by single underscores, at most {_MAX_NAME} characters (e.g. 'mydesk', 'my_desk')",
            param="NAME",
        )
    if name in published_vendors() or name == EXAMPLE_VENDOR:
        which = "the example plugin" if name == EXAMPLE_VENDOR else "a first-party plugin"
        raise ScaffoldError(
            f"{name!r} is {which} (humansupport-{name}): two plugins for one vendor do not load together; "
            "choose another name",
            param="NAME",
        )
    return PluginNames(vendor=name, title="".join(part.capitalize() for part in name.split("_")))


def template_files() -> dict[str, str]:
    """The template as shipped: path inside the plugin folder (example's names, no suffix) -> text."""
    root = resources.files("humansupport") / "plugin_template"
    found = {path: item.read_text(encoding="utf-8") for path, item in _walk(root, "")}
    if not found:
        raise FileNotFoundError(f"the plugin template is missing from this installation ({root})")
    return found


def _walk(folder: Traversable, prefix: str) -> Iterator[tuple[str, Traversable]]:
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if item.is_dir():
            yield from _walk(item, f"{prefix}{item.name}/")
        elif item.name.endswith(TEMPLATE_SUFFIX):
            yield f"{prefix}{item.name.removesuffix(TEMPLATE_SUFFIX)}", item


def _rules(names: PluginNames, *, year: int) -> list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]]:
    from . import __version__
    from .plugins import CONTRACT_ATTRIBUTE, CONTRACT_VERSION

    major, minor = (int(part) for part in __version__.split(".")[:2])
    spelled = {
        "humansupport-acmedesk": names.distribution,
        "humansupport_acmedesk": names.package,
        "acmedesk.test": f"{names.host}.test",
        "ACMEDESK": names.vendor.upper(),
        "AcmeDesk": names.title,
        "acmedesk": names.vendor,
        "Acme": names.title,
        "acme": names.vendor,
    }
    return [
        (_SPELLINGS, lambda m: spelled[m.group(0)]),
        (re.compile(r'^__version__ = "[^"]*"$', re.M), lambda m: '__version__ = "0.1.0"'),
        (
            re.compile(r"\b(humansupport(?:\[[\w,]+\])?)>=[\d.]+,<[\d.]+"),
            lambda m: f"{m.group(1)}>={major}.{minor},<{major}.{minor + 1}",
        ),
        (re.compile(rf"^{CONTRACT_ATTRIBUTE} = \d+$", re.M), lambda m: f"{CONTRACT_ATTRIBUTE} = {CONTRACT_VERSION}"),
        (re.compile(r"^Copyright \(c\) \d{4}", re.M), lambda m: f"Copyright (c) {year}"),
    ]


def render_plugin(names: PluginNames, *, year: int | None = None) -> dict[str, str]:
    """The new plugin's files: path inside its folder -> text (the template with every name replaced)."""
    rules = _rules(names, year=year or date.today().year)

    def render(text: str) -> str:
        for pattern, replace in rules:
            text = pattern.sub(replace, text)
        return text

    files = {render(path): render(text) for path, text in template_files().items()}
    files.update({render(path): "" for path in EMPTY_FILES})
    return files


def new_plugin(name: str, *, target: Path | None = None, year: int | None = None) -> tuple[PluginNames, Path]:
    """Writes plugin NAME into `target` (default: ./humansupport-NAME), which must not exist or be empty.

    The files are written into a temporary folder beside `target`, then moved there at once: a failure leaves
    nothing half-written. Returns the plugin's names and the folder.
    """
    names = plugin_names(name)
    folder = (Path(target) if target is not None else Path(names.distribution)).absolute()
    if folder.exists() and not (folder.is_dir() and not any(folder.iterdir())):
        what = "a folder that is not empty" if folder.is_dir() else "a file"
        raise ScaffoldError(
            f"{folder} is {what}: give --dir a new folder (or an empty one); nothing is overwritten",
            param="NAME" if target is None else "--dir",
        )
    files = render_plugin(names, year=year)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{names.distribution}-", dir=folder.parent))
    try:
        for path, text in files.items():
            dest = staging / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
        staging.chmod(0o777 & ~_umask())
        if folder.exists():
            folder.rmdir()  # empty, checked above
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return names, folder


def _umask() -> int:
    """The process umask (mkdtemp creates its folder 0700; the plugin folder gets the usual mode)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
