"""OAuth2 client credentials: one cached token, refreshed before expiry and once on a 401, never shown."""

from __future__ import annotations

import logging
import traceback

import pytest
from humansupport_helpscout import FakeHelpScout, HelpScoutAdapter, HelpScoutSettings
from pydantic import SecretStr

from humansupport import AuthenticationError, ConfigError, PermissionDeniedError
from humansupport.config import resolve_settings
from humansupport.testing import FakeClock

from .conftest import make_adapter


async def test_one_token_serves_many_requests(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    await adapter.get_conversation(sorted(fake.conversations)[0])
    agents = [a async for a in adapter.iter_agents()]
    assert agents
    assert fake.tokens_issued == 1
    token_calls = [r for r in fake.requests if r.path == "/v2/oauth2/token"]
    assert len(token_calls) == 1
    assert token_calls[0].json["grant_type"] == "client_credentials"
    assert token_calls[0].json["client_id"] == FakeHelpScout.app_id


async def test_token_is_refreshed_before_it_expires(
    adapter: HelpScoutAdapter, fake: FakeHelpScout, clock: FakeClock
) -> None:
    cid = sorted(fake.conversations)[0]
    await adapter.get_conversation(cid)
    clock.advance(FakeHelpScout.token_lifetime - 60)  # inside the refresh margin, still valid on the server
    await adapter.get_conversation(cid)
    assert fake.tokens_issued == 2
    assert not any(r.status == 401 for r in fake.requests), "a request went out with a token about to lapse"


async def test_expired_token_is_replaced_once_on_401(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    cid = sorted(fake.conversations)[0]
    await adapter.get_conversation(cid)
    fake.expire_tokens()
    conv = await adapter.get_conversation(cid)
    assert conv.id == cid
    assert fake.tokens_issued == 2
    assert [r.status for r in fake.requests if r.path == f"/v2/conversations/{cid}"] == [200, 401, 200]


async def test_bad_app_secret_is_auth_error_naming_the_setting(fake: FakeHelpScout, clock: FakeClock) -> None:
    async with HelpScoutAdapter(
        app_id=FakeHelpScout.app_id,
        app_secret=SecretStr("sekret-wrong-123"),
        transport=fake.transport(),
        clock=clock,
    ) as adapter:
        with pytest.raises(AuthenticationError) as info:
            await adapter.get_conversation(sorted(fake.conversations)[0])
    err = info.value
    assert err.status == 401 and err.path == "/v2/oauth2/token"
    assert "HUMANSUPPORT_HELPSCOUT_APP_SECRET" in str(err)
    texts = [str(err), repr(err), "".join(traceback.format_exception(err)), repr(adapter)]
    assert not any("sekret-wrong-123" in t for t in texts)


async def test_revoked_credentials_fail_after_one_refresh(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    await adapter.get_conversation(sorted(fake.conversations)[0])
    fake.revoke_credentials()
    with pytest.raises(AuthenticationError, match="HUMANSUPPORT_HELPSCOUT_APP_ID"):
        await adapter.get_conversation(sorted(fake.conversations)[0])
    assert sum(1 for r in fake.requests if r.status == 401) == 2  # the call and one token attempt, no loop


async def test_403_hint_names_the_app_owner_setting(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    fake.fail_next(403, match="/v2/conversations/")
    with pytest.raises(PermissionDeniedError) as info:
        await adapter.get_conversation(sorted(fake.conversations)[0])
    assert "HUMANSUPPORT_HELPSCOUT_APP_ID" in str(info.value)
    assert "docs/vendors/helpscout.md" in str(info.value)


async def test_token_never_logged_or_shown(
    adapter: HelpScoutAdapter, fake: FakeHelpScout, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await adapter.get_conversation(sorted(fake.conversations)[0])
    token = next(iter(fake.tokens))
    assert token not in caplog.text
    assert token not in repr(adapter) and token not in repr(adapter.oauth) and token not in repr(adapter.http)
    assert FakeHelpScout.app_secret not in caplog.text + repr(adapter) + repr(adapter.oauth)


def test_settings_come_from_the_environment_and_secrets_never_from_toml() -> None:
    env = {"HUMANSUPPORT_HELPSCOUT_APP_ID": "app-1", "HUMANSUPPORT_HELPSCOUT_APP_SECRET": "sekret-env-456"}
    settings = resolve_settings(HelpScoutSettings, environ=env)
    assert settings.app_id == "app-1"
    assert settings.app_secret.get_secret_value() == "sekret-env-456"
    assert "sekret-env-456" not in repr(settings)
    with pytest.raises(ConfigError, match="HUMANSUPPORT_HELPSCOUT_APP_SECRET"):
        resolve_settings(HelpScoutSettings, config={"helpdesks": {"helpscout": {"app_secret": "x"}}}, environ=env)
    with pytest.raises(ConfigError):
        resolve_settings(HelpScoutSettings, environ={})


def test_from_settings_builds_an_adapter(fake: FakeHelpScout, clock: FakeClock) -> None:
    settings = HelpScoutSettings.model_validate(FakeHelpScout.adapter_settings())
    adapter = HelpScoutAdapter.from_settings(settings, transport=fake.transport(), clock=clock)
    assert isinstance(adapter, HelpScoutAdapter)
    assert adapter.http.base_url == "https://api.helpscout.net"
    assert make_adapter(fake, clock).vendor == "helpscout"


async def test_concurrent_first_calls_fetch_one_token(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    import asyncio

    ids = sorted(fake.conversations)[:12]
    got = await asyncio.gather(*(adapter.get_conversation(cid) for cid in ids))
    assert [c.id for c in got] == ids
    assert fake.tokens_issued == 1


async def test_concurrent_401s_refresh_once(adapter: HelpScoutAdapter, fake: FakeHelpScout) -> None:
    import asyncio

    ids = sorted(fake.conversations)[:12]
    await adapter.get_conversation(ids[0])
    fake.expire_tokens()
    await asyncio.gather(*(adapter.get_conversation(cid) for cid in ids))
    assert fake.tokens_issued == 2, "each request that saw a 401 fetched its own token"


def test_sync_facade_runs_the_adapter_on_its_own_loop(fake: FakeHelpScout, clock: FakeClock) -> None:
    from humansupport import Helpdesk

    with Helpdesk(make_adapter(fake, clock)) as hd:
        cid = sorted(fake.conversations)[0]
        assert hd.get_conversation(cid).id == cid
        assert len(list(hd.iter_groups())) == len(fake.groups)
        assert hd.capabilities.signed_webhooks
    assert fake.tokens_issued == 1


def test_mailbox_ids_from_the_environment_limit_listings(fake: FakeHelpScout, clock: FakeClock) -> None:
    import asyncio

    mailbox = sorted(fake.mailboxes)[0]
    env = {
        "HUMANSUPPORT_HELPSCOUT_APP_ID": FakeHelpScout.app_id,
        "HUMANSUPPORT_HELPSCOUT_APP_SECRET": FakeHelpScout.app_secret,
        "HUMANSUPPORT_HELPSCOUT_MAILBOX_IDS": f'["{mailbox}"]',
        "HUMANSUPPORT_HELPSCOUT_CAPACITY_DEFAULT": "9",
    }
    settings = resolve_settings(HelpScoutSettings, environ=env)
    adapter = HelpScoutAdapter.from_settings(settings, transport=fake.transport(), clock=clock)

    async def go() -> tuple[list[str], list[int | None]]:
        async with adapter:
            convs = [c.raw["mailboxId"] async for c in adapter.iter_conversations()]
            caps = [a.capacity async for a in adapter.iter_agents()]
        return convs, caps

    mailboxes, capacities = asyncio.run(go())
    assert mailboxes and set(mailboxes) == {int(mailbox)}
    assert set(capacities) == {9}
    assert fake.requests[1].url_params["mailbox"] == mailbox
