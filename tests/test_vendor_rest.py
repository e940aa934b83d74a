"""`RestAdapter`: the client built from class attributes and the settings class, settings declared once."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import SecretStr, field_validator

from humansupport import (
    Agent,
    Assignment,
    AssignmentOutcome,
    ConfigError,
    ConflictError,
    Conversation,
    ConversationStatus,
    Customer,
    Group,
    HelpdeskSettings,
    Message,
    ProfilePatch,
)
from humansupport.helpdesk import Helpdesk
from humansupport.http import RateLimitHeaders, reset_limiters
from humansupport.testing import FakeClock
from humansupport.vendor import UNASSIGNED, BasicAuth, BearerAuth, RestAdapter

TOKEN = "tok-secret-123"


class DemoSettings(HelpdeskSettings):
    vendor: ClassVar[str] = "demo"
    workspace: str
    api_token: SecretStr
    api_version: str = "2"
    rate_limit_per_minute: float | None = None
    region: str = "eu"

    @field_validator("workspace")
    @classmethod
    def _workspace(cls, value: str) -> str:
        if not value.isalnum():
            raise ValueError("letters and digits only")
        return value.lower()


class _Unimplemented(RestAdapter[DemoSettings]):
    """The abstract reads and writes, so the class can be built; the tests use `http` directly."""

    async def iter_conversations(
        self, *, updated_since: datetime | None = None, status: Sequence[ConversationStatus] | None = None
    ) -> AsyncIterator[Conversation]:
        async for item in self.pages("/conversations"):
            yield Conversation.model_validate(item)

    async def get_conversation(self, conversation_id: str) -> Conversation:
        return Conversation.model_validate(await self.http.get_json(f"/conversations/{conversation_id}"))

    async def iter_messages(self, conversation_id: str) -> AsyncIterator[Message]:
        return
        yield

    async def iter_agents(self) -> AsyncIterator[Agent]:
        async for item in self.pages("/agents"):
            yield Agent.model_validate(item)

    async def iter_groups(self) -> AsyncIterator[Group]:
        return
        yield

    async def iter_customers(self, *, updated_since: datetime | None = None) -> AsyncIterator[Customer]:
        return
        yield

    async def get_customer(self, customer_id: str) -> Customer:
        raise NotImplementedError

    async def find_customer(self, *, email: str) -> Customer | None:
        return None

    async def assign(
        self,
        conversation_id: str,
        agent_id: str | None,
        *,
        group_id: str | None = None,
        expected_updated_at: datetime | None = None,
        expected_version: str | None = None,
        expected_assignee_id: str | None = None,
    ) -> Conversation:
        await self.reread_guard(
            conversation_id,
            expected_updated_at=expected_updated_at,
            expected_version=expected_version,
            expected_assignee_id=expected_assignee_id,
        )
        data = await self.http.send_json("PUT", f"/conversations/{conversation_id}", json={"assignee_id": agent_id})
        return Conversation.model_validate(data)

    async def update_customer(self, customer_id: str, patch: ProfilePatch) -> Customer:
        raise NotImplementedError

    async def add_internal_note(self, conversation_id: str, body: str) -> Message:
        raise NotImplementedError


class DemoAdapter(_Unimplemented):
    vendor: ClassVar[str] = "demo"
    base_url_template = "https://{workspace}.{region}.demo.test"
    auth = BearerAuth("api_token")
    headers: ClassVar[Mapping[str, str]] = {"Demo-Version": "{api_version}"}
    rate_limit_per_minute = 120.0
    rate_headers = RateLimitHeaders(limit="X-Limit", remaining="X-Remaining")
    check_path = "/me"
    account_setting = "workspace"
    repr_settings = ("workspace", "api_token", "region")


class Server:
    """A tiny vendor: records requests, answers from a table."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.conversation: dict[str, Any] = {
            "id": "7",
            "status": "open",
            "assignee_id": "5",
            "updated_at": "2026-03-01T12:00:05Z",
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = {"X-Limit": "100", "X-Remaining": "93"}
        if request.url.path == "/me":
            return httpx.Response(200, json={"me": "x"}, headers=headers)
        if request.url.path == "/conversations/7" and request.method == "GET":
            return httpx.Response(200, json=self.conversation, headers=headers)
        if request.url.path == "/conversations/7" and request.method == "PUT":
            self.conversation = {**self.conversation, "assignee_id": "9"}
            return httpx.Response(200, json=self.conversation, headers=headers)
        if request.url.path == "/agents":
            return httpx.Response(401, json={"error": "bad token"})
        return httpx.Response(404, json={})


@pytest.fixture(autouse=True)
def _fresh_limiters() -> None:
    reset_limiters()


def make(server: Server | None = None, **overrides: Any) -> DemoAdapter:
    options: dict[str, Any] = {"workspace": "Acme", "api_token": TOKEN, **overrides}
    return DemoAdapter(transport=httpx.MockTransport(server or Server()), clock=FakeClock(), **options)


def test_the_settings_class_is_the_schema() -> None:
    assert DemoAdapter.settings_model is DemoSettings  # from RestAdapter[DemoSettings]
    adapter = make()
    assert adapter.settings.workspace == "acme"  # the settings class's validator ran
    assert adapter.settings.api_version == "2"  # its default, declared once
    assert isinstance(adapter.settings.api_token, SecretStr)
    given = DemoSettings.model_validate({"workspace": "beta", "api_token": TOKEN, "account": "desk-b"})
    built = DemoAdapter(settings=given, transport=httpx.MockTransport(Server()))
    assert built.settings is given and built.account == "desk-b"


def test_an_unknown_keyword_is_a_type_error_naming_the_settings() -> None:
    with pytest.raises(
        TypeError, match=r"DemoAdapter\(\) got unknown setting\(s\) workspce; its settings are .*workspace"
    ):
        make(workspce="acme")


def test_a_bad_or_missing_setting_is_a_config_error_without_the_secret() -> None:
    with pytest.raises(ConfigError, match=r"demo: api_token: Field required \(set HUMANSUPPORT_DEMO_API_TOKEN") as info:
        DemoAdapter(workspace="acme")
    with pytest.raises(ConfigError, match=r"workspace: Value error, letters and digits only") as info:
        DemoAdapter(workspace="a-b", api_token=TOKEN)
    assert TOKEN not in str(info.value)


async def test_the_client_is_built_from_the_class_attributes() -> None:
    server = Server()
    async with make(server) as adapter:
        assert adapter.http.base_url == "https://acme.eu.demo.test"
        assert adapter.http.limiter.per_minute == 120.0  # the class's seed; the response headers correct it
        await adapter.http.get_json("/me")
        sent = server.requests[-1]
        assert sent.headers["authorization"] == f"Bearer {TOKEN}" and sent.headers["demo-version"] == "2"
        assert adapter.http.limiter.per_minute == 100.0
    with_url = make(base_url="http://127.0.0.1:9/")
    assert with_url.http.base_url == "http://127.0.0.1:9"  # a base_url setting replaces the template
    await with_url.aclose()


async def test_basic_auth_from_templates_and_a_configured_rate() -> None:
    class Basic(DemoAdapter):
        auth = BasicAuth(username="{workspace}/token", password="{api_token}")

    server = Server()
    async with Basic(
        workspace="acme", api_token=TOKEN, rate_limit_per_minute=30, transport=httpx.MockTransport(server)
    ) as adapter:
        assert adapter.http.limiter.per_minute == 30  # the setting wins over the class's seed
        await adapter.http.get_json("/me")
        expected = base64.b64encode(f"acme/token:{TOKEN}".encode()).decode()
        assert server.requests[-1].headers["authorization"] == f"Basic {expected}"


async def test_the_401_hint_names_the_credential_setting() -> None:
    from humansupport import AuthenticationError

    async with make() as adapter:
        with pytest.raises(AuthenticationError, match="check HUMANSUPPORT_DEMO_API_TOKEN"):
            await adapter.http.get_json("/agents")


def test_repr_shows_no_secret() -> None:
    text = repr(make(account="desk-a"))
    assert text == (
        "DemoAdapter(base_url='https://acme.eu.demo.test', account='desk-a', workspace='acme', region='eu')"
    )
    assert TOKEN not in text


async def test_with_options_changes_settings_or_retry_and_shares_the_rest() -> None:
    server = Server()
    adapter = make(server)
    other = adapter.with_options(region="us", max_retry_wait=5)
    assert other.http.base_url == "https://acme.us.demo.test" and other.retry.max_retry_wait == 5
    assert adapter.retry.max_retry_wait != 5 and adapter.settings.region == "eu"
    assert other.transport is adapter.transport and other.clock is adapter.clock
    await other.http.get_json("/me")
    assert server.requests  # the same transport
    with pytest.raises(TypeError, match=r"unknown option.*regoin.*use one of .*max_retry_wait.*region"):
        adapter.with_options(regoin="us")
    with pytest.raises(ConfigError, match="workspace"):
        adapter.with_options(workspace="a-b")


async def test_check_makes_one_call_and_reports_the_budget() -> None:
    server = Server()
    async with make(server) as adapter:
        report = await adapter.check()
    assert [r.url.path for r in server.requests] == ["/me"]
    assert (report.vendor, report.ok, report.base_url, report.account) == (
        "demo",
        True,
        "https://acme.eu.demo.test",
        "acme",
    )
    assert (report.rate_limit, report.rate_remaining) == (100.0, 93.0)


async def test_client_with_gets_its_own_bucket_and_closes_with_the_adapter() -> None:
    adapter = make()
    exports = adapter.client_with(limiter=adapter.limiter("exports", per_minute=10))
    assert exports.limiter.per_minute == 10 and exports.limiter is not adapter.http.limiter
    assert adapter.limiter("exports", per_minute=10) is exports.limiter  # one bucket per account and name
    await adapter.aclose()
    assert exports._http.is_closed and adapter.http._http.is_closed


async def test_reread_guard_reads_only_when_something_is_expected() -> None:
    server = Server()
    async with make(server) as adapter:
        assert await adapter.reread_guard("7") is None and not server.requests
        current = await adapter.reread_guard("7", expected_assignee_id="5")
        assert current is not None and current.assignee_id == "5"
        with pytest.raises(ConflictError, match="assignee is 5, expected nobody"):
            await adapter.reread_guard("7", expected_assignee_id=UNASSIGNED)
        stamp = datetime(2026, 3, 1, 12, 0, 5, 999_999, tzinfo=UTC)  # our microseconds, the vendor's seconds
        assert await adapter.reread_guard("7", expected_updated_at=stamp) is not None
        with pytest.raises(ConflictError):
            await adapter.reread_guard("7", expected_updated_at=stamp - timedelta(seconds=1))


async def test_assign_many_passes_the_expected_assignee_through_assign() -> None:
    server = Server()
    async with make(server) as adapter:
        [stale] = await adapter.assign_many([Assignment(conversation_id="7", agent_id="9", expected_assignee_id="4")])
        assert stale.outcome is AssignmentOutcome.CONFLICT and "assignee is 5, expected 4" in (stale.message or "")
        assert [r.method for r in server.requests] == ["GET"]  # nothing written
        [ok] = await adapter.assign_many([Assignment(conversation_id="7", agent_id="9", expected_assignee_id="5")])
        assert ok.outcome is AssignmentOutcome.APPLIED and ok.agent_id == "9"


def test_the_sync_facade_passes_the_expected_assignee() -> None:
    desk = Helpdesk(make())
    try:
        with pytest.raises(ConflictError):
            desk.assign("7", "9", expected_assignee_id="4")
        assert desk.assign("7", "9", expected_assignee_id="5").assignee_id == "9"
    finally:
        desk.close()


async def test_adapters_written_before_expected_assignee_keep_working() -> None:
    class Older(DemoAdapter):
        async def assign(  # type: ignore[override]
            self,
            conversation_id: str,
            agent_id: str | None,
            *,
            group_id: str | None = None,
            expected_updated_at: datetime | None = None,
            expected_version: str | None = None,
        ) -> Conversation:
            return await super().assign(conversation_id, agent_id)

    async with Older(workspace="acme", api_token=TOKEN, transport=httpx.MockTransport(Server())) as adapter:
        [result] = await adapter.assign_many([Assignment(conversation_id="7", agent_id="9", expected_assignee_id="4")])
    assert result.outcome is AssignmentOutcome.APPLIED  # not checked, as before, instead of a TypeError


async def test_from_settings_hands_over_the_settings_and_the_rate_budget() -> None:
    from humansupport.http import LocalRateBudget

    budget = LocalRateBudget()
    settings = DemoSettings.model_validate({"workspace": "acme", "api_token": TOKEN, "account": "desk-a"})
    adapter = DemoAdapter.from_settings(settings, transport=httpx.MockTransport(Server()), rate_budget=budget)
    assert adapter.settings is settings and adapter.rate_budget is budget and adapter.account == "desk-a"
    await adapter.aclose()


def test_two_accounts_on_one_shared_host_keep_their_own_rate_budget() -> None:
    first = make(base_url="https://api.shared.test")
    second = make(base_url="https://api.shared.test", api_token="another-token")
    assert first.limiter_key() != second.limiter_key()  # same host, other credential: other account
    assert first.limiter_key() == make(base_url="https://api.shared.test").limiter_key()  # same account
    assert first.limiter().key == first.limiter_key()
    named = make(base_url="https://api.shared.test", account="eu")
    assert named.limiter_key() == "demo:eu" and TOKEN not in first.limiter_key()
