"""The service killed with SIGKILL while events are queued: after a restart every event is processed, once.

Real processes: `humansupport webhooks serve zendesk` in a subprocess, talking over HTTP to the Zendesk fake
served by uvicorn on 127.0.0.1 in this process (wall-clock time, so signatures and retries are real).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from humansupport.store import Store
from humansupport.testing import FakeHelpdesk
from humansupport.testing.clock import LiveClock
from humansupport.webhooks import WebhookQueue

from .webhooks.support import HISTORY, first_party_registry, new_conversation, wait_until

EVENTS = 12


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served_zendesk() -> Iterator[tuple[FakeHelpdesk, str]]:
    fake = first_party_registry().fakes()["zendesk"](history=HISTORY, clock=LiveClock())
    server = uvicorn.Server(uvicorn.Config(fake.asgi_app(), host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="the fake to start", alive=thread.is_alive)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _start(store: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-c",
        "from humansupport.cli import main; main()",
        "webhooks",
        "serve",
        "zendesk",
        "--port",
        str(port),
        "--store",
        str(store),
        "--lease",
        "1",
    ]
    with log.open("ab") as out:
        # its own process group: the receiver and its worker process die together, as a killed container would
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=out, start_new_session=True)

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, what="the webhook service to start", timeout=30, alive=lambda: proc.poll() is None)
    wait_until(
        lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()["worker_ready"],
        what="the worker process to warm up",
        timeout=30,
    )
    return proc


def test_killed_with_events_queued_processes_each_once_after_restart(
    served_zendesk: tuple[FakeHelpdesk, str], tmp_path: Path
) -> None:
    fake, base_url = served_zendesk
    secret = secrets.token_hex(16)
    settings = fake.adapter_settings()
    env = {
        **os.environ,
        "HUMANSUPPORT_PLUGINS": "zendesk",
        "HUMANSUPPORT_ZENDESK_BASE_URL": base_url,
        "HUMANSUPPORT_ZENDESK_SUBDOMAIN": settings["subdomain"],
        "HUMANSUPPORT_ZENDESK_EMAIL": settings["email"],
        "HUMANSUPPORT_ZENDESK_API_TOKEN": settings["api_token"],
        "HUMANSUPPORT_ZENDESK_WEBHOOK_SECRET": secret,
        "HUMANSUPPORT_CONFIG": str(tmp_path / "none.toml"),
    }
    (tmp_path / "none.toml").write_text("")
    store_path = tmp_path / "store.db"
    port = _free_port()
    log = tmp_path / "serve.log"
    ids = [str(95000 + i) for i in range(EVENTS)]
    for cid in ids:
        new_conversation(fake, cid)
    # the helpdesk is down for ticket reads: every event stays in the queue, retried
    fake.fail_next(503, times=10**6, match=r"/tickets/")
    proc = _start(store_path, port, env, log)
    try:
        for cid in ids:
            headers, body = fake.signed_webhook(secret=secret, conversation_id=cid)
            answer = httpx.post(f"http://127.0.0.1:{port}/webhooks/zendesk/zendesk", headers=headers, content=body)
            assert answer.status_code == 200, answer.text
        with Store.open(store_path) as store:
            rows = WebhookQueue(store).rows()
        assert len(rows) == EVENTS and all(r["state"] in ("queued", "processing") for r in rows)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    fake.faults.clear()  # the helpdesk is back

    proc = _start(store_path, port, env, log)
    try:
        with Store.open(store_path) as store:
            queue = WebhookQueue(store)

            def drained() -> bool:
                return all(r["state"] in ("done", "skipped", "failed") for r in queue.rows())

            wait_until(drained, what="the queued events to be processed after the restart", timeout=60)
            rows = queue.rows()
    finally:
        proc.send_signal(signal.SIGTERM)  # the receiver stops its worker process
        proc.wait(timeout=20)
    assert [r["outcome"] for r in rows] == ["assigned"] * EVENTS, [(r["outcome"], r["message"]) for r in rows]
    for cid in ids:
        writes = [
            r for r in fake.requests if r.method == "PUT" and r.path.endswith(f"/tickets/{cid}") and r.status == 200
        ]
        assert len(writes) == 1, (cid, writes)
        assert fake.conversations[cid].assignee_id is not None
    assert b"Traceback" not in log.read_bytes()
