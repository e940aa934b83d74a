"""Shared fixtures: a seeded fake, an adapter on it, and the contract check every request goes through.

Every test in this directory (the conformance kit included) talks to `FakeZendesk` through
`ContractChecker`: each request the adapter sends (method, path, query, JSON body) is validated against
Zendesk's own OpenAPI description in specs/openapi.yaml, and so is each successful
response of the fake. A request the description does not know fails the test.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from humansupport_zendesk import FakeZendesk, ZendeskAdapter
from openapi_core import Config, OpenAPI
from pydantic import SecretStr

from humansupport.http import reset_limiters
from humansupport.testing import FakeClock, HistoryConfig, SyntheticHistory, generate_history
from humansupport.testing.openapi import OpenAPIRequest, OpenAPIResponse

HISTORY = HistoryConfig(customers=60, agents=8, groups=2)


def _spec_path() -> Path:
    """Zendesk's OpenAPI description, copied into the repository (origin, commit, sha256: specs/SOURCES.md)."""
    return Path(__file__).with_name("specs") / "openapi.yaml"


@cache
def openapi() -> OpenAPI:
    """The vendor's description, loaded once per test run (about a second)."""
    with _spec_path().open() as fh:
        data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    _keep_used_paths(data)
    _narrow_dual_pagination(data)
    _allow_id_in_batch_update(data)
    _add_oauth_bearer(data)
    # The description itself is not strictly valid OpenAPI 3.0 (e.g. `type: null` in one schema), so the
    # description is not validated; requests and responses still are.
    return OpenAPI.from_dict(data, config=Config(spec_validator_cls=None))


#: The description's paths the plugin uses. Only these are loaded (path lookup over all ~1,000 is most of the
#: check's cost); each must exist in the description, and a request to any other path fails as unknown.
USED_PATHS = (
    "/api/v2/incremental/tickets/cursor",
    "/api/v2/incremental/ticket_events",
    "/api/v2/incremental/users/cursor",
    "/api/v2/search/export",
    "/api/v2/tickets/{ticket_id}",
    "/api/v2/tickets/{ticket_id}/comments",
    "/api/v2/tickets/show_many",
    "/api/v2/tickets/update_many",
    "/api/v2/job_statuses/{job_status_id}",
    "/api/v2/users",
    "/api/v2/users/me",
    "/api/v2/users/search",
    "/api/v2/users/{user_id}",
    "/api/v2/users/{user_id}/tags",
    "/api/v2/groups",
    "/api/v2/group_memberships",
    "/api/v2/satisfaction_ratings",
    "/api/v2/user_fields",
    "/api/v2/macros",
)


def _keep_used_paths(data: dict[str, Any]) -> None:
    missing = [p for p in USED_PATHS if p not in data["paths"]]
    assert not missing, f"not in the vendor description: {missing}"
    data["paths"] = {p: data["paths"][p] for p in USED_PATHS}


def _narrow_dual_pagination(data: dict[str, Any]) -> None:
    """openapi-core cannot deserialize a deepObject `page` whose schema is `oneOf: [integer, object]`
    (Zendesk's DualPaginationPage). We only send the cursor form (`page[size]`, `page[after]`; offset paging is
    capped at 10,000 records), so the parameter is narrowed to its object branch, which is still validated.
    """
    for param in (data.get("components") or {}).get("parameters", {}).values():
        schema = param.get("schema") or {}
        if param.get("style") == "deepObject" and "oneOf" in schema:
            objects = [s for s in schema["oneOf"] if s.get("type") == "object"]
            if objects:
                param["schema"] = objects[0]


def _allow_id_in_batch_update(data: dict[str, Any]) -> None:
    """The batch form of update_many requires `id` in each item, but the item is `allOf: [TicketObject, ...]`
    and TicketObject marks `id` readOnly, so no batch request could ever validate. The batch item gets a copy
    of TicketObject whose `id` is writable; every other field is validated as described.
    """
    schemas = data["components"]["schemas"]
    item = schemas["TicketObject"]
    writable = copy.deepcopy(item)
    writable["properties"]["id"] = {k: v for k, v in writable["properties"]["id"].items() if k != "readOnly"}
    schemas["TicketObjectBatchItem"] = writable
    for branch in schemas["TicketsUpdateRequest"]["oneOf"]:
        tickets = (branch.get("properties") or {}).get("tickets")
        if tickets:
            for part in tickets["items"]["allOf"]:
                if part.get("$ref") == "#/components/schemas/TicketObject":
                    part["$ref"] = "#/components/schemas/TicketObjectBatchItem"


def _add_oauth_bearer(data: dict[str, Any]) -> None:
    """The description declares only basic auth; Zendesk also takes OAuth access tokens as
    `Authorization: Bearer` (developer.zendesk.com, "Creating and using OAuth tokens with the API")."""
    data["components"]["securitySchemes"]["bearerAuth"] = {"type": "http", "scheme": "bearer"}
    data["security"] = [*data.get("security", []), {"bearerAuth": []}]


class ContractViolation(AssertionError):
    """A request or fake response the vendor description does not allow."""


class ContractChecker:
    """A MockTransport handler: validates the request, asks the fake, validates a 2xx answer."""

    def __init__(self, fake: FakeZendesk) -> None:
        self.fake = fake
        self.checked = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        check_request(request)
        response = self.fake(request)
        if response.is_success:
            check_response(request, response)
        self.checked += 1
        return response


#: Endpoints the adapter uses that the Support API description does not contain, checked here by hand (method,
#: query, JSON shape) instead of by openapi-core: the Agent Availability API and the Webhooks API have their own
#: references (developer.zendesk.com/api-reference/agent-availability/, /api-reference/webhooks/webhooks-api/).
UNDESCRIBED: dict[tuple[str, str], set[str]] = {
    ("GET", "/api/v2/agent_availabilities"): {"page[size]", "page[after]"},
    ("GET", "/api/v2/webhooks"): {"page[size]", "page[after]", "filter[name_contains]"},
    ("POST", "/api/v2/webhooks"): set(),
    ("GET", "/api/v2/webhooks/{webhook_id}/signing_secret"): set(),
}
_WEBHOOK_ID = re.compile(r"^/api/v2/webhooks/[A-Za-z0-9]+/signing_secret$")
#: Webhooks API: the fields a create request must carry, and what each answer holds
_WEBHOOK_REQUIRED = ("name", "endpoint", "http_method", "request_format", "status")


def undescribed_template(path: str) -> str:
    return "/api/v2/webhooks/{webhook_id}/signing_secret" if _WEBHOOK_ID.match(path) else path


def _undescribed(request: httpx.Request) -> bool:
    key = (request.method, undescribed_template(request.url.path))
    allowed = UNDESCRIBED.get(key)
    if allowed is None:
        return False
    unknown = set(request.url.params) - allowed
    if unknown or not request.headers.get("authorization"):
        raise ContractViolation(f"{request.method} {request.url.path}: unknown query {sorted(unknown)} or no auth")
    if key == ("POST", "/api/v2/webhooks"):
        hook = json.loads(request.content or b"null")
        hook = hook.get("webhook") if isinstance(hook, dict) else None
        missing = [k for k in _WEBHOOK_REQUIRED if not isinstance((hook or {}).get(k), str)]
        subs = (hook or {}).get("subscriptions", [])
        if (
            missing
            or not isinstance(subs, list)
            or hook.get("http_method") != "POST"
            or hook.get("request_format") != "json"
        ):
            raise ContractViolation(
                f"POST /api/v2/webhooks: missing {missing}, or not POST+json for event subscriptions"
            )
        if any(not (isinstance(x, str) and x.startswith("zen:event-type:")) for x in subs):
            raise ContractViolation(f"POST /api/v2/webhooks: not Zendesk event types: {subs}")
    return True


def _check_webhook_api(request: httpx.Request, response: httpx.Response) -> None:
    body = response.json()
    path = undescribed_template(request.url.path)
    if path.endswith("/signing_secret"):
        secret = body.get("signing_secret") if isinstance(body, dict) else None
        ok = isinstance(secret, dict) and isinstance(secret.get("secret"), str) and secret.get("algorithm") == "SHA256"
    else:
        hooks = [body.get("webhook")] if request.method == "POST" else body.get("webhooks")
        ok = isinstance(hooks, list) and all(
            isinstance(h, dict) and isinstance(h.get("id"), str) and all(k in h for k in _WEBHOOK_REQUIRED)
            for h in hooks
        )
        if request.method == "GET":
            ok = ok and isinstance(body.get("meta", {}).get("has_more"), bool)
    if not ok:
        raise ContractViolation(f"response to {request.method} {request.url.path} is not the documented shape")


def _check_json_api(request: httpx.Request, response: httpx.Response) -> None:
    if request.url.path.startswith("/api/v2/webhooks"):
        _check_webhook_api(request, response)
        return
    body = response.json()
    data = body.get("data")
    ok = isinstance(data, list) and isinstance(body.get("included", []), list)
    for item in data if isinstance(data, list) else []:
        ok = ok and item.get("type") == "agent_availabilities" and isinstance(item.get("id"), str)
        ok = ok and isinstance((item.get("attributes") or {}).get("agent_id"), int)
    if not ok or not isinstance(body.get("meta", {}).get("has_more"), bool):
        raise ContractViolation(f"response to {request.method} {request.url.path} is not the documented JSON:API shape")


def check_request(request: httpx.Request) -> None:
    if _undescribed(request):
        return
    try:
        openapi().validate_request(OpenAPIRequest(request))
    except Exception as exc:
        raise ContractViolation(f"{request.method} {request.url.path}: {_describe(exc)}") from None


def check_response(request: httpx.Request, response: httpx.Response) -> None:
    if (request.method, undescribed_template(request.url.path)) in UNDESCRIBED:
        _check_json_api(request, response)
        return
    try:
        openapi().validate_response(OpenAPIRequest(request), OpenAPIResponse(response))
    except Exception as exc:
        raise ContractViolation(f"response to {request.method} {request.url.path}: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    parts = [f"{type(exc).__name__}: {exc}"]
    cause: Any = exc.__cause__ or exc.__context__
    while cause is not None and len(parts) < 4:
        errors = getattr(cause, "schema_errors", None)
        parts.append(f"{type(cause).__name__}: {cause}")
        if errors:
            parts.extend(str(e.message)[:300] for e in list(errors)[:3])
        cause = cause.__cause__ or cause.__context__
    return " <- ".join(parts)


@pytest.fixture(autouse=True)
def _contract_checked_fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every FakeZendesk transport in these tests validates against the vendor description."""
    monkeypatch.setattr(FakeZendesk, "transport", lambda self: httpx.MockTransport(ContractChecker(self)))
    reset_limiters()
    yield
    reset_limiters()


@pytest.fixture(scope="session")
def history() -> SyntheticHistory:
    return generate_history(HISTORY)


@pytest.fixture
def clock(history: SyntheticHistory) -> FakeClock:
    return FakeClock(start=history.config.end + timedelta(hours=1))


@pytest.fixture
def fake(clock: FakeClock, history: SyntheticHistory) -> FakeZendesk:
    fake = FakeZendesk(clock=clock, history=history)
    fake.export_limit_per_minute = 10
    return fake


def make_adapter(fake: FakeZendesk, clock: FakeClock, **overrides: Any) -> ZendeskAdapter:
    options: dict[str, Any] = {
        "subdomain": FakeZendesk.subdomain,
        "email": FakeZendesk.email,
        "api_token": SecretStr(FakeZendesk.token),
    }
    options.update(overrides)
    return ZendeskAdapter(**options, transport=fake.transport(), clock=clock)


@pytest.fixture
async def adapter(fake: FakeZendesk, clock: FakeClock) -> AsyncIterator[ZendeskAdapter]:
    async with make_adapter(fake, clock) as built:
        yield built
