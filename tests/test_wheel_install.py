"""The built wheels install with plain pip into a fresh venv outside the repository, and work there.

The base install (`pip install "humansupport[zendesk]"`) carries no scientific stack, stays within its size
target, imports, lists its plugin, runs the demo on the plugin's fake, and a rebalance (which needs the
`rebalance` extra) exits 3 with the exact `pip install` line. Slow (a build and a pip install): one test.
"""

from __future__ import annotations

import json
from pathlib import Path

from .wheel_install import BASE_INSTALL_TARGET, ROOT, SCIENTIFIC, install_base


def test_base_install_from_the_wheels_works_outside_the_repository(tmp_path: Path) -> None:
    env, added = install_base(tmp_path / "wheels", "zendesk", tmp_path / "venv")
    assert not env.path.is_relative_to(ROOT)
    work = tmp_path / "work"
    work.mkdir()

    missing = env.run(
        str(env.python), "-c",
        "import importlib.util as u, json, sys; import humansupport as hs; "
        f"print(json.dumps([hs.__version__, [m for m in {list(SCIENTIFIC)!r} if u.find_spec(m)], hs.__file__]))",
        cwd=work,
    )  # fmt: skip
    assert missing.returncode == 0, missing.stderr
    version, scientific, location = json.loads(missing.stdout)
    assert scientific == [], f"the base install pulled {scientific}"
    assert Path(location).is_relative_to(env.path), "imported the repository's copy, not the installed wheel"
    assert added <= BASE_INSTALL_TARGET, f'pip install "humansupport[zendesk]" added {added / 2**20:.1f} MB'

    assert env.run("humansupport", "--version", cwd=work).stdout.strip() == f"humansupport {version}"
    plugins = env.run("humansupport", "plugins", "--json", cwd=work)
    assert plugins.returncode == 0, plugins.stderr
    [row] = [p for p in json.loads(plugins.stdout) if p["name"] == "zendesk"]
    assert row["error"] is None and row["vendors"] == ["zendesk"]

    demo = env.run("humansupport", "demo", "--customers", "40", "--json", cwd=work)
    assert demo.returncode == 0, demo.stderr
    report = json.loads(demo.stdout)
    assert report["vendor"] == "zendesk" and report["conversations"] > 0 and report["assigned"] > 0

    plan = env.run("humansupport", "rebalance", "plan", "zendesk", "--store", str(work / "s.db"), cwd=work)
    assert plan.returncode == 3, plan.stdout + plan.stderr
    assert 'pip install "humansupport[rebalance]"' in plan.stderr
    assert "Traceback" not in plan.stderr
