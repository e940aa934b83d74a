from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from humansupport import ConfigError, HelpdeskSettings
from humansupport.config import load_config_file, resolve_settings


class DemoSettings(HelpdeskSettings):
    vendor = "demodesk"
    subdomain: str
    api_token: SecretStr
    page_size: int = 100


ENV = {"HUMANSUPPORT_DEMODESK_API_TOKEN": "sekret-123"}


def test_precedence_kwargs_then_toml_then_env() -> None:
    config = {"helpdesks": {"demodesk": {"subdomain": "from-toml", "page_size": 50}}}
    env = {**ENV, "HUMANSUPPORT_DEMODESK_SUBDOMAIN": "from-env", "HUMANSUPPORT_DEMODESK_PAGE_SIZE": "10"}
    s = resolve_settings(DemoSettings, overrides={"subdomain": "from-kwargs"}, config=config, environ=env)
    assert (s.subdomain, s.page_size) == ("from-kwargs", 50)
    s = resolve_settings(DemoSettings, config=config, environ=env)
    assert s.subdomain == "from-toml"
    s = resolve_settings(DemoSettings, environ=env)
    assert (s.subdomain, s.page_size) == ("from-env", 10)
    assert s.api_token.get_secret_value() == "sekret-123"


def test_secret_is_masked_in_repr() -> None:
    s = resolve_settings(DemoSettings, overrides={"subdomain": "a"}, environ=ENV)
    assert "sekret-123" not in repr(s) and "sekret-123" not in str(s)


def test_secret_in_toml_is_refused_and_points_to_env() -> None:
    config = {"helpdesks": {"demodesk": {"subdomain": "a", "api_token": "sekret-123"}}}
    with pytest.raises(ConfigError, match="HUMANSUPPORT_DEMODESK_API_TOKEN") as info:
        resolve_settings(DemoSettings, config=config, environ={})
    assert "sekret-123" not in str(info.value)


def test_missing_setting_names_kwarg_and_env_var() -> None:
    with pytest.raises(ConfigError, match="HUMANSUPPORT_DEMODESK_SUBDOMAIN"):
        resolve_settings(DemoSettings, environ=ENV)


def test_bad_value_is_a_config_error_without_the_value() -> None:
    env = {**ENV, "HUMANSUPPORT_DEMODESK_SUBDOMAIN": "a", "HUMANSUPPORT_DEMODESK_PAGE_SIZE": "lots"}
    with pytest.raises(ConfigError, match="page_size"):
        resolve_settings(DemoSettings, environ=env)


def test_unknown_kwarg_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        resolve_settings(DemoSettings, overrides={"subdomian": "typo"}, environ=ENV)


def test_config_file(tmp_path: Path) -> None:
    path = tmp_path / "humansupport.toml"
    path.write_text('[helpdesks.demodesk]\nsubdomain = "acme"\n')
    assert load_config_file(path)["helpdesks"]["demodesk"]["subdomain"] == "acme"
    assert load_config_file(environ={"HUMANSUPPORT_CONFIG": str(path)})["helpdesks"]
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "missing.toml")
    path.write_text("not = [valid")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config_file(path)
