"""Contract checks: every request the adapter sends and every response the fake gives, against our description.

`ContractTransport` wraps the fake's transport. Before forwarding, it validates the request (path and method
known, Basic auth, query parameters declared and valid, body schema) against freshdesk-openapi.yaml; after, it
validates the response (status, headers, body). Our own checker (precompiled JSON-schema validators from the
same file) runs on every exchange; openapi-core runs as well on the first exchange of each operation and status,
which keeps the whole run fast (openapi-core costs ~20 ms a call). A violation raises `AssertionError` at once,
which no adapter code catches, so the test fails where the bad request was made.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_schema_validator import OAS31Validator

from humansupport.testing.openapi import OpenAPIRequest, OpenAPIResponse

from .vendor_files import OPENAPI


@cache
def description() -> dict[str, Any]:
    with OPENAPI.open() as fh:
        loaded: dict[str, Any] = yaml.safe_load(fh)
    return loaded


@cache
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(description())


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follows a `$ref` into components (parameters, responses, headers)."""
    while "$ref" in node and len(node) == 1:
        section, name = node["$ref"].split("/")[-2:]
        node = description()["components"][section][name]
    return node


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    # literal paths first, so /tickets/bulk_update is not taken for /tickets/{id}
    ordered = sorted(description()["paths"], key=lambda t: t.count("{"))
    return [(re.compile(re.sub(r"\{[^}]+\}", "[^/]+", t) + r"\Z"), t) for t in ordered]


def operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The described (template, operation) for a request, or None when the description does not know it."""
    for pattern, template in _templates():
        item = description()["paths"][template]
        if pattern.match(path) and method.lower() in item:
            op = dict(item[method.lower()])
            op["parameters"] = [_resolve(p) for p in [*item.get("parameters", []), *op.get("parameters", [])]]
            return template, op
    return None


def declared_query(method: str, path: str) -> set[str] | None:
    """Query parameter names the description declares for this operation (None: operation unknown)."""
    found = operation(method, path)
    if found is None:
        return None
    return {p["name"] for p in found[1]["parameters"] if p.get("in") == "query"}


_CACHE: dict[str, OAS31Validator] = {}


def _validator(schema: dict[str, Any]) -> OAS31Validator:
    key = json.dumps(schema, sort_keys=True)
    if key not in _CACHE:
        _CACHE[key] = OAS31Validator({**schema, "components": description()["components"]})
    return _CACHE[key]


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    """A query/header string as the schema's type wants it (what a server's parameter parser does)."""
    types = schema.get("type")
    if types == "integer" or (isinstance(types, list) and "integer" in types):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    return [e.message for e in _validator(schema).iter_errors(value)]


def fast_request_errors(request: httpx.Request) -> list[str]:
    """Path, method, Basic auth, declared query parameters with valid values, and the JSON body."""
    found = operation(request.method, request.url.path)
    if found is None:
        return [f"{request.method} {request.url.path} is not in the Freshdesk description"]
    template, op = found
    errors = []
    if not request.headers.get("authorization", "").lower().startswith("basic "):
        errors.append("no Basic authorization header")
    query = {p["name"]: p for p in op["parameters"] if p.get("in") == "query"}
    for name, value in request.url.params.multi_items():
        if name not in query:
            errors.append(f"undeclared query {name!r}")
        else:
            errors += [
                f"query {name}: {e}"
                for e in _schema_errors(query[name]["schema"], _coerce(value, query[name]["schema"]))
            ]
    for param in op["parameters"]:
        if param.get("in") == "path":
            index = template.split("/").index("{" + param["name"] + "}")
            raw = request.url.path.split("/")[index]
            errors += [
                f"path {param['name']}: {e}" for e in _schema_errors(param["schema"], _coerce(raw, param["schema"]))
            ]
    body_spec = op.get("requestBody")
    if body_spec is not None:
        try:
            body = json.loads(request.content)
        except ValueError:
            return [*errors, "request body is not JSON"]
        schema = body_spec["content"]["application/json"]["schema"]
        errors += [f"request body: {e}" for e in _schema_errors(schema, body)]
    elif request.content:
        errors.append("a body where the description has none")
    return errors


def fast_response_errors(request: httpx.Request, response: httpx.Response) -> list[str]:
    found = operation(request.method, request.url.path)
    if found is None:
        return ["unknown operation"]
    responses = found[1]["responses"]
    spec = responses.get(str(response.status_code)) or responses.get("default")
    if spec is None:
        return [f"status {response.status_code} is not described"]
    spec = _resolve(spec)
    errors = []
    for name, header in (spec.get("headers") or {}).items():
        header = _resolve(header)
        if name in response.headers:
            value = _coerce(response.headers[name], header["schema"])
            errors += [f"header {name}: {e}" for e in _schema_errors(header["schema"], value)]
    content = (spec.get("content") or {}).get("application/json")
    if content is not None:
        try:
            body = json.loads(response.content)
        except ValueError:
            return [*errors, "response body is not JSON"]
        errors += [f"response body: {e}" for e in _schema_errors(content["schema"], body)]
    return errors


_DEEP_CHECKED: set[tuple[str, ...]] = set()


def check_request(request: httpx.Request) -> None:
    """Our fast checker on every request; openapi-core as well on the first request of each operation."""
    errors = fast_request_errors(request)
    if errors:
        raise AssertionError(f"contract: request {request.method} {request.url.path}: {'; '.join(errors[:5])}")
    key = ("request", request.method, operation(request.method, request.url.path)[0])  # type: ignore[index]
    if key in _DEEP_CHECKED:
        return
    try:
        openapi().validate_request(OpenAPIRequest(request))
    except Exception as exc:  # openapi-core raises a family of errors; any is a violation
        raise AssertionError(f"contract: request {request.method} {request.url.path}: {_why(exc)}") from None
    _DEEP_CHECKED.add(key)


def check_response(request: httpx.Request, response: httpx.Response) -> None:
    errors = fast_response_errors(request, response)
    if errors:
        raise AssertionError(
            f"contract: response {response.status_code} to {request.method} {request.url.path}: {'; '.join(errors[:5])}"
        )
    found = operation(request.method, request.url.path)
    key = ("response", request.method, found[0] if found else "", str(response.status_code))
    if key in _DEEP_CHECKED:
        return
    try:
        openapi().validate_response(OpenAPIRequest(request), OpenAPIResponse(response))
    except Exception as exc:
        raise AssertionError(
            f"contract: response {response.status_code} to {request.method} {request.url.path}: {_why(exc)}"
        ) from None
    _DEEP_CHECKED.add(key)


def _why(exc: Exception) -> str:
    parts = [f"{type(exc).__name__}: {exc}"]
    cause = exc.__cause__
    while cause is not None and len(parts) < 4:
        parts.append(str(cause))
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            parts.extend(str(e.message) for e in schema_errors[:3])
        cause = cause.__cause__
    return " <- ".join(parts)


class ContractTransport(httpx.AsyncBaseTransport):
    """Validates each exchange with the fake; `check_responses=False` for tests that inject broken responses."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.check_responses = True
        self.checked = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check_request(request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        if self.check_responses:
            check_response(request, response)
        self.checked += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
