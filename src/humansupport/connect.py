"""`connect()` and `aconnect()`: from a vendor or account name and settings to a ready adapter."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from .clock import SYSTEM_CLOCK, Clock
from .config import Account, check_vendor_tables, load_config_file, resolve_account, resolve_settings
from .errors import ConfigError
from .helpdesk import AsyncHelpdesk, Helpdesk
from .plugins import PluginRegistry, get_registry

if TYPE_CHECKING:
    from .http.ratelimit import RateBudget

__all__ = ["aconnect", "build_adapter", "connect", "find_account"]


def find_account(
    name: str | None = None,
    *,
    account: str | None = None,
    registry: PluginRegistry | None = None,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
) -> Account:
    """Which account `name` (a vendor or an `[accounts.<name>]`) and `account` (a configured name or a label)
    mean; see `humansupport.config.resolve_account`. Reads humansupport.toml unless `config` is given."""
    loaded = load_config_file(config_file, environ=environ) if config is None else config
    vendors = list((registry or get_registry()).helpdesks())
    check_vendor_tables(loaded, vendors)
    return resolve_account(loaded, name, account=account, vendors=vendors)


def build_adapter(
    name: str | None = None,
    *,
    account: str | None = None,
    registry: PluginRegistry | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = SYSTEM_CLOCK,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
    rate_budget: RateBudget | None = None,
) -> AsyncHelpdesk:
    """Finds the account's adapter class and builds it from kwargs > its TOML table > its environment.

    `rate_budget` shares the account's request budget beyond this process (`Store.rate_budget()`).
    """
    reg = registry or get_registry()
    config = load_config_file(config_file, environ=environ)
    chosen = find_account(name, account=account, registry=reg, config=config)
    cls = reg.helpdesk(chosen.vendor)
    try:
        resolved = resolve_settings(
            cls.settings_model, overrides=settings, config=config, environ=environ, account=chosen
        )
        return cls.from_settings(resolved, transport=transport, clock=clock, rate_budget=rate_budget)
    except ConfigError as exc:
        raise _with_accounts_hint(chosen.own_error(exc), chosen, config) from None


def _with_accounts_hint(exc: ConfigError, chosen: Account, config: Mapping[str, Any]) -> ConfigError:
    """A vendor's single account that is not set up, while humansupport.toml names accounts of that vendor:
    the user most likely meant one of those."""
    if chosen.named:
        return exc
    tables = config.get("accounts") or {}
    same = sorted(n for n, t in tables.items() if isinstance(t, Mapping) and t.get("vendor") == chosen.vendor)
    if not same:
        return exc
    return ConfigError(f"{exc}; or use one of the {chosen.vendor} accounts in humansupport.toml: {', '.join(same)}")


def _check_names(name: str | None, account: str | None, settings: Mapping[str, Any]) -> None:
    if "vendor" in settings:
        raise ConfigError("pass the vendor or account name as the first argument: connect('acmedesk')")
    if name is None and account is None:
        raise ConfigError("name a helpdesk: connect('acmedesk'), connect('eu-desk') or connect(account='eu-desk')")


def aconnect(
    name: str | None = None,
    /,
    *,
    account: str | None = None,
    registry: PluginRegistry | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = SYSTEM_CLOCK,
    config_file: str | os.PathLike[str] | None = None,
    **settings: Any,
) -> AsyncHelpdesk:
    """An async adapter; use it as `async with humansupport.aconnect("acmedesk") as hd:`.

    `name` is a vendor (its single account, `[helpdesks.<vendor>]`) or an account named in humansupport.toml
    (`[accounts.<name>]`); `account=` names a configured account, or labels a vendor's single account.
    """
    _check_names(name, account, settings)
    return build_adapter(
        name,
        account=account,
        registry=registry,
        transport=transport,
        clock=clock,
        config_file=config_file,
        settings=settings,
    )


def connect(
    name: str | None = None,
    /,
    *,
    account: str | None = None,
    registry: PluginRegistry | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = SYSTEM_CLOCK,
    config_file: str | os.PathLike[str] | None = None,
    **settings: Any,
) -> Helpdesk:
    """A blocking helpdesk; use it as `with humansupport.connect("acmedesk") as hd:` or `connect("eu-desk")`.

    `name` is a vendor (its single account, `[helpdesks.<vendor>]`) or an account named in humansupport.toml
    (`[accounts.<name>]`); `account=` names a configured account, or labels a vendor's single account.
    """
    _check_names(name, account, settings)
    adapter = build_adapter(
        name,
        account=account,
        registry=registry,
        transport=transport,
        clock=clock,
        config_file=config_file,
        settings=settings,
    )
    return Helpdesk(adapter)
