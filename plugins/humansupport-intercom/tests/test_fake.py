"""The fake answers bad requests the way Intercom does (the contract checker is paused: these are invalid)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from humansupport_intercom import FakeIntercom

from humansupport.testing import FakeClock, HistoryConfig, generate_history

BASE = "https://api.intercom.io"


@functools.cache
def _history() -> Any:
    return generate_history(HistoryConfig(customers=20, agents=4, groups=2))


@pytest.fixture
def fake(contract: Any) -> Iterator[FakeIntercom]:
    with contract.paused():
        yield FakeIntercom(clock=FakeClock(start=datetime(2026, 11, 2, tzinfo=UTC)), history=_history())


def call(fake: FakeIntercom, method: str, path: str, body: Any = None, **headers: str) -> httpx.Response:
    sent = {"Authorization": f"Bearer {FakeIntercom.token}", "Intercom-Version": "2.14", **headers}
    kwargs: dict[str, Any] = {"json": body} if body is not None else {}
    return fake(httpx.Request(method, f"{BASE}{path}", headers=sent, **kwargs))


def error(response: httpx.Response) -> tuple[int, str, str | None]:
    body = response.json()
    assert body["type"] == "error.list" and body["request_id"]
    first = body["errors"][0]
    return response.status_code, first["code"], first.get("field")


def _filters(n: int) -> dict[str, Any]:
    return {"operator": "AND", "value": [{"field": "updated_at", "operator": ">", "value": i} for i in range(n)]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "query"),
        ({"query": "state=open"}, "query"),
        ({"query": _filters(16)}, "query"),
        ({"query": {"operator": "AND", "value": [{"operator": "OR", "value": [_filters(1)]}]}}, "query"),
        ({"query": {"field": "mood", "operator": "=", "value": "happy"}}, "mood"),
        ({"query": {"field": "state", "operator": "IN", "value": "open"}}, "state"),
        ({"query": _filters(1), "pagination": {"per_page": 151}}, "per_page"),
        ({"query": _filters(1), "pagination": {"starting_after": "not-a-cursor"}}, "starting_after"),
        ({"query": _filters(1), "pagination": "all"}, "pagination"),
    ],
)
def test_bad_conversation_searches_are_400(fake: FakeIntercom, body: Any, field: str) -> None:
    assert error(call(fake, "POST", "/conversations/search", body)) == (400, "parameter_invalid", field)


def test_search_with_15_filters_and_two_levels_is_fine(fake: FakeIntercom) -> None:
    nested = {"operator": "AND", "value": [_filters(15), {"operator": "OR", "value": [_filters(1)["value"][0]]}]}
    assert call(fake, "POST", "/conversations/search", {"query": nested}).status_code == 200


@pytest.mark.parametrize("operator", [">=", "<=", "!=", "IN", "NIN"])
def test_contact_date_search_rejects_what_intercom_rejects(fake: FakeIntercom, operator: str) -> None:
    value: Any = [1] if operator in ("IN", "NIN") else 1
    query = {"query": {"field": "updated_at", "operator": operator, "value": value}}
    assert error(call(fake, "POST", "/contacts/search", query))[:2] == (400, "parameter_invalid")


def test_contact_date_search_matches_by_day(fake: FakeIntercom) -> None:
    customer = fake.customers[sorted(fake.customers)[0]]
    assert customer.updated_at is not None
    same_day_earlier = int(customer.updated_at.replace(hour=0, minute=0, second=1).timestamp())
    query = {"query": {"field": "updated_at", "operator": ">", "value": same_day_earlier}}
    ids = {c["id"] for c in call(fake, "POST", "/contacts/search", query).json()["data"]}
    assert customer.id not in ids, "'>' starts at the next day, so the same day is excluded"
    query["query"]["operator"] = "="
    assert customer.id in {c["id"] for c in call(fake, "POST", "/contacts/search", query).json()["data"]}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"message_type": "assign"}, (400, "parameter_invalid", "message_type")),
        (
            {"message_type": "assignment", "type": "admin", "admin_id": 2002, "assignee_id": "2002"},
            (400, "parameter_invalid", "admin_id"),
        ),
        (
            {"message_type": "assignment", "type": "admin", "admin_id": "101", "assignee_id": "2002"},
            (404, "admin_not_found", "admin_id"),
        ),  # a team id where the acting admin goes (intercom-ruby #433)
        (
            {"message_type": "assignment", "type": "admin", "admin_id": "2002", "assignee_id": "424242"},
            (404, "admin_not_found", "assignee_id"),
        ),
        (
            {"message_type": "assignment", "type": "team", "admin_id": "2002", "assignee_id": "999"},
            (404, "team_not_found", "assignee_id"),
        ),
        (
            {"message_type": "assignment", "type": "bot", "admin_id": "2002", "assignee_id": "2002"},
            (400, "parameter_invalid", "type"),
        ),
    ],
)
def test_bad_assignments(fake: FakeIntercom, body: Any, expected: tuple[int, str, str]) -> None:
    conv_id = sorted(fake.conversations)[0]
    assert error(call(fake, "POST", f"/conversations/{conv_id}/parts", body)) == expected


def test_assignment_of_a_missing_conversation_is_404(fake: FakeIntercom) -> None:
    body = {"message_type": "assignment", "type": "admin", "admin_id": "2002", "assignee_id": "2002"}
    assert error(call(fake, "POST", "/conversations/1/parts", body))[:2] == (404, "not_found")


def test_contact_updates_need_defined_attributes_of_the_right_type(fake: FakeIntercom) -> None:
    cid = sorted(fake.customers)[0]
    bad = call(fake, "PUT", f"/contacts/{cid}", {"custom_attributes": {"undefined_thing": 1}})
    assert error(bad) == (400, "parameter_not_found", "undefined_thing")
    assert error(call(fake, "PUT", f"/contacts/{cid}", {"colour": "red"})) == (400, "parameter_not_found", "colour")
    assert error(call(fake, "PUT", f"/contacts/{cid}", {"custom_attributes": {"seats": "x"}}))[:2] == (
        422,
        "data_invalid",
    )
    assert (
        call(fake, "PUT", f"/contacts/{cid}", {"custom_attributes": {"seats": 3}}).json()["custom_attributes"]["seats"]
        == 3
    )


def test_duplicate_data_attribute_and_bad_type(fake: FakeIntercom) -> None:
    body = {"name": "seats", "model": "contact", "data_type": "integer"}
    assert error(call(fake, "POST", "/data_attributes", body)) == (400, "parameter_invalid", "name")
    body = {"name": "fresh", "model": "contact", "data_type": "colour"}
    assert error(call(fake, "POST", "/data_attributes", body)) == (400, "parameter_invalid", "data_type")


def test_malformed_body_unknown_version_endpoint_and_method(fake: FakeIntercom) -> None:
    sent = {"Authorization": f"Bearer {FakeIntercom.token}", "Intercom-Version": "2.14"}
    garbled = fake(httpx.Request("POST", f"{BASE}/conversations/search", headers=sent, content=b"{oops"))
    assert error(garbled)[:2] == (400, "parameter_invalid")
    assert error(call(fake, "GET", "/admins", **{"Intercom-Version": "3.0"}))[:2] == (400, "intercom_version_invalid")
    assert error(call(fake, "GET", "/mailboxes"))[:2] == (404, "not_found")
    assert call(fake, "DELETE", "/admins").status_code == 405


def test_unauthenticated_answers_have_no_rate_headers(fake: FakeIntercom) -> None:
    response = call(fake, "GET", "/admins", Authorization="Bearer wrong")
    assert error(response)[:2] == (401, "unauthorized")
    assert "x-ratelimit-limit" not in response.headers
    ok = call(fake, "GET", "/admins")
    assert ok.headers["x-ratelimit-limit"] == "1667" and ok.headers["x-ratelimit-remaining"] == "1666", (
        "a refused request does not count"
    )


def test_cursor_paging_has_no_duplicates_or_gaps_when_records_vanish(fake: FakeIntercom) -> None:
    fake.page_size = 5
    query = {"query": {"field": "updated_at", "operator": ">", "value": 0}}
    first = call(fake, "POST", "/conversations/search", query).json()
    listed = [c["id"] for c in first["conversations"]]
    fake.delete_conversation(listed[-1])  # the cursor's own record disappears
    query["pagination"] = {"starting_after": first["pages"]["next"]["starting_after"]}
    second = call(fake, "POST", "/conversations/search", query).json()
    assert second["conversations"][0]["id"] == sorted(fake.conversations, key=int)[4]
