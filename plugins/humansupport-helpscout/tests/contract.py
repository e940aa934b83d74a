"""A transport that checks every request and fake response against tests/openapi/helpscout.yaml."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import yaml
from openapi_core import OpenAPI

from humansupport.testing.openapi import OpenAPIRequest, OpenAPIResponse

SPEC_PATH = Path(__file__).with_name("openapi") / "helpscout.yaml"
SERVER = "https://api.helpscout.net"


@cache
def spec_dict() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return loaded


@cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(spec_dict())


def _request(request: httpx.Request) -> OpenAPIRequest:
    return OpenAPIRequest(request, server=SERVER, default_content_type="application/octet-stream")


def _response(response: httpx.Response) -> OpenAPIResponse:
    return OpenAPIResponse(response, default_content_type="", media_type_only=True)


def _operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    for template, item in spec_dict()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    return None


def _declared_query(operation: dict[str, Any]) -> set[str]:
    names = set()
    params = spec_dict()["components"]["parameters"]
    for param in operation.get("parameters", []):
        if "$ref" in param:
            param = params[param["$ref"].rsplit("/", 1)[-1]]
        if param.get("in") == "query":
            names.add(param["name"])
    return names


def request_errors(request: httpx.Request) -> list[str]:
    """Why the description rejects this request (empty when it conforms)."""
    found = _operation(request.method, request.url.path)
    if found is None:
        return [f"{request.method} {request.url.path}: not in the description"]
    template, operation = found
    unknown = sorted(set(request.url.params.keys()) - _declared_query(operation))
    errors = [f"{request.method} {template}: undeclared query parameter {n!r}" for n in unknown]
    errors += [f"{request.method} {template}: {e}" for e in _flatten(openapi().iter_request_errors(_request(request)))]
    return errors


def response_errors(request: httpx.Request, response: httpx.Response) -> list[str]:
    """Why the description rejects this response to this request."""
    response.read()
    return [
        f"{request.method} {request.url.path} -> {response.status_code}: {e}"
        for e in _flatten(openapi().iter_response_errors(_request(request), _response(response)))
    ]


def _flatten(errors: Any) -> list[str]:
    out = []
    for error in errors:
        detail = [str(e.message) for e in getattr(error, "schema_errors", []) or []]
        cause = error.__cause__
        if cause is not None:
            detail += [str(e.message) for e in getattr(cause, "schema_errors", []) or []]
        out.append(f"{type(error).__name__}: {error}" + (f" ({'; '.join(detail)[:300]})" if detail else ""))
    return out


class ContractTransport(httpx.AsyncBaseTransport):
    """Validates each exchange, records violations, and answers with the inner transport's response."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.violations: list[str] = []
        self.checked = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.violations += request_errors(request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.violations += response_errors(request, response)
        self.checked += 1
        return response
