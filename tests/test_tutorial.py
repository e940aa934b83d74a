"""docs/tutorial.md is executed: every command and Python block, in order, against a fake served over HTTP.

How the page is read:

- A `console` block holds commands (`$ ` lines) each followed by what it prints. `export NAME=value` sets the
  environment of the later steps; `humansupport ...` runs the installed CLI in a subprocess;
  `humansupport fake serve ...` (re)starts the fake in the background. Any other command fails the test,
  so a new kind of step has to be taught here first.
- A `python` block runs as a script in a subprocess with that environment; the `text` block right after it
  is what it prints.
- Output lines are matched in order against the output (stdout and stderr, as a terminal shows them) with
  runs of whitespace collapsed; `...` matches anything, a line of only `...` stands for any lines.
- A block right after `<!-- not run by tests/test_tutorial.py: reason -->` is skipped (only the install).

The page says port 8765; the test serves on a free port and rewrites `127.0.0.1:8765` everywhere.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "tutorial.md"
PAGE_PORT = 8765
SKIP_MARK = "<!-- not run by tests/test_tutorial.py:"
BIN = Path(sys.executable).parent

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.DOTALL | re.MULTILINE)


@dataclass
class Command:
    argv: str  # one shell line, continuations joined
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    lang: str
    text: str
    skipped: bool
    commands: list[Command] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # a python block's printed output


def parse_page(text: str) -> list[Block]:
    blocks: list[Block] = []
    last_end = 0
    for match in _FENCE.finditer(text):
        lang, body = match.group(1), match.group(2)
        skipped = (
            text[last_end : match.start()].rstrip().endswith("-->") and SKIP_MARK in text[last_end : match.start()]
        )
        last_end = match.end()
        if lang == "text" and blocks and blocks[-1].lang == "python":
            blocks[-1].expected = body.splitlines()
            continue
        block = Block(lang=lang, text=body, skipped=skipped)
        if lang == "console":
            lines = iter(body.splitlines())
            for line in lines:
                if line.startswith("$ "):
                    cmd = line[2:]
                    while cmd.endswith("\\"):
                        cmd = cmd[:-1] + " " + next(lines).strip()
                    block.commands.append(Command(argv=cmd))
                else:
                    assert block.commands, f"output before any command in a console block: {line!r}"
                    block.commands[-1].expected.append(line)
        blocks.append(block)
    return blocks


def _squash(line: str) -> str:
    return " ".join(line.split())


def assert_output(expected: list[str], output: str, *, step: str) -> None:
    """Every expected line matches an output line, in order; `...` is a wildcard."""
    actual = [_squash(line) for line in output.splitlines()]
    pos = 0
    for want in expected:
        want = _squash(want)
        if want in ("", "..."):
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("...")))
        for i in range(pos, len(actual)):
            if pattern.fullmatch(actual[i]):
                pos = i + 1
                break
        else:
            pytest.fail(f"{step}: the page says the output contains {want!r}; it printed:\n{output}")


def test_page_parses_into_the_steps_the_tutorial_promises() -> None:
    """Fast guard on the page's shape: install, fake, env, check, sync, route dry run and apply, metrics, Python."""
    blocks = parse_page(PAGE.read_text())
    skipped = [b for b in blocks if b.skipped]
    assert len(skipped) == 1 and "pip install" in skipped[0].text, "only the install step may be skipped"
    commands = [c.argv for b in blocks if not b.skipped for c in b.commands]
    names = [c.split()[1] if c.startswith("humansupport ") else c.split()[0] for c in commands]
    assert names[:1] == ["fake"]
    exported = {c.split()[1].partition("=")[0] for c in commands if c.startswith("export ")}
    needed = {"HUMANSUPPORT_ZENDESK_BASE_URL", "HUMANSUPPORT_ZENDESK_EMAIL", "HUMANSUPPORT_ZENDESK_API_TOKEN"}
    assert needed | {"HUMANSUPPORT_STORE"} <= exported
    assert [n for n in names if n not in ("export", "fake")] == ["check", "sync", "route", "route", "route", "metrics"]
    assert "humansupport route zendesk --new --apply" in commands
    python = [b for b in blocks if b.lang == "python" and not b.skipped]
    assert len(python) == 1 and python[0].expected, "the Python step shows what it prints"
    for doc in (ROOT / "README.md", ROOT / "docs" / "index.md"):
        assert "tutorial.md" in doc.read_text(), f"{doc.name} links the tutorial"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Session:
    """The reader's terminals: one environment, one working directory, the fake in the background."""

    def __init__(self, cwd: Path, port: int) -> None:
        self.cwd = cwd
        self.port = port
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HUMANSUPPORT_")}
        self.env.update(
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONUNBUFFERED="1",  # stdout and stderr interleave as on a terminal
            PYTHONIOENCODING="utf-8",  # a UTF-8 terminal, as the page's tables show
            COLUMNS="80",
            HOME=str(cwd),  # no humansupport.toml or store of the machine's user leaks in
        )
        self.env.pop("CI", None)
        self.server: subprocess.Popen[bytes] | None = None
        self.server_log = cwd / "fake-serve.log"

    def localize(self, text: str) -> str:
        return text.replace(f"127.0.0.1:{PAGE_PORT}", f"127.0.0.1:{self.port}")

    def run(self, command: Command) -> None:
        argv = shlex.split(self.localize(command.argv))
        if argv[0] == "export":
            for assignment in argv[1:]:
                name, _, value = assignment.partition("=")
                self.env[name] = value
            return
        assert argv[0] == "humansupport", f"the test does not know how to run {command.argv!r}"
        if argv[1:3] == ["fake", "serve"]:
            self.serve([*argv, "--port", str(self.port)], command)
            return
        done = subprocess.run(
            [str(BIN / "humansupport"), *argv[1:]],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=600,
            check=False,
        )
        output = done.stdout.decode()
        assert done.returncode == 0, f"{command.argv} exited {done.returncode}:\n{output}"
        assert_output(command.expected, self.localize_back(output), step=command.argv)

    def localize_back(self, output: str) -> str:
        return output.replace(f"127.0.0.1:{self.port}", f"127.0.0.1:{PAGE_PORT}")

    def serve(self, argv: list[str], command: Command) -> None:
        self.stop()  # the page restarts the fake: Ctrl-C, then the same command
        log = self.server_log.open("wb")
        self.server = subprocess.Popen(
            [str(BIN / "humansupport"), *argv[1:]], cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 120
        while True:
            assert self.server.poll() is None, f"fake serve exited:\n{self.server_log.read_text()}"
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            assert time.monotonic() < deadline, f"fake serve did not listen:\n{self.server_log.read_text()}"
            time.sleep(0.1)  # waiting for a real server process to bind, not for test time
        assert_output(command.expected, self.localize_back(self.server_log.read_text()), step=command.argv)

    def run_python(self, block: Block, index: int) -> None:
        script = self.cwd / f"tutorial_step_{index}.py"
        script.write_text(self.localize(block.text))
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=600,
            check=False,
        )
        output = done.stdout.decode()
        assert done.returncode == 0, f"the Python step failed:\n{output}"
        assert_output(block.expected, output, step="the Python step")

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(timeout=30)
            self.server = None


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    reader = Session(tmp_path, _free_port())
    try:
        yield reader
    finally:
        reader.stop()


def test_the_tutorial_runs_step_by_step_against_the_fake(session: Session) -> None:
    ran = 0
    for index, block in enumerate(parse_page(PAGE.read_text())):
        if block.skipped:
            continue
        if block.lang == "console":
            for command in block.commands:
                session.run(command)
                ran += 1
        elif block.lang == "python":
            session.run_python(block, index)
            ran += 1
    assert ran >= 12
    assert (session.cwd / "tutorial.db").exists() and (session.cwd / "tutorial-python.db").exists()
