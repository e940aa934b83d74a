"""A throwaway Request Tracker (Debian's request-tracker5 + rt5-db-sqlite) for one test session.

The instance lives in a temp directory: RT_SiteConfig.pm (SQLite database, web base URL on a free loopback port),
`rt-setup-database --action init --skip-create`, then `rt-server --port N` (Starlet, prefork), stopped by its
process group at the end. `make test` installs the packages when missing. In CI (`CI=true`) a server that cannot
start fails the tests; elsewhere they skip, saying why.

Two settings differ from a production RT, both to keep the session fast, neither changes the API:
- `$BcryptCost` 4: RT checks the password (or auth token) with bcrypt on *every* REST2 request; at the default
  cost 12 that is ~0.5 s of CPU per request.
- the scrips are disabled after init (mail notifications and auto-replies, sent to `testfile`): they make a
  ticket creation cost ~2 s instead of ~0.3 s. History is created through the API with the fields set
  explicitly, so no scrip is needed.

`RTServer.snapshot()` / `restore()` copy the SQLite database with SQLite's backup API; RT's workers see the
restored rows on their next request (RT flushes its record cache per request).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["RT_SERVER", "RT_SETUP", "RTServer", "in_ci", "running_rt"]

RT_SETUP = Path("/usr/sbin/rt-setup-database")
RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
USER, PASSWORD = "root", "password"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RTServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/REST/2.0"

    @property
    def db_path(self) -> Path:
        return self.root / "rt.db"

    @property
    def auth(self) -> tuple[str, str]:
        return (USER, PASSWORD)

    def sql(self, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Runs one statement on RT's database (fixture use only: backdating history rows)."""
        with sqlite3.connect(self.db_path, timeout=30) as conn:
            rows = conn.execute(statement, params).fetchall()
        conn.close()
        return rows

    def snapshot(self, target: Path) -> None:
        src = sqlite3.connect(self.db_path, timeout=30)
        dst = sqlite3.connect(target)
        with dst:
            src.backup(dst)
        src.close()
        dst.close()

    def restore(self, source: Path) -> None:
        src = sqlite3.connect(source)
        dst = sqlite3.connect(self.db_path, timeout=30)
        with dst:
            src.backup(dst)
        src.close()
        dst.close()


def _site_config(root: Path, port: int) -> str:
    return "\n".join(
        [
            "Set($DatabaseType, 'SQLite');",
            f"Set($DatabaseName, '{root / 'rt.db'}');",
            "Set($WebPath, '');",
            "Set($WebDomain, '127.0.0.1');",
            f"Set($WebPort, {port});",
            f"Set($WebBaseURL, 'http://127.0.0.1:{port}');",
            "Set($LogToSTDERR, 'error');",
            "Set($LogToSyslog, undef);",
            "Set($BcryptCost, 4);",
            "Set($MailCommand, 'testfile');",
            "1;",
            "",
        ]
    )


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "RT_SITE_CONFIG": str(root / "RT_SiteConfig.pm"), "RT_SITE_CONFIG_DIR": str(root / "d")}


def _template(root: Path, port: int) -> None:
    """Initialises RT's database in `root` (about 8 s); scrips disabled (see the module docstring)."""
    done = subprocess.run(  # noqa: S603 - fixed system path
        [str(RT_SETUP), "--action", "init", "--skip-create"],
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or not (root / "rt.db").exists():
        raise RuntimeError(f"rt-setup-database failed: {(done.stderr or done.stdout)[-800:]}")
    with sqlite3.connect(root / "rt.db") as conn:
        conn.execute("UPDATE Scrips SET Disabled = 1")
    conn.close()


@contextmanager
def running_rt(initial_db: Path | None = None) -> Iterator[RTServer]:
    """Starts RT on a free loopback port, on a fresh database or a copy of `initial_db` (one this module made);
    stops it (its process group) and removes it afterwards."""
    if not RT_SERVER.exists() or not RT_SETUP.exists():
        raise RuntimeError(
            "Request Tracker is not installed (apt-get install -y request-tracker5 rt5-db-sqlite; `make test` does it)"
        )
    root = Path(tempfile.mkdtemp(prefix="hs-rt-"))
    port = _free_port()
    (root / "d").mkdir()
    (root / "RT_SiteConfig.pm").write_text(_site_config(root, port))
    try:
        if initial_db is not None:
            shutil.copyfile(initial_db, root / "rt.db")
        else:
            _template(root, port)
        log = (root / "server.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 - fixed system path
            [str(RT_SERVER), "--port", str(port)],
            env=_env(root),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    server = RTServer(root=root, port=port, process=process)
    try:
        _wait_ready(server)
        yield server
    finally:
        _stop(process)
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(server: RTServer, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"rt-server exited: {(server.root / 'server.log').read_text()[-800:]}")
        try:
            if httpx.get(f"{server.api}/rt", auth=server.auth, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"rt-server did not answer within {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stops rt-server and its prefork workers: the process group it leads (started with a new session)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
