"""Paginators per vendor style and the lazy, loop-proof driver (MockTransport, fake clock)."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import pytest

from humansupport.errors import NotFoundError, PaginationLoopError
from humansupport.http import (
    CursorPaginator,
    HttpClient,
    LinkHeaderPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    PageRequest,
    Paginator,
    dig,
    iter_pages,
    paginate,
    reset_limiters,
)
from humansupport.testing import FakeClock

BASE = "https://acme.helpdesk.test"


Route = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeVendor:
    """Serves pages from a route function; can inject one failure before a given call."""

    route: Route
    fail_on_call: int | None = None
    failure: httpx.Response | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail_on_call == len(self.requests) and self.failure is not None:
            return self.failure
        return self.route(request)


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    reset_limiters()
    yield
    reset_limiters()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def client_for(vendor: FakeVendor, clock: FakeClock, name: str = "zendesk") -> HttpClient:
    return HttpClient(
        vendor=name, base_url=BASE, transport=httpx.MockTransport(vendor), clock=clock, rng=random.Random(0)
    )


async def collect(client: HttpClient, first: PageRequest, paginator: Paginator, **kw: Any) -> list[int]:
    return [item["id"] async for item in paginate(client, first, paginator, **kw)]


# --- Zendesk cursor pagination: meta.after_cursor + meta.has_more, sent as page[after] ---------------------

TICKETS = list(range(1, 24))  # 23 tickets, pages of 5 -> 5 pages


def zendesk_cursor(request: httpx.Request) -> httpx.Response:
    after = request.url.params.get("page[after]")
    start = int(after.removeprefix("c")) if after else 0
    chunk = TICKETS[start : start + 5]
    more = start + 5 < len(TICKETS)
    return httpx.Response(
        200,
        json={
            "tickets": [{"id": i} for i in chunk],
            "meta": {"has_more": more, "after_cursor": f"c{start + 5}" if more else None},
            "links": {"next": f"{BASE}/api/v2/tickets.json?page[size]=5&page[after]=c{start + 5}" if more else None},
        },
    )


ZENDESK = CursorPaginator(
    items="tickets", next_cursor="meta.after_cursor", has_more="meta.has_more", cursor_param="page[after]"
)
ZENDESK_FIRST = PageRequest(url="/api/v2/tickets.json", params={"page[size]": 5})


async def test_zendesk_cursor_pages(clock: FakeClock) -> None:
    vendor = FakeVendor(zendesk_cursor)
    async with client_for(vendor, clock) as client:
        assert await collect(client, ZENDESK_FIRST, ZENDESK) == TICKETS
    assert len(vendor.requests) == 5
    assert vendor.requests[1].url.params["page[after]"] == "c5"
    assert vendor.requests[1].url.params["page[size]"] == "5"


async def test_zendesk_links_next(clock: FakeClock) -> None:
    vendor = FakeVendor(zendesk_cursor)
    paginator = CursorPaginator(items="tickets", next_url="links.next", has_more="meta.has_more")
    async with client_for(vendor, clock) as client:
        assert await collect(client, ZENDESK_FIRST, paginator) == TICKETS


async def test_500_mid_listing_is_retried_without_duplicates_or_gaps(clock: FakeClock) -> None:
    vendor = FakeVendor(zendesk_cursor, fail_on_call=3, failure=httpx.Response(500, json={"error": "boom"}))
    async with client_for(vendor, clock) as client:
        assert await collect(client, ZENDESK_FIRST, ZENDESK) == TICKETS
    assert len(vendor.requests) == 6
    assert vendor.requests[2].url == vendor.requests[3].url  # the same page asked again
    assert len(clock.sleeps) == 1


async def test_429_mid_listing_honours_retry_after(clock: FakeClock) -> None:
    vendor = FakeVendor(zendesk_cursor, fail_on_call=2, failure=httpx.Response(429, headers={"Retry-After": "13"}))
    async with client_for(vendor, clock) as client:
        assert await collect(client, ZENDESK_FIRST, ZENDESK) == TICKETS
    assert clock.sleeps[0] == 13.0
    assert sum(clock.sleeps[1:]) < 0.1  # after the penalty the bucket refills one token at a time


async def test_fatal_error_mid_listing_propagates_after_yielding_earlier_pages(clock: FakeClock) -> None:
    vendor = FakeVendor(zendesk_cursor, fail_on_call=2, failure=httpx.Response(404))
    got: list[int] = []

    async def drain(client: HttpClient) -> None:
        async for item in paginate(client, ZENDESK_FIRST, ZENDESK):
            got.append(item["id"])

    async with client_for(vendor, clock) as client:
        with pytest.raises(NotFoundError):
            await drain(client)
    assert got == TICKETS[:5]


async def test_fetches_lazily_one_page_at_a_time(clock: FakeClock) -> None:
    vendor = FakeVendor(zendesk_cursor)
    async with client_for(vendor, clock) as client:
        pages = cast(AsyncGenerator[Page, None], iter_pages(client, ZENDESK_FIRST, ZENDESK))
        first = await anext(pages)
        assert len(vendor.requests) == 1
        assert first.number == 1
        assert first.next is not None
        assert first.next.params == {"page[size]": 5, "page[after]": "c5"}
        assert first.response_headers is not None
        second = await anext(pages)
        assert (second.number, len(vendor.requests)) == (2, 2)
        await pages.aclose()


async def test_cursor_empty_page_continues_while_has_more(clock: FakeClock) -> None:
    pages = {
        None: {"data": [{"id": 1}], "more": True, "next": "b"},
        "b": {"data": [], "more": True, "next": "c"},
        "c": {"data": [{"id": 2}], "more": False, "next": None},
    }
    vendor = FakeVendor(lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")]))
    paginator = CursorPaginator(items="data", next_cursor="next", has_more="more", cursor_param="cursor")
    async with client_for(vendor, clock) as client:
        assert await collect(client, PageRequest(url="/x"), paginator) == [1, 2]


# --- Zendesk incremental export: after_url + end_of_stream --------------------------------------------------


async def test_incremental_export_stops_at_end_of_stream(clock: FakeClock) -> None:
    def export(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor", "0")
        n = int(cursor)
        end = n >= 2
        return httpx.Response(
            200,
            json={
                "tickets": [{"id": n * 10 + k} for k in range(2)],
                "after_url": f"{BASE}/api/v2/incremental/tickets/cursor.json?cursor={n + 1}",
                "end_of_stream": end,
            },
        )

    vendor = FakeVendor(export)
    paginator = CursorPaginator(items="tickets", next_url="after_url", has_more="!end_of_stream")
    first = PageRequest(url="/api/v2/incremental/tickets/cursor.json", params={"start_time": 0})
    async with client_for(vendor, clock) as client:
        last = None
        async for page in iter_pages(client, first, paginator):
            last = page
        assert last is not None
        assert last.next is None
        assert last.data["after_url"].endswith("cursor=3")  # the checkpoint for the next run
    assert [r.url.params.get("cursor") for r in vendor.requests] == [None, "1", "2"]


# --- Intercom: POST search with the cursor in the JSON body -------------------------------------------------


async def test_intercom_cursor_in_json_body(clock: FakeClock) -> None:
    def search(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["query"] == {"field": "state", "operator": "=", "value": "open"}
        assert body["pagination"]["per_page"] == 2
        after = body["pagination"].get("starting_after")
        start = {None: 0, "WzE": 2, "WzI": 4}[after]
        nxt = {0: "WzE", 2: "WzI", 4: None}[start]
        pages: dict[str, Any] = {"type": "pages", "page": start // 2 + 1, "total_pages": 3}
        if nxt:
            pages["next"] = {"page": start // 2 + 2, "starting_after": nxt}
        return httpx.Response(
            200,
            json={
                "type": "conversation.list",
                "conversations": [{"id": start + 1}, {"id": start + 2}],
                "pages": pages,
            },
        )

    vendor = FakeVendor(search)
    paginator = CursorPaginator(
        items="conversations",
        next_cursor="pages.next.starting_after",
        cursor_in_json="pagination.starting_after",
    )
    query = {"query": {"field": "state", "operator": "=", "value": "open"}, "pagination": {"per_page": 2}}
    first = PageRequest(method="POST", url="/conversations/search", json=query)
    async with client_for(vendor, clock, name="intercom") as client:
        assert await collect(client, first, paginator) == [1, 2, 3, 4, 5, 6]
    assert all(r.method == "POST" for r in vendor.requests)
    assert query == {
        "query": {"field": "state", "operator": "=", "value": "open"},
        "pagination": {"per_page": 2},
    }


async def test_intercom_post_search_pages_are_retried_as_reads(clock: FakeClock) -> None:
    def search(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"conversations": [{"id": 1}], "pages": {}})

    vendor = FakeVendor(search, fail_on_call=1, failure=httpx.Response(503))
    paginator = CursorPaginator(
        items="conversations",
        next_cursor="pages.next.starting_after",
        cursor_in_json="pagination.starting_after",
    )
    async with client_for(vendor, clock, name="intercom") as client:
        assert await collect(client, PageRequest(method="POST", url="/conversations/search", json={}), paginator) == [1]
    assert len(vendor.requests) == 2


# --- Help Scout: page numbers in HAL ------------------------------------------------------------------------


def helpscout(total: int, pages: int, size: int = 3) -> Route:
    def route(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("page", "1"))
        ids = range((number - 1) * size + 1, min(number * size, total) + 1)
        return httpx.Response(
            200,
            json={
                "_embedded": {"conversations": [{"id": i} for i in ids]},
                "page": {"size": size, "totalElements": total, "totalPages": pages, "number": number},
            },
        )

    return route


async def test_helpscout_page_numbers_stop_at_total_pages(clock: FakeClock) -> None:
    vendor = FakeVendor(helpscout(total=8, pages=3))
    paginator = PageNumberPaginator(items="_embedded.conversations", total_pages="page.totalPages")
    async with client_for(vendor, clock, name="helpscout") as client:
        assert await collect(client, PageRequest(url="/v2/conversations"), paginator) == list(range(1, 9))
    assert [r.url.params.get("page") for r in vendor.requests] == [None, "2", "3"]


async def test_page_numbers_stop_on_empty_page_and_short_page(clock: FakeClock) -> None:
    vendor = FakeVendor(helpscout(total=6, pages=99))  # a lying totalPages: the empty page stops it
    paginator = PageNumberPaginator(items="_embedded.conversations", total_pages="page.totalPages")
    async with client_for(vendor, clock, name="helpscout") as client:
        assert await collect(client, PageRequest(url="/v2/conversations"), paginator) == list(range(1, 7))
        assert len(vendor.requests) == 3
        short = FakeVendor(helpscout(total=5, pages=99))
        sized = PageNumberPaginator(items="_embedded.conversations", page_size=3)
        async with client_for(short, clock, name="helpscout") as other:
            assert await collect(other, PageRequest(url="/v2/conversations"), sized) == list(range(1, 6))
        assert len(short.requests) == 2


# --- Freshdesk: Link header ---------------------------------------------------------------------------------


async def test_freshdesk_link_header(clock: FakeClock) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        headers = {}
        if page < 3:
            headers["Link"] = f'<{BASE}/api/v2/tickets?per_page=2&page={page + 1}>; rel="next"'
        return httpx.Response(200, json=[{"id": page * 10 + 1}, {"id": page * 10 + 2}], headers=headers)

    vendor = FakeVendor(route)
    first = PageRequest(url="/api/v2/tickets", params={"per_page": 2})
    async with client_for(vendor, clock, name="freshdesk") as client:
        assert await collect(client, first, LinkHeaderPaginator()) == [11, 12, 21, 22, 31, 32]


async def test_link_header_with_items_path(clock: FakeClock) -> None:
    vendor = FakeVendor(lambda r: httpx.Response(200, json={"results": [{"id": 1}, "not-a-dict"]}))
    async with client_for(vendor, clock) as client:
        assert await collect(client, PageRequest(url="/x"), LinkHeaderPaginator(items="results")) == [1]


# --- Offset ------------------------------------------------------------------------------------------------


def offset_route(total: int, report_total: bool) -> Route:
    def route(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("offset", "0"))
        limit = int(request.url.params.get("limit", "4"))
        body: dict[str, Any] = {"items": [{"id": i} for i in range(offset, min(offset + limit, total))]}
        if report_total:
            body["total"] = total
        return httpx.Response(200, json=body)

    return route


@pytest.mark.parametrize(
    ("total", "report_total", "calls"), [(10, True, 3), (10, False, 3), (8, True, 2), (8, False, 3)]
)
async def test_offset_pages(clock: FakeClock, total: int, report_total: bool, calls: int) -> None:
    vendor = FakeVendor(offset_route(total, report_total))
    paginator = OffsetPaginator(items="items", limit=4, total="total" if report_total else None)
    first = PageRequest(url="/x", params={"limit": 4})
    async with client_for(vendor, clock) as client:
        assert await collect(client, first, paginator) == list(range(total))
    assert len(vendor.requests) == calls


# --- Loops and guards ---------------------------------------------------------------------------------------


async def test_two_step_cycle_is_a_loop(clock: FakeClock) -> None:
    cycle = {None: "B", "A": "B", "B": "A"}
    vendor = FakeVendor(
        lambda r: httpx.Response(
            200, json={"items": [{"id": 1}], "next": cycle[r.url.params.get("cursor")], "more": True}
        )
    )
    paginator = CursorPaginator(items="items", next_cursor="next", has_more="more", cursor_param="cursor")
    first = PageRequest(url="/x", params={"cursor": "A", "token": "sekret-123"})
    async with client_for(vendor, clock) as client:
        with pytest.raises(PaginationLoopError) as info:
            await collect(client, first, paginator)
    assert info.value.pages == 2
    assert len(vendor.requests) == 2
    assert "loop detected" in str(info.value)
    assert "sekret-123" not in str(info.value)
    assert "cursor" not in info.value.token


async def test_same_next_url_is_a_loop(clock: FakeClock) -> None:
    vendor = FakeVendor(lambda r: httpx.Response(200, json={"items": [], "after_url": f"{BASE}/x?cursor=1"}))
    paginator = CursorPaginator(items="items", next_url="after_url", has_more="!end_of_stream")
    async with client_for(vendor, clock) as client:
        with pytest.raises(PaginationLoopError):
            await collect(client, PageRequest(url="/x"), paginator)
    assert len(vendor.requests) == 2


async def test_max_pages_guard(clock: FakeClock) -> None:
    vendor = FakeVendor(zendesk_cursor)
    async with client_for(vendor, clock) as client:
        with pytest.raises(PaginationLoopError, match="max_pages reached"):
            await collect(client, ZENDESK_FIRST, ZENDESK, max_pages=3)
        assert len(vendor.requests) == 3
        assert await collect(client, ZENDESK_FIRST, ZENDESK, max_pages=5) == TICKETS


# --- Building blocks ----------------------------------------------------------------------------------------


def test_dig() -> None:
    data = {"a": {"b": {"c": 3}}, "l": [{"x": 1}, {"x": 2}]}
    assert dig(data, "a.b.c") == 3
    assert dig(data, "a.b") == {"c": 3}
    assert dig(data, "a.missing.c") is None
    assert dig(data, "a.b.c.d") is None
    assert dig(data, "l.1.x") == 2
    assert dig(data, "l.-1.x") == 2
    assert dig(data, "l.5.x") is None
    assert dig(data, None) is data
    assert dig([1], "a") is None


def test_page_request_key_is_stable() -> None:
    a = PageRequest(url="https://x.test/t?b=2&a=1")
    b = PageRequest(url="https://x.test/t", params={"a": 1, "b": 2})
    c = PageRequest(url="https://x.test/t", params={"b": "2", "a": "1"})
    assert a.key() == b.key() == c.key()
    assert PageRequest(url="/t").key() != PageRequest(method="POST", url="/t").key()
    j1 = PageRequest(method="POST", url="/s", json={"p": {"x": 1, "y": 2}})
    j2 = PageRequest(method="POST", url="/s", json={"p": {"y": 2, "x": 1}})
    assert j1.key() == j2.key()
    assert j1.key() != PageRequest(method="POST", url="/s", json={"p": {"x": 2}}).key()


def test_page_request_is_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        PageRequest("GET", "/x")  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        PageRequest(url="/x").url = "/y"  # type: ignore[misc]


def test_cursor_paginator_needs_a_way_forward() -> None:
    with pytest.raises(ValueError, match="next_url or next_cursor"):
        CursorPaginator(items="x")
    with pytest.raises(ValueError, match="cursor_param"):
        CursorPaginator(items="x", next_cursor="c")
    with pytest.raises(ValueError, match="limit"):
        OffsetPaginator(items="x", limit=0)
