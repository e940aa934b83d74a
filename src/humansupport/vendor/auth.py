"""How a `RestAdapter` authenticates, declared as a class attribute from the plugin's settings fields.

Templates name settings fields in braces: `BasicAuth(username="{email}/token", password="{api_token}")`. Secret
fields are revealed only into the header (never into a repr, log or error). A field that is missing or empty
is a `ConfigError` naming the environment variable to set. Auth that needs a flow (OAuth client credentials)
overrides `RestAdapter.build_auth` instead.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from humansupport.config import HelpdeskSettings
from humansupport.errors import ConfigError

__all__ = ["Auth", "BasicAuth", "BearerAuth", "HeaderAuth", "fill", "template_fields"]


def template_fields(template: str) -> list[str]:
    """The settings fields a template names, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def env_name(vendor: str, field: str) -> str:
    """Where a setting comes from in the environment."""
    return f"HUMANSUPPORT_{vendor.upper()}_{field.upper()}"


def fill(template: str, settings: HelpdeskSettings) -> str:
    """The template with each `{field}` replaced by the setting's value (secrets revealed); ConfigError if unset."""
    values: dict[str, Any] = {}
    for name in template_fields(template):
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or value == "":
            vendor = settings.vendor or "helpdesk"
            raise ConfigError(f"{vendor}: {name} is not set; set {env_name(vendor, name)} (or pass {name}=...)")
        values[name] = value
    return template.format_map(values)


@dataclass(frozen=True)
class Auth:
    """Base: what goes on every request, built once from the settings."""

    def build(self, settings: HelpdeskSettings) -> tuple[httpx.Auth | None, Mapping[str, str]]:
        """The httpx auth and the extra headers for these settings."""
        return None, {}

    def fields(self) -> list[str]:
        """The settings fields this auth reads (named in the 401 hint)."""
        return []


@dataclass(frozen=True)
class HeaderAuth(Auth):
    """A header whose value is a template: `HeaderAuth("X-Api-Key", "{api_key}")`."""

    header: str
    value: str

    def build(self, settings: HelpdeskSettings) -> tuple[httpx.Auth | None, Mapping[str, str]]:
        return None, {self.header: fill(self.value, settings)}

    def fields(self) -> list[str]:
        return template_fields(self.value)


@dataclass(frozen=True)
class BearerAuth(Auth):
    """`Authorization: Bearer <token>` from one settings field: `BearerAuth("api_token")`."""

    field: str

    def build(self, settings: HelpdeskSettings) -> tuple[httpx.Auth | None, Mapping[str, str]]:
        return None, {"Authorization": "Bearer " + fill("{" + self.field + "}", settings)}

    def fields(self) -> list[str]:
        return [self.field]


@dataclass(frozen=True)
class BasicAuth(Auth):
    """HTTP Basic from two templates: `BasicAuth(username="{api_key}", password="X")`."""

    username: str
    password: str

    def build(self, settings: HelpdeskSettings) -> tuple[httpx.Auth | None, Mapping[str, str]]:
        return httpx.BasicAuth(fill(self.username, settings), fill(self.password, settings)), {}

    def fields(self) -> list[str]:
        return [*template_fields(self.username), *template_fields(self.password)]
