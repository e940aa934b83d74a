"""Saved replies per inbox (list, then each reply's HTML text), webhook registration with our secret, links."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from humansupport_helpscout import FakeHelpScout, HelpScoutAdapter
from pydantic import SecretStr

from humansupport import ValidationError, WebhookEventType
from humansupport.testing import SAMPLE_SAVED_REPLIES, FakeClock

from .conftest import make_adapter

HOOK = "https://hooks.example.test/webhooks/helpscout/main"


async def test_every_inbox_s_replies_come_back_as_plain_text(fake: FakeHelpScout, adapter: HelpScoutAdapter) -> None:
    replies = [r async for r in adapter.iter_saved_replies()]
    assert sorted((r.title, r.body) for r in replies) == sorted((s.title, s.body) for s in SAMPLE_SAVED_REPLIES)
    assert {r.raw["mailboxId"] for r in replies} == {int(m) for m in fake.mailboxes}, "replies live in every inbox"
    assert all("<br" in r.raw["text"] and "<br" not in r.body for r in replies)
    lists = [r for r in fake.requests if r.path.endswith("/saved-replies")]
    details = [r for r in fake.requests if "/saved-replies/" in r.path]
    assert len(lists) == len(fake.mailboxes) and len(details) == len(SAMPLE_SAVED_REPLIES)


async def test_only_the_configured_inboxes_are_read(fake: FakeHelpScout, clock: FakeClock) -> None:
    box = sorted(fake.mailboxes)[0]
    async with make_adapter(fake, clock, mailbox_ids=[box]) as adapter:
        replies = [r async for r in adapter.iter_saved_replies()]
    assert replies and {r.raw["mailboxId"] for r in replies} == {int(box)}
    assert not any(r.path == "/v2/mailboxes" for r in fake.requests)


async def test_a_chat_only_reply_falls_back_to_its_chat_text(fake: FakeHelpScout, adapter: HelpScoutAdapter) -> None:
    fake.seed_saved_replies([])
    fake.add_saved_reply(title="Chat", body="", chat_text="Hi!\nWe might be late.")
    assert [r async for r in adapter.iter_saved_replies()] == []  # chat-only replies are not listed by default
    fake.add_saved_reply(title="Email", body="Hello & welcome")
    assert [(r.title, r.body) async for r in adapter.iter_saved_replies()] == [("Email", "Hello & welcome")]


async def test_register_creates_with_a_generated_secret_that_verifies(
    fake: FakeHelpScout, adapter: HelpScoutAdapter
) -> None:
    sub = await adapter.register_webhook(url=HOOK)
    stored = fake.webhooks[sub.id]
    assert sub.url == HOOK and sub.events == stored["events"] == [
        "convo.created",
        "convo.assigned",
        "convo.customer.reply.created",
        "convo.status",
    ]
    assert sub.secret is not None and sub.secret.get_secret_value() == stored["secret"]
    assert 1 <= len(stored["secret"]) <= 40 and stored["payloadVersion"] == "V2"
    body = b'{"id": 1}'
    signature = base64.b64encode(hmac.new(stored["secret"].encode(), body, hashlib.sha1).digest()).decode()
    assert adapter.verify_webhook({"X-HelpScout-Signature": signature}, body, sub.secret.get_secret_value())


async def test_register_twice_creates_one_webhook(fake: FakeHelpScout, adapter: HelpScoutAdapter) -> None:
    first = await adapter.register_webhook(url=HOOK, secret="first-secret")
    again = await adapter.register_webhook(url=HOOK)
    assert again.id == first.id and len(fake.webhooks) == 1
    assert again.secret is None and fake.webhooks[first.id]["secret"] == "first-secret"
    rotated = await adapter.register_webhook(
        url=HOOK,
        secret="second-secret",
        events=[WebhookEventType.CONVERSATION_CREATED],
    )
    assert rotated.id == first.id and len(fake.webhooks) == 1
    assert fake.webhooks[first.id]["secret"] == "second-secret" and rotated.events == ["convo.created"]


@pytest.mark.parametrize("secret", ["", "x" * 41])
async def test_a_secret_help_scout_would_refuse_is_refused_before_sending(
    fake: FakeHelpScout, adapter: HelpScoutAdapter, secret: str
) -> None:
    with pytest.raises(ValidationError, match="1 to 40 characters"):
        await adapter.register_webhook(url=HOOK, secret=secret)
    assert not any(r.path == "/v2/webhooks" for r in fake.requests)


async def test_the_fake_refuses_a_long_secret_as_help_scout_does(
    fake: FakeHelpScout, adapter: HelpScoutAdapter
) -> None:
    with pytest.raises(ValidationError):
        await adapter.http.request(
            "POST", "/v2/webhooks", json={"url": HOOK, "events": ["convo.created"], "secret": "s" * 41}
        )
    assert not fake.webhooks


def test_conversation_url() -> None:
    adapter = HelpScoutAdapter(app_id="a", app_secret=SecretStr("b"))
    assert adapter.conversation_url("123456") == "https://secure.helpscout.net/conversation/123456"
    assert adapter.conversation_url("12/../x") is None
