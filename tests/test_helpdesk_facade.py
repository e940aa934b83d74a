"""The sync facade and connect(): same behaviour as the async adapter, plain values and generators."""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path

import humansupport_acmedesk
import pytest
from humansupport_acmedesk import FakeAcme

import humansupport as hs
from humansupport import ConfigError, HumansupportError, PluginRegistry
from humansupport.testing import FakeClock, generate_history


@pytest.fixture
def fake() -> FakeAcme:
    return FakeAcme(history=generate_history(customers=40, agents=6, groups=2))


@pytest.fixture
def registry(plugin_registry: PluginRegistry) -> PluginRegistry:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    return plugin_registry


def test_connect_sync_iterates_with_plain_generators(
    registry: PluginRegistry, fake: FakeAcme, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", FakeAcme.token)
    with hs.connect("acmedesk", transport=fake.transport(), clock=FakeClock()) as desk:
        convs = desk.iter_conversations()
        assert isinstance(convs, types.GeneratorType)
        ids = [c.id for c in convs]
        assert sorted(ids) == sorted(fake.conversations)
        conv = desk.get_conversation(ids[0])
        agent = next(a for a in desk.iter_agents() if a.id != conv.assignee_id)
        assert desk.assign(conv.id, agent.id).assignee_id == agent.id
        assert desk.vendor == "acmedesk" and desk.capabilities.optimistic_concurrency
    with pytest.raises(HumansupportError, match="closed"):
        desk.get_conversation(ids[0])
    desk.close()  # closing twice is fine


def test_breaking_out_of_a_sync_iterator_is_clean(registry: PluginRegistry, fake: FakeAcme) -> None:
    with hs.connect("acmedesk", api_token=FakeAcme.token, transport=fake.transport()) as desk:
        first = next(iter(desk.iter_conversations()))
        assert first.id
        assert len(list(desk.iter_groups())) == len(fake.groups)


async def test_aconnect_is_an_async_context_manager(registry: PluginRegistry, fake: FakeAcme) -> None:
    async with hs.aconnect("acmedesk", api_token=FakeAcme.token, transport=fake.transport()) as desk:
        agents = [a async for a in desk.iter_agents()]
    assert {a.id for a in agents} == set(fake.agents)


def test_missing_credential_is_a_config_error_naming_the_env_var(
    registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="HUMANSUPPORT_ACMEDESK_API_TOKEN"):
        hs.connect("acmedesk")


def test_config_file_supplies_non_secret_settings(
    registry: PluginRegistry, fake: FakeAcme, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "humansupport.toml"
    cfg.write_text('[helpdesks.acmedesk]\nbase_url = "https://eu.acmedesk.test"\n')
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", FakeAcme.token)
    with hs.connect("acmedesk", transport=fake.transport(), config_file=cfg) as desk:
        list(desk.iter_groups())
        assert desk.adapter.http.base_url == "https://eu.acmedesk.test"  # type: ignore[attr-defined]
    assert {r.path for r in fake.requests} == {"/api/groups"}


def test_sync_errors_surface_as_sdk_errors(registry: PluginRegistry, fake: FakeAcme) -> None:
    with hs.connect("acmedesk", api_token=FakeAcme.token, transport=fake.transport()) as desk:
        with pytest.raises(hs.NotFoundError):
            desk.get_conversation("nope")
        fake.revoke_credentials()
        gen: Iterator[hs.Agent] = desk.iter_agents()
        with pytest.raises(hs.AuthenticationError):
            next(gen)
