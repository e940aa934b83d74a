"""Shared fixtures: a seeded fake, an adapter on it, and the contract check every request goes through.

Every test in this directory (the conformance kit included) talks to `FakeZendesk` through the kit's
`ContractTransport` (`CONTRACT` below): each request the adapter sends (method, path, query, JSON body) is
validated against Zendesk's own OpenAPI description in specs/openapi.yaml, and so is each successful response of
the fake. A request the description does not know fails the test.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from humansupport_zendesk import FakeZendesk, ZendeskAdapter
from pydantic import SecretStr

from humansupport.http import reset_limiters
from humansupport.testing import (
    ContractTransport,
    FakeClock,
    HistoryConfig,
    SyntheticHistory,
    Undescribed,
    generate_history,
)
from humansupport.testing.openapi import OpenAPIRequest, OpenAPIResponse

HISTORY = HistoryConfig(customers=60, agents=8, groups=2)


def _spec_path() -> Path:
    """Zendesk's OpenAPI description, copied into the repository (origin, commit, sha256: specs/SOURCES.md)."""
    return Path(__file__).with_name("specs") / "openapi.yaml"


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


def _declare_documented_params(data: dict[str, Any]) -> None:
    """Query parameters Zendesk's reference documents that its description leaves out: the cursor ticket export's
    `per_page` (up to 1,000) and `exclude_deleted`, and the satisfaction ratings' `start_time`/`end_time`/`score`
    filters. Each is added with its documented type, so it is still validated."""
    added = {
        "/api/v2/incremental/tickets/cursor": {"per_page": "integer", "exclude_deleted": "boolean"},
        "/api/v2/satisfaction_ratings": {"start_time": "integer", "end_time": "integer", "score": "string"},
    }
    for path, params in added.items():
        if path in data["paths"]:
            declared = data["paths"][path]["get"].setdefault("parameters", [])
            declared += [{"name": n, "in": "query", "schema": {"type": t}} for n, t in params.items()]


#: Endpoints the adapter uses that the Support API description does not contain, checked here by hand (method,
#: query, JSON shape): the Agent Availability API and the Webhooks API have their own references
#: (developer.zendesk.com/api-reference/agent-availability/, /api-reference/webhooks/webhooks-api/).
_WEBHOOK_REQUIRED = ("name", "endpoint", "http_method", "request_format", "status")


def _authorized(request: httpx.Request) -> list[str]:
    return [] if request.headers.get("authorization") else ["no credentials"]


def _check_webhook_create(request: httpx.Request, response: httpx.Response | None) -> list[str]:
    if response is not None:
        hook = response.json().get("webhook") if response.is_success else {}
        return [] if _is_webhook(hook) or not response.is_success else ["the answer is not the documented webhook"]
    problems = _authorized(request)
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
        problems.append(f"missing {missing}, or not POST+json for event subscriptions")
    elif any(not (isinstance(x, str) and x.startswith("zen:event-type:")) for x in subs):
        problems.append(f"not Zendesk event types: {subs}")
    return problems


def _check_webhook_list(request: httpx.Request, response: httpx.Response | None) -> list[str]:
    if response is None:
        return _authorized(request)
    if not response.is_success:
        return []
    body = response.json()
    hooks = body.get("webhooks")
    ok = isinstance(hooks, list) and all(_is_webhook(h) for h in hooks)
    return [] if ok and isinstance(body.get("meta", {}).get("has_more"), bool) else ["not the documented listing"]


def _check_signing_secret(request: httpx.Request, response: httpx.Response | None) -> list[str]:
    if response is None:
        return _authorized(request)
    if not response.is_success:
        return []
    secret = response.json().get("signing_secret")
    ok = isinstance(secret, dict) and isinstance(secret.get("secret"), str) and secret.get("algorithm") == "SHA256"
    return [] if ok else ["not the documented signing secret"]


def _check_availabilities(request: httpx.Request, response: httpx.Response | None) -> list[str]:
    if response is None:
        return _authorized(request)
    if not response.is_success:
        return []
    body = response.json()
    data = body.get("data")
    ok = isinstance(data, list) and isinstance(body.get("included", []), list)
    for item in data if isinstance(data, list) else []:
        ok = ok and item.get("type") == "agent_availabilities" and isinstance(item.get("id"), str)
        ok = ok and isinstance((item.get("attributes") or {}).get("agent_id"), int)
    return [] if ok and isinstance(body.get("meta", {}).get("has_more"), bool) else ["not the documented JSON:API"]


def _is_webhook(hook: Any) -> bool:
    return isinstance(hook, dict) and isinstance(hook.get("id"), str) and all(k in hook for k in _WEBHOOK_REQUIRED)


UNDESCRIBED: dict[tuple[str, str], Undescribed] = {
    ("GET", "/api/v2/agent_availabilities"): Undescribed(
        query=frozenset({"page[size]", "page[after]"}), check=_check_availabilities
    ),
    ("GET", "/api/v2/webhooks"): Undescribed(
        query=frozenset({"page[size]", "page[after]", "filter[name_contains]"}), check=_check_webhook_list
    ),
    ("POST", "/api/v2/webhooks"): Undescribed(check=_check_webhook_create),
    ("GET", "/api/v2/webhooks/{webhook_id}/signing_secret"): Undescribed(check=_check_signing_secret),
}

#: every exchange of these tests is checked by this, against Zendesk's own description (loaded once per run)
CONTRACT = ContractTransport(
    _spec_path(),
    patches=[_narrow_dual_pagination, _allow_id_in_batch_update, _add_oauth_bearer, _declare_documented_params],
    undescribed=UNDESCRIBED,
    paths=USED_PATHS,
)


class ContractViolation(AssertionError):
    """A request or fake response the vendor description does not allow."""


def _described(request: httpx.Request) -> bool:
    template = CONTRACT.template(request.method, request.url.path)
    return template is not None and template in CONTRACT.description.raw["paths"]


def check_request(request: httpx.Request) -> None:
    """One request, validated in full: `CONTRACT` validates an exchange of a shape it has seen once only (a
    `page[size]=0` after a `page[size]=100`), so an explicit check also asks openapi-core every time."""
    errors = CONTRACT.request_errors(request)
    if not errors and _described(request):
        try:
            CONTRACT.description.api.validate_request(OpenAPIRequest(request))
        except Exception as exc:  # openapi-core raises a family of errors; each is a violation
            errors.append(f"{request.method} {request.url.path}: {type(exc).__name__}: {exc}")
    if errors:
        raise ContractViolation("; ".join(errors))


def check_response(request: httpx.Request, response: httpx.Response) -> None:
    """One answer, validated in full (as `check_request`)."""
    errors = CONTRACT.response_errors(request, response)
    if not errors and _described(request) and response.is_success:
        try:
            CONTRACT.description.api.validate_response(
                OpenAPIRequest(request), OpenAPIResponse(response, media_type_only=True)
            )
        except Exception as exc:
            errors.append(f"response to {request.method} {request.url.path}: {type(exc).__name__}: {exc}")
    if errors:
        raise ContractViolation("; ".join(errors))


@pytest.fixture(autouse=True)
def _contract_checked_fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every FakeZendesk transport in these tests validates against the vendor description."""
    monkeypatch.setattr(FakeZendesk, "transport", lambda self: CONTRACT.wrap(self))
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
