"""The one HTTP client every plugin uses: timeouts, User-Agent, rate limiting, retries, typed errors.

Secrets stay out of everything it produces: reprs show vendor and base URL only, errors and logs name
method, path (never the query string), status and request id, never a header value.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json as jsonlib
import logging
import random
import socket
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Final

import httpx
from tenacity import RetryCallState

from humansupport import __version__
from humansupport.clock import SYSTEM_CLOCK, Clock
from humansupport.errors import HelpdeskError, RateLimitError, TransportError, error_from_response
from humansupport.http.ratelimit import BudgetBlocked, RateLimiter, RateLimitHeaders
from humansupport.http.retry import RetryPolicy, parse_reset, parse_retry_after, retrying
from humansupport.http.stats import record_response

__all__ = ["HttpClient"]

logger = logging.getLogger("humansupport.http")

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
USER_AGENT: Final = f"humansupport/{__version__}"
_UNSEEDED_PER_MINUTE: Final = 6000.0  # no limiter given: pace loosely until the server states its limit

_OPTION_NAMES: Final = frozenset(
    {
        "vendor",
        "base_url",
        "auth",
        "headers",
        "transport",
        "clock",
        "timeout",
        "retry",
        "limiter",
        "rate_headers",
        "max_concurrency",
        "request_id_headers",
        "write_cost",
        "rng",
        "error_hints",
    }
)
_POLICY_NAMES: Final = frozenset(f.name for f in dataclasses.fields(RetryPolicy))


class _RedactHttpxUrls(logging.Filter):
    """httpx logs every request's full URL at INFO; queries can carry tokens and PII, so drop them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(_safe_url(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def _safe_url(url: httpx.URL) -> str:
    return str(url.copy_with(query=None, fragment=None, userinfo=b""))


_HTTPX_FILTER: Final = _RedactHttpxUrls()


def _redact_httpx_logs() -> None:
    """Installs the filter on httpx's logger once, when the first client is built (not at import)."""
    httpx_logger = logging.getLogger("httpx")
    if _HTTPX_FILTER not in httpx_logger.filters:
        httpx_logger.addFilter(_HTTPX_FILTER)


class HttpClient:
    """Async client for one vendor account; adapters build one and call `get_json`/`send_json`/`request`."""

    def __init__(
        self,
        *,
        vendor: str,
        base_url: str,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, safe to share
        limiter: RateLimiter | None = None,
        rate_headers: RateLimitHeaders = RateLimitHeaders(),  # noqa: B008 - frozen, safe to share
        max_concurrency: int = 8,
        request_id_headers: Sequence[str] = ("X-Request-Id",),
        write_cost: float = 1.0,
        rng: random.Random | None = None,
        error_hints: Mapping[int, str] | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds (a request without a timeout can hang), got {timeout}")
        _redact_httpx_logs()
        self._vendor = vendor
        self._base_url = base_url
        self._clock = clock
        self._retry = retry
        self._rate_headers = rate_headers
        self._limiter = limiter or RateLimiter(per_minute=_UNSEEDED_PER_MINUTE, clock=clock, headers=rate_headers)
        self._max_concurrency = max_concurrency
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._request_id_headers = tuple(request_id_headers)
        self._write_cost = write_cost
        self._rng = rng or random.Random()
        self._error_hints = dict(error_hints or {})
        self._options: dict[str, Any] = {
            "vendor": vendor,
            "base_url": base_url,
            "auth": auth,
            "headers": dict(headers or {}),
            "transport": transport,
            "clock": clock,
            "timeout": timeout,
            "retry": retry,
            "limiter": self._limiter,
            "rate_headers": rate_headers,
            "max_concurrency": max_concurrency,
            "request_id_headers": self._request_id_headers,
            "write_cost": write_cost,
            "rng": rng,
            "error_hints": self._error_hints,
        }
        self._http = httpx.AsyncClient(
            base_url=base_url,
            auth=auth,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            transport=transport,
            timeout=httpx.Timeout(timeout),
        )

    def __repr__(self) -> str:
        return f"HttpClient(vendor={self._vendor!r}, base_url={self._base_url!r})"

    @property
    def vendor(self) -> str:
        return self._vendor

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def limiter(self) -> RateLimiter:
        """The account's token bucket (shared when the adapter passed one from `limiter_for`)."""
        return self._limiter

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry

    @property
    def clock(self) -> Clock:
        return self._clock

    def with_options(self, **overrides: Any) -> HttpClient:
        """A copy with changes; constructor names, or RetryPolicy fields such as `max_retry_wait=5`.

        The copy shares the rate limiter (same account) and the transport, but has its own connection pool.
        """
        options = dict(self._options)
        policy_changes = {k: overrides.pop(k) for k in list(overrides) if k in _POLICY_NAMES}
        unknown = sorted(set(overrides) - _OPTION_NAMES)
        if unknown:
            raise TypeError(
                f"with_options() got unknown option(s) {', '.join(unknown)}; "
                f"use one of {', '.join(sorted(_OPTION_NAMES | _POLICY_NAMES))}"
            )
        options.update(overrides)
        if policy_changes:
            options["retry"] = dataclasses.replace(options["retry"], **policy_changes)
        return HttpClient(**options)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        cost: float | None = None,
    ) -> httpx.Response:
        """Sends one request with rate limiting and retries; returns a 2xx response or raises."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        if cost is None:
            cost = 1.0 if method in READ_METHODS else self._write_cost
        request = self._http.build_request(method, url, params=params, json=json, headers=headers)
        path = request.url.path
        attempts = 0

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            status = exc.status if isinstance(exc, HelpdeskError) else None
            logger.info(
                "%s: retrying %s %s after %s (attempt %d of %d), waiting %.2fs",
                self._vendor,
                method,
                path,
                status if status is not None else type(exc).__name__,
                state.attempt_number,
                self._retry.max_attempts,
                wait,
            )

        async def attempt() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return await self._send_once(request, method=method, path=path, cost=cost, attempt=attempts)

        loop = retrying(self._retry, clock=self._clock, rng=self._rng, idempotent=idempotent, before_sleep=log_retry)
        return await loop(attempt)

    async def _send_once(
        self, request: httpx.Request, *, method: str, path: str, cost: float, attempt: int
    ) -> httpx.Response:
        async with self._semaphore:
            try:
                await self._limiter.acquire(cost, max_block=self._retry.max_retry_wait)
            except BudgetBlocked as blocked:
                # Another request on this account was told to wait longer than we may; fail now, do not sleep.
                raise RateLimitError(
                    vendor=self._vendor,
                    status=429,
                    method=method,
                    path=path,
                    retry_after=blocked.seconds,
                    vendor_message="the account is rate limited",
                ) from None
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                record_response(None)
                logger.info("%s %s %s -> %s (attempt %d)", self._vendor, method, path, type(exc).__name__, attempt)
                raise TransportError(
                    vendor=self._vendor,
                    method=method,
                    path=path,
                    vendor_message=f"no response: {_describe(exc, request.url)}",
                ) from exc
            except httpx.RequestError as exc:
                record_response(None)
                raise HelpdeskError(
                    vendor=self._vendor,
                    method=method,
                    path=path,
                    vendor_message=f"request failed: {type(exc).__name__}",
                ) from exc
        record_response(response.status_code)
        self._limiter.observe(response.headers)
        if response.is_success:
            logger.debug("%s %s %s -> %d (attempt %d)", self._vendor, method, path, response.status_code, attempt)
            return response
        wait = self._server_wait(response)
        error = error_from_response(
            self._vendor,
            response,
            request_id=self._request_id(response),
            retry_after=wait,
            hint=self._error_hints.get(response.status_code),
        )
        if error.retry_after is None and wait is not None:
            error.retry_after = wait  # a 503 that says when to come back
        if response.status_code == 429:
            self._limiter.penalize(wait if wait is not None else self._retry.default_429_wait)
        logger.info("%s %s %s -> %d (attempt %d)", self._vendor, method, path, response.status_code, attempt)
        raise error

    def _server_wait(self, response: httpx.Response) -> float | None:
        """Retry-After (or the adapter's name for it), then the vendor's reset header."""
        if response.status_code not in (429, 502, 503, 504) and response.status_code < 500:
            return None
        now = self._clock.now()
        headers = response.headers
        wait = parse_retry_after(headers, now)
        custom = self._rate_headers.retry_after
        if wait is None and custom.lower() != "retry-after" and custom in headers:
            wait = parse_retry_after({"Retry-After": headers[custom]}, now)
        reset = self._rate_headers.reset
        if wait is None and reset is not None and response.status_code == 429:
            wait = parse_reset(headers, now, header=reset, kind=self._rate_headers.reset_kind)
        return wait

    def _request_id(self, response: httpx.Response) -> str | None:
        for name in self._request_id_headers:
            value = response.headers.get(name)
            if value:
                return str(value)
        return None

    def parse_json(self, response: httpx.Response) -> Any:
        """The JSON body, None for 204 or empty; malformed JSON is a clear HelpdeskError, no traceback."""
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            return jsonlib.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            detail = f"{exc.msg} at position {exc.pos}" if isinstance(exc, jsonlib.JSONDecodeError) else "not UTF-8"
            raise HelpdeskError(
                vendor=self._vendor,
                status=response.status_code,
                method=response.request.method,
                path=response.request.url.path,
                request_id=self._request_id(response),
                vendor_message=f"malformed JSON in response: {detail}",
            ) from None

    async def get_json(self, url: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """GET and parse; None for an empty body."""
        return self.parse_json(await self.request("GET", url, params=params))

    async def send_json(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """A write (POST/PUT/PATCH/DELETE) with a JSON body; returns the parsed answer or None."""
        return self.parse_json(await self.request(method, url, params=params, json=json, idempotent=idempotent))


def _describe(exc: httpx.TransportError, url: httpx.URL | None = None) -> str:
    """What went wrong and where (host:port, never the path's query string), from the exception types."""
    where = ""
    if url is not None and url.host:
        where = f" {url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out{' talking to' + where if where else ''} ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        causes = _os_errors(exc)
        if any(isinstance(c, socket.gaierror) for c in causes):
            return f"could not connect to{where}: the host name does not resolve (DNS); check the domain or base_url"
        if any(isinstance(c, ConnectionRefusedError) for c in causes):
            return (
                f"could not connect to{where}: connection refused (nothing listens there); check the port or base_url"
            )
        return f"could not connect to{where} ({type(exc).__name__})"
    return f"network error{' talking to' + where if where else ''} ({type(exc).__name__})"


def _os_errors(exc: BaseException) -> list[OSError]:
    """The operating-system errors under httpx's, httpcore's and anyio's wrappers, outermost first."""
    found: list[OSError] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            found.append(current)
        current = current.__cause__ or current.__context__
    return found
