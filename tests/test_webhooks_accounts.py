"""`webhooks serve` with several accounts of one vendor: each account's events act on its own helpdesk only."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from humansupport.cli import app
from humansupport.errors import ConfigError
from humansupport.models import WebhookEvent, WebhookEventType
from humansupport.plugins import PluginRegistry
from humansupport.store import Store
from humansupport.testing import FakeClock, FakeHelpdesk
from humansupport.webhooks import (
    AccountSpec,
    RoutingOptions,
    WebhookApp,
    WorkerConfig,
    build_runtime,
    resolve_account_specs,
)
from humansupport.webhooks.queue import NewEvent

from .webhooks.support import HISTORY, app_for, first_party_registry, new_conversation

VENDOR = "zendesk"


@pytest.fixture(scope="module")
def registry() -> PluginRegistry:
    return first_party_registry()


@dataclass
class TwoAccounts:
    app: WebhookApp
    fakes: dict[str, FakeHelpdesk]
    clock: FakeClock
    store: Store

    def send(self, account: str, conversation_id: str) -> None:
        event = WebhookEvent(
            vendor=VENDOR,
            type=WebhookEventType.CONVERSATION_CREATED,
            id=secrets.token_hex(6),
            conversation_id=conversation_id,
        )
        self.app.queue.enqueue([[NewEvent(account=account, event=event)]], now=self.clock.now())

    def drain(self) -> None:
        async def go() -> None:
            for _ in range(20):
                if not await self.app.worker.run_once():
                    return

        asyncio.run(go())

    def touched(self, account: str, conversation_id: str) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.fakes[account].requests if conversation_id in r.path]


def _fake_class(registry: PluginRegistry, account: str) -> type[FakeHelpdesk]:
    """The Zendesk fake as one account: its own subdomain and API token."""
    base = registry.fakes()[VENDOR]
    attrs = {"subdomain": account.replace("-", ""), "token": f"token-{account}-{secrets.token_hex(4)}"}
    return type(f"Fake_{attrs['subdomain']}", (base,), attrs)


@pytest.fixture
def two(registry: PluginRegistry, tmp_path: Path) -> Iterator[TwoAccounts]:
    clock = FakeClock(start=HISTORY.config.end)
    fakes = {name: _fake_class(registry, name)(history=HISTORY, clock=clock) for name in ("zd-a", "zd-b")}
    by_host = {f"{type(f).subdomain}.zendesk.test": f for f in fakes.values()}  # type: ignore[attr-defined]

    async def route(request: httpx.Request) -> httpx.Response:  # one network, two helpdesks, told apart by host
        return by_host[request.url.host](request)

    config = tmp_path / "humansupport.toml"
    config.write_text(
        "".join(
            f'[accounts.{name}]\nvendor = "zendesk"\nsubdomain = "{type(f).subdomain}"\n'  # type: ignore[attr-defined]
            f'email = "{type(f).email}"\nbase_url = "https://{type(f).subdomain}.zendesk.test"\n\n'  # type: ignore[attr-defined]
            for name, f in fakes.items()
        )
    )
    environ = {"HUMANSUPPORT_CONFIG": str(config)}
    for name, f in fakes.items():
        prefix = "HUMANSUPPORT_ACCOUNT_" + name.upper().replace("-", "_")
        environ[f"{prefix}_API_TOKEN"] = type(f).token  # type: ignore[attr-defined]
        environ[f"{prefix}_WEBHOOK_SECRET"] = "whsec-" + secrets.token_hex(4)
    specs = resolve_account_specs(["zd-a", "zd-b"], registry=registry, environ=environ)
    assert specs == [
        AccountSpec(vendor=VENDOR, account="zd-a", named=True),
        AccountSpec(vendor=VENDOR, account="zd-b", named=True),
    ]
    with Store.open(tmp_path / "store.db") as store:
        for spec in specs:
            store.upsert_agents(spec.account, HISTORY.agents, seen_at=clock.now())
            store.upsert_customers(spec.account, HISTORY.customers)
        runtimes = [
            build_runtime(
                spec,
                store=store,
                options=RoutingOptions(),
                clock=clock,
                registry=registry,
                environ=environ,
                transport=httpx.MockTransport(route),
            )
            for spec in specs
        ]
        assert [rt.secret for rt in runtimes] == [
            environ["HUMANSUPPORT_ACCOUNT_ZD_A_WEBHOOK_SECRET"],
            environ["HUMANSUPPORT_ACCOUNT_ZD_B_WEBHOOK_SECRET"],
        ]
        web = app_for(runtimes, store, clock, worker=WorkerConfig(max_attempts=1))
        yield TwoAccounts(app=web, fakes=fakes, clock=clock, store=store)


def test_an_event_for_one_account_never_reaches_the_other_accounts_helpdesk(two: TwoAccounts) -> None:
    new_conversation(two.fakes["zd-b"], "9001")  # a ticket only zd-b's helpdesk has
    two.send("zd-a", "9001")
    two.drain()
    assert two.touched("zd-b", "9001") == []  # zd-b's helpdesk never heard of zd-a's event
    assert two.touched("zd-a", "9001")  # zd-a's own helpdesk was asked, and does not have it
    assert two.fakes["zd-b"].conversations["9001"].assignee_id is None
    assert two.store.conversation("zd-a", "9001") is None
    assert two.app.queue.rows()[-1]["assigned_agent_id"] is None

    two.send("zd-b", "9001")  # the same id through zd-b's endpoint is zd-b's ticket
    two.drain()
    assigned = two.fakes["zd-b"].conversations["9001"].assignee_id
    assert assigned is not None and two.app.queue.rows()[-1]["assigned_agent_id"] == assigned
    stored = two.store.conversation("zd-b", "9001")
    assert stored is not None and stored.assignee_id == assigned
    assert two.store.conversation("zd-a", "9001") is None
    assert not any(r.method != "GET" for r in two.fakes["zd-a"].requests if "9001" in r.path)


def test_each_account_sends_its_own_credential(two: TwoAccounts) -> None:
    new_conversation(two.fakes["zd-a"], "9002")
    two.send("zd-a", "9002")
    two.drain()
    assert two.fakes["zd-a"].conversations["9002"].assignee_id is not None
    assert all(two.fakes["zd-a"].authenticate(r) for r in two.fakes["zd-a"].requests)  # type: ignore[attr-defined]


def test_two_labels_on_one_vendors_settings_are_refused(registry: PluginRegistry) -> None:
    with pytest.raises(
        ConfigError, match=r"zd-a and zd-b would share one set of zendesk settings.*\[accounts\.<name>\]"
    ):
        resolve_account_specs(["zendesk=zd-a", "zendesk=zd-b"], config={}, registry=registry)
    [spec] = resolve_account_specs(["zendesk=eu"], config={}, registry=registry)  # one label alone is fine
    assert spec == AccountSpec(vendor=VENDOR, account="eu", named=False)


def test_serve_names_the_shared_settings_problem_in_the_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["webhooks", "serve", "zendesk=zd-a", "zendesk=zd-b", "--store", str(tmp_path / "s.db")]
    )
    assert result.exit_code == 3, result.output
    assert "would share one set of zendesk settings" in result.stderr


def test_the_rate_budget_is_keyed_by_the_account_name(registry: PluginRegistry, tmp_path: Path) -> None:
    """Two accounts on one subdomain through different proxies are still two accounts: two buckets, one each."""
    from humansupport.connect import build_adapter

    config = tmp_path / "humansupport.toml"
    config.write_text(
        "".join(
            f'[accounts.{n}]\nvendor = "zendesk"\nsubdomain = "same"\nbase_url = "https://{n}.proxy.test"\n'
            for n in ("zd-a", "zd-b")
        )
    )
    environ = {"HUMANSUPPORT_CONFIG": str(config)}
    for n in ("ZD_A", "ZD_B"):
        environ[f"HUMANSUPPORT_ACCOUNT_{n}_OAUTH_TOKEN"] = "t"
    a1, a2, b = (
        build_adapter(name, registry=registry, environ=environ, transport=httpx.MockTransport(lambda r: None))  # type: ignore[arg-type,return-value]
        for name in ("zd-a", "zd-a", "zd-b")
    )
    assert (a1.account, b.account) == ("zd-a", "zd-b")
    assert a1.http.limiter is a2.http.limiter  # type: ignore[attr-defined]
    assert a1.http.limiter is not b.http.limiter  # type: ignore[attr-defined]
