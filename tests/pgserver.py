"""A throwaway PostgreSQL server for the store tests, run as the `postgres` system user (it refuses root).

Found under /usr/lib/postgresql/*/bin (Debian's `postgresql` package, which `make test` installs when
missing). In CI (`CI=true`) a server that cannot start fails the run; elsewhere its tests skip, saying why.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PgServer", "find_pg_bin", "running_server"]


def find_pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory, or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    def __init__(self, *, bin_dir: Path, data_dir: Path, port: int, as_user: str | None) -> None:
        self.bin_dir = bin_dir
        self.data_dir = data_dir
        self.port = port
        self.as_user = as_user
        self._counter = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database per test, so tests never see each other's rows."""
        import sqlalchemy as sa

        self._counter += 1
        name = f"hs_test_{os.getpid()}_{self._counter}"
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return self.url(name)


@contextmanager
def running_server() -> Iterator[PgServer]:
    """Starts initdb + pg_ctl on a temp dir and a free loopback port; stops and removes it afterwards."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install -y postgresql; `make test` does it)")
    root = Path(tempfile.mkdtemp(prefix="hs-pg-"))
    as_user = "postgres" if os.geteuid() == 0 else None
    if as_user:
        shutil.chown(root, user=as_user)
    data = root / "data"
    server = PgServer(bin_dir=bin_dir, data_dir=data, port=_free_port(), as_user=as_user)
    done = server._run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
    opts = f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    started = server._run("pg_ctl", "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "-t", "30", "start")
    if started.returncode != 0:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()} {log[-500:]}")
    try:
        yield server
    finally:
        server._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
