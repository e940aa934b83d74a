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
    BudgetBlocked,
    LocalRateBudget,
    RateBudget,
    RateHeadroom,
    RateLimiter,
    RateLimitHeaders,
    limiter_for,
    reset_limiters,
)
from humansupport.http.retry import RetryPolicy, is_retriable, parse_reset, parse_retry_after
from humansupport.http.stats import RequestTally, counting

__all__ = [
    "BudgetBlocked",
    "CursorPaginator",
    "HttpClient",
    "LinkHeaderPaginator",
    "LocalRateBudget",
    "OffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "PageRequest",
    "Paginator",
    "RateBudget",
    "RateHeadroom",
    "RateLimitHeaders",
    "RateLimiter",
    "RequestTally",
    "RetryPolicy",
    "counting",
    "dig",
    "is_retriable",
    "iter_pages",
    "limiter_for",
    "paginate",
    "parse_reset",
    "parse_retry_after",
    "reset_limiters",
]
