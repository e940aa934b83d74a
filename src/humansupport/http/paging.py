"""Auto-paging for the four vendor styles: one small class per style, one lazy driver, one page in memory.

A paginator answers two questions about a response: which items are in it, and what to request next (or
None). `iter_pages` does the fetching, retries through the client, and refuses to loop: every request key
seen is remembered (a two-step cycle is still a loop) and `max_pages` is a hard guard.
"""

from __future__ import annotations

import copy
import hashlib
import json as jsonlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from humansupport.errors import PaginationLoopError

if TYPE_CHECKING:
    from humansupport.http.client import HttpClient

__all__ = [
    "CursorPaginator",
    "LinkHeaderPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageRequest",
    "Paginator",
    "dig",
    "iter_pages",
    "paginate",
]

_MISSING = object()


@dataclass(frozen=True, kw_only=True)
class PageRequest:
    """One page's request; `key()` identifies it for loop detection and checkpoints."""

    method: str = "GET"
    url: str
    params: Mapping[str, Any] | None = None
    json: Any = None

    def full_url(self) -> httpx.URL:
        """The URL with `params` merged in, query sorted, so equal requests compare equal."""
        url = httpx.URL(self.url)
        if self.params:
            url = url.copy_merge_params(dict(self.params))
        items = sorted(url.params.multi_items())
        return url.copy_with(params=items) if items else url

    def key(self) -> str:
        """A stable string: method, URL with sorted query, and the JSON body with sorted keys."""
        body = "" if self.json is None else jsonlib.dumps(self.json, sort_keys=True, default=str)
        return f"{self.method.upper()} {self.full_url()} {body}".rstrip()

    def with_params(self, **changes: Any) -> PageRequest:
        """A copy with query parameters set (None removes one)."""
        params = {**(self.params or {}), **changes}
        return PageRequest(
            method=self.method,
            url=self.url,
            params={k: v for k, v in params.items() if v is not None},
            json=self.json,
        )


@dataclass(frozen=True)
class Page:
    """One fetched page; the driver keeps only the current one."""

    items: list[dict[str, Any]]
    request: PageRequest
    next: PageRequest | None
    number: int
    response_headers: Mapping[str, str] | None = None
    data: Any = field(default=None, repr=False)
    """The parsed body, for adapters that checkpoint from it (e.g. an export's `end_time`)."""


def dig(data: Any, path: str | None) -> Any:
    """`data["a"]["b"]["c"]` for `"a.b.c"`, None if any step is missing; digits index lists."""
    if path is None or path == "":
        return data
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else _MISSING
        else:
            return None
        if current is _MISSING:
            return None
    return current


def _items_at(data: Any, path: str | None) -> list[dict[str, Any]]:
    found = dig(data, path)
    if not isinstance(found, list):
        return []
    return [item for item in found if isinstance(item, dict)]


def _set_dotted(body: Any, path: str, value: Any) -> dict[str, Any]:
    """A deep copy of the JSON body with `path` set, creating objects on the way."""
    result: dict[str, Any] = copy.deepcopy(body) if isinstance(body, dict) else {}
    target = result
    *parents, last = path.split(".")
    for part in parents:
        child = target.get(part)
        if not isinstance(child, dict):
            child = {}
            target[part] = child
        target = child
    target[last] = value
    return result


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class Paginator(ABC):
    """One vendor paging style: what is in this response, and what to ask for next."""

    @abstractmethod
    def items(self, data: Any, response: httpx.Response) -> list[dict[str, Any]]:
        """The records on this page."""

    @abstractmethod
    def next_request(self, current: PageRequest, data: Any, response: httpx.Response) -> PageRequest | None:
        """The next page's request, or None when this was the last page."""


class CursorPaginator(Paginator):
    """Cursor or next-URL paging: cursor pages, incremental exports, any `links.next`.

    `next_url` is a dotted path to a full next URL (used as-is); otherwise `next_cursor` is read and sent as
    query parameter `cursor_param` or placed in the JSON body at dotted `cursor_in_json`. `has_more` is a
    dotted boolean path; prefix it with "!" to negate (an export: `"!end_of_stream"`). Without it, paging
    goes on while there is a cursor or URL. An empty page does not stop paging on its own.
    """

    def __init__(
        self,
        *,
        items: str,
        next_cursor: str | None = None,
        has_more: str | None = None,
        cursor_param: str | None = None,
        cursor_in_json: str | None = None,
        next_url: str | None = None,
    ) -> None:
        if next_url is None and next_cursor is None:
            raise ValueError("CursorPaginator needs next_url or next_cursor")
        if next_cursor is not None and cursor_param is None and cursor_in_json is None:
            raise ValueError("next_cursor needs cursor_param (query) or cursor_in_json (body path)")
        self._items = items
        self._next_cursor = next_cursor
        self._has_more = has_more
        self._cursor_param = cursor_param
        self._cursor_in_json = cursor_in_json
        self._next_url = next_url

    def items(self, data: Any, response: httpx.Response) -> list[dict[str, Any]]:
        return _items_at(data, self._items)

    def _more(self, data: Any) -> bool | None:
        if self._has_more is None:
            return None
        negate = self._has_more.startswith("!")
        value = dig(data, self._has_more.lstrip("!"))
        if value is None:
            return None
        return (not value) if negate else bool(value)

    def next_request(self, current: PageRequest, data: Any, response: httpx.Response) -> PageRequest | None:
        if self._more(data) is False:
            return None
        if self._next_url is not None:
            url = dig(data, self._next_url)
            if isinstance(url, str) and url:
                return PageRequest(method=current.method, url=url, json=current.json)
        if self._next_cursor is None:
            return None
        cursor = dig(data, self._next_cursor)
        if cursor is None or cursor == "":
            return None
        if self._cursor_in_json is not None:
            return PageRequest(
                method=current.method,
                url=current.url,
                params=current.params,
                json=_set_dotted(current.json, self._cursor_in_json, cursor),
            )
        assert self._cursor_param is not None  # checked in __init__
        return current.with_params(**{self._cursor_param: cursor})


class PageNumberPaginator(Paginator):
    """`?page=N` paging (HAL: `_embedded.conversations`, `page.totalPages`).

    Stops on an empty page, at `total_pages`, or on a page shorter than `page_size` when that is given.
    The current number is read from the request's `page_param` (absent means 1).
    """

    def __init__(
        self,
        *,
        items: str,
        page_param: str = "page",
        total_pages: str | None = None,
        page_size: int | None = None,
    ) -> None:
        self._items = items
        self._page_param = page_param
        self._total_pages = total_pages
        self._page_size = page_size

    def items(self, data: Any, response: httpx.Response) -> list[dict[str, Any]]:
        return _items_at(data, self._items)

    def next_request(self, current: PageRequest, data: Any, response: httpx.Response) -> PageRequest | None:
        items = self.items(data, response)
        if not items:
            return None
        number = _as_int((current.params or {}).get(self._page_param)) or 1
        if self._total_pages is not None:
            total = _as_int(dig(data, self._total_pages))
            if total is not None and number >= total:
                return None
        if self._page_size is not None and len(items) < self._page_size:
            return None
        return current.with_params(**{self._page_param: number + 1})


class LinkHeaderPaginator(Paginator):
    """RFC 8288 `Link: <url>; rel="next"` paging; items are the top-level list by default."""

    def __init__(self, *, items: str | None = None) -> None:
        self._items = items

    def items(self, data: Any, response: httpx.Response) -> list[dict[str, Any]]:
        return _items_at(data, self._items)

    def next_request(self, current: PageRequest, data: Any, response: httpx.Response) -> PageRequest | None:
        url = response.links.get("next", {}).get("url")
        if not url:
            return None
        return PageRequest(method=current.method, url=url, json=current.json)


class OffsetPaginator(Paginator):
    """`?offset=&limit=` paging; stops on an empty or short page, or at `total` when the body states it."""

    def __init__(
        self,
        *,
        items: str,
        offset_param: str = "offset",
        limit_param: str = "limit",
        limit: int = 100,
        total: str | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._items = items
        self._offset_param = offset_param
        self._limit_param = limit_param
        self._limit = limit
        self._total = total

    def items(self, data: Any, response: httpx.Response) -> list[dict[str, Any]]:
        return _items_at(data, self._items)

    def next_request(self, current: PageRequest, data: Any, response: httpx.Response) -> PageRequest | None:
        count = len(self.items(data, response))
        if count == 0:
            return None
        offset = (_as_int((current.params or {}).get(self._offset_param)) or 0) + count
        total = _as_int(dig(data, self._total)) if self._total is not None else None
        if total is not None:
            if offset >= total:
                return None
        elif count < self._limit:
            return None
        return current.with_params(**{self._offset_param: offset, self._limit_param: self._limit})


def _token(request: PageRequest) -> str:
    """What a PaginationLoopError shows: the path and a digest, never the query (cursors, filters, PII)."""
    digest = hashlib.sha256(request.key().encode()).hexdigest()[:12]
    return f"{request.method.upper()} {httpx.URL(request.url).path} #{digest}"


async def iter_pages(
    client: HttpClient,
    first: PageRequest,
    paginator: Paginator,
    *,
    max_pages: int = 100_000,
) -> AsyncIterator[Page]:
    """Fetches pages lazily, one at a time, retrying through the client; raises PaginationLoopError on a loop.

    Page requests are reads, so they are sent as idempotent and cost one token even when the method is POST
    (a search endpoint).
    """
    seen: set[str] = set()
    request: PageRequest | None = first
    number = 0
    while request is not None:
        key = request.key()
        if key in seen:
            raise PaginationLoopError(vendor=client.vendor, token=_token(request), pages=number)
        if number >= max_pages:
            raise PaginationLoopError(
                vendor=client.vendor, token=_token(request), pages=number, reason="max_pages reached"
            )
        seen.add(key)
        response = await client.request(
            request.method,
            request.url,
            params=request.params,
            json=request.json,
            idempotent=True,
            cost=1.0,
        )
        data = client.parse_json(response)
        number += 1
        following = paginator.next_request(request, data, response)
        yield Page(
            items=paginator.items(data, response),
            request=request,
            next=following,
            number=number,
            response_headers=response.headers,
            data=data,
        )
        request = following


async def paginate(
    client: HttpClient,
    first: PageRequest,
    paginator: Paginator,
    *,
    max_pages: int = 100_000,
) -> AsyncIterator[dict[str, Any]]:
    """Items across pages, fetched lazily; see `iter_pages`."""
    async for page in iter_pages(client, first, paginator, max_pages=max_pages):
        for item in page.items:
            yield item
