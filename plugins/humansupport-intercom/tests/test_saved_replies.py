"""Macros as saved replies (API 2.16 whatever the adapter's version), webhook steps, conversation links."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from humansupport_intercom import FakeIntercom, IntercomAdapter
from pydantic import SecretStr

from humansupport import NotFoundError, UnsupportedOperationError, WebhookEventType
from humansupport.testing import SAMPLE_SAVED_REPLIES, FakeClock

HOOK = "https://hooks.example.test/webhooks/intercom/main"


def _macro_requests(fake: FakeIntercom) -> list[Any]:
    return [r for r in fake.requests if r.path.startswith("/macros")]


@pytest.mark.parametrize("version", ["2.14", "2.16"])
def test_macros_come_back_as_plain_text_with_the_2_16_header(run_intercom: Any, version: str) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> list[Any]:
        replies = [r async for r in adapter.iter_saved_replies()]
        assert {r.headers["intercom-version"] for r in _macro_requests(fake)} == {"2.16"}
        others = {r.headers.get("intercom-version") for r in fake.requests if not r.path.startswith("/macros")}
        assert others <= {version}, "only macro calls change version"
        return replies

    replies = run_intercom(scenario, api_version=version)
    assert sorted((r.title, r.body) for r in replies) == sorted((s.title, s.body) for s in SAMPLE_SAVED_REPLIES)
    assert all(r.kind == "macro" and r.updated_at is not None and "<p>" in r.raw["body"] for r in replies)


def test_macros_page_newest_first_and_bodies_skipped_in_long_lists_are_fetched(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> list[str]:
        fake.page_size = 4
        fake.macro_body_limit = 3  # pages of 4 come without bodies, as Intercom's long listings do
        titles = [r.title or "" async for r in adapter.iter_saved_replies()]
        lists = [r for r in _macro_requests(fake) if r.path == "/macros"]
        singles = [r for r in _macro_requests(fake) if r.path != "/macros"]
        assert len(lists) == 3 and "starting_after" in lists[-1].url_params
        assert len(singles) == 8, "the two full pages' macros are read one by one, the last page has bodies"
        return titles

    titles = run_intercom(scenario)
    assert titles == [s.title for s in SAMPLE_SAVED_REPLIES], "newest first: the samples were added newest first"


def test_html_only_macros_are_converted(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> list[str]:
        fake.seed_saved_replies([])
        mid = fake.add_saved_reply(title="HTML", body="x")
        fake.macros[mid]["body_text"] = ""
        fake.macros[mid]["body"] = '<p>Hi <attribute key="user.name" default="there"/>,</p><p>Done &amp; dusted.</p>'
        return [r.body async for r in adapter.iter_saved_replies()]

    assert run_intercom(scenario) == ["Hi ,\n\nDone & dusted."]


def test_the_fake_refuses_macros_before_2_16(run_intercom: Any, contract: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> None:
        with contract.paused(), pytest.raises(NotFoundError):  # 2.14's description has no /macros at all
            await adapter.http.get_json("/macros")

    run_intercom(scenario, api_version="2.14")


def test_register_webhook_gives_the_developer_hub_steps(run_intercom: Any) -> None:
    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> str:
        with pytest.raises(UnsupportedOperationError) as info:
            await adapter.register_webhook(url=HOOK, secret="client-secret-value")
        assert not fake.requests
        return str(info.value)

    text = run_intercom(scenario)
    assert "Developer Hub" in text and "Configure > Webhooks" in text and HOOK in text
    for topic in ("conversation.user.created", "conversation.admin.assigned", "conversation.user.replied"):
        assert topic in text
    assert "client secret" in text and "client-secret-value" not in text


async def test_the_steps_list_only_the_requested_topics() -> None:
    adapter = IntercomAdapter(access_token=SecretStr("t"))
    with pytest.raises(UnsupportedOperationError) as info:
        await adapter.register_webhook(url=HOOK, events=[WebhookEventType.CUSTOMER_REPLIED])
    assert "conversation.user.replied" in str(info.value) and "conversation.user.created" not in str(info.value)
    await adapter.aclose()


def test_conversation_url_needs_the_workspace(run_intercom: Any) -> None:
    unknown = IntercomAdapter(access_token=SecretStr("t"))
    assert unknown.conversation_url("123") is None
    eu = IntercomAdapter(access_token=SecretStr("t"), region="eu", workspace_id="abc123")
    assert eu.conversation_url("123") == "https://app.eu.intercom.com/a/inbox/abc123/inbox/conversation/123"
    assert eu.conversation_url("1/../2") is None

    async def scenario(fake: FakeIntercom, adapter: IntercomAdapter, _: FakeClock) -> tuple[str | None, str | None]:
        before = adapter.conversation_url("42")
        await adapter.check()  # GET /me names the workspace
        return before, adapter.conversation_url("42")

    before, after = run_intercom(scenario)
    assert before is None and after is not None
    assert after.startswith("https://app.intercom.com/a/inbox/") and after.endswith("/inbox/conversation/42")


def test_workspace_id_is_a_setting() -> None:
    from humansupport_intercom import IntercomSettings

    settings = IntercomSettings(access_token=SecretStr("t"), workspace_id="w1")
    adapter = IntercomAdapter.from_settings(settings, transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    assert adapter.conversation_url("9") == "https://app.intercom.com/a/inbox/w1/inbox/conversation/9"
