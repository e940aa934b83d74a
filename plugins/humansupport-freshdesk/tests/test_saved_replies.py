"""Canned responses as saved replies, webhook set-up steps (no API for it), and ticket links."""

from __future__ import annotations

import pytest
from humansupport_freshdesk import FreshdeskAdapter
from pydantic import SecretStr

from humansupport import UnsupportedOperationError, WebhookEventType
from humansupport.testing import SAMPLE_SAVED_REPLIES

from .conftest import Env

HOOK = "https://hooks.example.test/webhooks/freshdesk/acme"


async def test_canned_responses_read_back_as_plain_text(env: Env) -> None:
    replies = [r async for r in env.adapter.iter_saved_replies()]
    assert [(r.title, r.body) for r in replies] == [(s.title, s.body) for s in SAMPLE_SAVED_REPLIES]
    assert all(r.kind == "canned_response" and r.raw["folder_name"] == "General" for r in replies)
    assert all("<div>" in r.raw["content_html"] for r in replies)
    assert not any(r.path.startswith("/api/v2/canned_responses/") for r in env.fake.requests)


async def test_every_folder_and_page_is_read(env: Env) -> None:
    env.fake.page_size = 3
    env.fake.add_saved_reply(title="Mine", body="My own reply", folder_id=5002)
    replies = [r async for r in env.adapter.iter_saved_replies()]
    assert len(replies) == len(SAMPLE_SAVED_REPLIES) + 1 == len({r.id for r in replies})
    assert replies[-1].raw["folder_name"] == "Personal"
    pages = [r for r in env.fake.requests if r.path == "/api/v2/canned_response_folders/5001/responses"]
    assert len(pages) == 4


async def test_responses_listed_without_text_are_read_one_by_one(env: Env) -> None:
    env.fake.canned_list_content = False
    replies = [r async for r in env.adapter.iter_saved_replies()]
    assert [r.body for r in replies] == [s.body for s in SAMPLE_SAVED_REPLIES]
    singles = [r for r in env.fake.requests if r.path.startswith("/api/v2/canned_responses/")]
    assert len(singles) == len(SAMPLE_SAVED_REPLIES)


async def test_register_webhook_gives_the_exact_automation_steps(env: Env) -> None:
    with pytest.raises(UnsupportedOperationError) as info:
        await env.adapter.register_webhook(url=HOOK, secret="s3cr3t-value")
    err = info.value
    text = str(err)
    assert err.vendor == "freshdesk" and err.operation == "register_webhook"
    assert "Admin > Workflows > Automations" in text and "Trigger webhook" in text and HOOK in text
    assert f"{env.adapter.webhook_secret_header}: <your webhook secret>" in text
    assert '"event": "ticket_created"' in text and '"event": "agent_assigned"' in text
    assert "s3cr3t-value" not in text, "the secret never goes into an error"
    assert not env.fake.requests, "nothing was sent"


async def test_the_steps_follow_the_header_setting_and_events() -> None:
    adapter = FreshdeskAdapter(domain="acme", api_key=SecretStr("k"), webhook_secret_header="X-Our-Token")
    with pytest.raises(UnsupportedOperationError) as info:
        await adapter.register_webhook(url=HOOK, events=[WebhookEventType.CONVERSATION_CREATED])
    text = str(info.value)
    assert "X-Our-Token: <your webhook secret>" in text
    assert "ticket_created" in text and "agent_assigned" not in text
    await adapter.aclose()


def test_conversation_url_is_the_agent_portal() -> None:
    adapter = FreshdeskAdapter(domain="acme", api_key=SecretStr("k"))
    assert adapter.conversation_url("1234") == "https://acme.freshdesk.com/a/tickets/1234"
    assert adapter.conversation_url("٣") is None and adapter.conversation_url("1/../2") is None


def test_a_fake_without_history_takes_saved_replies() -> None:
    from humansupport_freshdesk import FakeFreshdesk

    fake = FakeFreshdesk()
    rid = fake.add_saved_reply(title="T", body="Hello")
    assert fake.canned_responses[int(rid)]["content"] == "Hello" and fake.canned_folders[5001]["responses_count"] == 1
