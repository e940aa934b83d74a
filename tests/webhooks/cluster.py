"""Several real `humansupport webhooks serve` processes on one store, with the helpdesk fakes served over HTTP.

Used by the multi-process test and `bench/webhooks_scale.py`. Each account is a vendor fake served by uvicorn on
127.0.0.1 in this process (wall-clock time: signatures and leases are real), watched by a `LoadMonitor` that
sees every request, so capacity and double assignment are checked at every moment, not only at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from humansupport.models import Conversation
from humansupport.testing import FakeHelpdesk, SyntheticHistory
from humansupport.testing.clock import LiveClock

from .support import first_party_registry, wait_until

__all__ = ["Cluster", "LoadMonitor", "ServedAccount", "cli", "free_port", "served_account"]

OPEN = ("new", "open", "on_hold")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoadMonitor:
    """Wraps a fake's handler: after every write, each agent's open load; before it, who had each conversation.

    `first_assignments[c]` counts writes that took conversation c from unassigned to an agent (more than one is a
    double assignment); `peak[a]` is the highest open load agent a ever had; `log` holds every request as
    (arrival time in epoch seconds, its Authorization header, the status answered), for the credential and rate checks.
    """

    def __init__(self, fake: FakeHelpdesk) -> None:
        self.fake = fake
        self.first_assignments: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.writes = 0
        self.log: list[tuple[float, str | None, int]] = []
        self._lock = threading.Lock()
        inner = fake._handle

        def handle(request: httpx.Request) -> httpx.Response:
            with self._lock:  # the fake serves one request at a time, as the state it keeps needs
                arrived = time.time()  # the fakes count their windows on the wall clock
                if request.method == "GET":
                    response = inner(request)
                    self.log.append((arrived, request.headers.get("authorization"), response.status_code))
                    return response
                before = {cid: c.assignee_id for cid, c in fake.conversations.items()}
                response = inner(request)
                self.log.append((arrived, request.headers.get("authorization"), response.status_code))
                self.writes += 1
                for cid, conv in fake.conversations.items():
                    if conv.assignee_id and before.get(cid, "absent") is None:
                        self.first_assignments[cid] += 1
                for agent, load in self.loads().items():
                    self.peak[agent] = max(self.peak[agent], load)
                return response

        fake._handle = handle  # type: ignore[method-assign]

    def loads(self) -> Counter[str]:
        return Counter(
            c.assignee_id for c in self.fake.conversations.values() if c.assignee_id and str(c.status) in OPEN
        )


@dataclass
class ServedAccount:
    """One helpdesk account: its fake on a loopback port, the account label, the signing secret.

    A `named` account is an `[accounts.<label>]` table (`toml()`) with its settings in
    `HUMANSUPPORT_ACCOUNT_<LABEL>_*`; otherwise it is the vendor's single account under `label`.
    """

    vendor: str
    label: str
    fake: FakeHelpdesk
    base_url: str
    secret: str
    monitor: LoadMonitor
    named: bool = False

    @property
    def spec(self) -> str:
        """How `webhooks serve` names the account."""
        return self.label if self.named else f"{self.vendor}={self.label}"

    def settings(self) -> dict[str, Any]:
        """The adapter settings that reach this account's fake (its own credential when it has one)."""
        settings = dict(self.fake.adapter_settings())
        token = getattr(self.fake, "token", None)
        if token is not None and "access_token" in settings:
            settings["access_token"] = token
        return settings

    def env(self) -> dict[str, str]:
        """The account's settings as the service reads them: per account when named, else per vendor."""
        if self.named:
            prefix = f"HUMANSUPPORT_ACCOUNT_{self.label.upper().replace('-', '_')}_"
        else:
            prefix = f"HUMANSUPPORT_{self.vendor.upper()}_"
        settings = {**self.settings(), "base_url": self.base_url, "webhook_secret": self.secret}
        return {prefix + key.upper(): str(value) for key, value in settings.items()}

    def toml(self) -> str:
        """The account's table in humansupport.toml (empty for the single-account form)."""
        return f'[accounts.{self.label}]\nvendor = "{self.vendor}"\n' if self.named else ""

    def seed(self, store_url: str) -> None:
        """The nightly sync that comes before any routing, in this process (the real sync code, through the
        fake's in-process transport: no HTTP, so no rate pacing)."""
        import asyncio

        from humansupport.connect import build_adapter
        from humansupport.store import Store
        from humansupport.sync import sync_helpdesk

        adapter = build_adapter(
            self.vendor,
            registry=first_party_registry(),
            transport=self.fake.transport(),
            clock=self.fake.clock,
            settings=self.settings(),
            environ={},
        )

        async def go() -> None:
            async with adapter:
                with Store.open(store_url) as store:
                    await sync_helpdesk(adapter, store, account=self.label, clock=self.fake.clock)

        asyncio.run(go())

    def new_conversation(self, conversation_id: str, template: Conversation, **changes: Any) -> Conversation:
        now = self.fake.clock.now()
        conv = template.model_copy(
            update={
                "id": conversation_id,
                "assignee_id": None,
                "status": "new",
                "created_at": now,
                "updated_at": now,
                "version": "1",
                "tags": [],
                **changes,
            }
        )
        with self.monitor._lock:
            self.fake.conversations[conversation_id] = conv
            self.fake.messages[conversation_id] = []
        return conv


@contextmanager
def served_account(
    vendor: str,
    label: str,
    *,
    history: SyntheticHistory,
    secret: str,
    named: bool = False,
    token: str | None = None,
) -> Iterator[ServedAccount]:
    """The account's fake served on a free loopback port; `token` replaces the fake's one accepted credential."""
    fake: FakeHelpdesk = first_party_registry().fakes()[vendor](history=history, clock=LiveClock())
    if token is not None:
        if not hasattr(fake, "token"):
            raise TypeError(f"the {vendor} fake has no token to replace")
        fake.token = token  # type: ignore[attr-defined]  # this instance accepts only this account's token
    monitor = LoadMonitor(fake)
    server = uvicorn.Server(uvicorn.Config(fake.asgi_app(), host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="the fake to start", alive=thread.is_alive)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield ServedAccount(
            vendor=vendor,
            label=label,
            fake=fake,
            base_url=f"http://127.0.0.1:{port}",
            secret=secret,
            monitor=monitor,
            named=named,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def cli(args: Sequence[str], *, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`humansupport ARGS` in its own process group, output appended to `log`."""
    command = [sys.executable, "-c", "from humansupport.cli import main; main()", *args]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=dict(env), stdout=out, stderr=out, start_new_session=True)


@dataclass
class Cluster:
    """`count` receivers (`webhooks serve` on loopback ports), each with its worker process, on one store."""

    accounts: Sequence[ServedAccount]
    store_url: str
    env: Mapping[str, str]
    workdir: Path
    extra: Sequence[str] = ()
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)

    def start(self, count: int, *, timeout: float = 90.0) -> None:
        specs = [a.spec for a in self.accounts]
        for n in range(count):
            port = free_port()
            args = ["webhooks", "serve", *specs, "--port", str(port), "--store", self.store_url, *self.extra]
            self.processes.append(cli(args, env=self.env, log=self.workdir / f"serve-{n}.log"))
            self.ports.append(port)
        for proc, port in zip(self.processes, self.ports, strict=True):

            def ready(port: int = port) -> bool:
                try:
                    answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                except httpx.TransportError:
                    return False
                return answer.status_code == 200 and bool(answer.json()["worker_ready"])

            wait_until(ready, what=f"webhooks serve on {port}", timeout=timeout, alive=lambda p=proc: p.poll() is None)

    def endpoint(self, n: int, account: ServedAccount) -> str:
        return f"http://127.0.0.1:{self.ports[n]}/webhooks/{account.vendor}/{account.label}"

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the receiver stops its worker process
        for proc in self.processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("*.log")))


def post_all(deliveries: Sequence[tuple[str, dict[str, str], bytes]], *, threads: int = 8) -> list[int]:
    """Posts each (url, headers, body) from a small pool of threads; returns the status codes in order."""
    from concurrent.futures import ThreadPoolExecutor

    with httpx.Client(timeout=30) as client:

        def post(item: tuple[str, dict[str, str], bytes]) -> int:
            url, headers, body = item
            return client.post(url, headers=headers, content=body).status_code

        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(post, deliveries))


def poll(check: Callable[[], Any], *, what: str, timeout: float) -> Any:
    return wait_until(check, what=what, timeout=timeout)
