"""Named accounts: `[accounts.<name>]` + `HUMANSUPPORT_ACCOUNT_<NAME>_*`, resolved alike by connect() and every
command; the single-account form unchanged; typos in humansupport.toml reported where they are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import humansupport_acmedesk
import pytest
from humansupport_acmedesk import FakeAcme
from pydantic import SecretStr
from typer.testing import CliRunner

import humansupport as hs
from humansupport import ConfigError, HelpdeskSettings, PluginRegistry
from humansupport.cli import ExitCode, app
from humansupport.config import (
    Account,
    account_env_prefix,
    check_config,
    check_vendor_tables,
    load_config_file,
    resolve_account,
    resolve_settings,
)
from humansupport.testing import generate_history


class DemoSettings(HelpdeskSettings):
    vendor = "demodesk"
    subdomain: str
    api_token: SecretStr


ACCOUNTS = {"accounts": {"zd-a": {"vendor": "demodesk", "subdomain": "a"}, "zd-b": {"vendor": "demodesk"}}}


# -- configuration ---------------------------------------------------------------------------------------


def test_account_names_map_to_environment_prefixes() -> None:
    assert account_env_prefix("zd-a") == "HUMANSUPPORT_ACCOUNT_ZD_A_"
    assert account_env_prefix("EU_main-2") == "HUMANSUPPORT_ACCOUNT_EU_MAIN_2_"
    assert Account(name="zd-a", vendor="zendesk", named=True).env_name("api_token") == (
        "HUMANSUPPORT_ACCOUNT_ZD_A_API_TOKEN"
    )
    assert Account(name="zendesk", vendor="zendesk").env_name("api_token") == "HUMANSUPPORT_ZENDESK_API_TOKEN"


def test_a_named_account_reads_its_own_table_and_environment_only() -> None:
    env = {
        "HUMANSUPPORT_ACCOUNT_ZD_A_API_TOKEN": "token-a",
        "HUMANSUPPORT_DEMODESK_API_TOKEN": "vendor-token",  # the single account's: never another account's
        "HUMANSUPPORT_DEMODESK_SUBDOMAIN": "vendor-sub",
    }
    a = resolve_settings(DemoSettings, config=ACCOUNTS, environ=env, account=resolve_account(ACCOUNTS, "zd-a"))
    assert (a.subdomain, a.api_token.get_secret_value(), a.account) == ("a", "token-a", "zd-a")
    with pytest.raises(ConfigError) as info:
        resolve_settings(DemoSettings, config=ACCOUNTS, environ=env, account=resolve_account(ACCOUNTS, "zd-b"))
    message = str(info.value)
    assert "account 'zd-b'" in message and "HUMANSUPPORT_ACCOUNT_ZD_B_API_TOKEN" in message
    assert "HUMANSUPPORT_ACCOUNT_ZD_B_SUBDOMAIN" in message and "vendor-token" not in message
    single = resolve_settings(DemoSettings, config=ACCOUNTS, environ=env)  # the single-account form, unchanged
    assert (single.subdomain, single.api_token.get_secret_value(), single.account) == (
        "vendor-sub",
        "vendor-token",
        "demodesk",
    )


def test_a_secret_in_an_account_table_is_refused_naming_the_accounts_variable() -> None:
    config = {"accounts": {"zd-a": {"vendor": "demodesk", "subdomain": "a", "api_token": "sekret-123"}}}
    with pytest.raises(ConfigError, match="HUMANSUPPORT_ACCOUNT_ZD_A_API_TOKEN") as info:
        resolve_settings(DemoSettings, config=config, environ={}, account=resolve_account(config, "zd-a"))
    assert "sekret-123" not in str(info.value) and "[accounts.zd-a]" in str(info.value)


def test_which_account_a_name_means() -> None:
    named = Account(name="zd-a", vendor="demodesk", named=True)
    assert resolve_account(ACCOUNTS, "zd-a") == named
    assert resolve_account(ACCOUNTS, account="zd-a") == named
    assert resolve_account(ACCOUNTS, "demodesk", account="zd-a") == named
    assert resolve_account(ACCOUNTS, "demodesk") == Account(name="demodesk", vendor="demodesk")
    assert resolve_account({}, "demodesk", account="eu") == Account(name="eu", vendor="demodesk")  # a label
    single = Account(name="demodesk", vendor="demodesk")
    assert resolve_account(ACCOUNTS, account="demodesk", vendors=["demodesk"]) == single
    with pytest.raises(ConfigError, match="is a demodesk account, not 'zendesk'"):
        resolve_account(ACCOUNTS, "zendesk", account="zd-a")
    with pytest.raises(ConfigError, match=r"no account named 'zd-c' \(did you mean 'zd-[ab]'\?\)"):
        resolve_account(ACCOUNTS, "demodesk", account="zd-c")  # a label must be configured once names are
    with pytest.raises(ConfigError, match=r"did you mean 'zd-b'"):
        resolve_account(ACCOUNTS, "zd-bb", vendors=["demodesk"])
    with pytest.raises(ConfigError, match="name an account"):
        resolve_account(ACCOUNTS)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"helpdesk": {"zendesk": {}}}, r"unknown table \[helpdesk\] \(did you mean 'helpdesks'\?\)"),
        ({"acounts": {}}, r"did you mean 'accounts'"),
        ({"store": {"urll": "x"}}, r"\[store\]: unknown key\(s\) urll \(did you mean 'url'\?\)"),
        ({"routing": 3}, r"\[routing\] must be a table"),
        ({"accounts": {"zd a": {"vendor": "zendesk"}}}, "letters, digits"),
        ({"accounts": {"zd-a": {"subdomain": "a"}}}, 'needs vendor = "<vendor>"'),
        ({"accounts": {"zd-a": {"vendor": "zendesk", "account": "x"}}}, "drop the account key"),
        ({"accounts": {"zd-a": {"vendor": "z"}, "zd_a": {"vendor": "z"}}}, "HUMANSUPPORT_ACCOUNT_ZD_A_"),
    ],
)
def test_config_shape_errors(config: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        check_config(config)


def test_every_table_the_project_reads_is_known(tmp_path: Path) -> None:
    path = tmp_path / "humansupport.toml"
    path.write_text(
        '[helpdesks.zendesk]\nsubdomain = "acme"\n[accounts.zd-eu]\nvendor = "zendesk"\n[store]\nurl = "x.db"\n'
        "[routing]\n[enrichment]\n[insights]\n[replies]\n"
    )
    assert set(load_config_file(path)) == {
        "helpdesks",
        "accounts",
        "store",
        "routing",
        "enrichment",
        "insights",
        "replies",
    }
    path.write_text('[helpdesks.zendesk]\nsubdomain = "acme"\n[routng]\nthreshold = 0.5\n')
    with pytest.raises(ConfigError, match=r"unknown table \[routng\] \(did you mean 'routing'\?\)"):
        load_config_file(path)


def test_unknown_setting_keys_are_errors_with_a_suggestion() -> None:
    config = {"helpdesks": {"demodesk": {"subdomian": "acme"}}}
    with pytest.raises(ConfigError, match=r"subdomian in \[helpdesks\.demodesk\] \(did you mean 'subdomain'\?\)"):
        resolve_settings(DemoSettings, config=config, environ={"HUMANSUPPORT_DEMODESK_API_TOKEN": "t"})
    config = {"accounts": {"zd-a": {"vendor": "demodesk", "subdomian": "acme"}}}
    with pytest.raises(ConfigError, match=r"\[accounts\.zd-a\] \(did you mean 'subdomain'\?\)"):
        resolve_settings(DemoSettings, config=config, environ={}, account=resolve_account(config, "zd-a"))


def test_a_vendor_table_close_to_an_installed_vendor_is_a_typo() -> None:
    with pytest.raises(ConfigError, match=r"\[helpdesks\.zendsk\] names no installed vendor \(did you mean"):
        check_vendor_tables({"helpdesks": {"zendsk": {}}}, ["zendesk", "intercom"])
    with pytest.raises(ConfigError, match=r"\[accounts\.eu\]: vendor 'zendsk' is not installed"):
        check_vendor_tables({"accounts": {"eu": {"vendor": "zendsk"}}}, ["zendesk"])
    check_vendor_tables({"helpdesks": {"kayako": {}}}, ["zendesk"])  # maybe installed elsewhere: not a typo


# -- connect() -------------------------------------------------------------------------------------------


class FakeA(FakeAcme):
    token = "token-desk-a"


class FakeB(FakeAcme):
    token = "token-desk-b"


TOML = """
[accounts.desk-a]
vendor = "acmedesk"
base_url = "https://a.acmedesk.test"

[accounts.desk-b]
vendor = "acmedesk"
base_url = "https://b.acmedesk.test"
"""


@pytest.fixture
def two_desks(
    plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[dict[str, FakeAcme], httpx.MockTransport]:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    history = generate_history(customers=20, agents=4, groups=1, seed=3)
    fakes: dict[str, FakeAcme] = {"desk-a": FakeA(history=history), "desk-b": FakeB(history=history)}
    hosts = {"a.acmedesk.test": fakes["desk-a"], "b.acmedesk.test": fakes["desk-b"]}
    transport = httpx.MockTransport(lambda request: hosts[request.url.host](request))
    config = tmp_path / "humansupport.toml"
    config.write_text(TOML)
    monkeypatch.setenv("HUMANSUPPORT_CONFIG", str(config))
    monkeypatch.setenv("HUMANSUPPORT_ACCOUNT_DESK_A_API_TOKEN", FakeA.token)
    monkeypatch.setenv("HUMANSUPPORT_ACCOUNT_DESK_B_API_TOKEN", FakeB.token)
    monkeypatch.delenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", raising=False)
    return fakes, transport


def test_connect_takes_an_account_name(two_desks: tuple[dict[str, FakeAcme], httpx.MockTransport]) -> None:
    fakes, transport = two_desks
    with hs.connect("desk-b", transport=transport) as desk:  # b.acmedesk.test, with desk-b's own token
        assert desk.account == "desk-b" and desk.vendor == "acmedesk"
        assert len(list(desk.iter_agents())) == len(fakes["desk-b"].agents)
    assert fakes["desk-b"].requests and not fakes["desk-a"].requests
    with hs.connect(account="desk-a", transport=transport) as desk:
        assert desk.account == "desk-a"
        assert len(list(desk.iter_agents())) == len(fakes["desk-a"].agents)
    assert fakes["desk-a"].requests
    with pytest.raises(ConfigError, match="HUMANSUPPORT_ACMEDESK_API_TOKEN"):
        hs.connect("acmedesk", transport=transport)  # the single account has no token: nothing borrowed
    with pytest.raises(ConfigError, match="name a helpdesk"):
        hs.connect()


# -- the command line -----------------------------------------------------------------------------------


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def cli_desks(
    two_desks: tuple[dict[str, FakeAcme], httpx.MockTransport], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[dict[str, FakeAcme], str]:
    import humansupport.cli as cli
    from humansupport.connect import build_adapter

    fakes, transport = two_desks
    monkeypatch.setattr(cli, "build_adapter", lambda *a, **kw: build_adapter(*a, transport=transport, **kw))
    return fakes, str(tmp_path / "store.db")


def test_every_form_of_naming_an_account_syncs_that_account_only(cli_desks: tuple[dict[str, FakeAcme], str]) -> None:
    fakes, store = cli_desks
    result = _run("sync", "--account", "desk-a", "--store", store, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["account"] == "desk-a"
    assert fakes["desk-a"].requests and not fakes["desk-b"].requests
    result = _run("sync", "desk-b", "--store", store)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("desk-b: synced")
    result = _run("sync", "acmedesk", "--account", "desk-b", "--store", store, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["account"] == "desk-b"
    metrics = _run("metrics", "--store", store, "--json")
    assert metrics.exit_code == ExitCode.CONFIG and "desk-a, desk-b" in json.loads(metrics.stdout)["error"]["message"]
    assert _run("metrics", "--store", store, "--account", "desk-b", "--json").exit_code == 0
    check = _run("check", "--account", "desk-a", "--json")
    assert check.exit_code == 0 and json.loads(check.stdout)["base_url"].startswith("https://a.acmedesk.test")


def test_route_and_profile_take_the_account_before_their_argument(cli_desks: tuple[dict[str, FakeAcme], str]) -> None:
    fakes, store = cli_desks
    assert _run("sync", "desk-a", "--store", store).exit_code == 0
    conv = next(c for c in fakes["desk-a"].conversations.values() if c.status.is_open)
    for args in (["desk-a", conv.id], ["--account", "desk-a", conv.id], ["acmedesk", conv.id, "--account", "desk-a"]):
        result = _run("route", *args, "--store", store, "--json")
        assert result.exit_code == 0, (args, result.output)
    customer = next(iter(fakes["desk-a"].customers))
    result = _run("profile", "--account", "desk-a", customer, "--store", store, "--json")
    assert result.exit_code == 0, result.output
    result = _run("rebalance", "--account", "desk-a", "--store", store, "--json")  # `rebalance plan`, implied
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["plan"]["account"] == "desk-a"
    result = _run("digest", "--account", "desk-a", "--store", store, "--since", "400d", "--format", "json")
    assert result.exit_code == 0, result.output
    assert not fakes["desk-b"].requests


def test_an_unknown_account_is_a_config_error_with_a_suggestion(cli_desks: tuple[dict[str, FakeAcme], str]) -> None:
    _, store = cli_desks
    result = _run("sync", "--account", "desk-c", "--store", store, "--json")
    assert result.exit_code == ExitCode.CONFIG
    message = json.loads(result.stdout)["error"]["message"]
    assert "did you mean 'desk-a'" in message or "did you mean 'desk-b'" in message
    result = _run("sync", "acmedesk", "--account", "eu", "--store", store)  # labels must be named now
    assert result.exit_code == ExitCode.CONFIG and "configured accounts: desk-a, desk-b" in result.stderr
    result = _run("sync", "acmedesk", "--store", store, "--json")  # the vendor's single account is not set up
    message = json.loads(result.stdout)["error"]["message"]
    assert result.exit_code == ExitCode.CONFIG and "HUMANSUPPORT_ACMEDESK_API_TOKEN" in message
    assert message.endswith("or use one of the acmedesk accounts in humansupport.toml: desk-a, desk-b")


def test_a_typo_in_a_vendor_table_is_named_not_reported_as_a_missing_setting(
    plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    config = tmp_path / "humansupport.toml"
    monkeypatch.setenv("HUMANSUPPORT_CONFIG", str(config))
    monkeypatch.delenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", raising=False)
    for text, expected in [
        ('[helpdesks.acmedesk]\nbase_urll = "https://acme.test"\n', "did you mean 'base_url'"),
        ('[helpdesks.acmedsk]\nbase_url = "https://acme.test"\n', "did you mean 'acmedesk'"),
        ('[helpdesk.acmedesk]\nbase_url = "https://acme.test"\n', "did you mean 'helpdesks'"),
    ]:
        config.write_text(text)
        result = _run("check", "acmedesk")
        assert result.exit_code == ExitCode.CONFIG, result.output
        assert expected in result.stderr and "api_token: Field required" not in result.stderr


def test_a_named_accounts_missing_credential_names_its_own_variable(
    cli_desks: tuple[dict[str, FakeAcme], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUMANSUPPORT_ACCOUNT_DESK_B_API_TOKEN")
    monkeypatch.setenv("HUMANSUPPORT_ACMEDESK_API_TOKEN", FakeA.token)  # never borrowed by a named account
    result = _run("check", "desk-b", "--json")
    message = json.loads(result.stdout)["error"]["message"]
    assert result.exit_code == ExitCode.CONFIG
    assert (
        message.startswith("account 'desk-b': invalid settings: api_token") and message.count("account 'desk-b'") == 1
    )
    assert "HUMANSUPPORT_ACCOUNT_DESK_B_API_TOKEN" in message and FakeA.token not in message
