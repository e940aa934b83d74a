"""The README's Python example runs on every first-party vendor's fake and visibly assigns conversations; the
README says how to install outside the repository."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

import humansupport as hs
from humansupport.connect import aconnect, connect
from humansupport.plugins import PluginRegistry
from humansupport.testing import FakeClock, generate_history

README = Path(__file__).resolve().parents[1] / "README.md"
VENDORS = ["freshdesk", "helpscout", "intercom", "zendesk"]


def _python_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks, "README.md has no Python example"
    return str(blocks[0])


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_readme_example_assigns_on_every_fake(
    installed_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, vendor: str
) -> None:
    history = generate_history(customers=40, agents=5, groups=2, seed=5)
    clock = FakeClock(start=history.config.end)
    fake = installed_registry.fakes()[vendor](history=history, clock=clock)
    waiting_before = [
        c for c in fake.conversations.values() if c.assignee_id is None and str(c.status) in ("new", "open")
    ]
    assert waiting_before, "the fake has nothing waiting: the example could show nothing"

    def fake_settings(kw: dict[str, Any]) -> dict[str, Any]:
        # the example's Zendesk settings (`subdomain="acme"`) give way to the fake's; other vendors take their own
        return {**(kw if vendor == "zendesk" else {}), **fake.adapter_settings()}

    def sync_connect(_vendor: str, **kw: Any) -> Any:
        return connect(
            vendor, registry=installed_registry, transport=fake.transport(), clock=clock, **fake_settings(kw)
        )

    def async_connect(_vendor: str, **kw: Any) -> Any:
        return aconnect(
            vendor, registry=installed_registry, transport=fake.transport(), clock=clock, **fake_settings(kw)
        )

    monkeypatch.setattr(hs, "connect", sync_connect)
    monkeypatch.setattr(hs, "aconnect", async_connect)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_python_example(), str(README), "exec"), {"__name__": "__readme__"})  # noqa: S102 - our README
    printed = out.getvalue()
    assigned = [line for line in printed.splitlines() if line.startswith("assigned ")]
    assert assigned, printed
    summary = re.search(r"^(\d+) of (\d+) waiting conversations assigned", printed, re.MULTILINE)
    assert summary is not None and int(summary.group(1)) == len(assigned) > 0, printed
    assert re.search(r"^\d+ agents in the helpdesk$", printed, re.MULTILINE), printed
    now_assigned = [cid for cid in (c.id for c in waiting_before) if fake.conversations[cid].assignee_id]
    assert len(now_assigned) >= len(assigned)


def test_the_readme_says_how_to_install_outside_the_repository() -> None:
    text = README.read_text(encoding="utf-8")
    named = {e for spec in re.findall(r'pip install "humansupport\[([a-z,]+)\]"', text) for e in spec.split(",")}
    assert {"zendesk", "helpscout", "rebalance", "all"} <= named, named
    assert 'pip install "humansupport[zendesk]"' in text
