"""OAuth2 client credentials for Help Scout as an `httpx.Auth` flow: cache the token, refresh early, once on a 401.

`POST /v2/oauth2/token` with `grant_type=client_credentials` gives a bearer token valid `expires_in` seconds
(observed 172800 = 48 h, no refresh token: ask again; https://developer.helpscout.com/mailbox-api/overview/
authentication/). The token never leaves this object except in the Authorization header: no repr, no log.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Generator
from typing import Final

import httpx
from pydantic import SecretStr

from humansupport.clock import Clock
from humansupport.errors import HelpdeskError

__all__ = ["ClientCredentialsAuth"]

TOKEN_PATH: Final = "/v2/oauth2/token"  # noqa: S105 - a URL path, not a secret
#: refresh this long before the stated expiry, so a request never carries a token about to lapse
REFRESH_MARGIN: Final = 300.0
_DEFAULT_LIFETIME: Final = 7200.0  # when the server omits expires_in (the samples show 7200)
_MAX_REDIRECTS: Final = 2


class ClientCredentialsAuth(httpx.Auth):
    """Bearer auth from an app id and secret; also follows a merged conversation's 301 on GET."""

    def __init__(self, *, app_id: str, app_secret: SecretStr, token_url: str, clock: Clock) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._token_url = token_url
        self._clock = clock
        self._token: SecretStr | None = None
        self._expires_at = 0.0
        self._generation = 0
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(app_id={self._app_id!r})"

    def _get_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock

    def _fresh(self) -> bool:
        return self._token is not None and self._clock.monotonic() < self._expires_at - REFRESH_MARGIN

    def _token_request(self) -> httpx.Request:
        body = {
            "grant_type": "client_credentials",
            "client_id": self._app_id,
            "client_secret": self._app_secret.get_secret_value(),
        }
        return httpx.Request(
            "POST",
            self._token_url,
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )

    def _store(self, response: httpx.Response) -> bool:
        try:
            data = json.loads(response.content)
            token = data["access_token"]
            lifetime = float(data.get("expires_in") or _DEFAULT_LIFETIME)
        except (ValueError, KeyError, TypeError):
            return False
        if not isinstance(token, str) or not token:
            return False
        self._token = SecretStr(token)
        self._expires_at = self._clock.monotonic() + lifetime
        self._generation += 1
        self.tokens_fetched += 1
        return True

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("the Help Scout adapter is async; use it through AsyncHelpdesk or the Helpdesk facade")
        yield request  # pragma: no cover - makes this a generator

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # A failed token call ends the flow with the token response, so HttpClient maps it to a typed
        # error (401 -> AuthenticationError with the settings hint; 429/5xx retried like any request).
        if not self._fresh():
            async with self._get_lock():
                if not self._fresh():
                    token_response = yield self._token_request()
                    await token_response.aread()  # overriding the flow skips httpx's own read
                    if not self._accept(token_response):
                        return
        used = self._generation
        response = yield self._authorize(request)
        if response.status_code == 401:
            # Expired or revoked early: fetch a new token once (unless another request already did) and retry.
            async with self._get_lock():
                if used == self._generation:
                    token_response = yield self._token_request()
                    await token_response.aread()
                    if not self._accept(token_response):
                        return
            response = yield self._authorize(request)
        redirects = 0
        while response.status_code == 301 and request.method == "GET" and redirects < _MAX_REDIRECTS:
            # A merged conversation answers 301 with the surviving one in Location (vendor notes §3).
            location = response.headers.get("Location")
            if not location:
                return
            redirects += 1
            request = httpx.Request("GET", request.url.join(location), headers=request.headers)
            response = yield self._authorize(request)

    def _accept(self, response: httpx.Response) -> bool:
        """Stores the token from a 2xx; False for an error status (the caller maps it); raises on a bad 2xx."""
        if not response.is_success:
            return False
        if self._store(response):
            return True
        raise HelpdeskError(
            vendor="helpscout",
            status=response.status_code,
            method="POST",
            path=TOKEN_PATH,
            vendor_message="the token response carried no access_token",
        )

    def _authorize(self, request: httpx.Request) -> httpx.Request:
        assert self._token is not None
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return request
