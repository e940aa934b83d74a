"""Start-up stays lean: `import humansupport`, `humansupport --version` and `--help` load no heavy dependency.

Not timed (bench/startup.py measures it); these fail when an import at module level drags a heavy package back in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import humansupport

HEAVY = ("pydantic", "httpx", "sqlalchemy", "numpy", "scipy", "ortools", "pluggy", "uvicorn", "asyncio", "rich.console")


def _loaded_after(code: str, *, env: dict[str, str] | None = None) -> list[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_humansupport_loads_nothing_heavy() -> None:
    assert _loaded_after("import humansupport") == []


def test_the_public_api_still_loads_on_first_use() -> None:
    assert {"pydantic", "httpx", "pluggy"} <= set(_loaded_after("import humansupport as hs; hs.Conversation"))


def test_the_cli_module_loads_nothing_heavy() -> None:
    assert _loaded_after("import humansupport.cli") == []


def test_plain_help_loads_nothing_heavy() -> None:
    code = (
        "import os, sys, contextlib, io\n"
        "os.environ['TYPER_USE_RICH'] = '0'\n"
        "from humansupport.cli import main\n"
        "sys.argv = ['humansupport', '--help']\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main()\n"
    )
    assert _loaded_after(code) == []


def test_version_answers_without_importing_the_cli() -> None:
    code = (
        "import contextlib, io, json, sys\n"
        "from humansupport.launcher import main\n"
        "sys.argv = ['humansupport', '--version']\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    main()\n"
        "assert 'humansupport.cli' not in sys.modules and 'typer' not in sys.modules\n"
        "print(json.dumps(out.getvalue()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == f"humansupport {humansupport.__version__}\n"


def test_the_console_script_is_the_launcher_and_agrees_with_the_cli() -> None:
    script = Path(sys.executable).with_name("humansupport")
    fast = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True).stdout
    slow = subprocess.run([str(script), "--version", "--help"], capture_output=True, text=True, check=True).stdout
    assert fast == slow == f"humansupport {humansupport.__version__}\n"
