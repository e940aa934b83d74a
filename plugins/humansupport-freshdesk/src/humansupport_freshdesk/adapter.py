"""The Freshdesk adapter: API v2 calls through `humansupport.http`, JSON through `mapping`.

Facts and sources: docs/vendors/freshdesk.md and Freshdesk's API reference. The non-obvious choices:

- Ticket listing always sends `updated_since` (without it the list holds only tickets created in the last
  30 days) with `order_by=updated_at&order_type=asc`, and walks time windows: the list refuses pages past a
  cap (300 today) with a 400 on field `page`; we treat that 400 itself as the signal to restart at the last
  `updated_at` seen (the cap is not hard-coded). `updated_since` is inclusive, so tickets at the window edge
  come again and are skipped by id (Airbyte's source-freshdesk does the same restart, test_300_page.py).
- There is no optimistic concurrency in v2 (no ETag, no version). `assign` re-reads the ticket and refuses
  to write when `updated_at` moved since planning. The race window left is the time between that re-read
  and the PUT (one round trip); `updated_at` has one-second resolution, so two edits in the same second as
  our read are indistinguishable.
- Rate limits are per account per minute, with lower per-endpoint limits for ticket list, ticket update
  and contact list (support article 225439). The account bucket learns from `X-RateLimit-Total` and
  `X-RateLimit-Remaining`; per-endpoint buckets are seeded from the plan, because no header reports them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Literal, cast

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from humansupport import (
    Agent,
    Capabilities,
    Conversation,
    ConversationStatus,
    Customer,
    Group,
    HelpdeskSettings,
    Message,
    ProfilePatch,
    SatisfactionRating,
    SavedReply,
    WebhookEvent,
    WebhookEventType,
    WebhookSubscription,
)
from humansupport.errors import (
    ConflictError,
    HelpdeskError,
    NotFoundError,
    PaginationLoopError,
    UnsupportedOperationError,
    ValidationError,
)
from humansupport.fields import FieldSetupScreen
from humansupport.http import (
    LinkHeaderPaginator,
    Page,
    PageRequest,
    RateLimiter,
    RateLimitHeaders,
    iter_pages,
    paginate,
)
from humansupport.models import Assignment, AssignmentOutcome, AssignmentResult
from humansupport.text import html_to_text, looks_like_html
from humansupport.vendor import BasicAuth, RestAdapter, already_as_asked, as_time, poll_job

from .mapping import (
    agent_from_json,
    contact_update_body,
    customer_from_json,
    description_message,
    fd_time,
    group_from_json,
    message_from_json,
    rating_from_json,
    text_to_html,
    ticket_from_json,
)
from .webhooks import DEFAULT_SECRET_HEADER, parse_webhook_body, verify_shared_secret

__all__ = [
    "ENDPOINT_LIMITS",
    "FRESHDESK_RATE_HEADERS",
    "FreshdeskAdapter",
    "FreshdeskSettings",
    "Plan",
    "TicketPaging",
    "endpoint_for",
    "normalize_domain",
    "webhook_steps",
]

logger = logging.getLogger("humansupport.freshdesk")

Plan = Literal["trial", "growth", "pro", "enterprise"]
TicketPaging = Literal["keyset", "windows"]

#: Requests per minute by plan (support.freshdesk.com article 225439): overall, then the endpoint limits,
#: which count within the overall one. Trial states only an overall limit.
ENDPOINT_LIMITS: Final[Mapping[str, Mapping[str, int]]] = {
    "trial": {"overall": 50, "tickets_list": 50, "tickets_update": 50, "contacts_list": 50},
    "growth": {"overall": 200, "tickets_list": 20, "tickets_update": 80, "contacts_list": 20},
    "pro": {"overall": 400, "tickets_list": 100, "tickets_update": 160, "contacts_list": 100},
    "enterprise": {"overall": 700, "tickets_list": 200, "tickets_update": 280, "contacts_list": 200},
}

FRESHDESK_RATE_HEADERS: Final = RateLimitHeaders(
    limit="X-RateLimit-Total", remaining="X-RateLimit-Remaining", reset=None, retry_after="Retry-After"
)
_NO_HEADERS: Final = RateLimitHeaders(limit=None, remaining=None, reset=None)

_API: Final = "/api/v2"
_PER_PAGE: Final = 100  # the documented maximum
_DEFAULT_START: Final = datetime(2000, 1, 1, tzinfo=UTC)
_ENDPOINT_SHARE: Final = 0.9
_DESCRIPTION_CACHE: Final = 5_000  # first messages of recently listed tickets (a few MB at most)
_BULK_CHUNK: Final = 100  # max ids per bulk_update call is unconfirmed; 100 keeps one job small
_DOMAIN_LABEL: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TICKET_UPDATE: Final = re.compile(rf"^{_API}/tickets/(\d+|bulk_update)$")
_JOB_DONE: Final = frozenset({"success", "completed", "complete", "failed", "failure", "partial", "partial_success"})

_HINTS: Final[Mapping[int, str]] = {
    401: (
        "Freshdesk refused the API key; set HUMANSUPPORT_FRESHDESK_API_KEY to an agent's key "
        "(Profile settings -> View API key) and check HUMANSUPPORT_FRESHDESK_DOMAIN"
    ),
    403: (
        "the key's agent lacks the role, ticket scope or plan feature for this call; use an admin agent's key "
        "in HUMANSUPPORT_FRESHDESK_API_KEY (see docs/vendors/freshdesk.md)"
    ),
    404: (
        "the record does not exist or was deleted; if every call 404s, HUMANSUPPORT_FRESHDESK_DOMAIN must be "
        "the <name>.freshdesk.com account name, not a custom CNAME"
    ),
}


def normalize_domain(value: str) -> str:
    """`acme`, `acme.freshdesk.com` or `https://acme.freshdesk.com/` -> `acme`; anything else is refused.

    The API answers only on `*.freshdesk.com`, never on a custom helpdesk CNAME (developers.freshdesk.com/api).
    """
    text = value.strip().lower()
    text = re.sub(r"^https?://", "", text).split("/", 1)[0]
    if text.endswith(".freshdesk.com"):
        text = text[: -len(".freshdesk.com")]
    if "." in text:
        raise ValueError(
            f"{value!r} is not a Freshdesk account domain: the API works only on <name>.freshdesk.com, "
            "not on a custom CNAME; give the <name> part"
        )
    if not _DOMAIN_LABEL.match(text):
        raise ValueError(f"{value!r} is not a valid Freshdesk domain (letters, digits and hyphens, e.g. 'acme')")
    return text


class FreshdeskSettings(HelpdeskSettings):
    """`HUMANSUPPORT_FRESHDESK_DOMAIN`, `HUMANSUPPORT_FRESHDESK_API_KEY` (env or kwargs only), optional rest."""

    vendor = "freshdesk"

    domain: str | None = None
    api_key: SecretStr
    plan: Plan = "growth"
    ticket_paging: TicketPaging = "keyset"
    webhook_secret_header: str = DEFAULT_SECRET_HEADER
    custom_statuses: dict[int, ConversationStatus] | None = None
    history_start: datetime | None = None
    #: seconds to wait for a bulk_update job before reporting its tickets as failed (re-read them first)
    job_timeout: float = Field(default=300.0, gt=0)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return normalize_domain(value) if value is not None else None

    @field_validator("api_key")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("the API key is empty")
        return value

    @model_validator(mode="after")
    def _where(self) -> FreshdeskSettings:
        if self.domain is None and self.base_url is None:
            raise ValueError(
                "set the account domain (the <name> of <name>.freshdesk.com) in HUMANSUPPORT_FRESHDESK_DOMAIN "
                "(or pass domain=...)"
            )
        return self


def endpoint_for(method: str, path: str) -> str | None:
    """Which per-endpoint budget a request spends, if any."""
    method = method.upper()
    if method == "GET" and path.rstrip("/") == f"{_API}/tickets":
        return "tickets_list"
    if method in ("PUT", "POST") and _TICKET_UPDATE.match(path):
        return "tickets_update"
    if method == "GET" and path.rstrip("/") == f"{_API}/contacts":
        return "contacts_list"
    return None


class _EndpointBudget(httpx.AsyncBaseTransport):
    """Spends a per-endpoint token before each attempt (retries included: invalid calls cost credits too)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limiters: Mapping[str, RateLimiter]) -> None:
        self._inner = inner
        self._limiters = dict(limiters)
        self.last_cost: float | None = None
        """Credits the last answered call used (`X-RateLimit-Used-CurrentRequest`; `include=` costs more)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = endpoint_for(request.method, request.url.path)
        if name is not None and name in self._limiters:
            await self._limiters[name].acquire(1.0)
        response = await self._inner.handle_async_request(request)
        used = response.headers.get("X-RateLimit-Used-CurrentRequest")
        if used is not None:
            try:
                self.last_cost = float(used)
            except ValueError:
                self.last_cost = None
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _SameOriginLinks(LinkHeaderPaginator):
    """Follows `Link: rel="next"` only to the account's own origin: the client sends the API key (Basic
    auth) with every request, so a next URL on another host or scheme would hand the key to it."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        base = httpx.URL(base_url)
        self._origin = (base.scheme, base.host, base.port)

    def next_request(self, current: PageRequest, data: Any, response: httpx.Response) -> PageRequest | None:
        following = super().next_request(current, data, response)
        if following is None:
            return None
        url = httpx.URL(following.url)
        if url.is_absolute_url and (url.scheme, url.host, url.port) != self._origin:
            raise HelpdeskError(
                vendor="freshdesk",
                method=current.method,
                path=httpx.URL(current.url).path,
                vendor_message=f"the next-page link points to another origin ({url.scheme}://{url.host}); not followed",
            )
        return following


def _numeric_id(value: str, what: str) -> int:
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):  # isdigit alone takes "٣" (int() reads it as 3)
        raise ValidationError(
            vendor="freshdesk", vendor_message=f"{what} id {value!r} is not a Freshdesk id (a positive number)"
        )
    return int(text)


class FreshdeskAdapter(RestAdapter[FreshdeskSettings]):
    """Freshdesk API v2 (`https://<domain>.freshdesk.com/api/v2`), Basic auth with the agent's API key."""

    vendor = "freshdesk"
    #: no API creates contact fields: `humansupport setup freshdesk` prints these steps
    field_setup = FieldSetupScreen(
        where="Admin > Support Operations > Customer Fields > Contact fields (the API name must be the name below)",
        types={"text": "Single-line text", "number": "Number", "date": "Date", "url": "Single-line text"},
    )
    capabilities = Capabilities(
        bulk_assign=True,  # POST /tickets/bulk_update + job polling
        optimistic_concurrency=False,  # no ETag/version: re-read before write (see module docstring)
        availability=True,  # agent `available`
        signed_webhooks=False,  # automation webhooks carry no signature; a shared-secret header instead
        incremental_export=False,  # no export endpoint: time windows over the ticket list
        satisfaction_ratings=True,
        webhook_registration=False,  # webhooks are automation-rule actions, made in the admin UI
        saved_replies=True,  # canned responses, folder by folder
    )
    base_url_template = "https://{domain}.freshdesk.com"
    # the key is the username, any password (convention "X"); not a secret
    auth = BasicAuth(username="{api_key}", password="X")  # noqa: S106
    headers: ClassVar[Mapping[str, str]] = {"Content-Type": "application/json"}
    rate_headers = FRESHDESK_RATE_HEADERS
    error_hints = _HINTS
    check_path = f"{_API}/agents/me"
    account_setting = "domain"
    repr_settings = ("domain", "plan")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._descriptions: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._links = _SameOriginLinks(self.http.base_url)

    # -- the settings, as the adapter reads them -----------------------------------------------------

    @property
    def domain(self) -> str | None:
        return self.settings.domain

    @property
    def plan(self) -> Plan:
        return self.settings.plan

    @property
    def ticket_paging(self) -> TicketPaging:
        return self.settings.ticket_paging

    @property
    def custom_statuses(self) -> dict[int, ConversationStatus]:
        return dict(self.settings.custom_statuses or {})

    @property
    def webhook_secret_header(self) -> str:
        return self.settings.webhook_secret_header

    @property
    def history_start(self) -> datetime:
        return self.settings.history_start or _DEFAULT_START

    # -- the client: the plan's account limit and the per-endpoint buckets ---------------------------

    def limiter_key(self) -> str:
        """Freshdesk limits the account (the domain): every agent's key and every app on it share one budget,
        so the key's fingerprint is no part of the name."""
        return f"{self.vendor}:{self.settings.account or self.settings.domain or self.resolve_base_url()}"

    def limiter(
        self, bucket: str | None = None, *, per_minute: float | None = None, headers: RateLimitHeaders | None = None
    ) -> RateLimiter:
        """The account bucket defaults to the plan's overall limit (headers correct it as they come)."""
        plan_limit = ENDPOINT_LIMITS[self.settings.plan]["overall"] if bucket is None else None
        return super().limiter(bucket, per_minute=per_minute or plan_limit, headers=headers)

    def wrap_transport(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncBaseTransport:
        """Spends a per-endpoint bucket before each call. 90% of each endpoint limit: a bucket's burst plus a
        minute of refill must fit in one vendor minute, and other clients of the account spend from the same
        limits."""
        plan = self.settings.plan
        limits = ENDPOINT_LIMITS[plan]
        # keyed by plan too: no header reports these limits, so a bucket keeps the rate it was made with
        self.endpoint_limiters = {
            name: self.limiter(f"{plan}:{name}", per_minute=limits[name] * _ENDPOINT_SHARE, headers=_NO_HEADERS)
            for name in ("tickets_list", "tickets_update", "contacts_list")
        }
        inner = transport if transport is not None else httpx.AsyncHTTPTransport(retries=0)
        self._budget = _EndpointBudget(inner, self.endpoint_limiters)
        return self._budget

    # -- helpers -------------------------------------------------------------------------------------

    def _list(self, path: str, **params: Any) -> AsyncIterator[dict[str, Any]]:
        return self.pages(f"{_API}{path}", self._links, per_page=_PER_PAGE, **params)

    def _ticket(self, data: Any) -> Conversation:
        if not isinstance(data, dict):
            raise HelpdeskError(vendor=self.vendor, vendor_message="expected a ticket object in the response")
        return ticket_from_json(data, self.custom_statuses)

    # -- reads ---------------------------------------------------------------------------------------

    async def iter_conversations(
        self,
        *,
        updated_since: datetime | None = None,
        status: Sequence[ConversationStatus] | None = None,
    ) -> AsyncIterator[Conversation]:
        """Oldest change first. The list has no status filter we can use for core statuses, so we filter here."""
        wanted = set(status) if status else None
        async for item in self.iter_ticket_json(updated_since=updated_since):
            conv = self._ticket(item)
            if wanted is None or conv.status in wanted:
                yield conv

    async def iter_ticket_json(self, *, updated_since: datetime | None = None) -> AsyncIterator[dict[str, Any]]:
        """Every ticket updated at or after `updated_since` once, in `updated_at` order, past the page cap.

        `ticket_paging="keyset"` (default) opens a new window at the newest `updated_at` after every page
        that moved it: a ticket updated during the walk moves to the end of the list, which shifts page
        numbers, and following `page=N+1` would then skip the ticket that slid back across the boundary.
        Restarting at the edge costs the re-read of the edge tickets (~1 per page) and never reaches the
        cap. `"windows"` follows `Link` pages and opens a new window only on the page-cap 400 (Airbyte's
        way): fewest requests, exposed to that shift. In both, a window whose page does not move past the
        edge (over 100 tickets in one second) follows `Link`, and the page-cap 400 there opens the next
        window; the cap is never hard-coded.
        """
        window = (updated_since or self.history_start).astimezone(UTC).replace(microsecond=0)
        edge: datetime | None = None  # the newest updated_at yielded so far
        at_edge: set[str] = set()  # ids yielded with updated_at == edge
        while True:
            first = PageRequest(
                url=f"{_API}/tickets",
                params={
                    "updated_since": fd_time(window),
                    "order_by": "updated_at",
                    "order_type": "asc",
                    "per_page": _PER_PAGE,
                    # +2 credits a page (vendors/freshdesk.md section 5) instead of one GET per ticket later
                    "include": "description",
                },
            )
            pages = cast(AsyncGenerator[Page, None], iter_pages(self.http, first, self._links))
            try:
                async for page in pages:
                    for item in page.items:
                        ticket_id = str(item.get("id"))
                        updated = as_time(item.get("updated_at"))
                        if updated is not None and updated == edge and ticket_id in at_edge:
                            continue  # yielded before the window restarted at this same instant
                        if updated is not None and (edge is None or updated > edge):
                            edge, at_edge = updated, set()
                        if updated is not None:
                            at_edge.add(ticket_id)
                        self._remember_description(item)
                        yield item
                    if page.next is None:
                        return
                    if self.ticket_paging == "keyset" and edge is not None and edge > window:
                        break  # restart at the edge instead of following page=N+1
            except ValidationError as exc:
                if "page" not in exc.field_errors:
                    raise
                if edge is None or edge <= window:
                    raise self._stuck(window) from exc
                logger.info("freshdesk: ticket list page cap reached; next window from %s", fd_time(edge))
            finally:
                await pages.aclose()
            if edge is None or edge <= window:  # both restarts above need progress; never loop
                raise self._stuck(window)
            window = edge

    def _stuck(self, window: datetime) -> PaginationLoopError:
        return PaginationLoopError(
            vendor=self.vendor,
            token=f"GET {_API}/tickets updated_since={fd_time(window)}",
            pages=0,
            reason="the page cap was reached inside one updated_at second; cannot open a later window",
        )

    async def get_conversation(self, conversation_id: str) -> Conversation:
        ticket_id = _numeric_id(conversation_id, "ticket")
        return self._ticket(await self.http.get_json(f"{_API}/tickets/{ticket_id}"))

    def _remember_description(self, item: Mapping[str, Any]) -> None:
        """Keeps the first message of a listed ticket, so `iter_messages` right after needs no GET."""
        if "description" not in item and "description_text" not in item:
            return
        key = str(item.get("id"))
        self._descriptions[key] = {k: item.get(k) for k in ("id", "requester_id", "description",
                                                            "description_text", "created_at")}  # fmt: skip
        self._descriptions.move_to_end(key)
        while len(self._descriptions) > _DESCRIPTION_CACHE:
            self._descriptions.popitem(last=False)

    async def iter_messages(self, conversation_id: str) -> AsyncIterator[Message]:
        """The ticket's description (its first message), then its conversations, oldest first.

        The description comes from the listing when the ticket was just listed (`include=description`),
        else from `GET /tickets/{id}`; a ticket deleted since is a NotFoundError either way.
        """
        ticket_id = _numeric_id(conversation_id, "ticket")
        ticket = self._descriptions.pop(str(ticket_id), None)
        if ticket is None:
            ticket = await self.http.get_json(f"{_API}/tickets/{ticket_id}")
        if isinstance(ticket, dict):
            first = description_message(ticket)
            if first is not None:
                yield first
        async for item in self._list(f"/tickets/{ticket_id}/conversations"):
            yield message_from_json(item, str(ticket_id))

    async def iter_agents(self) -> AsyncIterator[Agent]:
        async for item in self._list("/agents"):
            yield agent_from_json(item, capacity_default=self.settings.capacity_default)

    async def iter_groups(self) -> AsyncIterator[Group]:
        async for item in self._list("/groups"):
            yield group_from_json(item)

    async def iter_customers(self, *, updated_since: datetime | None = None) -> AsyncIterator[Customer]:
        since = fd_time(updated_since) if updated_since is not None else None
        async for item in self._list("/contacts", _updated_since=since):  # sic: leading underscore
            yield customer_from_json(item)

    async def iter_ratings(self, *, updated_since: datetime | None = None) -> AsyncIterator[SatisfactionRating]:
        since = fd_time(updated_since or self.history_start)
        async for item in self._list("/surveys/satisfaction_ratings", created_since=since):
            yield rating_from_json(item)

    async def _contact_json(self, customer_id: str) -> dict[str, Any]:
        contact_id = _numeric_id(customer_id, "contact")
        data = await self.http.get_json(f"{_API}/contacts/{contact_id}")
        if not isinstance(data, dict):
            raise HelpdeskError(vendor=self.vendor, vendor_message="expected a contact object in the response")
        return data

    async def get_customer(self, customer_id: str) -> Customer:
        return customer_from_json(await self._contact_json(customer_id))

    async def find_customer(self, *, email: str) -> Customer | None:
        async for item in self._list("/contacts", email=email.strip()):
            return customer_from_json(item)
        return None

    # -- writes --------------------------------------------------------------------------------------

    def _ticket_path(self, ticket_id: int) -> str:
        return f"{_API}/tickets/{ticket_id}"

    def _assignment_body(self, agent_id: str | None, group_id: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"responder_id": _numeric_id(agent_id, "agent") if agent_id is not None else None}
        if group_id is not None:
            body["group_id"] = _numeric_id(group_id, "group")
        return body

    async def assign(
        self,
        conversation_id: str,
        agent_id: str | None,
        *,
        group_id: str | None = None,
        expected_updated_at: datetime | None = None,
        expected_version: str | None = None,
        expected_assignee_id: str | None = None,
    ) -> Conversation:
        ticket_id = _numeric_id(conversation_id, "ticket")
        body = self._assignment_body(agent_id, group_id)
        # No ETag/If-Match in v2: re-read and let the toolkit's guard decide (the race window is one round trip).
        await self.reread_guard(
            str(ticket_id),
            expected_updated_at=expected_updated_at,
            expected_version=expected_version,
            expected_assignee_id=expected_assignee_id,
            path=self._ticket_path(ticket_id),
        )
        return self._ticket(await self.http.send_json("PUT", self._ticket_path(ticket_id), json=body))

    async def assign_many(self, assignments: Sequence[Assignment]) -> list[AssignmentResult]:
        """Fresh reads for stale checks, then one `bulk_update` job per (agent, group) target, polled to the end.

        Stale, deleted and already-assigned tickets are settled before the job and never sent; one failure
        never stops the others. A target with a single ticket uses a plain PUT (one call instead of two+).
        """
        results: dict[int, AssignmentResult] = {}
        semaphore = asyncio.Semaphore(self.assign_concurrency)

        async def precheck(index: int, item: Assignment) -> None:
            async with semaphore:
                try:
                    current = await self.reread_guard(
                        item.conversation_id,
                        expected_updated_at=item.expected_updated_at,
                        expected_version=item.expected_version,
                        expected_assignee_id=item.expected_assignee_id,
                        path=self._ticket_path(int(item.conversation_id)),
                    )
                except ConflictError as exc:
                    results[index] = self._result(item, AssignmentOutcome.CONFLICT, str(exc))
                    return
                except NotFoundError as exc:
                    results[index] = self._result(item, AssignmentOutcome.NOT_FOUND, str(exc))
                    return
                except HelpdeskError as exc:
                    results[index] = self._result(item, AssignmentOutcome.FAILED, str(exc))
                    return
            if current is not None and already_as_asked(current, item.agent_id, item.group_id):
                results[index] = AssignmentResult(
                    conversation_id=item.conversation_id,
                    outcome=AssignmentOutcome.UNCHANGED,
                    agent_id=current.assignee_id,
                    group_id=current.group_id,
                    conversation=current,
                )

        for index, item in enumerate(assignments):
            try:
                _numeric_id(item.conversation_id, "ticket")
                self._assignment_body(item.agent_id, item.group_id)
            except ValidationError as exc:
                results[index] = self._result(item, AssignmentOutcome.FAILED, str(exc))
        await asyncio.gather(*(precheck(i, a) for i, a in enumerate(assignments) if i not in results))

        targets: dict[tuple[str | None, str | None], list[int]] = {}
        for index, item in enumerate(assignments):
            if index not in results:
                targets.setdefault((item.agent_id, item.group_id), []).append(index)
        for (agent_id, group_id), indexes in targets.items():
            for start in range(0, len(indexes), _BULK_CHUNK):
                chunk = indexes[start : start + _BULK_CHUNK]
                if len(chunk) == 1:
                    results[chunk[0]] = await self._put_one(assignments[chunk[0]])
                else:
                    outcome = await self._bulk(agent_id, group_id, [assignments[i] for i in chunk])
                    results.update(zip(chunk, outcome, strict=True))
        return [results[i] for i in range(len(assignments))]

    @staticmethod
    def _result(item: Assignment, outcome: AssignmentOutcome, message: str | None = None) -> AssignmentResult:
        return AssignmentResult(
            conversation_id=item.conversation_id, outcome=outcome, agent_id=item.agent_id, message=message
        )

    async def _put_one(self, item: Assignment) -> AssignmentResult:
        try:
            body = self._assignment_body(item.agent_id, item.group_id)
            data = await self.http.send_json("PUT", f"{_API}/tickets/{int(item.conversation_id)}", json=body)
        except NotFoundError as exc:
            return self._result(item, AssignmentOutcome.NOT_FOUND, str(exc))
        except HelpdeskError as exc:
            return self._result(item, AssignmentOutcome.FAILED, str(exc))
        conv = self._ticket(data)
        return AssignmentResult(
            conversation_id=item.conversation_id,
            outcome=AssignmentOutcome.APPLIED,
            agent_id=conv.assignee_id,
            group_id=conv.group_id,
            conversation=conv,
        )

    async def _bulk(
        self, agent_id: str | None, group_id: str | None, items: list[Assignment]
    ) -> list[AssignmentResult]:
        ids = [int(i.conversation_id) for i in items]
        body = {"bulk_action": {"ids": ids, "properties": self._assignment_body(agent_id, group_id)}}
        try:
            started = await self.http.send_json("POST", f"{_API}/tickets/bulk_update", json=body)
            job_id = started.get("job_id") if isinstance(started, dict) else None
            if not job_id:
                raise HelpdeskError(vendor=self.vendor, vendor_message="bulk_update answered without a job_id")
            job = await self._wait_for_job(str(job_id))
        except HelpdeskError as exc:
            return [self._result(i, AssignmentOutcome.FAILED, str(exc)) for i in items]
        per_id = _job_results(job)
        failed = _job_failed(job) if not per_id else None
        out: list[AssignmentResult] = []
        for item in items:
            ok, message = per_id.get(int(item.conversation_id), (False, failed) if failed else (None, None))
            if ok is False:
                out.append(self._result(item, AssignmentOutcome.FAILED, message or "the bulk job failed this ticket"))
                continue
            # The job's per-ticket shape is unconfirmed; where it says nothing, read back to know.
            try:
                after = await self.get_conversation(item.conversation_id) if ok is None else None
            except NotFoundError as exc:
                out.append(self._result(item, AssignmentOutcome.NOT_FOUND, str(exc)))
                continue
            except HelpdeskError as exc:
                out.append(self._result(item, AssignmentOutcome.FAILED, str(exc)))
                continue
            if after is not None and after.assignee_id != item.agent_id:
                out.append(
                    self._result(
                        item, AssignmentOutcome.FAILED, "the bulk job finished but the ticket was not assigned"
                    )
                )
                continue
            out.append(
                AssignmentResult(
                    conversation_id=item.conversation_id,
                    outcome=AssignmentOutcome.APPLIED,
                    agent_id=item.agent_id,
                    group_id=group_id if after is None else after.group_id,
                    conversation=after,
                )
            )
        return out

    async def _wait_for_job(self, job_id: str) -> dict[str, Any]:
        """Polls `GET /api/v2/jobs/{id}` on the injected clock until the job ends (HelpdeskError at job_timeout)."""
        path = f"{_API}/jobs/{job_id}"

        async def read() -> Any:
            return await self.http.get_json(path)

        job = await poll_job(
            read,
            finished=lambda job: (
                isinstance(job, dict) and str(job.get("status", "")).strip().lower().replace(" ", "_") in _JOB_DONE
            ),
            clock=self.clock,
            give_up_after=self.settings.job_timeout,
            vendor=self.vendor,
            what="the bulk_update job",
            path=path,
        )
        return cast(dict[str, Any], job)

    async def update_customer(self, customer_id: str, patch: ProfilePatch) -> Customer:
        """Read-modify-write: tags are merged (Freshdesk replaces the list), the note goes into `description`
        between markers; `avatar_url` is not written (Freshdesk takes avatars only as multipart uploads)."""
        current = await self._contact_json(customer_id)
        body = contact_update_body(current, patch)
        if not body:
            return customer_from_json(current)
        data = await self.http.send_json("PUT", f"{_API}/contacts/{int(customer_id)}", json=body)
        if not isinstance(data, dict):
            raise HelpdeskError(vendor=self.vendor, vendor_message="expected a contact object in the response")
        return customer_from_json(data)

    async def add_internal_note(self, conversation_id: str, body: str) -> Message:
        ticket_id = _numeric_id(conversation_id, "ticket")
        data = await self.http.send_json(
            "POST", f"{_API}/tickets/{ticket_id}/notes", json={"body": text_to_html(body), "private": True}
        )
        if not isinstance(data, dict):
            raise HelpdeskError(vendor=self.vendor, vendor_message="expected a conversation object in the response")
        return message_from_json(data, str(ticket_id))

    async def missing_contact_fields(self, names: Iterable[str]) -> list[str]:
        """Which of these contact custom-field API names are not defined yet (`GET /api/v2/contact_fields`).

        Writing an undefined one fails with 400 `invalid_field`; run this before the first enrichment.
        """
        fields = await self.http.get_json(f"{_API}/contact_fields")
        defined = {f.get("name") for f in fields if isinstance(f, dict)} if isinstance(fields, list) else set()
        return [name for name in dict.fromkeys(names) if name not in defined]

    # -- saved replies, links -------------------------------------------------------------------------

    def conversation_url(self, conversation_id: str) -> str | None:
        """`https://{domain}.freshdesk.com/a/tickets/{id}` (the agent portal; from the configured base URL)."""
        text = str(conversation_id).strip()
        return f"{self.http.base_url}/a/tickets/{text}" if text.isascii() and text.isdigit() else None

    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        """Canned responses: `GET /api/v2/canned_response_folders`, then each folder's
        `GET /api/v2/canned_response_folders/{id}/responses` (paged by `Link`). The text is `content_html`
        converted to plain text, else `content`; a response listed without either is read on its own
        (`GET /api/v2/canned_responses/{id}`). Personal folders are the API key's agent's own."""
        folders = paginate(self.http, PageRequest(url=f"{_API}/canned_response_folders"), self._links)
        async for folder in folders:
            folder_id = folder.get("id")
            if not isinstance(folder_id, int) or isinstance(folder_id, bool):
                continue
            async for item in self._list(f"/canned_response_folders/{folder_id}/responses"):
                rid = item.get("id")
                if not isinstance(rid, int) or isinstance(rid, bool):
                    continue
                if not any(isinstance(item.get(k), str) for k in ("content_html", "content")):
                    detail = await self.http.get_json(f"{_API}/canned_responses/{rid}")
                    item = detail if isinstance(detail, dict) else item
                yield _canned_to_saved_reply(item, folder=folder)

    # -- webhooks ------------------------------------------------------------------------------------

    async def register_webhook(
        self,
        *,
        url: str,
        secret: str | None = None,
        events: Sequence[WebhookEventType] | None = None,
    ) -> WebhookSubscription:
        """Freshdesk has no webhook subscription API: raises `UnsupportedOperationError` with the exact steps
        (automation rules whose "Trigger webhook" action sends the shared-secret header `verify_webhook` checks)."""
        raise UnsupportedOperationError(
            webhook_steps(url=url, header=self.webhook_secret_header, events=events),
            vendor=self.vendor,
            operation="register_webhook",
        )

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        """The shared-secret header the automation rule sends (not a body signature: Freshdesk has none)."""
        return verify_shared_secret(headers, secret, header=self.webhook_secret_header)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return parse_webhook_body(body, vendor=self.vendor)

    # -- operations ----------------------------------------------------------------------------------

    async def check_call(self) -> Mapping[str, Any]:
        """`GET /api/v2/agents/me`: proves the key and shows whose it is, the plan's endpoint limits and the
        credits a call costs."""
        me = await self.http.get_json(f"{_API}/agents/me")
        contact = me.get("contact") if isinstance(me, dict) else None
        details: dict[str, Any] = {"plan": self.plan}
        if isinstance(contact, dict) and contact.get("email"):
            details["agent"] = contact.get("email")
        for name, limiter in self.endpoint_limiters.items():
            details[f"{name}_per_minute"] = limiter.per_minute
        if self._budget.last_cost is not None:
            details["credits_per_call"] = self._budget.last_cost
        return details


#: one automation rule per event kind: (core event, rule type, condition, the JSON body the action sends)
_WEBHOOK_RULES: Final = (
    (
        WebhookEventType.CONVERSATION_CREATED,
        "Ticket creation",
        "all tickets (or the ones to route)",
        '{"event": "ticket_created", "ticket_id": {{ticket.id}}, "updated_at": "{{ticket.updated_at}}"}',
    ),
    (
        WebhookEventType.CONVERSATION_ASSIGNED,
        "Ticket updates",
        'event "Agent is changed"',
        '{"event": "agent_assigned", "ticket_id": {{ticket.id}}, "triggered_event": "{{triggered_event}}"}',
    ),
    (
        WebhookEventType.CUSTOMER_REPLIED,
        "Ticket updates",
        'event "Reply is sent", performed by "Customer"',
        '{"event": "customer_replied", "ticket_id": {{ticket.id}}}',
    ),
    (
        WebhookEventType.CONVERSATION_UPDATED,
        "Ticket updates",
        'event "Status is changed"',
        '{"event": "ticket_updated", "ticket_id": {{ticket.id}}, "updated_at": "{{ticket.updated_at}}"}',
    ),
)


def webhook_steps(*, url: str, header: str, events: Sequence[WebhookEventType] | None = None) -> str:
    """The manual set-up `register_webhook` prints: one automation rule per event, each sending our header."""
    wanted = set(events or (WebhookEventType.CONVERSATION_CREATED, WebhookEventType.CONVERSATION_ASSIGNED,
                            WebhookEventType.CUSTOMER_REPLIED))  # fmt: skip
    rules = [rule for rule in _WEBHOOK_RULES if rule[0] in wanted]
    lines = [
        "freshdesk: webhooks cannot be registered through the API (there is no subscription endpoint); "
        "an admin creates them as automation rules:",
        "  In Freshdesk: Admin > Workflows > Automations.",
    ]
    for number, (_, kind, condition, body) in enumerate(rules, start=1):
        lines += [
            f"  {number}. Tab '{kind}' > New rule, condition: {condition}; action 'Trigger webhook':",
            f"     Request type POST, URL {url}, Encoding JSON, Content: Advanced,",
            f"     Custom headers: {header}: <your webhook secret>,",
            f"     Body: {body}",
        ]
    lines.append(
        "  Use a long random secret, the same in every rule, and give it to the receiver as "
        "HUMANSUPPORT_FRESHDESK_WEBHOOK_SECRET (Freshdesk signs nothing; this header is the only proof of origin)."
    )
    return "\n".join(lines)


def _canned_to_saved_reply(item: Mapping[str, Any], *, folder: Mapping[str, Any]) -> SavedReply:
    html = item.get("content_html")
    plain = item.get("content")
    if isinstance(html, str) and html.strip():
        body = html_to_text(html)
    elif isinstance(plain, str):
        text = plain.replace("\r\n", "\n")
        body = html_to_text(text) if looks_like_html(text) else text.strip()
    else:
        body = ""
    title = item.get("title")
    return SavedReply(
        id=str(item.get("id")),
        vendor="freshdesk",
        title=title if isinstance(title, str) else None,
        body=body,
        kind="canned_response",
        updated_at=as_time(item.get("updated_at")),
        raw={**item, "folder_name": folder.get("name")},
    )


def _job_results(job: Mapping[str, Any]) -> dict[int, tuple[bool | None, str | None]]:
    """Per-ticket outcome from a finished job: ticket id -> (success or None when unsaid, message).

    The job shape is unconfirmed, so this reads `data` (or `results`) entries with `id` and `success`;
    a job that failed as a whole and lists nothing fails every ticket (see `_bulk`).
    """
    out: dict[int, tuple[bool | None, str | None]] = {}
    entries = job.get("data") if isinstance(job.get("data"), list) else job.get("results")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        raw_id = entry.get("id")
        if isinstance(raw_id, bool) or not str(raw_id).strip().isdigit():
            continue
        success = entry.get("success")
        message = entry.get("message") or entry.get("errors")
        out[int(str(raw_id).strip())] = (
            success if isinstance(success, bool) else None,
            str(message) if message else None,
        )
    return out


def _job_failed(job: Mapping[str, Any]) -> str | None:
    status = str(job.get("status", "")).strip().lower()
    if status in ("failed", "failure"):
        return f"the bulk job failed: {job.get('message') or status}"
    return None
