"""Settings resolution: keyword arguments, then `humansupport.toml`, then `HUMANSUPPORT_<VENDOR>_<SETTING>`.

Secrets (fields typed `SecretStr`) are accepted only from keyword arguments or the environment, never from
the TOML file, so a config file can be committed safely.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
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
    "HelpdeskSettings",
    "config_path",
    "load_config_file",
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
    """Reads the TOML config; a missing default file is an empty config, a missing explicit one an error."""
    target = config_path(path, environ=environ)
    explicit = path is not None or bool((os.environ if environ is None else environ).get(CONFIG_ENV))
    if not target.exists():
        if explicit:
            raise ConfigError(f"config file {target} does not exist (set {CONFIG_ENV} or pass a valid path)")
        return {}
    try:
        with target.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {target} is not valid TOML: {exc}") from None


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
) -> S:
    """Builds an adapter's settings from kwargs > TOML `[helpdesks.<vendor>]` > environment."""
    vendor = settings_cls.vendor or "helpdesk"
    table = dict(((config or {}).get("helpdesks") or {}).get(vendor) or {})
    leaked = sorted(secret_fields(settings_cls) & table.keys())
    if leaked:
        env_names = ", ".join(f"HUMANSUPPORT_{vendor.upper()}_{n.upper()}" for n in leaked)
        raise ConfigError(
            f"{vendor}: secret setting(s) {', '.join(leaked)} found in the config file; "
            f"secrets are read only from the environment: set {env_names} instead"
        )
    env = dict(os.environ if environ is None else environ)
    kwargs = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(kwargs) - set(settings_cls.model_fields))
    if unknown:
        raise ConfigError(
            f"{vendor}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(settings_cls.model_fields))}"
        )
    prefix = f"HUMANSUPPORT_{vendor.upper()}_"

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
        raise ConfigError(f"{vendor}: invalid settings: " + "; ".join(problems)) from None
    return settings_cls.model_validate(resolved.model_dump())
