"""The plugin's public surface is exactly `__all__`, and the hooks hand the registry our classes."""

from __future__ import annotations

from types import FunctionType, ModuleType

import humansupport_freshdesk as fd

import humansupport
from humansupport.plugins import PluginRegistry

from .conftest import small_history


def test_all_is_exactly_the_public_surface() -> None:
    public = {n for n, v in vars(fd).items() if n[0] != "_" and not isinstance(v, ModuleType)}
    assert list(fd.__all__) == sorted(public, key=str.casefold)
    classes = [getattr(fd, n) for n in fd.__all__ if isinstance(getattr(fd, n), type)]
    assert {c.__module__ for c in classes} == {"humansupport_freshdesk"}
    assert all(isinstance(getattr(fd, n), type | FunctionType) for n in fd.__all__)


def test_hooks_register_adapter_and_fake(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(fd, name="freshdesk")
    assert plugin_registry.helpdesks()["freshdesk"] is fd.FreshdeskAdapter
    assert plugin_registry.fakes()["freshdesk"] is fd.FakeFreshdesk
    info = next(p for p in plugin_registry.plugins() if p.name == "freshdesk").to_dict()
    assert "bulk_assign" in info["capabilities"]["freshdesk"]
    assert "signed_webhooks" not in info["capabilities"]["freshdesk"]


def test_connect_builds_a_sync_helpdesk_from_the_registry(plugin_registry: PluginRegistry) -> None:
    plugin_registry.register(fd, name="freshdesk")
    fake = fd.FakeFreshdesk(history=small_history())
    settings = fd.FakeFreshdesk.adapter_settings()
    with humansupport.connect(
        "freshdesk", registry=plugin_registry, transport=fake.transport(), clock=fake.clock, **settings
    ) as helpdesk:  # the fake's clock: the ticket-list budget waits on it, never in real time
        assert helpdesk.vendor == "freshdesk" and helpdesk.capabilities.bulk_assign
        tickets = list(helpdesk.iter_conversations())
        assert {t.id for t in tickets} == set(fake.conversations)
        assert helpdesk.check().ok
