"""Settings resolution per helpdesk account: keyword arguments, then `humansupport.toml`, then the environment.

An account is either named (`[accounts.<name>]` with `vendor = "..."`, environment
`HUMANSUPPORT_ACCOUNT_<NAME>_<SETTING>`) or the single account of a vendor (`[helpdesks.<vendor>]`, environment
`HUMANSUPPORT_<VENDOR>_<SETTING>`, named after the vendor). The account's name keys everything that must not
mix between accounts: store rows, sync cursors, webhook queue rows and the rate budget.

Secrets (fields typed `SecretStr`) are accepted only from keyword arguments or the environment, never from
the TOML file, so a config file can be committed safely.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from .errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "KNOWN_TABLES",
    "Account",
    "HelpdeskSettings",
    "account_env_prefix",
    "check_config",
    "check_vendor_tables",
    "config_path",
    "did_you_mean",
    "load_config_file",
    "resolve_account",
    "resolve_settings",
    "secret_fields",
]

CONFIG_ENV = "HUMANSUPPORT_CONFIG"
_DEFAULT_FILE = "humansupport.toml"

S = TypeVar("S", bound="HelpdeskSettings")


class HelpdeskSettings(BaseSettings):
    """Base of every adapter's settings; `base_url` points any adapter at a proxy, region or test server."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)
    vendor: ClassVar[str] = ""

    base_url: str | None = None
    account: str | None = None
    capacity_default: int | None = None
    #: the secret webhook deliveries are signed with (`HUMANSUPPORT_<VENDOR>_WEBHOOK_SECRET`); read by
    #: `humansupport webhooks serve`, never passed to the adapter's constructor
    webhook_secret: SecretStr | None = None

    def __repr_args__(self) -> Any:  # SecretStr already masks; this keeps reprs short and stable
        for name, value in super().__repr_args__():
            if value is not None:
                yield name, value


#: the tables humansupport.toml may hold; anything else is a typo (a ConfigError with a suggestion)
KNOWN_TABLES: frozenset[str] = frozenset(
    {"accounts", "enrichment", "helpdesks", "insights", "replies", "routing", "store"}
)
_STORE_KEYS = frozenset({"url"})
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def did_you_mean(word: str, choices: Collection[str]) -> str:
    """` (did you mean 'x'?)` for the closest choice, or nothing: appended to an error about `word`."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def config_path(explicit: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None) -> Path:
    """Where the TOML config is read from: explicit path, else $HUMANSUPPORT_CONFIG, else ./humansupport.toml."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        return Path(explicit)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return Path.cwd() / _DEFAULT_FILE


def load_config_file(
    path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Reads the TOML config; a missing default file is an empty config, a missing explicit one an error.

    Unknown tables, a `[store]` key other than `url`, and malformed `[accounts.*]` tables are ConfigErrors here,
    so a typo is reported where it is rather than as a missing setting later.
    """
    target = config_path(path, environ=environ)
    explicit = path is not None or bool((os.environ if environ is None else environ).get(CONFIG_ENV))
    if not target.exists():
        if explicit:
            raise ConfigError(f"config file {target} does not exist (set {CONFIG_ENV} or pass a valid path)")
        return {}
    try:
        with target.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {target} is not valid TOML: {exc}") from None
    check_config(data, where=str(target))
    return data


def check_config(config: Mapping[str, Any], *, where: str = "humansupport.toml") -> None:
    """The shape every command relies on: known tables only, `[store]` keys, `[accounts.*]` names and vendors."""
    for key, value in config.items():
        if key not in KNOWN_TABLES:
            raise ConfigError(
                f"{where}: unknown table [{key}]{did_you_mean(key, KNOWN_TABLES)}; "
                f"known tables: {', '.join(f'[{t}]' for t in sorted(KNOWN_TABLES))}"
            )
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: [{key}] must be a table, not a single value")
    unknown = sorted(set(config.get("store") or {}) - _STORE_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: [store]: unknown key(s) {', '.join(unknown)}{did_you_mean(unknown[0], _STORE_KEYS)}; known: url"
        )
    for vendor, table in (config.get("helpdesks") or {}).items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: [helpdesks.{vendor}] must be a table of that vendor's settings")
    _named_accounts(config, where=where)


def account_env_prefix(name: str) -> str:
    """`zd-a` -> `HUMANSUPPORT_ACCOUNT_ZD_A_`: the name upper-cased, each `-` written as `_`."""
    return f"HUMANSUPPORT_ACCOUNT_{name.upper().replace('-', '_')}_"


@dataclass(frozen=True, kw_only=True)
class Account:
    """One helpdesk account. Its `name` keys store rows, cursors, webhook queue rows and the rate budget; its
    settings come from one TOML table and one environment prefix, never from another account's."""

    name: str
    vendor: str
    #: from `[accounts.<name>]` (else the single account of `vendor`: `[helpdesks.<vendor>]`)
    named: bool = False

    @property
    def env_prefix(self) -> str:
        return account_env_prefix(self.name) if self.named else f"HUMANSUPPORT_{self.vendor.upper()}_"

    @property
    def table_name(self) -> str:
        return f"[accounts.{self.name}]" if self.named else f"[helpdesks.{self.vendor}]"

    def env_name(self, setting: str) -> str:
        return f"{self.env_prefix}{setting.upper()}"

    def own_error(self, exc: ConfigError) -> ConfigError:
        """An adapter's ConfigError names its vendor's variables; a named account reads its own instead."""
        if not self.named or str(exc).startswith(f"account {self.name!r}"):
            return exc
        text = str(exc).replace(f"HUMANSUPPORT_{self.vendor.upper()}_", self.env_prefix)
        return ConfigError(f"account {self.name!r}: {text}")

    def table(self, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """This account's settings in humansupport.toml (without `vendor`)."""
        if self.named:
            table = dict(((config or {}).get("accounts") or {}).get(self.name) or {})
            table.pop("vendor", None)
            return table
        return dict(((config or {}).get("helpdesks") or {}).get(self.vendor) or {})


def _named_accounts(config: Mapping[str, Any] | None, *, where: str = "humansupport.toml") -> dict[str, Account]:
    """`[accounts.<name>]` tables as Accounts; bad names, missing vendors and clashing env prefixes are errors."""
    tables = (config or {}).get("accounts") or {}
    if not isinstance(tables, Mapping):
        raise ConfigError(f"{where}: [accounts] must hold one table per account, e.g. [accounts.zd-eu]")
    out: dict[str, Account] = {}
    prefixes: dict[str, str] = {}
    for name, table in tables.items():
        if not _ACCOUNT_NAME.fullmatch(name):
            raise ConfigError(
                f"{where}: account name {name!r} must be letters, digits, '-' and '_' (it becomes a URL path "
                "segment and part of environment variable names)"
            )
        if not isinstance(table, Mapping):
            raise ConfigError(f'{where}: [accounts.{name}] must be a table with vendor = "..." and its settings')
        vendor = table.get("vendor")
        if not isinstance(vendor, str) or not vendor.strip():
            raise ConfigError(f'{where}: [accounts.{name}] needs vendor = "<vendor>", e.g. vendor = "acmedesk"')
        if "account" in table:
            raise ConfigError(f"{where}: [accounts.{name}]: drop the account key, the table's name is the account")
        prefix = account_env_prefix(name)
        if prefix in prefixes:
            raise ConfigError(
                f"{where}: accounts {prefixes[prefix]!r} and {name!r} would both read {prefix}<SETTING> from the "
                "environment; rename one"
            )
        prefixes[prefix] = name
        out[name] = Account(name=name, vendor=vendor.strip(), named=True)
    return out


def check_vendor_tables(config: Mapping[str, Any] | None, vendors: Collection[str]) -> None:
    """A `[helpdesks.<x>]` table or an account's `vendor` that is not an installed vendor but close to one is a
    typo: a ConfigError naming the vendor meant. (A vendor close to none may be a plugin installed elsewhere.)"""
    installed = set(vendors)
    for vendor in (config or {}).get("helpdesks") or {}:
        hint = did_you_mean(vendor, installed)
        if vendor not in installed and hint:
            raise ConfigError(f"[helpdesks.{vendor}] names no installed vendor{hint}; installed: {_listing(installed)}")
    for account in _named_accounts(config).values():
        hint = did_you_mean(account.vendor, installed)
        if account.vendor not in installed and hint:
            raise ConfigError(
                f"[accounts.{account.name}]: vendor {account.vendor!r} is not installed{hint}; "
                f"installed: {_listing(installed)}"
            )


def _listing(names: Collection[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def resolve_account(
    config: Mapping[str, Any] | None,
    name: str | None = None,
    *,
    account: str | None = None,
    vendors: Collection[str] | None = None,
) -> Account:
    """The account a command or `connect()` means: `name` is a vendor or a configured account's name, `account`
    a configured account's name or, with a vendor, a label for that vendor's single account.

    `resolve_account(cfg, "eu-desk")`, `resolve_account(cfg, account="eu-desk")` and `resolve_account(cfg,
    "acmedesk", account="eu-desk")` all mean `[accounts.eu-desk]`; `resolve_account(cfg, "acmedesk")` is
    `[helpdesks.acmedesk]` under the name "acmedesk". Once humansupport.toml names accounts, a label must be one
    of them (or the vendor).
    """
    named = _named_accounts(config)
    if account is not None:
        account = account.strip()
        if name is None and account not in named and vendors is not None and account in vendors:
            name = account  # `--account VENDOR`: the vendor's single account
        if account in named:
            found = named[account]
            if name is not None and name not in (found.name, found.vendor):
                raise ConfigError(f"account {account!r} is a {found.vendor} account, not {name!r}")
            return found
        if name is None or name in named:
            raise ConfigError(_no_account(account, named, vendors, given_vendor=True))
        if named and account != name:
            raise ConfigError(_no_account(account, named, vendors, given_vendor=True))
        if not _ACCOUNT_NAME.fullmatch(account):
            raise ConfigError(f"account {account!r} must be letters, digits, '-' and '_'")
        return Account(name=account, vendor=name)
    if name is None:
        raise ConfigError(
            "name an account: a vendor, or --account NAME of an [accounts.NAME] table"
            + (f" (configured: {_listing(named)})" if named else "")
        )
    if name in named:
        return named[name]
    if vendors is not None and name not in vendors:
        hint = did_you_mean(name, set(named) | set(vendors))
        if hint or named:
            raise ConfigError(_no_account(name, named, vendors, given_vendor=False))
    return Account(name=name, vendor=name)


def _no_account(name: str, named: Mapping[str, Account], vendors: Collection[str] | None, *, given_vendor: bool) -> str:
    hint = did_you_mean(name, set(named) | (set() if given_vendor else set(vendors or ())))
    what = "no account" if given_vendor else "no account or vendor"
    where = f"configured accounts: {_listing(named)}"
    if vendors is not None and not given_vendor:
        where += f"; installed vendors: {_listing(vendors)}"
    return f"{what} named {name!r}{hint}; {where} (an account is an [accounts.<name>] table in humansupport.toml)"


def secret_fields(model: type[BaseSettings]) -> set[str]:
    """Names of fields that hold secrets (typed SecretStr, optional or not)."""
    out = set()
    for name, info in model.model_fields.items():
        ann = info.annotation
        if ann is SecretStr or SecretStr in getattr(ann, "__args__", ()):
            out.add(name)
    return out


class _DictSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = dict(data)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class _EnvSource(EnvSettingsSource):
    """pydantic-settings' env parsing (JSON for complex fields), over an injected environment for tests."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str], **kw: Any) -> None:
        self._environ = {k.lower(): v for k, v in environ.items()}
        super().__init__(settings_cls, **kw)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._environ


def resolve_settings(
    settings_cls: type[S],
    *,
    overrides: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    account: Account | None = None,
) -> S:
    """Builds one account's settings from kwargs > its TOML table > its environment prefix.

    Without `account`, the single account of the settings' vendor (`[helpdesks.<vendor>]`,
    `HUMANSUPPORT_<VENDOR>_*`). A named account reads only `[accounts.<name>]` and `HUMANSUPPORT_ACCOUNT_<NAME>_*`:
    no fallback to the vendor's variables, so one account's credential never reaches another's helpdesk.
    `account` (the setting) is always the account's name, the key of its rate budget.
    """
    vendor = settings_cls.vendor or "helpdesk"
    acct = account or Account(name=vendor, vendor=vendor)
    where = f"account {acct.name!r}" if acct.named else vendor
    table = acct.table(config)
    leaked = sorted(secret_fields(settings_cls) & table.keys())
    if leaked:
        env_names = ", ".join(acct.env_name(n) for n in leaked)
        raise ConfigError(
            f"{where}: secret setting(s) {', '.join(leaked)} found in {acct.table_name} of the config file; "
            f"secrets are read only from the environment: set {env_names} instead"
        )
    known = set(settings_cls.model_fields) - {"account"}
    unknown = sorted(set(table) - known)
    if unknown:
        if "account" in unknown:
            raise ConfigError(
                f"{where}: account in {acct.table_name} is not a setting: name the account with an "
                f'[accounts.<name>] table (vendor = "{vendor}") or pass --account'
            )
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} in {acct.table_name}{did_you_mean(unknown[0], known)}; "
            f"known: {', '.join(sorted(known))}"
        )
    env = dict(os.environ if environ is None else environ)
    kwargs = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(kwargs) - set(settings_cls.model_fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}{did_you_mean(unknown[0], known)}; "
            f"known: {', '.join(sorted(settings_cls.model_fields))}"
        )
    kwargs.setdefault("account", acct.name)
    prefix = acct.env_prefix

    class _Resolved(settings_cls):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (
                InitSettingsSource(settings_cls, init_kwargs=kwargs),
                _DictSource(settings_cls, table),
                _EnvSource(settings_cls, env, env_prefix=prefix, case_sensitive=False),
            )

    try:
        resolved = _Resolved()
    except PydanticValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            env_name = f"{prefix}{field.upper()}"
            problems.append(f"{field}: {err['msg']} (pass {field}=..., or set {env_name})")
        raise ConfigError(f"{where}: invalid settings: " + "; ".join(problems)) from None
    return settings_cls.model_validate(resolved.model_dump())
