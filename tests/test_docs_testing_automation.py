"""docs/testing-automation.md runs as written: its zenpy script, its CLI lines, its Python and its pytest test
against a served fake, with the fake's defaults as `humansupport fake serve` uses them."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from humansupport import PluginRegistry
from humansupport.plugins import reset_registry
from humansupport.testing import ServedFake

PAGE = Path(__file__).resolve().parents[1] / "docs" / "testing-automation.md"
BIN = Path(sys.executable).parent


def _files(text: str) -> dict[str, str]:
    return dict(re.findall(r'```python title="([^"]+)"\n(.*?)```', text, re.DOTALL))


def _console(text: str) -> list[tuple[str, list[str]]]:
    """Each console line and the output the page shows under it."""
    out: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            elif out:
                out[-1][1].append(line)
    return out


@pytest.fixture
def served(
    serve_fake: Callable[..., ServedFake], installed_registry: PluginRegistry, tmp_path: Path
) -> Iterator[tuple[ServedFake, dict[str, str]]]:
    reset_registry(installed_registry)
    try:
        fake = serve_fake("zendesk", customers=60, seed=7)  # as the page serves it
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUMANSUPPORT_")}
        (tmp_path / "none.toml").write_text("")
        env.update({**fake.environment(), **fake.clients()["zenpy"]["environment"]})
        env.update(HUMANSUPPORT_CONFIG=str(tmp_path / "none.toml"), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
        yield fake, env
    finally:
        reset_registry(None)


def _run(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(command)
    if argv[0] == "python":
        argv[0] = sys.executable
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_page_runs_as_written(served: tuple[ServedFake, dict[str, str]], tmp_path: Path) -> None:
    fake, env = served
    text = PAGE.read_text(encoding="utf-8")
    for name, body in _files(text).items():
        (tmp_path / name).write_text(body)
    console = dict(_console(text))
    assert "humansupport fake serve zendesk --port 8765 --customers 60 > fake.env &" in console  # the fixture serves it

    # 2. the zenpy script, with the output the page shows
    before = {cid for cid, c in fake.fake.conversations.items() if c.assignee_id is None}
    triage = _run("python triage.py", env, tmp_path)
    assert triage.returncode == 0, triage.stderr
    assert triage.stdout.splitlines() == console["python triage.py"]
    taken = {cid for cid in before if fake.fake.conversations[cid].assignee_id is not None}
    assert len(taken) == 5 and fake.fake.write_count() == 5

    # 3. look, then undo (the page's curl lines, through httpx)
    assert httpx.get(f"{fake.url}/_fake").json()["writes"] == 5
    httpx.post(f"{fake.url}/_fake/reset").raise_for_status()
    assert {cid for cid, c in fake.fake.conversations.items() if c.assignee_id is None} == before

    # 4. the same job with humansupport: the dry run writes nothing, --apply assigns
    for line in [c for c in console if c.startswith("humansupport ") and " fake serve " not in c]:
        writes = fake.fake.write_count()
        done = _run(line, env, tmp_path)
        assert done.returncode == 0, f"{line}\n{done.stderr}"
        if "--apply" in line:
            assert fake.fake.write_count() > writes
        else:
            assert fake.fake.write_count() == writes, line
    look = _run("python look.py", env, tmp_path)
    assert look.returncode == 0, look.stderr
    assert re.fullmatch(r"\d+ new conversations wait for one of \d+ agents\n", look.stdout)

    # 5. the page's pytest test, run by pytest as a user's suite would
    suite = _run("python -m pytest -q -p no:cacheprovider test_triage.py", env, tmp_path)
    assert suite.returncode == 0, suite.stdout + suite.stderr
