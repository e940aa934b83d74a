"""The layers of docs/architecture.md hold: import-linter checks the contracts in pyproject.toml.

`make test` and `make lint` run `lint-imports` too; this test makes a broken layer fail `pytest` alone, and
checks the contracts still name the modules the architecture page lists.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_LAYER = {
    "humansupport.models",
    "humansupport.errors",
    "humansupport.helpdesk",
    "humansupport.fields",
    "humansupport.extensions",
    "humansupport.hookspecs",
    "humansupport.reply_text",
    "humansupport.literal_scan",
    "humansupport.config",
    "humansupport.clock",
    "humansupport.http",
    "humansupport.text",
    "humansupport.vendor",
}
FEATURES = {
    "humansupport.store",
    "humansupport.sync",
    "humansupport.routing",
    "humansupport.enrichment",
    "humansupport.insights",
    "humansupport.replies",
    "humansupport.webhooks",
    "humansupport.metrics",
    "humansupport.simulate",
    "humansupport.demo",
    "humansupport.cli",
}


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_the_contract_layer_is_forbidden_every_feature() -> None:
    contract = next(c for c in _contracts() if set(c.get("source_modules", ())) >= CONTRACT_LAYER)
    assert contract["type"] == "forbidden"
    assert set(contract["forbidden_modules"]) >= FEATURES  # type: ignore[arg-type]


def test_every_contract_is_kept() -> None:
    pytest.importorskip("importlinter")
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command, "lint-imports is installed with import-linter (the dev group)"
    done = subprocess.run(
        [command, "--no-cache", "--no-logo", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
