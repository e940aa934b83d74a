"""httpx requests and responses as openapi-core sees them, for plugins' contract tests against vendor descriptions.

Needs the `testing` extra (`pip install "humansupport[testing]"`: openapi-core, which brings werkzeug, PyYAML and
pytest); import this module from tests only. The fakes may
be reached under any base URL, so a `server` pins the host to the one the vendor's description names.
"""

from __future__ import annotations

import httpx

try:
    from openapi_core.datatypes import RequestParameters
    from werkzeug.datastructures import Headers, ImmutableMultiDict
except ImportError as exc:  # the extra is not installed: say which line installs it
    raise ImportError(
        f'humansupport.testing.openapi needs openapi-core ({exc.name} is missing): pip install "humansupport[testing]"'
    ) from exc

__all__ = ["OpenAPIRequest", "OpenAPIResponse"]


class OpenAPIRequest:
    """An `httpx.Request` as openapi-core's Request protocol."""

    def __init__(
        self, request: httpx.Request, *, server: str | None = None, default_content_type: str = "application/json"
    ) -> None:
        self._request = request
        self._server = server
        self._default_content_type = default_content_type
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        if self._server is not None:
            return self._server
        return f"{self._request.url.scheme}://{self._request.url.netloc.decode()}"

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.content or None

    @property
    def content_type(self) -> str:
        return str(self._request.headers.get("content-type", self._default_content_type)).lower()


class OpenAPIResponse:
    """An `httpx.Response` as openapi-core's Response protocol.

    `media_type_only` drops parameters such as `; charset=utf-8` for descriptions whose content keys are bare.
    """

    def __init__(
        self,
        response: httpx.Response,
        *,
        default_content_type: str = "application/json",
        media_type_only: bool = False,
    ) -> None:
        self._response = response
        self._default_content_type = default_content_type
        self._media_type_only = media_type_only

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def content_type(self) -> str:
        value = str(self._response.headers.get("content-type", self._default_content_type)).lower()
        return value.split(";")[0].strip() if self._media_type_only else value

    @property
    def headers(self) -> Headers:
        return Headers(list(self._response.headers.items()))

    @property
    def data(self) -> bytes | None:
        return self._response.content or None
