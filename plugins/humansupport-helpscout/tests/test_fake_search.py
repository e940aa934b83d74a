"""The fake's search: Help Scout's query syntax on conversations and customers, and 400 for what it refuses."""

from __future__ import annotations

import httpx
import pytest
from humansupport_helpscout import FakeHelpScout


def _get(fake: FakeHelpScout, path: str, **params: str) -> httpx.Response:
    token = fake.token(
        httpx.Request(
            "POST",
            "https://api.helpscout.net/v2/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": fake.app_id, "client_secret": fake.app_secret},
        )
    ).json()["access_token"]
    request = httpx.Request(
        "GET", f"https://api.helpscout.net{path}", params=params, headers={"Authorization": f"Bearer {token}"}
    )
    return fake(request)


def _ids(response: httpx.Response, key: str = "conversations") -> set[str]:
    assert response.status_code == 200, response.text
    return {str(item["id"]) for item in response.json()["_embedded"][key]}


def test_terms_combine_with_and_or_not(fake: FakeHelpScout) -> None:
    tags = sorted({t for c in fake.conversations.values() for t in c.tags})
    a, b = tags[0], tags[1]
    with_a = {c.id for c in fake.conversations.values() if a in c.tags}
    with_b = {c.id for c in fake.conversations.values() if b in c.tags}
    fake.page_size = 1000
    assert _ids(_get(fake, "/v2/conversations", status="all", query=f'(tag:"{a}")')) == with_a
    assert _ids(_get(fake, "/v2/conversations", status="all", query=f'(tag:"{a}" OR tag:"{b}")')) == with_a | with_b
    assert _ids(_get(fake, "/v2/conversations", status="all", query=f'tag:"{a}" tag:"{b}"')) == with_a & with_b
    assert _ids(_get(fake, "/v2/conversations", status="all", query=f'(tag:"{a}" AND NOT tag:"{b}")')) == (
        with_a - with_b
    )
    assert _ids(_get(fake, "/v2/conversations", status="all", query=f'(tag:"{a}" -tag:"{b}")')) == with_a - with_b


def test_date_ranges_and_customer_search(fake: FakeHelpScout) -> None:
    fake.page_size = 1000
    stamps = sorted(c.updated_at for c in fake.conversations.values() if c.updated_at)
    middle = stamps[len(stamps) // 2].strftime("%Y-%m-%dT%H:%M:%SZ")
    later = _ids(_get(fake, "/v2/conversations", status="all", query=f"(modifiedAt:[{middle} TO *])"))
    assert later == {
        c.id for c in fake.conversations.values() if c.updated_at and c.updated_at.isoformat() >= middle[:-1]
    }
    customer = sorted(fake.customers.values(), key=lambda c: int(c.id))[0]
    first = (customer.name or "").partition(" ")[0]
    found = _ids(_get(fake, "/v2/customers", query=f'(firstName:"{first}")'), "customers")
    assert customer.id in found


@pytest.mark.parametrize(
    "query",
    ['(tag:"a"', "(nosuchfield:1)", "(subject:[a TO b])", "(modifiedAt:yesterday)", "(modifiedAt:[soon TO *])", ""],
)
def test_what_help_scout_refuses_is_400_on_query(fake: FakeHelpScout, query: str) -> None:
    response = _get(fake, "/v2/conversations", status="all", query=query)
    assert response.status_code == 400
    assert response.json()["_embedded"]["errors"][0]["path"] == "query"
