"""`connect()` and `aconnect()`: from a vendor name and settings to a ready adapter."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from .clock import SYSTEM_CLOCK, Clock
from .config import load_config_file, resolve_settings
from .helpdesk import AsyncHelpdesk, Helpdesk
from .plugins import PluginRegistry, get_registry

if TYPE_CHECKING:
    from .http.ratelimit import RateBudget

__all__ = ["aconnect", "build_adapter", "connect"]


def build_adapter(
    vendor: str,
    *,
    registry: PluginRegistry | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = SYSTEM_CLOCK,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
    rate_budget: RateBudget | None = None,
) -> AsyncHelpdesk:
    """Finds the vendor's adapter class and builds it from kwargs > humansupport.toml > environment.

    `rate_budget` shares the account's request budget beyond this process (`Store.rate_budget()`).
    """
    cls = (registry or get_registry()).helpdesk(vendor)
    config = load_config_file(config_file, environ=environ)
    resolved = resolve_settings(cls.settings_model, overrides=settings, config=config, environ=environ)
    return cls.from_settings(resolved, transport=transport, clock=clock, rate_budget=rate_budget)


def aconnect(
    vendor: str,
    *,
    registry: PluginRegistry | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = SYSTEM_CLOCK,
    config_file: str | os.PathLike[str] | None = None,
    **settings: Any,
) -> AsyncHelpdesk:
    """An async adapter for `vendor`; use it as `async with humansupport.aconnect("zendesk") as hd:`."""
    return build_adapter(
        vendor,
        registry=registry,
        transport=transport,
        clock=clock,
        config_file=config_file,
        settings=settings,
    )


def connect(
    vendor: str,
    *,
    registry: PluginRegistry | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = SYSTEM_CLOCK,
    config_file: str | os.PathLike[str] | None = None,
    **settings: Any,
) -> Helpdesk:
    """A blocking helpdesk for `vendor`; use it as `with humansupport.connect("zendesk") as hd:`."""
    adapter = build_adapter(
        vendor,
        registry=registry,
        transport=transport,
        clock=clock,
        config_file=config_file,
        settings=settings,
    )
    return Helpdesk(adapter)
