"""`ContractTransport`: every request and response checked against an OpenAPI description."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from humansupport.testing import ContractTransport, Undescribed

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1"},
    "servers": [{"url": "https://api.test"}],
    "paths": {
        "/items": {
            "get": {
                "parameters": [
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "page",
                        "in": "query",
                        "style": "deepObject",
                        "explode": True,
                        "schema": {"type": "object"},
                    },
                    {"$ref": "#/components/parameters/limit"},
                ],
                "responses": {
                    "200": {
                        "description": "items",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["data"],
                                    "properties": {"data": {"type": "array", "items": {"type": "integer"}}},
                                }
                            }
                        },
                    }
                },
            },
            "post": {
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["name"],
                                "additionalProperties": False,
                                "properties": {"name": {"type": "string"}},
                            }
                        }
                    }
                },
                "responses": {"201": {"description": "made"}},
            },
        },
        "/items/{id}": {
            "get": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "one"}},
            }
        },
        "/items/bulk": {"get": {"responses": {"200": {"description": "literal path wins"}}}},
    },
    "components": {"parameters": {"limit": {"name": "limit", "in": "query", "schema": {"type": "integer"}}}},
}


def vendor(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/items" and request.method == "GET":
        bad = request.url.params.get("cursor") == "bad"
        return httpx.Response(200, json={"data": ["x"] if bad else [1, 2]})
    if request.url.path == "/items" and request.method == "POST":
        return httpx.Response(201 if json.loads(request.content).get("name") != "accepted?" else 202)
    if request.url.path.startswith("/hooks"):
        return httpx.Response(200, json={"id": "h1"})
    return httpx.Response(200)


def client(transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, base_url="https://api.test")


async def test_a_conforming_exchange_passes_and_is_counted() -> None:
    contract = ContractTransport(SPEC, vendor)
    async with client(contract) as http:
        assert (await http.get("/items", params={"cursor": "a", "limit": 5, "page[size]": 10})).json() == {
            "data": [1, 2]
        }
        await http.post("/items", json={"name": "n"})
        await http.get("/items/bulk")
        await http.get("/items/42")
    assert contract.checked == 4 and not contract.violations
    assert contract.operations == {
        ("GET", "/items"),
        ("POST", "/items"),
        ("GET", "/items/bulk"),
        ("GET", "/items/{id}"),
    }


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "reason"),
    [
        ("GET", "/nowhere", {}, "GET /nowhere: not in the description"),
        ("DELETE", "/items", {}, "DELETE /items: not in the description"),
        ("GET", "/items", {"params": {"sort": "x"}}, "undeclared query parameter 'sort'"),
        ("GET", "/items", {"params": {"limit": "many"}}, "GET /items: "),
        ("POST", "/items", {"json": {"name": 3}}, "InvalidRequestBody"),
        ("POST", "/items", {"json": {"name": "n", "extra": 1}}, "InvalidRequestBody"),
        ("GET", "/items", {"params": {"cursor": "bad"}}, "GET /items -> 200: "),  # the response breaks the schema
        ("POST", "/items", {"json": {"name": "accepted?"}}, "POST /items -> 202: status not documented"),
    ],
)
async def test_a_violation_raises_at_once_and_is_kept(method: str, path: str, kwargs: Any, reason: str) -> None:
    contract = ContractTransport(SPEC, vendor)
    async with client(contract) as http:
        with pytest.raises(AssertionError, match="contract: ") as info:
            await http.request(method, path, **kwargs)
    assert reason in str(info.value) and any(reason in v for v in contract.violations)


async def test_a_bad_path_parameter_is_caught_after_a_good_one_passed() -> None:
    contract = ContractTransport(SPEC, vendor)
    async with client(contract) as http:
        await http.get("/items/42")
        await http.get("/items/43")  # the same shape: checked once
        with pytest.raises(AssertionError, match="GET /items/abc"):
            await http.get("/items/abc")


async def test_undescribed_endpoints_take_their_declared_query_and_checks() -> None:
    def hook_check(request: httpx.Request, response: httpx.Response | None) -> list[str]:
        if response is None:
            return [] if request.headers.get("x-auth") else ["no x-auth header"]
        return [] if "id" in response.json() else ["no id in the answer"]

    contract = ContractTransport(
        SPEC, vendor, undescribed={("GET", "/hooks/{id}"): Undescribed(query=frozenset({"full"}), check=hook_check)}
    )
    async with client(contract) as http:
        await http.get("/hooks/1", params={"full": "1"}, headers={"x-auth": "y"})
        with pytest.raises(AssertionError, match="undeclared query parameter 'brief'"):
            await http.get("/hooks/1", params={"brief": "1"}, headers={"x-auth": "y"})
        with pytest.raises(AssertionError, match="no x-auth header"):
            await http.get("/hooks/1")


async def test_patches_fix_the_description_before_it_is_used_and_paths_narrow_it() -> None:
    def allow_sort(raw: dict[str, Any]) -> None:
        raw["paths"]["/items"]["get"]["parameters"].append(
            {"name": "sort", "in": "query", "schema": {"type": "string"}}
        )

    contract = ContractTransport(SPEC, vendor, patches=[allow_sort], paths=["/items"])
    async with client(contract) as http:
        await http.get("/items", params={"sort": "x"})
        with pytest.raises(AssertionError, match="not in the description"):
            await http.get("/items/42")
    assert "sort" not in str(SPEC)  # the caller's description is not changed
    with pytest.raises(AssertionError, match="not in the description: /gone"):
        ContractTransport(SPEC, vendor, paths=["/gone"]).description  # noqa: B018 - loading is the check


async def test_paused_and_wrap() -> None:
    contract = ContractTransport(SPEC)
    wrapped = contract.wrap(vendor)
    async with client(wrapped) as http:
        with wrapped.paused():
            await http.get("/nowhere")  # tests that send invalid requests on purpose
        with pytest.raises(AssertionError):
            await http.get("/nowhere")
    assert contract.wrap(vendor).description is wrapped.description  # loaded once, shared
    with pytest.raises(RuntimeError, match="no inner transport"):
        async with client(contract) as http:
            await http.get("/items")
