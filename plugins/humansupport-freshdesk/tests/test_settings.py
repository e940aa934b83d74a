"""Settings and auth: domain checks, secrets only from env/kwargs, Basic auth, no secret in any text."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from humansupport_freshdesk import FreshdeskAdapter, FreshdeskSettings
from humansupport_freshdesk.adapter import normalize_domain
from pydantic import SecretStr

from humansupport.config import resolve_settings
from humansupport.errors import ConfigError
from humansupport.models import ConversationStatus

KEY = "fd-test-key-visible-123"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("acme", "acme"), ("ACME.freshdesk.com", "acme"), ("https://acme-support.freshdesk.com/", "acme-support")],
)
def test_domain_forms_normalize(given: str, expected: str) -> None:
    assert normalize_domain(given) == expected


@pytest.mark.parametrize("bad", ["support.acme.com", "acme_corp", "-acme", "", "https://help.example.org/x"])
def test_bad_domain_is_config_error_naming_the_env_var(bad: str) -> None:
    with pytest.raises(ConfigError, match="HUMANSUPPORT_FRESHDESK_DOMAIN"):
        resolve_settings(
            FreshdeskSettings, environ={"HUMANSUPPORT_FRESHDESK_DOMAIN": bad, "HUMANSUPPORT_FRESHDESK_API_KEY": KEY}
        )


def test_custom_cname_is_refused_with_reason() -> None:
    with pytest.raises(ValueError, match="CNAME"):
        normalize_domain("support.acme.com")


def test_missing_key_names_the_env_var() -> None:
    with pytest.raises(ConfigError, match="HUMANSUPPORT_FRESHDESK_API_KEY"):
        resolve_settings(FreshdeskSettings, environ={"HUMANSUPPORT_FRESHDESK_DOMAIN": "acme"})
    with pytest.raises(ConfigError, match="HUMANSUPPORT_FRESHDESK_API_KEY"):
        FreshdeskAdapter(domain="acme", api_key="  ")


def test_missing_domain_and_base_url_is_config_error() -> None:
    with pytest.raises(ConfigError, match="domain"):
        resolve_settings(FreshdeskSettings, environ={"HUMANSUPPORT_FRESHDESK_API_KEY": KEY})
    with pytest.raises(ConfigError, match="HUMANSUPPORT_FRESHDESK_DOMAIN"):
        FreshdeskAdapter(api_key=KEY)


def test_key_in_config_file_is_refused() -> None:
    config = {"helpdesks": {"freshdesk": {"domain": "acme", "api_key": KEY}}}
    with pytest.raises(ConfigError, match="HUMANSUPPORT_FRESHDESK_API_KEY") as info:
        resolve_settings(FreshdeskSettings, config=config, environ={})
    assert KEY not in str(info.value)


def test_settings_from_env_build_the_adapter_without_leaking_the_key() -> None:
    settings = resolve_settings(
        FreshdeskSettings,
        environ={"HUMANSUPPORT_FRESHDESK_DOMAIN": "acme.freshdesk.com", "HUMANSUPPORT_FRESHDESK_API_KEY": KEY,
                 "HUMANSUPPORT_FRESHDESK_PLAN": "pro"},
    )  # fmt: skip
    assert settings.domain == "acme"
    adapter = FreshdeskAdapter.from_settings(settings)
    assert adapter.http.base_url == "https://acme.freshdesk.com"
    assert adapter.plan == "pro"
    for text in (repr(settings), str(settings), repr(adapter), repr(adapter.http)):
        assert KEY not in text


def test_unknown_plan_is_config_error() -> None:
    with pytest.raises(ConfigError, match="HUMANSUPPORT_FRESHDESK_PLAN"):
        FreshdeskAdapter(domain="acme", api_key=KEY, plan="platinum")  # type: ignore[arg-type]


async def test_basic_auth_uses_key_as_username_and_x_as_password() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 1, "contact": {"email": "a@acme.test"}})

    async with FreshdeskAdapter(domain="acme", api_key=SecretStr(KEY), transport=httpx.MockTransport(handler)) as ad:
        await ad.check()
    assert seen[0].url == "https://acme.freshdesk.com/api/v2/agents/me"
    expected = "Basic " + base64.b64encode(f"{KEY}:X".encode()).decode()
    assert seen[0].headers["authorization"] == expected


def test_custom_statuses_from_env_json() -> None:
    settings = resolve_settings(
        FreshdeskSettings,
        environ={"HUMANSUPPORT_FRESHDESK_DOMAIN": "acme", "HUMANSUPPORT_FRESHDESK_API_KEY": KEY,
                 "HUMANSUPPORT_FRESHDESK_CUSTOM_STATUSES": '{"6": "on_hold", "7": "pending"}'},
    )  # fmt: skip
    adapter = FreshdeskAdapter.from_settings(settings)
    assert adapter.custom_statuses == {6: ConversationStatus.ON_HOLD, 7: ConversationStatus.PENDING}


def test_every_setting_is_documented() -> None:
    here = Path(__file__).resolve()
    # the sdist carries the page beside its tests; in the repository it is the shared docs/ folder
    candidates = [
        here.parents[1] / "docs" / "vendors" / "freshdesk.md",
        here.parents[3] / "docs" / "vendors" / "freshdesk.md",
    ]
    page = next(p for p in candidates if p.exists()).read_text()
    for name in FreshdeskSettings.model_fields:
        if name == "account":
            continue  # a core field Freshdesk does not use (the domain names the account)
        assert f"`{name}`" in page and f"HUMANSUPPORT_FRESHDESK_{name.upper()}" in page, name


async def test_with_options_changes_the_plan_and_its_endpoint_budgets() -> None:
    async with FreshdeskAdapter(domain="acme", api_key=KEY) as growth:
        pro = growth.with_options(plan="pro", max_retry_wait=5)
        async with pro:
            assert pro.plan == "pro" and pro.retry.max_retry_wait == 5
            assert growth.endpoint_limiters["tickets_list"].per_minute == 18  # 90% of growth's 20
            assert pro.endpoint_limiters["tickets_list"].per_minute == 90  # 90% of pro's 100, not growth's bucket
        with pytest.raises(TypeError, match="unknown option"):
            growth.with_options(planet="pro")


async def test_two_agents_keys_on_one_domain_share_the_account_budget() -> None:
    async with (
        FreshdeskAdapter(domain="acme", api_key=KEY) as one,
        FreshdeskAdapter(domain="acme", api_key=KEY + "-other-agent") as two,
        FreshdeskAdapter(domain="other", api_key=KEY) as elsewhere,
    ):
        assert one.http.limiter is two.http.limiter  # Freshdesk counts per account, whoever's key
        assert one.endpoint_limiters["tickets_list"] is two.endpoint_limiters["tickets_list"]
        assert one.http.limiter is not elsewhere.http.limiter
