"""Shared fixtures; every exchange with `FakeIntercom` in this test session is checked against Intercom's OAS.

Contract: each request the plugin sends must be one the official description knows (path, method,
parameters, body schema) for the `Intercom-Version` it sends, and each answer of the fake must match the
documented response schema (errors must be Intercom's `error.list`). The parsed descriptions are cached
for the session; a violation fails the test that caused it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import pytest
import yaml
from humansupport_intercom import FakeIntercom, IntercomAdapter
from openapi_core import Config, OpenAPI
from openapi_core.exceptions import OpenAPIError
from pydantic import SecretStr

from humansupport.testing import FakeClock, HistoryConfig, SyntheticHistory, generate_history
from humansupport.testing.openapi import OpenAPIRequest, OpenAPIResponse

# like the core tests: never load whatever plugins happen to be installed unless a test registers them
os.environ.setdefault("HUMANSUPPORT_PLUGINS", "")


#: Intercom's OpenAPI descriptions, copied into the repository (origin, commit and sha256 in specs/SOURCES.md)
SPECS = Path(__file__).with_name("specs")
SPEC_FILES = {"2.14": SPECS / "api.intercom.io.2.14.yaml", "2.16": SPECS / "api.intercom.io.yaml"}
SERVER = "https://api.intercom.io"


@functools.cache
def description(version: str) -> tuple[OpenAPI, dict[str, Any]]:
    """The parsed OAS for an Intercom-Version (loaded once per session; ~1 s each)."""
    path = SPEC_FILES[version]
    with path.open("rb") as fh:
        # the C safe loader when built (several times faster on these 1 MB files), else the pure-Python one
        raw = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loaders
    assert str(raw["info"]["version"]) == version, f"{path.name} describes {raw['info']['version']}, not {version}"
    _macro_bodies_may_be_null(raw)
    _contact_ids_are_not_uuids(raw)
    # the official file does not pass openapi-spec-validator (unresolved path parameters in reporting
    # export endpoints we never call), so skip validating the description itself
    return OpenAPI.from_dict(raw, config=Config(spec_validator_cls=None)), raw


def _macro_bodies_may_be_null(raw: dict[str, Any]) -> None:
    """Known defect (2.16): `GET /macros` documents, in its own `large_list_preview` example, that long listings
    send `body: null` and `body_text: null` ("body rendering may be skipped for performance"), but the `macro`
    schema types both as plain strings. Only those two properties are made nullable; the rest is as published.
    """
    macro = (raw.get("components") or {}).get("schemas", {}).get("macro")
    if macro is not None:
        for name in ("body", "body_text"):
            macro["properties"][name] = {**macro["properties"][name], "nullable": True}


def _contact_ids_are_not_uuids(raw: dict[str, Any]) -> None:
    """Known defect: `create_conversation_request.from.id` says `format: uuid`, yet its own example
    (`536e564f316c83104c000020`) and every real contact id are 24 hex digits, not UUIDs. The length rule stays.
    """
    schema = (raw.get("components") or {}).get("schemas", {}).get("create_conversation_request")
    if schema is not None:
        sender = schema["properties"]["from"]["properties"]["id"]
        sender.pop("format", None)


class ContractChecker:
    """Validates exchanges; `paused()` for tests that send invalid requests on purpose (fake validation)."""

    def __init__(self) -> None:
        self.requests_checked = 0
        self.responses_checked = 0
        self.operations: set[tuple[str, str, str]] = set()
        self._paused = 0
        self._shapes: set[Any] = set()

    description = staticmethod(description)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1

    def _documented_statuses(self, raw: dict[str, Any], request: httpx.Request) -> set[str]:
        item = raw["paths"].get(_template(raw, request.url.path)) or {}
        operation = item.get(request.method.lower()) or {}
        return set(operation.get("responses") or {})

    def __call__(self, request: httpx.Request, response: httpx.Response) -> None:
        if self._paused:
            return
        version = request.headers.get("intercom-version")
        assert version in SPEC_FILES, f"no OpenAPI description for Intercom-Version {version!r}"
        api, raw = description(version)
        wrapped = OpenAPIRequest(request, server=SERVER)
        where = f"{request.method} {request.url.path}"
        _explain(where, lambda: api.validate_request(wrapped))
        self.requests_checked += 1
        self.operations.add((version, request.method, _template(raw, request.url.path)))
        if str(response.status_code) in self._documented_statuses(raw, request):
            key = (version, request.method, _template(raw, request.url.path), response.status_code)
            shape = (key, _shape(json.loads(response.content)) if response.content else None)
            if shape in self._shapes:
                return  # this exact structure was validated already (see _shape)
            self._shapes.add(shape)
            checked = OpenAPIResponse(response)
            _explain(f"{where} -> {response.status_code}", lambda: api.validate_response(wrapped, checked))
            self.responses_checked += 1
        elif response.status_code >= 400:
            body = json.loads(response.content)
            assert body.get("type") == "error.list", body
            assert body["errors"] and all(isinstance(e.get("code"), str) for e in body["errors"]), body
            self.responses_checked += 1
        else:
            raise AssertionError(f"{request.method} {request.url.path} -> {response.status_code} is undocumented")


def _explain(where: str, validate: Callable[[], None]) -> None:
    """Runs a validation; on failure says which fields broke the description, not a 5 kB value dump."""
    try:
        validate()
    except OpenAPIError as exc:
        details = []
        current: BaseException | None = exc
        while current is not None:
            for err in getattr(current, "schema_errors", ()) or ():
                details.append(f"{'/'.join(str(p) for p in err.absolute_path)}: {err.message[:200]}")
                details.extend(f"  {'/'.join(str(p) for p in c.absolute_path)}: {c.message[:200]}" for c in err.context)
            current = current.__cause__
        raise AssertionError(
            f"{where} breaks the Intercom description: {type(exc).__name__}\n" + "\n".join(details)
        ) from None


#: keys whose string values the description constrains (enums); other strings are free text or ids
_ENUM_KEYS = frozenset({"type", "state", "priority", "part_type", "delivered_as", "role", "data_type", "model", "code"})


def _shape(value: Any, key: str | None = None) -> Any:
    """The structure of a JSON value: keys, types, nulls and enum-like values, not ids or text.

    Validating a 150-conversation page costs ~50 ms in openapi-core; answers of the same structure pass or
    fail alike, so each structure is validated once per session and repeats are skipped.
    """
    if isinstance(value, dict):
        return ("object", tuple(sorted((k, _shape(v, k)) for k, v in value.items())))
    if isinstance(value, list):
        return ("array", tuple(sorted({_shape(v) for v in value}, key=repr)))
    if isinstance(value, str):
        return ("string", value if key in _ENUM_KEYS else None)
    return (type(value).__name__,)


def _matches(template: str, path: str) -> bool:
    want, got = template.strip("/").split("/"), path.strip("/").split("/")
    return len(want) == len(got) and all(w.startswith("{") or w == g for w, g in zip(want, got, strict=True))


def _template(raw: dict[str, Any], path: str) -> str:
    # a literal path wins over a template (/contacts/search before /contacts/{id})
    matches = sorted((t for t in raw["paths"] if _matches(t, path)), key=lambda t: t.count("{"))
    return matches[0] if matches else path


_CHECKER = ContractChecker()


@pytest.fixture(autouse=True, scope="session")
def _contract_checks() -> Iterator[ContractChecker]:
    FakeIntercom.observers.append(_CHECKER)
    try:
        yield _CHECKER
    finally:
        FakeIntercom.observers.remove(_CHECKER)


@pytest.fixture
def contract() -> ContractChecker:
    """The session's contract checker (to pause it, or to see what it checked)."""
    return _CHECKER


# -- a fake and an adapter on one fake clock ----------------------------------------------------------

T = TypeVar("T")
Scenario = Callable[[FakeIntercom, IntercomAdapter, FakeClock], Coroutine[Any, Any, T]]
Handler = Callable[[httpx.Request], httpx.Response]


@functools.cache
def small_history() -> SyntheticHistory:
    """A small deterministic history (40 customers, 6 agents, 2 teams) shared by the vendor tests."""
    return generate_history(HistoryConfig(customers=40, agents=6, groups=2))


class Runner(Protocol):
    def __call__(
        self,
        scenario: Scenario[T],
        *,
        history: SyntheticHistory | None = ...,
        rate_limit_per_minute: int | None = ...,
        wrap: Callable[[FakeIntercom], Handler] | None = ...,
        **adapter_kw: Any,
    ) -> T: ...


@pytest.fixture
def run_intercom() -> Runner:
    """Runs an async scenario against a fresh FakeIntercom and IntercomAdapter sharing a FakeClock.

    `wrap(fake)` may return a handler around the fake (to corrupt or lose answers on the way back).
    """

    def run(
        scenario: Scenario[T],
        *,
        history: SyntheticHistory | None = None,
        rate_limit_per_minute: int | None = None,
        wrap: Callable[[FakeIntercom], Handler] | None = None,
        **adapter_kw: Any,
    ) -> T:
        hist = history or small_history()
        clock = FakeClock(start=hist.config.end + timedelta(hours=1))
        fake = FakeIntercom(clock=clock, history=hist, rate_limit_per_minute=rate_limit_per_minute)
        transport = httpx.MockTransport(wrap(fake) if wrap is not None else fake)
        adapter = IntercomAdapter(
            access_token=SecretStr(FakeIntercom.token), transport=transport, clock=clock, **adapter_kw
        )

        async def go() -> T:
            async with adapter:
                return await scenario(fake, adapter, clock)

        return asyncio.run(go())

    return run
