"""The rebalance planner's scientific stack is an extra: without it, a clear message and exit 3, never a traceback."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from humansupport import ConfigError
from humansupport.cli import app
from humansupport.extras import install_line, missing_modules, require_extra
from humansupport.routing.rebalance import plan_rebalance


@pytest.fixture
def without_ortools(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if `humansupport[rebalance]` were not installed (a None entry makes the import fail)."""
    monkeypatch.setitem(sys.modules, "ortools", None)


def test_installed_extras_need_nothing() -> None:
    assert missing_modules("rebalance") == []
    require_extra("rebalance")


@pytest.mark.usefixtures("without_ortools")
def test_the_planner_names_the_pip_line() -> None:
    assert missing_modules("rebalance") == ["ortools"]
    with pytest.raises(ConfigError) as info:
        plan_rebalance([], [], {}, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert 'pip install "humansupport[rebalance]"' in str(info.value) and "ortools" in str(info.value)
    assert install_line("rebalance") == 'pip install "humansupport[rebalance]"'


@pytest.mark.usefixtures("without_ortools")
@pytest.mark.parametrize("as_json", [False, True])
def test_rebalance_plan_exits_3_with_the_pip_line_before_touching_the_store(as_json: bool, tmp_path: object) -> None:
    args = ["rebalance", "plan", "zendesk", "--store", f"{tmp_path}/absent.db", *(["--json"] if as_json else [])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    if as_json:
        error = json.loads(result.stdout)["error"]
        assert error["exit_code"] == 3 and 'pip install "humansupport[rebalance]"' in error["message"]
    else:
        assert 'pip install "humansupport[rebalance]"' in result.output


def test_the_numpy_free_parts_of_routing_import_without_the_extra() -> None:
    """Routing, the plan format and the applier load with no numpy: only planning needs the extra."""
    import subprocess

    code = (
        "import sys\n"
        "for m in ('numpy', 'scipy', 'ortools'): sys.modules[m] = None\n"
        "import humansupport.routing, humansupport.routing.rebalance, humansupport.routing.rebalance_apply\n"
        "import humansupport.webhooks, humansupport.demo, humansupport.cli\n"
        "from humansupport.routing.rebalance import RebalancePlan, RebalanceConfig\n"
        "RebalanceConfig(solver='flow')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
