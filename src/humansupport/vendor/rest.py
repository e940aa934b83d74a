"""`RestAdapter`: the base of a REST helpdesk adapter, so a plugin writes its HTTP calls and mapping, not plumbing.

A subclass names its settings class (the one schema of its settings: `RestAdapter[AcmeSettings]`) and declares
the vendor's HTTP facts as class attributes; the constructor builds the `humansupport.http.HttpClient` from both:

    class AcmeAdapter(RestAdapter[AcmeSettings]):
        vendor = "acmedesk"
        base_url_template = "https://{workspace}.acmedesk.test"   # settings fields in braces; base_url overrides
        auth = BearerAuth("api_token")
        rate_headers = RateLimitHeaders(limit="X-Rate-Limit", remaining="X-Rate-Limit-Remaining")
        error_hints = {403: "the token lacks the admin scope"}
        check_path = "/api/me"

The constructor takes `settings=` (resolved by `connect()`) or keyword overrides validated by the settings class
(`AcmeAdapter(api_token="...")`): defaults live only on the settings class. It also takes what tests and the
commands inject: `transport`, `clock`, `retry` and `rate_budget`. It gives `with_options(**overrides)`,
`check()` around one vendor call, a secret-safe `repr`, `aclose`, `reread_guard` (the stale-write check for
vendors without optimistic concurrency) and `pages` (one listing through the class's paginator).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, ClassVar, Generic, Self, TypeVar, cast, get_args

import httpx
import pydantic
from pydantic import SecretStr

from humansupport.clock import SYSTEM_CLOCK, Clock
from humansupport.config import HelpdeskSettings
from humansupport.errors import ConfigError
from humansupport.helpdesk import AsyncHelpdesk, CheckReport
from humansupport.http import (
    CursorPaginator,
    HttpClient,
    PageRequest,
    Paginator,
    RateBudget,
    RateLimiter,
    RateLimitHeaders,
    RetryPolicy,
    limiter_for,
    paginate,
)
from humansupport.models import Conversation

from .auth import Auth, env_name, fill
from .guard import raise_if_stale

__all__ = ["RestAdapter"]

S = TypeVar("S", bound=HelpdeskSettings)

_POLICY_NAMES = frozenset(f.name for f in dataclasses.fields(RetryPolicy))


class RestAdapter(AsyncHelpdesk, Generic[S]):
    """An `AsyncHelpdesk` whose HTTP client is built from class attributes and the plugin's settings class."""

    #: where the API lives; `{field}` names a settings field. A `base_url` setting replaces it (proxies, fakes).
    base_url_template: ClassVar[str] = ""
    #: how every request authenticates (`BearerAuth`, `BasicAuth`, `HeaderAuth`); override `build_auth` for flows
    auth: ClassVar[Auth | None] = None
    #: extra headers on every request; values may name settings fields (`{"Api-Version": "{api_version}"}`)
    headers: ClassVar[Mapping[str, str]] = {}
    #: the account's request budget when the settings have no `rate_limit_per_minute`; response headers correct it
    rate_limit_per_minute: ClassVar[float] = 600.0
    #: which response headers carry the vendor's rate-limit state
    rate_headers: ClassVar[RateLimitHeaders] = RateLimitHeaders()
    #: which response headers carry the vendor's request id (quoted in errors, for the vendor's support)
    request_id_headers: ClassVar[tuple[str, ...]] = ("X-Request-Id",)
    #: what to tell the user per HTTP status; a 401 hint naming the credential settings is added when missing
    error_hints: ClassVar[Mapping[int, str]] = {}
    #: how much of the budget a write spends (some vendors count writes double)
    write_cost: ClassVar[float] = 1.0
    #: requests in flight at once on one adapter (a `max_concurrency` setting, when the settings declare one, wins)
    max_concurrency: ClassVar[int] = 8
    #: seconds before one request gives up
    timeout: ClassVar[float] = 30.0
    #: the one cheap authenticated GET `check()` makes; None reads one agent instead
    check_path: ClassVar[str | None] = None
    #: the settings field `check()` reports as the account (e.g. "subdomain"); "account" by default
    account_setting: ClassVar[str] = "account"
    #: settings fields shown in `repr` besides base_url and account (secret fields are never shown)
    repr_settings: ClassVar[tuple[str, ...]] = ()
    #: how `pages` follows a listing unless given another
    paginator: ClassVar[Paginator] = CursorPaginator(items="data", next_cursor="next_cursor", cursor_param="cursor")

    settings: S
    http: HttpClient

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "settings_model" in cls.__dict__:
            return
        for base in cls.__dict__.get("__orig_bases__", ()):
            for arg in get_args(base):
                if isinstance(arg, type) and issubclass(arg, HelpdeskSettings):
                    cls.settings_model = arg

    def __init__(
        self,
        *,
        settings: S | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
        retry: RetryPolicy | None = None,
        rate_budget: RateBudget | None = None,
        **overrides: Any,
    ) -> None:
        self.settings = self.resolve_settings(settings, overrides)
        self.account = self.settings.account
        self.transport = transport
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.rate_budget = rate_budget
        self._clients: list[HttpClient] = []
        self.http = self.build_client()

    @classmethod
    def from_settings(
        cls,
        settings: HelpdeskSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rate_budget: RateBudget | None = None,
    ) -> Self:
        return cls(settings=cast(S, settings), transport=transport, clock=clock, rate_budget=rate_budget)

    # -- settings ------------------------------------------------------------------------------------

    @classmethod
    def resolve_settings(cls, settings: HelpdeskSettings | None, overrides: Mapping[str, Any]) -> S:
        """The settings: `settings` with `overrides` applied, validated by the settings class (a ConfigError
        naming each bad field and its environment variable); an unknown name is a TypeError, like a typo'd
        keyword argument."""
        model = cls.settings_model
        unknown = sorted(set(overrides) - set(model.model_fields))
        if unknown:
            raise TypeError(
                f"{cls.__name__}() got unknown setting(s) {', '.join(unknown)}; "
                f"its settings are {', '.join(sorted(model.model_fields))}"
            )
        if settings is not None and not overrides and type(settings) is model:
            return cast(S, settings)
        values = settings.model_dump() if settings is not None else {}
        try:
            return cast(S, model.model_validate({**values, **overrides}))
        except pydantic.ValidationError as exc:
            raise ConfigError(cls._settings_problem(exc)) from None

    @classmethod
    def _settings_problem(cls, exc: pydantic.ValidationError) -> str:
        # built from the error list, never str(exc): that quotes the input, which may be a secret
        parts = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            where = f" (set {env_name(cls.vendor, field)} or pass {field}=...)" if field else ""
            parts.append(f"{field or 'settings'}: {error['msg']}{where}")
        return f"{cls.vendor}: " + "; ".join(parts)

    def with_options(self, **overrides: Any) -> Self:
        """A new adapter with changed settings or retry options, e.g. `with_options(max_retry_wait=5)`.

        It shares the transport, the clock and the account's rate-limit buckets; close it on its own.
        """
        names = set(self.settings_model.model_fields) | _POLICY_NAMES
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(
                f"with_options() got unknown option(s) {', '.join(unknown)}; use one of {', '.join(sorted(names))}"
            )
        policy = {k: overrides.pop(k) for k in list(overrides) if k in _POLICY_NAMES}
        retry = dataclasses.replace(self.retry, **policy) if policy else self.retry
        return type(self)(
            settings=self.settings,
            transport=self.transport,
            clock=self.clock,
            retry=retry,
            rate_budget=self.rate_budget,
            **overrides,
        )

    # -- the HTTP client -----------------------------------------------------------------------------

    def resolve_base_url(self) -> str:
        """The `base_url` setting, else `base_url_template` filled from the settings."""
        url = self.settings.base_url or (fill(self.base_url_template, self.settings) if self.base_url_template else "")
        if not url:
            raise ConfigError(f"{self.vendor}: no API address; set {env_name(self.vendor, 'base_url')}")
        return url.rstrip("/")

    def build_auth(self) -> tuple[httpx.Auth | None, Mapping[str, str]]:
        """The httpx auth and headers for every request: from `auth` by default; override for auth flows."""
        return self.auth.build(self.settings) if self.auth is not None else (None, {})

    def wrap_transport(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncBaseTransport | None:
        """Hook: wrap the injected transport (per-endpoint budgets, for instance); as given by default."""
        return transport

    def limiter(
        self, bucket: str | None = None, *, per_minute: float | None = None, headers: RateLimitHeaders | None = None
    ) -> RateLimiter:
        """The account's rate limiter (or a named `bucket` of it, e.g. "exports"), shared by every adapter on the
        account and, with a store's `rate_budget`, by every process."""
        configured = getattr(self.settings, "rate_limit_per_minute", None)
        key = self.limiter_key()
        return limiter_for(
            f"{key}:{bucket}" if bucket else key,
            per_minute=per_minute or configured or self.rate_limit_per_minute,
            clock=self.clock,
            headers=headers or self.rate_headers,
            budget=self.rate_budget,
        )

    def limiter_key(self) -> str:
        """What names the account's rate budget: the configured account, else the API address and a fingerprint
        of the credential (two accounts on a vendor's one shared host must not share a budget). Override when
        the vendor keys its limit on something else (an app id, say)."""
        if self.settings.account:
            return f"{self.vendor}:{self.settings.account}"
        fields = self.auth.fields() if self.auth is not None else []
        secret = "|".join(_plain(getattr(self.settings, name, None)) for name in fields)
        digest = hashlib.sha256(secret.encode()).hexdigest()[:12] if secret else "anonymous"
        return f"{self.vendor}:{self.resolve_base_url()}:{digest}"

    def hints(self) -> dict[int, str]:
        """`error_hints`, with a 401 hint naming the credential's environment variables when none is given."""
        hints = dict(self.error_hints)
        fields = self.auth.fields() if self.auth is not None else []
        if 401 not in hints and fields:
            hints[401] = "check " + " and ".join(env_name(self.vendor, f) for f in dict.fromkeys(fields))
        return hints

    def build_client(self) -> HttpClient:
        """The adapter's `HttpClient` from the class attributes and the settings (the address is resolved before
        the credential, so a user missing both is told first which account, then which secret)."""
        base_url = self.resolve_base_url()
        auth, auth_headers = self.build_auth()
        headers = {name: fill(value, self.settings) for name, value in self.headers.items()}
        return HttpClient(
            vendor=self.vendor,
            base_url=base_url,
            auth=auth,
            headers={**headers, **auth_headers},
            transport=self.wrap_transport(self.transport),
            clock=self.clock,
            timeout=self.timeout,
            retry=self.retry,
            limiter=self.limiter(),
            rate_headers=self.rate_headers,
            max_concurrency=getattr(self.settings, "max_concurrency", None) or self.max_concurrency,
            request_id_headers=self.request_id_headers,
            write_cost=self.write_cost,
            error_hints=self.hints(),
        )

    def client_with(self, **options: Any) -> HttpClient:
        """Another client on the same connection settings (a bucket of its own, another base path), closed with
        the adapter: `self.client_with(limiter=self.limiter("exports", per_minute=10))`."""
        client = self.http.with_options(**options)
        self._clients.append(client)
        return client

    def pages(self, path: str, paginator: Paginator | None = None, **params: Any) -> AsyncIterator[dict[str, Any]]:
        """Every item of a listing, page by page (`paginator` or the class's); None-valued params are left out."""
        query = {k: v for k, v in params.items() if v is not None}
        return paginate(self.http, PageRequest(url=path, params=query), paginator or self.paginator)

    # -- the stale-write guard -----------------------------------------------------------------------

    async def reread_guard(
        self,
        conversation_id: str,
        *,
        expected_updated_at: datetime | None = None,
        expected_version: str | None = None,
        expected_assignee_id: str | None = None,
        method: str = "PUT",
        path: str | None = None,
    ) -> Conversation | None:
        """Re-reads the conversation and raises `ConflictError` when it changed since the caller's read
        (`humansupport.vendor.guard` states the semantics); returns it, or None when nothing was expected."""
        if expected_updated_at is None and expected_version is None and expected_assignee_id is None:
            return None
        current = await self.get_conversation(conversation_id)
        raise_if_stale(
            current,
            vendor=self.vendor,
            method=method,
            path=path,
            expected_updated_at=expected_updated_at,
            expected_version=expected_version,
            expected_assignee_id=expected_assignee_id,
        )
        return current

    # -- operations ----------------------------------------------------------------------------------

    async def check_call(self) -> Mapping[str, Any]:
        """The one vendor call `check()` makes: GET `check_path` (or one agent); returns details for the report.

        Override to read who the credential belongs to, and raise `HelpdeskError` when it is not good enough.
        """
        if self.check_path is not None:
            await self.http.get_json(self.check_path)
        else:
            async for _ in self.iter_agents():
                break
        return {}

    async def check(self) -> CheckReport:
        """`humansupport check`: one authenticated call, then the rate budget the client learned from it."""
        details = dict(await self.check_call())
        room = self.http.limiter.headroom()
        account = getattr(self.settings, self.account_setting, None)
        return CheckReport(
            vendor=self.vendor,
            ok=True,
            base_url=self.http.base_url,
            account=str(account) if account is not None else None,
            rate_limit=room.limit_per_minute,
            rate_remaining=room.remaining,
            details=details,
        )

    def __repr__(self) -> str:
        parts = [f"base_url={self.http.base_url!r}"]
        if self.account:
            parts.append(f"account={self.account!r}")
        for name in self.repr_settings:
            value = getattr(self.settings, name, None)
            if value is not None and not isinstance(value, SecretStr):
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    async def aclose(self) -> None:
        for client in reversed(self._clients):
            await client.aclose()
        await self.http.aclose()


def _plain(value: Any) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else "" if value is None else str(value)
