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
from humansupport_intercom import FakeIntercom, IntercomAdapter
from pydantic import SecretStr

from humansupport.testing import ContractTransport, FakeClock, HistoryConfig, SyntheticHistory, generate_history

# like the core tests: never load whatever plugins happen to be installed unless a test registers them
os.environ.setdefault("HUMANSUPPORT_PLUGINS", "")


#: Intercom's OpenAPI descriptions, copied into the repository (origin, commit and sha256 in specs/SOURCES.md)
SPECS = Path(__file__).with_name("specs")
SPEC_FILES = {"2.14": SPECS / "api.intercom.io.2.14.yaml", "2.16": SPECS / "api.intercom.io.yaml"}
SERVER = "https://api.intercom.io"


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


#: query parameters Intercom takes that the descriptions leave out of the operation (documented on the
#: pagination page, and declared by Intercom's own generated client, python-intercom 5.x)
_PAGING_LEFT_OUT: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("get", "/contacts"): (("per_page", "integer"), ("starting_after", "string")),
    ("get", "/contacts/{contact_id}/notes"): (("page", "integer"), ("per_page", "integer")),
}


def _paging_params_left_out(raw: dict[str, Any]) -> None:
    """Known gap: `GET /contacts` declares no paging parameters and `GET /contacts/{id}/notes` no page ones,
    yet both page (cursor and page number). They are declared here, as optional query parameters."""
    for (method, path), params in _PAGING_LEFT_OUT.items():
        operation = raw["paths"][path][method]
        declared = {p.get("name") for p in operation.get("parameters", [])}
        for name, kind in params:
            if name not in declared:
                operation.setdefault("parameters", []).append(
                    {"name": name, "in": "query", "required": False, "schema": {"type": kind}}
                )


#: the toolkit's checker per `Intercom-Version` (each description loads once per session, on first use)
CONTRACTS: dict[str, ContractTransport] = {
    version: ContractTransport(
        path, patches=[_macro_bodies_may_be_null, _contact_ids_are_not_uuids, _paging_params_left_out], server=SERVER
    )
    for version, path in SPEC_FILES.items()
}


class ContractChecker:
    """Validates exchanges through `humansupport.testing.ContractTransport`, by the `Intercom-Version` sent.

    It watches the fake (`FakeIntercom.observers`) rather than wrapping a transport, so every exchange of the
    session is checked: adapters on `fake.transport()`, and peer clients talking to a fake served over HTTP.
    Intercom's own rule on top: an error status the description leaves out still answers `error.list`.
    `paused()` for tests that send invalid requests on purpose (fake validation).
    """

    def __init__(self) -> None:
        self.requests_checked = 0
        self.responses_checked = 0
        self.operations: set[tuple[str, str, str]] = set()
        self._paused = 0

    @staticmethod
    def description(version: str) -> tuple[Any, dict[str, Any]]:
        """The parsed OAS for an Intercom-Version (with this plugin's patches) and its raw dict."""
        loaded = CONTRACTS[version].description
        return loaded.api, loaded.raw

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1

    def __call__(self, request: httpx.Request, response: httpx.Response) -> None:
        if self._paused:
            return
        version = request.headers.get("intercom-version")
        assert version in CONTRACTS, f"no OpenAPI description for Intercom-Version {version!r}"
        contract = CONTRACTS[version]
        _fail(contract.request_errors(request))
        self.requests_checked += 1
        template = contract.template(request.method, request.url.path) or request.url.path
        self.operations.add((version, request.method, template))
        _fail(contract.response_errors(request, response))
        documented = contract.description.raw["paths"][template][request.method.lower()].get("responses") or {}
        if response.status_code >= 400 and str(response.status_code) not in documented:
            body = json.loads(response.content)
            assert body.get("type") == "error.list", body
            assert body["errors"] and all(isinstance(e.get("code"), str) for e in body["errors"]), body
        self.responses_checked += 1


def _fail(errors: list[str]) -> None:
    if errors:
        raise AssertionError("breaks the Intercom description: " + "; ".join(errors[:5]))


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
