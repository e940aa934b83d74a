"""`ContractTransport`: an httpx transport that checks every request and response against an OpenAPI description.

A plugin's contract tests put it between the adapter and the plugin's fake, so the adapter can only send what the
vendor documents and the fake can only answer what the vendor would:

    CONTRACT = ContractTransport(SPEC_PATH, patches=[allow_nullable_bodies], undescribed={...})

    def make_adapter(self, transport, clock):            # in the conformance kit subclass
        return AcmeAdapter(..., transport=CONTRACT.wrap(transport), clock=clock)

Checked for each request: the operation exists (path template and method), every query parameter is declared,
and openapi-core validates parameters, security and body. For each response: a 2xx status is documented, and
openapi-core validates a documented status's headers and body (undocumented error statuses pass: fakes inject
429s and 500s). A violation raises `AssertionError` at once (no adapter code catches it) and is kept in
`violations`. Identical exchanges (same operation, query names and JSON structure) are validated once per
description, which keeps a conformance run fast.

`patches` are functions that fix a vendor description's known defects in place (each documented where written);
`undescribed` names endpoints the adapter uses that the description lacks, with the query parameters they take
and optional checks. `paths` keeps only the named paths (a large description loads faster).

Needs the `testing` extra (openapi-core, PyYAML); import from tests only.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .openapi import OpenAPIRequest, OpenAPIResponse

try:
    import yaml  # type: ignore[import-untyped]
    from openapi_core import Config, OpenAPI
except ImportError as exc:  # the extra is not installed: say which line installs it
    raise ImportError(
        f"humansupport.testing.contract needs openapi-core and PyYAML ({exc.name} is missing): "
        'pip install "humansupport[testing]"'
    ) from exc

__all__ = ["ContractTransport", "Undescribed"]

Patch = Callable[[dict[str, Any]], None]
Handler = Callable[[httpx.Request], httpx.Response]
#: a check of an undescribed exchange: the reasons it is wrong (empty when fine)
Check = Callable[[httpx.Request, httpx.Response | None], Sequence[str]]


@dataclass(frozen=True)
class Undescribed:
    """An endpoint the description lacks: the query parameters it takes, and an optional check of each exchange
    (called with the response None for the request, then with the response)."""

    query: frozenset[str] = frozenset()
    check: Check | None = None


@dataclass
class _Description:
    source: Any  # kept, so an in-memory description's id is not reused while it is cached
    raw: dict[str, Any]
    api: OpenAPI
    templates: list[tuple[re.Pattern[str], str]]
    seen: set[Any] = field(default_factory=set)


_LOADED: dict[Any, _Description] = {}


def _load(spec: Path | str | Mapping[str, Any], patches: Sequence[Patch], paths: Sequence[str] | None) -> _Description:
    # one load per description, patches and paths in a session (the patch functions themselves are the key)
    key = (str(spec) if not isinstance(spec, Mapping) else id(spec), tuple(patches), tuple(paths or ()))
    if key in _LOADED and (not isinstance(spec, Mapping) or _LOADED[key].source is spec):
        return _LOADED[key]
    if isinstance(spec, Mapping):
        raw: dict[str, Any] = json.loads(json.dumps(spec))  # a private deep copy the patches may change
    else:
        with Path(spec).open("rb") as fh:
            raw = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loaders
    if paths is not None:
        missing = [p for p in paths if p not in raw.get("paths", {})]
        if missing:
            raise AssertionError(f"not in the description: {', '.join(missing)}")
        raw["paths"] = {p: raw["paths"][p] for p in paths}
    for patch in patches:
        patch(raw)
    # vendors' descriptions are often not strictly valid OpenAPI; exchanges are still validated against them
    api = OpenAPI.from_dict(raw, config=Config(spec_validator_cls=None))
    # a literal path wins over a template (/tickets/bulk_update before /tickets/{id})
    ordered = sorted(raw.get("paths", {}), key=lambda t: t.count("{"))
    templates = [(_pattern(t), t) for t in ordered]
    loaded = _LOADED[key] = _Description(source=spec, raw=raw, api=api, templates=templates)
    return loaded


def _pattern(template: str) -> re.Pattern[str]:
    """A path template (`/tickets/{id}`) as a regex matching one concrete path."""
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


def _shape(value: Any) -> Any:
    """The structure of a JSON value (keys, types, nulls, short strings that may be enums), not ids or text."""
    if isinstance(value, dict):
        return ("object", tuple(sorted((k, _shape(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("array", tuple(sorted({_shape(v) for v in value}, key=repr)))
    if isinstance(value, str):
        return ("string", value if len(value) <= 24 and value.replace("_", "").replace(".", "").isalpha() else None)
    return (type(value).__name__,)


def _path_shape(template: str, path: str) -> tuple[Any, ...]:
    """The kinds of the path parameters' values (digits, or a string's shape), so `/items/abc` is checked even
    after `/items/42` passed."""
    return tuple(
        ("digits",) if value.isdigit() else _shape(value)
        for part, value in zip(template.split("/"), path.split("/"), strict=False)
        if "{" in part
    )


def _body_shape(content: bytes) -> Any:
    if not content:
        return None
    try:
        return _shape(json.loads(content))
    except ValueError:
        return ("bytes", content)


def _why(exc: BaseException) -> str:
    """An openapi-core error with the schema errors under it, not a dump of the whole value."""
    parts = [f"{type(exc).__name__}: {exc}"]
    cause: BaseException | None = exc.__cause__ or exc.__context__
    while cause is not None and len(parts) < 6:
        for err in list(getattr(cause, "schema_errors", None) or [])[:3]:
            where = "/".join(str(p) for p in getattr(err, "absolute_path", ()))
            parts.append(f"{where}: {str(err.message)[:200]}")
        cause = cause.__cause__ or cause.__context__
    return " <- ".join(parts)


class ContractTransport(httpx.AsyncBaseTransport):
    """Checks each exchange against an OpenAPI description, then answers with the inner transport's response."""

    def __init__(
        self,
        spec: Path | str | Mapping[str, Any],
        inner: httpx.AsyncBaseTransport | Handler | None = None,
        *,
        patches: Sequence[Patch] = (),
        undescribed: Mapping[tuple[str, str], Undescribed | frozenset[str] | set[str]] | None = None,
        paths: Sequence[str] | None = None,
        server: str | None = None,
        check_responses: bool = True,
    ) -> None:
        self.spec, self.patches, self.paths = spec, tuple(patches), tuple(paths) if paths is not None else None
        self.undescribed = {
            (method.upper(), template): item if isinstance(item, Undescribed) else Undescribed(query=frozenset(item))
            for (method, template), item in (undescribed or {}).items()
        }
        self.server = server
        self.check_responses = check_responses
        self.inner = (
            inner if isinstance(inner, httpx.AsyncBaseTransport) or inner is None else httpx.MockTransport(inner)
        )
        self.violations: list[str] = []
        self.checked = 0
        self.operations: set[tuple[str, str]] = set()
        self._paused = 0
        self._description: _Description | None = None

    @property
    def description(self) -> _Description:
        if self._description is None:
            self._description = _load(self.spec, self.patches, self.paths)
        return self._description

    def wrap(self, inner: httpx.AsyncBaseTransport | Handler) -> ContractTransport:
        """The same checks around another transport (or a fake), sharing the loaded description."""
        other = ContractTransport(
            self.spec,
            inner,
            patches=self.patches,
            undescribed=self.undescribed,
            paths=self.paths,
            server=self.server,
            check_responses=self.check_responses,
        )
        other._description = self._description
        return other

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No checks inside (tests that send invalid requests on purpose, to see the fake refuse them)."""
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1

    # -- checks --------------------------------------------------------------------------------------

    def template(self, method: str, path: str) -> str | None:
        """The described path template for a request, or None when the description does not have it."""
        for pattern, template in self.description.templates:
            if pattern.match(path) and method.lower() in self.description.raw["paths"][template]:
                return template
        for known_method, template in self.undescribed:
            if known_method == method.upper() and _pattern(template).match(path):
                return template
        return None

    def _declared_query(self, template: str, method: str) -> tuple[set[str], set[str]]:
        """Declared query parameter names, and the deepObject ones (sent as `name[key]`)."""
        raw = self.description.raw
        item = raw["paths"][template]
        names: set[str] = set()
        deep: set[str] = set()
        for param in [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]:
            while "$ref" in param:
                section, name = param["$ref"].split("/")[-2:]
                param = raw["components"][section][name]
            if param.get("in") == "query":
                names.add(param["name"])
                if param.get("style") == "deepObject":
                    deep.add(param["name"])
        return names, deep

    def request_errors(self, request: httpx.Request) -> list[str]:
        """Why the description rejects this request (empty when it conforms)."""
        where = f"{request.method} {request.url.path}"
        template = self.template(request.method, request.url.path)
        if template is None:
            return [f"{where}: not in the description"]
        self.operations.add((request.method, template))
        extra = self.undescribed.get((request.method, template))
        if extra is not None and template not in self.description.raw["paths"]:
            unknown = sorted(set(request.url.params) - extra.query)
            errors = [f"{where}: undeclared query parameter {n!r}" for n in unknown]
            return errors + [f"{where}: {e}" for e in (extra.check(request, None) if extra.check else ())]
        names, deep = self._declared_query(template, request.method)
        errors = [
            f"{where}: undeclared query parameter {n!r}"
            for n in sorted(set(request.url.params))
            if n not in names and n.split("[", 1)[0] not in deep
        ]
        key = (
            "request",
            request.method,
            template,
            _path_shape(template, request.url.path),
            tuple(sorted((k, _shape(v)) for k, v in request.url.params.multi_items())),
            request.headers.get("authorization", "").split(" ", 1)[0],
            _body_shape(request.content),
        )
        if not errors and key in self.description.seen:
            return []
        try:
            self.description.api.validate_request(OpenAPIRequest(request, server=self.server))
        except Exception as exc:  # openapi-core raises a family of errors; each is a violation
            errors.append(f"{where}: {_why(exc)}")
        if not errors:
            self.description.seen.add(key)
        return errors

    def response_errors(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        """Why the description rejects this response to this request (empty when it conforms)."""
        where = f"{request.method} {request.url.path} -> {response.status_code}"
        template = self.template(request.method, request.url.path)
        if template is None:
            return []
        extra = self.undescribed.get((request.method, template))
        if extra is not None and template not in self.description.raw["paths"]:
            return [f"{where}: {e}" for e in (extra.check(request, response) if extra.check else ())]
        documented = self.description.raw["paths"][template][request.method.lower()].get("responses") or {}
        status = str(response.status_code)
        if status not in documented and f"{status[0]}XX" not in documented and "default" not in documented:
            return [f"{where}: status not documented"] if response.is_success else []
        key = ("response", request.method, template, response.status_code, _body_shape(response.content))
        if key in self.description.seen:
            return []
        try:
            self.description.api.validate_response(
                OpenAPIRequest(request, server=self.server), OpenAPIResponse(response, media_type_only=True)
            )
        except Exception as exc:
            return [f"{where}: {_why(exc)}"]
        self.description.seen.add(key)
        return []

    def _fail(self, errors: list[str]) -> None:
        if errors:
            self.violations.extend(errors)
            raise AssertionError("contract: " + "; ".join(errors[:5]))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.inner is None:
            raise RuntimeError("ContractTransport has no inner transport: use wrap(fake_or_transport)")
        await request.aread()
        if not self._paused:
            self._fail(self.request_errors(request))
        response = await self.inner.handle_async_request(request)
        await response.aread()
        if not self._paused and self.check_responses:
            self._fail(self.response_errors(request, response))
        self.checked += 1
        return response

    async def aclose(self) -> None:
        if self.inner is not None:
            await self.inner.aclose()
