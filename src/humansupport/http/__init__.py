"""The only code that talks HTTP: client factory, retries, rate limiting, paging."""

from humansupport.http.client import HttpClient
from humansupport.http.paging import (
    CursorPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    PageRequest,
    Paginator,
    dig,
    iter_pages,
    paginate,
)
from humansupport.http.ratelimit import (
    RateHeadroom,
    RateLimiter,
    RateLimitHeaders,
    limiter_for,
    reset_limiters,
)
from humansupport.http.retry import RetryPolicy, is_retriable, parse_reset, parse_retry_after

__all__ = [
    "CursorPaginator",
    "HttpClient",
    "LinkHeaderPaginator",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageRequest",
    "Paginator",
    "RateHeadroom",
    "RateLimitHeaders",
    "RateLimiter",
    "RetryPolicy",
    "dig",
    "is_retriable",
    "iter_pages",
    "limiter_for",
    "paginate",
    "parse_reset",
    "parse_retry_after",
    "reset_limiters",
]
