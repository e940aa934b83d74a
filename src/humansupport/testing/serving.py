"""A fake helpdesk served over real HTTP on a free port, for clients other than ours (the vendors' own).

`served_fake(fake)` runs the fake's ASGI app under uvicorn in a background thread and yields a `ServedFake`:
its `url`, the environment that points `humansupport` at it, the peer clients' settings the fake knows, and
`connect()` for our own SDK over the same HTTP. The pytest fixture `serve_fake` (humansupport.testing's pytest
plugin) wraps it so a user's own tests get a seeded fake in one line.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .fake import FakeHelpdesk

if TYPE_CHECKING:
    from ..helpdesk import Helpdesk

__all__ = ["ServedFake", "connection_settings", "served_fake"]

_START_TIMEOUT = 10.0


def connection_settings(fake_cls: type[FakeHelpdesk], url: str) -> dict[str, Any]:
    """The settings under which the vendor's adapter talks to a fake served at `url` (credentials included)."""
    return {"base_url": url, **{k: v for k, v in fake_cls.adapter_settings().items() if k != "base_url"}}


@dataclass(kw_only=True)
class ServedFake:
    """A fake being served: where it listens and how each kind of client reaches it."""

    fake: FakeHelpdesk
    url: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def vendor(self) -> str:
        return self.fake.vendor

    def environment(self) -> dict[str, str]:
        """`HUMANSUPPORT_<VENDOR>_*` variables that point the CLI at this fake."""
        prefix = f"HUMANSUPPORT_{self.vendor.upper()}_"
        return {prefix + key.upper(): str(value) for key, value in self.settings.items()}

    def clients(self) -> dict[str, dict[str, Any]]:
        """Per peer client (the vendor's popular Python clients): the environment and Python that reach this fake."""
        return {name: dict(hint) for name, hint in type(self.fake).client_settings(self.url).items()}

    def connect(self, **overrides: Any) -> Helpdesk:
        """Our SDK's blocking helpdesk over real HTTP to this fake (close it, or use it in a `with`)."""
        from ..connect import connect

        return connect(self.vendor, **{**self.settings, **overrides})


@contextmanager
def served_fake(fake: FakeHelpdesk, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[ServedFake]:
    """Serves `fake` over HTTP until the block ends (port 0: a free one)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    url = f"http://{host}:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(fake.asgi_app(), log_level="warning", lifespan="off", access_log=False))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"fake-{fake.vendor}", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)  # waiting for a real server thread to bind, not simulated time
    try:
        if not server.started:
            raise RuntimeError(f"the fake {fake.vendor} did not start on {url}: {failure[0] if failure else 'timeout'}")
        yield ServedFake(fake=fake, url=url, settings=connection_settings(type(fake), url))
    finally:
        server.should_exit = True
        thread.join(timeout=_START_TIMEOUT)
        sock.close()
