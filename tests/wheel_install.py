"""Build the distributions and install them as a stranger would: plain pip, a fresh venv outside the repository.

Shared by tests/test_wheel_install.py (the base install works and stays lean) and bench/install_size.py (how
many MB `pip install "humansupport[<vendor>]"` puts on disk, against the 64 MB target).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: `pip install "humansupport[zendesk]"` must stay below this many bytes on disk (no scientific stack). It was
#: 60 MB until SQLAlchemy 2.1 (29 MB of compiled modules, half the install) took the base install to 60.2 MB;
#: our own packages are under 4 MB of it.
BASE_INSTALL_TARGET = 64 * 1024 * 1024
#: what the `rebalance` extra brings; none of it belongs in a base install
SCIENTIFIC = ("numpy", "scipy", "ortools", "pandas")


def package_dir(name: str) -> Path:
    """`humansupport` (the repository root) or a plugin folder such as `humansupport-zendesk`."""
    return ROOT if name == "humansupport" else ROOT / "plugins" / name


def uv_binary() -> str:
    """The uv of the project venv (the Makefile installs it there), else one on PATH."""
    here = Path(sys.executable).with_name("uv")
    found = str(here) if here.exists() else shutil.which("uv")
    if found is None:
        raise RuntimeError("uv not found: run `make .venv/.synced` first")
    return found


def build_wheel(name: str, out: Path) -> Path:
    """Builds one distribution's wheel (isolated build, no workspace sources) into `out`."""
    subprocess.run(
        [uv_binary(), "build", "--wheel", "--quiet", "--no-sources", "--out-dir", str(out), str(package_dir(name))],
        check=True,
        capture_output=True,
        text=True,
    )
    [wheel] = out.glob(f"{name.replace('-', '_')}-*.whl")
    return wheel


@dataclass(frozen=True, kw_only=True)
class Venv:
    """A fresh virtual environment with pip (and nothing of ours)."""

    path: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def site_packages(self) -> Path:
        [site] = (self.path / "lib").glob("python3*/site-packages")
        return site

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a user's shell: no HUMANSUPPORT_* settings of ours, this venv first on PATH."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("HUMANSUPPORT_", "VIRTUAL_ENV", "PYTHON"))}
        return {**keep, "PATH": f"{self.bin}{os.pathsep}{keep.get('PATH', '')}", "VIRTUAL_ENV": str(self.path), **extra}

    def pip_install(self, *requirements: str) -> None:
        subprocess.run(
            [str(self.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
            check=True,
            capture_output=True,
            text=True,
            env=self.env(),
        )

    def run(self, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), capture_output=True, text=True, cwd=cwd, env=self.env(HOME=str(cwd)), timeout=timeout
        )


def fresh_venv(path: Path) -> Venv:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return Venv(path=path)


def tree_size(path: Path) -> int:
    """Bytes on disk of the regular files under `path` (what the installed packages weigh)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def wheel_for(name: str, wheels: Path) -> Path:
    """The wheel of a distribution in `wheels`, built there on first use."""
    found = sorted(wheels.glob(f"{name.replace('-', '_')}-*.whl"))
    return found[0] if found else build_wheel(name, wheels)


def install_base(wheels: Path, vendor: str, venv_path: Path) -> tuple[Venv, int]:
    """`pip install "humansupport[<vendor>]"` from the built wheels; returns the venv and the bytes it added."""
    env = fresh_venv(venv_path)
    before = tree_size(env.site_packages())
    core, plugin = wheel_for("humansupport", wheels), wheel_for(f"humansupport-{vendor}", wheels)
    # the wheel files stand for both names, so pip never takes another release of them from an index
    env.pip_install(f"humansupport[{vendor}] @ {core.as_uri()}", str(plugin))
    return env, tree_size(env.site_packages()) - before
