"""`humansupport plugin new NAME`: the template is the example plugin, and what it generates installs and passes.

The slow test generates a plugin into a temporary folder, installs it (a real wheel build, `uv pip install`) into a
fresh venv that sees the project's packages but not the generated source, and runs the new plugin's own tests
there: the conformance kit with its feature checks against the new fake, and humansupport loading the installed
plugin through its entry point. They pass with no edit.
"""

from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import humansupport
from humansupport.cli import app
from humansupport.plugins import CONTRACT_VERSION
from humansupport.scaffold import (
    EMPTY_FILES,
    SHARED_WITH_EXAMPLE,
    PluginNames,
    new_plugin,
    plugin_names,
    render_plugin,
    template_files,
)

from .wheel_install import ROOT, uv_binary

EXAMPLE = ROOT / "plugins" / "humansupport-acmedesk"
TEMPLATE = ROOT / "src" / "humansupport" / "plugin_template"
#: the files a new plugin gets instead of the example's (they name no repository, no maintainers)
OWN = {"pyproject.toml", "README.md", "LICENSE", ".gitignore"}
runner = CliRunner()


#: the example plugin is beside the core in a checkout, not in the core's sdist
needs_example = pytest.mark.skipif(not EXAMPLE.is_dir(), reason="plugins/humansupport-acmedesk is not here (an sdist)")


def _example_files() -> set[str]:
    """The example plugin's files, without caches and build output."""
    found = set()
    for path in EXAMPLE.rglob("*"):
        parts = path.relative_to(EXAMPLE).parts
        if path.is_file() and not any(p.startswith((".", "__pycache__")) or p.endswith(".egg-info") for p in parts):
            found.add("/".join(parts))
    return found


# -- the template is the example plugin ----------------------------------------------------------------------


@needs_example
@pytest.mark.parametrize("path", SHARED_WITH_EXAMPLE)
def test_the_template_holds_the_example_plugins_files(path: str) -> None:
    copy = TEMPLATE / f"{path}.tmpl"
    assert copy.read_text() == (EXAMPLE / path).read_text(), (
        f"the template's copy of {path} differs from the example plugin's: "
        f"cp plugins/humansupport-acmedesk/{path} src/humansupport/plugin_template/{path}.tmpl"
    )


@needs_example
def test_every_file_of_the_example_is_in_the_template() -> None:
    shipped = set(template_files())
    assert shipped == {*SHARED_WITH_EXAMPLE, *OWN}
    missing = _example_files() - {*SHARED_WITH_EXAMPLE, *OWN, *EMPTY_FILES}
    assert not missing, f"add {sorted(missing)} to SHARED_WITH_EXAMPLE in humansupport/scaffold.py and copy them"


# -- names ----------------------------------------------------------------------------------------------------


def test_names_derive_from_the_vendor_name() -> None:
    names = plugin_names("my_desk")
    assert names == PluginNames(vendor="my_desk", title="MyDesk")
    assert (names.package, names.distribution) == ("humansupport_my_desk", "humansupport-my-desk")
    assert names.host == "my-desk"
    assert names.classes == ("MyDeskAdapter", "MyDeskSettings", "FakeMyDesk")
    assert plugin_names("frontdesk2").classes == ("Frontdesk2Adapter", "Frontdesk2Settings", "FakeFrontdesk2")


def test_a_name_holding_the_examples_name_renders_too() -> None:
    adapter = render_plugin(plugin_names("acme_support"))["src/humansupport_acme_support/adapter.py"]
    assert "class AcmeSupportAdapter(RestAdapter[AcmeSupportSettings])" in adapter


def test_rendering_renames_every_spelling_of_the_example() -> None:
    files = render_plugin(plugin_names("my_desk"), year=2031)
    assert set(files) == {
        ".gitignore",
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "src/humansupport_my_desk/__init__.py",
        "src/humansupport_my_desk/adapter.py",
        "src/humansupport_my_desk/fake.py",
        "src/humansupport_my_desk/py.typed",
        "tests/contract.py",
        "tests/openapi.yaml",
        "tests/test_conformance.py",
        "tests/test_plugin.py",
    }
    text = "\n".join(files.values())
    assert not re.search("acme", text, re.I)
    for path, source in files.items():
        if path.endswith(".py"):
            compile(source, path, "exec")  # valid Python after renaming
    init, adapter = files["src/humansupport_my_desk/__init__.py"], files["src/humansupport_my_desk/adapter.py"]
    assert '__version__ = "0.1.0"' in init and f"__humansupport_contract__ = {CONTRACT_VERSION}\n" in init
    assert 'vendor: ClassVar[str] = "my_desk"' in adapter
    assert "class MyDeskAdapter(RestAdapter[MyDeskSettings])" in adapter
    assert 'base_url_template = "https://api.my-desk.test"' in adapter and "HUMANSUPPORT_MY_DESK_API_TOKEN" in adapter
    assert "https://api.my-desk.test" in files["tests/openapi.yaml"]
    assert files["LICENSE"].startswith("MIT License\n\nCopyright (c) 2031 the humansupport-my-desk authors\n")

    pyproject = tomllib.loads(files["pyproject.toml"])
    project = pyproject["project"]
    major, minor = (int(p) for p in humansupport.__version__.split(".")[:2])
    assert project["name"] == "humansupport-my-desk" and project["dynamic"] == ["version"]
    assert project["dependencies"][0] == f"humansupport>={major}.{minor},<{major}.{minor + 1}"
    assert project["entry-points"] == {"humansupport": {"my_desk": "humansupport_my_desk"}}
    assert pyproject["tool"]["hatch"]["version"]["path"] == "src/humansupport_my_desk/__init__.py"
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["src/humansupport_my_desk"]
    assert "uv" not in pyproject["tool"], "no workspace sources: the plugin builds on its own"
    assert "pip install humansupport-my-desk" in files["README.md"]


@pytest.mark.parametrize("name", ["ab", "mydesk", "abcdefghij_klmnopqrs"], ids=["shortest", "usual", "longest"])
def test_the_generated_plugin_is_lint_clean_under_its_own_settings(tmp_path: Path, name: str) -> None:
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed beside this Python")
    _, plugin = new_plugin(name, target=tmp_path / "plugin")
    for args in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "--diff", "."]):
        result = subprocess.run([str(ruff), *args], capture_output=True, text=True, cwd=plugin)
        assert result.returncode == 0, f"ruff {args[0]} on plugin {name!r}:\n{result.stdout}{result.stderr}"


# -- the command ----------------------------------------------------------------------------------------------


def test_plugin_new_writes_the_plugin_and_says_what_next(tmp_path: Path) -> None:
    target = tmp_path / "plugins" / "mine"
    result = runner.invoke(app, ["plugin", "new", "mydesk", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    assert f"created {target} (humansupport-mydesk: MydeskAdapter, MydeskSettings, FakeMydesk)" in result.stdout
    assert f'pip install -e "{target}" "humansupport[testing]"' in result.stdout
    written = {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()}
    assert written == set(render_plugin(plugin_names("mydesk")))
    assert [p.name for p in target.parent.iterdir()] == ["mine"], "no staging folder left behind"


def test_plugin_new_json_and_default_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "humansupport-frontdesk").mkdir()  # an empty folder is fine
    result = runner.invoke(app, ["plugin", "new", "frontdesk", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["path"] == str(tmp_path / "humansupport-frontdesk")
    assert data["classes"] == ["FrontdeskAdapter", "FrontdeskSettings", "FakeFrontdesk"]
    assert (data["vendor"], data["distribution"], data["package"]) == (
        "frontdesk",
        "humansupport-frontdesk",
        "humansupport_frontdesk",
    )
    assert "src/humansupport_frontdesk/adapter.py" in data["files"]


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("MyDesk", "is not a vendor name: use lowercase letters and digits"),
        ("my-desk", "is not a vendor name"),
        ("2desk", "is not a vendor name"),
        ("my__desk", "is not a vendor name"),
        ("desk_", "is not a vendor name"),
        ("x" * 21, "at most 20 characters"),
        ("humansupport-mydesk", "give the vendor name, without the prefix (e.g. 'mydesk'"),
        ("zendesk", "'zendesk' is a first-party plugin (humansupport-zendesk)"),
        ("acmedesk", "'acmedesk' is the example plugin"),
    ],
)
def test_a_bad_name_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, says: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["plugin", "new", name])
    assert result.exit_code == 2
    assert "Invalid value for 'NAME'" in result.output and says in " ".join(result.output.split())
    assert list(tmp_path.iterdir()) == []
    as_json = runner.invoke(app, ["plugin", "new", name, "--json"])
    assert as_json.exit_code == 2 and json.loads(as_json.stdout)["error"]["type"] == "UsageError"


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["plugin", "new", "mydesk", "--dir", str(taken)])
    assert result.exit_code == 2
    assert "Invalid value for '--dir'" in result.output and "is a folder that is not empty" in result.output
    assert [p.name for p in taken.iterdir()] == ["keep.txt"] and (taken / "keep.txt").read_text() == "mine"
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = runner.invoke(app, ["plugin", "new", "mydesk", "--dir", str(afile), "--json"])
    assert result.exit_code == 2 and "is a file" in json.loads(result.stdout)["error"]["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "taken"]


def test_a_write_failure_exits_1_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path, *args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_text", refuse)
    result = runner.invoke(app, ["plugin", "new", "mydesk", "--dir", str(tmp_path / "p"), "--json"])
    assert result.exit_code == 1, result.output
    assert "could not write the plugin" in json.loads(result.stdout)["error"]["message"]
    assert list(tmp_path.iterdir()) == []


# -- what it generates installs and passes, untouched ------------------------------------------------------


def test_a_generated_plugin_installs_and_passes_the_conformance_kit(tmp_path: Path) -> None:
    _, plugin = new_plugin("frontdesk", target=tmp_path / "humansupport-frontdesk")
    venv = tmp_path / "venv"
    uv = uv_binary()
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # the venv sees this environment's packages (humansupport, pytest, the kit's dependencies) after its own,
    # as `--system-site-packages` would if this environment were the system's
    lines = [f"import site; site.addsitedir({d!r})" for d in site.getsitepackages()]
    (Path(purelib) / "_humansupport_under_test.pth").write_text("\n".join(lines) + "\n")
    install = subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), "--no-deps", str(plugin)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr

    env = _clean_env()
    where = subprocess.run(
        [str(python), "-c", "import humansupport_frontdesk as p; print(p.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), "the plugin must come from the install, not its source"

    tests = subprocess.run(
        [str(python), "-m", "pytest", "-v", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=plugin,
        env={**env, "HUMANSUPPORT_PLUGINS": "frontdesk"},
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-3000:]
    summary = tests.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"=+ \d+ passed(, \d+ skipped)? in .*=+", summary), summary
    for check in (
        "test_conformance.py::TestFrontdeskConformance::test_paging_many_pages",
        "test_conformance.py::TestFrontdeskConformance::test_enrich_writes_once_then_nothing",
        "test_conformance.py::TestFrontdeskConformance::test_cli_commands_on_the_fake",
        "test_plugin.py::test_humansupport_loads_the_installed_plugin_through_its_entry_point",
    ):
        assert re.search(rf"{re.escape(check)} PASSED", tests.stdout), f"{check} did not pass:\n{tests.stdout}"

    listed = subprocess.run(
        [str(python), "-c", "from humansupport.cli import main; main()", "plugins", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "HUMANSUPPORT_PLUGINS": "frontdesk"},
    )
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["name"], row["version"], row["vendors"], row["error"]) == ("frontdesk", "0.1.0", ["frontdesk"], None)


def _clean_env() -> dict[str, str]:
    """A user's shell: none of this session's humansupport settings, virtualenv or pytest variables."""
    drop = ("HUMANSUPPORT_", "VIRTUAL_ENV", "PYTHONPATH", "PYTEST_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}
