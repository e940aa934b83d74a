"""The Intercom adapter: every `AsyncHelpdesk` method over Intercom's REST API through `humansupport.http`.

Sources for each choice: docs/vendors/intercom.md (cited as "fact sheet §n") and Intercom's OpenAPI
description (tests/specs/ in this plugin, cited as "OAS 2.14").
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Final, Literal

from pydantic import Field, SecretStr, field_validator

from humansupport import (
    Agent,
    Capabilities,
    CheckReport,
    Conversation,
    ConversationStatus,
    Customer,
    Group,
    HelpdeskError,
    HelpdeskSettings,
    Message,
    ProfilePatch,
    SatisfactionRating,
    SavedReply,
    UnsupportedOperationError,
    ValidationError,
    WebhookEvent,
    WebhookEventType,
    WebhookSubscription,
)
from humansupport.clock import Clock
from humansupport.enrichment.writeback import FieldSpec
from humansupport.http import (
    CursorPaginator,
    HttpClient,
    LocalRateBudget,
    Page,
    PageRequest,
    RateBudget,
    RateLimiter,
    RateLimitHeaders,
    iter_pages,
)
from humansupport.text import html_to_text
from humansupport.vendor import BearerAuth, RestAdapter, already_as_asked, as_str, as_time

from . import webhooks
from .mapping import (
    agent_from_admin,
    conversation_from_intercom,
    customer_from_contact,
    group_from_team,
    message_from_part,
    messages_from_conversation,
    rating_from_conversation,
    states_for_statuses,
)

__all__ = [
    "API_VERSIONS",
    "MACROS_API_VERSION",
    "WEBHOOK_TOPICS",
    "PROFILE_ATTRIBUTES",
    "REGION_BASE_URLS",
    "ConversationPage",
    "IntercomAdapter",
    "IntercomRateLimiter",
    "IntercomSettings",
    "webhook_steps",
]

logger = logging.getLogger("humansupport.intercom")

#: fact sheet §1 (developers.intercom.com/building-apps/docs/rest-apis)
REGION_BASE_URLS: Final[Mapping[str, str]] = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
#: versions whose OpenAPI description this plugin was checked against (tests/specs/ in this plugin)
API_VERSIONS: Final = ("2.14", "2.16")
#: OAS 2.14 `search_request`: per_page max 150 for conversations and contacts
SEARCH_PAGE_SIZE: Final = 150
#: the first numbered version with the Macros API (`GET /macros`, `GET /macros/{id}`): OAS 2.16 has it, 2.14
#: does not; macro calls send this version whatever `api_version` the rest of the adapter uses
MACROS_API_VERSION: Final = "2.16"
#: webhook topics to tick in Developer Hub per core event (the ones `webhooks.parse_notification` maps)
WEBHOOK_TOPICS: Final[Mapping[WebhookEventType, tuple[str, ...]]] = {
    WebhookEventType.CONVERSATION_CREATED: ("conversation.user.created",),
    WebhookEventType.CONVERSATION_ASSIGNED: ("conversation.admin.assigned", "conversation.admin.open.assigned"),
    WebhookEventType.CUSTOMER_REPLIED: ("conversation.user.replied",),
    WebhookEventType.AGENT_AVAILABILITY_CHANGED: ("admin.away_mode_updated",),
}
#: the app host (agent UI) per region, for conversation links
APP_HOSTS: Final[Mapping[str, str]] = {
    "us": "https://app.intercom.com",
    "eu": "https://app.eu.intercom.com",
    "au": "https://app.au.intercom.com",
}
#: private apps: 10,000 calls/min per app (fact sheet §5); the limit header corrects this on the first answer
DEFAULT_PER_MINUTE: Final = 10_000.0
#: contact data attributes profile enrichment writes (`humansupport intercom setup` creates them)
PROFILE_ATTRIBUTES: Final[Mapping[str, str]] = {
    "humansupport_preferred_agent": "string",
    "humansupport_conversations": "integer",
}
#: Intercom enforces its limits in 10-second windows and states `X-RateLimit-Limit` per window (fact sheet §5)
WINDOW_SECONDS: Final = 10.0

RATE_HEADERS: Final = RateLimitHeaders(
    limit="X-RateLimit-Limit",
    remaining="X-RateLimit-Remaining",
    reset="X-RateLimit-Reset",  # a Unix timestamp; no Retry-After is documented
    reset_kind="epoch",
)

_ENV = "HUMANSUPPORT_INTERCOM_"
_ERROR_HINTS: Final[Mapping[int, str]] = {
    401: (
        f"Intercom refused the access token: check {_ENV}ACCESS_TOKEN, and {_ENV}REGION (us, eu or au) "
        "if the workspace is hosted outside the US"
    ),
    403: (
        f"the app behind {_ENV}ACCESS_TOKEN lacks a permission for this call (Developer Hub > Configure > "
        "Authentication) or the workspace plan has no API access; see docs/vendors/intercom.md"
    ),
}
#: conversation-level write failures after which we re-read instead of guessing (the write may have landed)
_UNCERTAIN_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})


class IntercomSettings(HelpdeskSettings):
    """Intercom settings, declared once (the adapter takes them as keyword overrides); `access_token` only from
    keyword arguments or HUMANSUPPORT_INTERCOM_ACCESS_TOKEN."""

    vendor: ClassVar[str] = "intercom"
    access_token: SecretStr
    region: Literal["us", "eu", "au"] = "us"
    api_version: str = "2.14"
    admin_id: str | None = None
    #: the workspace (app) id, as in app.intercom.com/a/inbox/<workspace_id>/...: links in reports need it
    workspace_id: str | None = None
    #: requests in flight at once on one adapter (each paced by the app's rate bucket)
    max_concurrency: int = Field(default=8, ge=1)

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        """Intercom takes `1.0`...`2.x` or `Preview` (OAS `intercom_version`); catch typos before any request."""
        if not re.fullmatch(r"\d+\.\d+|Preview", value):
            raise ValueError(f"expected a version like 2.14 or Preview, got {value!r}")
        return value

    @field_validator("admin_id")
    @classmethod
    def _admin(cls, value: str | None) -> str | None:
        """Admin ids are numeric; a team id or an email here is a common mistake (intercom-ruby #433)."""
        if value is not None and not value.isdigit():
            raise ValueError(f"expected an admin's numeric id, got {value!r}")
        return value


class IntercomRateLimiter(RateLimiter):
    """The core bucket counts per minute; Intercom's `X-RateLimit-Limit` counts per 10-second window."""

    def observe(self, headers: Mapping[str, str]) -> None:
        name = self.headers.limit
        if name is None:
            super().observe(headers)
            return
        scaled = dict(headers.items())
        for key, value in headers.items():
            if key.lower() == name.lower():
                try:
                    scaled[key] = str(float(value) * 60.0 / WINDOW_SECONDS)
                except ValueError:
                    scaled.pop(key)
        super().observe(scaled)


_LIMITERS: dict[str, IntercomRateLimiter] = {}


def _same_budget(limiter: RateLimiter, budget: RateBudget | None) -> bool:
    """The injected budget, or (none injected) a limiter whose budget is its own in-process one."""
    return limiter.budget is budget if budget is not None else isinstance(limiter.budget, LocalRateBudget)


def _limiter_for(key: str, clock: Clock, budget: RateBudget | None = None) -> IntercomRateLimiter:
    """One limiter per app (account key), shared by adapters on the same clock and budget (like `limiter_for`).

    Intercom counts in 10-second windows, so the window is 10 s: a sixth of the minute's rate at once.
    """
    existing = _LIMITERS.get(key)
    if existing is not None and existing.clock is clock and _same_budget(existing, budget):
        return existing
    limiter = IntercomRateLimiter(
        per_minute=DEFAULT_PER_MINUTE, clock=clock, headers=RATE_HEADERS, window=WINDOW_SECONDS, budget=budget, key=key
    )
    _LIMITERS[key] = limiter
    return limiter


@dataclass(frozen=True, kw_only=True)
class ConversationPage:
    """One search page, mapped; `next_cursor` is the checkpoint to resume from (None on the last page)."""

    conversations: list[Conversation]
    next_cursor: str | None
    number: int
    raw_items: list[dict[str, Any]] = field(default_factory=list, repr=False)


def _search_query(filters: list[dict[str, Any]]) -> dict[str, Any]:
    """A single filter stands alone; several go in one AND group (OAS: singles and groups do not mix)."""
    if len(filters) == 1:
        return filters[0]
    return {"operator": "AND", "value": filters}


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _data_type(value: Any) -> str:
    """Intercom data attribute type for a Python value (OAS 2.14 `create_data_attribute_request`)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str) or value is None:
        return "string"
    raise TypeError(type(value).__name__)


def _fill_request_id(exc: HelpdeskError) -> HelpdeskError:
    """Intercom puts `request_id` in the error body (fact sheet §6); support asks for it, so surface it."""
    if exc.request_id is None and exc.body:
        try:
            data = json.loads(exc.body)
        except ValueError:
            return exc
        rid = data.get("request_id") if isinstance(data, dict) else None
        if isinstance(rid, str) and rid:
            exc.request_id = rid
            exc.args = (exc._compose(),)
    return exc


def _version_at_least(version: str, wanted: str) -> bool:
    """`Preview` has every endpoint; numbered versions compare as (major, minor)."""
    if version == "Preview":
        return True
    try:
        have = tuple(int(p) for p in version.split("."))
        need = tuple(int(p) for p in wanted.split("."))
    except ValueError:
        return False
    return have >= need


def _macro_text(item: Mapping[str, Any]) -> str:
    """A macro's plain text: `body_text` as typed, else the HTML `body` converted; "" when neither came."""
    text = item.get("body_text")
    if isinstance(text, str) and text.strip():
        return text.replace("\r\n", "\n").strip()
    html = item.get("body")
    return html_to_text(html) if isinstance(html, str) else ""


def _macro_to_saved_reply(item: Mapping[str, Any]) -> SavedReply:
    return SavedReply(
        id=str(item.get("id")),
        vendor="intercom",
        title=as_str(item.get("name")),
        body=_macro_text(item),
        kind="macro",
        updated_at=as_time(item.get("updated_at")),
        raw=dict(item),
    )


def webhook_steps(*, url: str, events: Sequence[WebhookEventType] | None = None) -> str:
    """The Developer Hub set-up `register_webhook` prints instead of an API call Intercom does not have."""
    wanted = events or tuple(WEBHOOK_TOPICS)
    topics = [t for e in wanted for t in WEBHOOK_TOPICS.get(e, ())]
    return "\n".join(
        [
            "intercom: webhook subscriptions cannot be created through the API; set them on your app:",
            "  1. Open Developer Hub (https://app.intercom.com/a/apps/_/developer-hub), pick the app whose access "
            "token humansupport uses.",
            f"  2. Configure > Webhooks: set the endpoint URL to {url} (HTTPS).",
            f"  3. Tick the topics: {', '.join(dict.fromkeys(topics)) or 'none of the requested events exist'}; "
            "grant the read permissions they ask for (Configure > Authentication), then Save.",
            "  4. The signing secret is the app's client secret (Configure > Basic Info > Client secret): give it to "
            "the receiver as HUMANSUPPORT_INTERCOM_WEBHOOK_SECRET; Intercom signs each delivery with it "
            "(X-Hub-Signature).",
        ]
    )


#: data attribute holding the digest of the last contact note we posted (notes are append-only)
NOTE_DIGEST_ATTRIBUTE: Final = "humansupport_note_digest"


class IntercomAdapter(RestAdapter[IntercomSettings]):
    """Intercom conversations, admins, teams and contacts as a humansupport helpdesk."""

    vendor: ClassVar[str] = "intercom"
    capabilities: ClassVar[Capabilities] = Capabilities(
        bulk_assign=False,  # no bulk conversation endpoint (fact sheet §4): concurrent single writes
        optimistic_concurrency=False,  # no ETag/version (fact sheet §4): re-read before writing instead
        availability=True,  # away_mode_enabled
        signed_webhooks=True,  # X-Hub-Signature, HMAC-SHA1
        incremental_export=False,  # only `updated_at` search
        satisfaction_ratings=True,  # conversation_rating
        webhook_registration=False,  # subscriptions are set in Developer Hub, not through the API
        saved_replies=True,  # macros, API 2.16+ (`MACROS_API_VERSION`)
        append_only_notes=True,  # contact notes are separate, append-only records: our last note is the store's copy
    )
    auth = BearerAuth("access_token")
    headers: ClassVar[Mapping[str, str]] = {"Intercom-Version": "{api_version}"}
    rate_limit_per_minute: ClassVar[float] = DEFAULT_PER_MINUTE
    rate_headers: ClassVar[RateLimitHeaders] = RATE_HEADERS
    request_id_headers: ClassVar[tuple[str, ...]] = ("X-Request-Id", "X-Intercom-Request-Id")
    error_hints: ClassVar[Mapping[int, str]] = _ERROR_HINTS
    check_path: ClassVar[str | None] = "/me"
    repr_settings: ClassVar[tuple[str, ...]] = ("region", "api_version")
    #: single writes in flight for `assign_many`; each costs 2-3 requests, all paced by the rate bucket
    assign_concurrency: ClassVar[int] = 4
    #: conversation search may match timestamps by day like contact search (unconfirmed, fact sheet §3):
    #: ask for this much earlier and filter exactly on our side, so nothing on the boundary day is lost
    search_overlap_seconds: ClassVar[int] = 86_400

    def __init__(self, **options: Any) -> None:
        """`RestAdapter`'s constructor (settings as keyword overrides, `transport`, `clock`, ...) plus the
        caches one adapter keeps: tag names, data attribute names, the acting admin, the workspace id."""
        self._tag_names: dict[str, str] | None = None
        self._tag_ids: dict[str, str] = {}
        self._attributes: set[str] | None = None
        #: conversations whose oldest parts Intercom did not return (over 500 parts), id -> parts missing
        self.parts_truncated: dict[str, int] = {}
        self._macros_http: HttpClient | None = None
        super().__init__(**options)
        self._admin_id = self.settings.admin_id
        self.workspace_id = self.settings.workspace_id

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def api_version(self) -> str:
        return self.settings.api_version

    def resolve_base_url(self) -> str:
        """The `base_url` setting, else the region's API host (fact sheet §1: the US host has no region part)."""
        return (self.settings.base_url or REGION_BASE_URLS[self.settings.region]).rstrip("/")

    def limiter(
        self, bucket: str | None = None, *, per_minute: float | None = None, headers: RateLimitHeaders | None = None
    ) -> RateLimiter:
        """The app's bucket under the toolkit's `limiter_key` (the account, else host and token fingerprint),
        counted in Intercom's 10-second windows (`IntercomRateLimiter`)."""
        key = self.limiter_key()
        return _limiter_for(f"{key}:{bucket}" if bucket else key, self.clock, self.rate_budget)

    # -- plumbing ------------------------------------------------------------------------------------

    async def _json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        try:
            if method == "GET":
                return await self.http.get_json(url, params=params)
            return await self.http.send_json(method, url, json=body, params=params, idempotent=idempotent)
        except HelpdeskError as exc:
            raise _fill_request_id(exc) from exc.__cause__

    async def _object(self, method: str, url: str, **kw: Any) -> dict[str, Any]:
        data = await self._json(method, url, **kw)
        if not isinstance(data, dict):
            raise HelpdeskError(
                vendor=self.vendor,
                method=method,
                path=url,
                vendor_message=f"expected a JSON object, got {type(data).__name__}",
            )
        return data

    async def _pages(
        self, first: PageRequest, pager: CursorPaginator
    ) -> AsyncIterator[tuple[list[dict[str, Any]], Page]]:
        try:
            async for page in iter_pages(self.http, first, pager):
                yield page.items, page
        except HelpdeskError as exc:
            raise _fill_request_id(exc) from exc.__cause__

    async def acting_admin_id(self) -> str:
        """The admin that assignments and notes are made as: the `admin_id` setting, else the token's admin."""
        if self._admin_id is None:
            me = await self._object("GET", "/me")
            found = me.get("id")
            if not isinstance(found, str | int) or isinstance(found, bool) or str(found) in ("", "0"):
                raise ValidationError(
                    vendor=self.vendor,
                    method="GET",
                    path="/me",
                    vendor_message=f"the token has no admin; set {_ENV}ADMIN_ID to the acting admin's id",
                )
            self._admin_id = str(found)
        return self._admin_id

    # -- conversations -------------------------------------------------------------------------------

    def _conversation_filters(self, updated_since: datetime | None, states: list[str] | None) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = []
        if updated_since is not None:
            since = max(0, _epoch(updated_since) - self.search_overlap_seconds - 1)
            filters.append({"field": "updated_at", "operator": ">", "value": since})
        if states:
            if len(states) == 1:
                filters.append({"field": "state", "operator": "=", "value": states[0]})
            else:
                filters.append({"field": "state", "operator": "IN", "value": states})
        if not filters:  # search needs a query; every conversation was updated after the epoch
            filters.append({"field": "updated_at", "operator": ">", "value": 0})
        return filters

    async def iter_conversation_pages(
        self,
        *,
        updated_since: datetime | None = None,
        status: Sequence[ConversationStatus] | None = None,
        starting_after: str | None = None,
    ) -> AsyncIterator[ConversationPage]:
        """Search pages (`POST /conversations/search`, ≤150 each) with their cursor, to checkpoint and resume."""
        states = states_for_statuses(status)
        if states == []:
            return
        wanted = set(status) if status is not None else None
        pagination: dict[str, Any] = {"per_page": SEARCH_PAGE_SIZE}
        if starting_after:
            pagination["starting_after"] = starting_after
        body = {"query": _search_query(self._conversation_filters(updated_since, states)), "pagination": pagination}
        first = PageRequest(method="POST", url="/conversations/search", json=body)
        pager = CursorPaginator(
            items="conversations", next_cursor="pages.next.starting_after", cursor_in_json="pagination.starting_after"
        )
        async for items, page in self._pages(first, pager):
            convs = []
            for item in items:
                conv = conversation_from_intercom(item)
                if not conv.id:
                    continue
                if updated_since is not None and conv.updated_at is not None and conv.updated_at < updated_since:
                    continue  # inside the safety overlap, not actually changed since
                if wanted is not None and conv.status not in wanted:
                    continue
                convs.append(conv)
            nxt = page.next.json["pagination"]["starting_after"] if page.next is not None else None
            yield ConversationPage(conversations=convs, next_cursor=nxt, number=page.number, raw_items=items)

    async def iter_conversations(
        self,
        *,
        updated_since: datetime | None = None,
        status: Sequence[ConversationStatus] | None = None,
    ) -> AsyncIterator[Conversation]:
        async for page in self.iter_conversation_pages(updated_since=updated_since, status=status):
            for conv in page.conversations:
                yield conv

    async def get_conversation(self, conversation_id: str) -> Conversation:
        return conversation_from_intercom(await self._object("GET", f"/conversations/{conversation_id}"))

    async def iter_messages(self, conversation_id: str) -> AsyncIterator[Message]:
        """Source and message parts of `GET /conversations/{id}`; past 500 parts the oldest are unreachable."""
        data = await self._object("GET", f"/conversations/{conversation_id}")
        messages, missing = messages_from_conversation(data)
        if missing:
            self.parts_truncated[conversation_id] = missing
            logger.warning(
                "intercom: conversation %s has %d older parts the API does not return (500-part cap)",
                conversation_id,
                missing,
            )
        for message in messages:
            yield message

    async def iter_ratings(self, *, updated_since: datetime | None = None) -> AsyncIterator[SatisfactionRating]:
        """Ratings ride on the conversations (`conversation_rating`), so this is a conversation search."""
        async for page in self.iter_conversation_pages(updated_since=updated_since):
            for item in page.raw_items:
                rating = rating_from_conversation(item)
                if rating is not None:
                    yield rating

    # -- admins, teams -------------------------------------------------------------------------------

    async def iter_agents(self) -> AsyncIterator[Agent]:
        data = await self._object("GET", "/admins")
        for item in data.get("admins") or []:
            if isinstance(item, dict) and item.get("id") is not None:
                yield agent_from_admin(item, capacity=self.settings.capacity_default)

    async def iter_groups(self) -> AsyncIterator[Group]:
        data = await self._object("GET", "/teams")
        for item in data.get("teams") or []:
            if isinstance(item, dict) and item.get("id") is not None:
                yield group_from_team(item)

    # -- contacts ------------------------------------------------------------------------------------

    async def _tag_name_map(self, *, refresh: bool = False) -> dict[str, str]:
        if self._tag_names is None or refresh:
            data = await self._object("GET", "/tags")
            self._tag_names = {
                str(t["id"]): str(t["name"])
                for t in data.get("data") or []
                if isinstance(t, dict) and t.get("id") is not None and isinstance(t.get("name"), str)
            }
            self._tag_ids.update({name: tid for tid, name in self._tag_names.items()})
        return self._tag_names

    async def _customer(self, item: Mapping[str, Any]) -> Customer:
        refs = (item.get("tags") or {}).get("data") if isinstance(item.get("tags"), dict) else None
        names: dict[str, str] = {}
        if refs:
            names = await self._tag_name_map()
            if any(isinstance(r, dict) and str(r.get("id")) not in names for r in refs):
                names = await self._tag_name_map(refresh=True)
        return customer_from_contact(item, tag_names=names)

    async def iter_customers(self, *, updated_since: datetime | None = None) -> AsyncIterator[Customer]:
        """All contacts (`GET /contacts`), or those updated since (`POST /contacts/search`, day-granular)."""
        if updated_since is None:
            first = PageRequest(url="/contacts", params={"per_page": SEARCH_PAGE_SIZE})
            pager = CursorPaginator(
                items="data", next_cursor="pages.next.starting_after", cursor_param="starting_after"
            )
        else:
            # Contact search matches dates by calendar day in the workspace timezone and `>` starts the next
            # day; `>=` is rejected (fact sheet §3). Two days back covers any timezone; filter exactly below.
            since = max(0, _epoch(updated_since) - 2 * 86_400)
            body = {
                "query": {"field": "updated_at", "operator": ">", "value": since},
                "pagination": {"per_page": SEARCH_PAGE_SIZE},
            }
            first = PageRequest(method="POST", url="/contacts/search", json=body)
            pager = CursorPaginator(
                items="data", next_cursor="pages.next.starting_after", cursor_in_json="pagination.starting_after"
            )
        async for items, _page in self._pages(first, pager):
            for item in items:
                customer = await self._customer(item)
                if not customer.id:
                    continue
                changed = customer.updated_at
                if updated_since is not None and changed is not None and changed < updated_since:
                    continue
                yield customer

    async def get_customer(self, customer_id: str) -> Customer:
        data = await self._object("GET", f"/contacts/{customer_id}")
        tags = data.get("tags")
        if isinstance(tags, dict) and tags.get("has_more") is True:
            # only 10 tag references are inline (fact sheet §2); the tag list has them all, with names
            listed = await self._object("GET", f"/contacts/{customer_id}/tags")
            data = {**data, "tags": {**tags, "data": listed.get("data") or []}}
        return await self._customer(data)

    async def find_customer(self, *, email: str) -> Customer | None:
        body = {"query": {"field": "email", "operator": "=", "value": email}, "pagination": {"per_page": 1}}
        data = await self._object("POST", "/contacts/search", body=body, idempotent=True)
        for item in data.get("data") or []:
            if isinstance(item, dict) and item.get("id") is not None:
                return await self._customer(item)
        return None

    # -- writes --------------------------------------------------------------------------------------

    async def _write_part(
        self, conversation_id: str, body: dict[str, Any], landed: Callable[[Conversation], bool]
    ) -> Conversation:
        """One assignment part. Not idempotent, so never blindly retried: after an uncertain failure
        (5xx, timeout, dropped connection, unreadable answer) re-read and treat it as done if it landed."""
        path = f"/conversations/{conversation_id}/parts"
        try:
            return conversation_from_intercom(await self._object("POST", path, body=body, idempotent=False))
        except HelpdeskError as exc:
            uncertain = exc.status is None or exc.status in _UNCERTAIN_STATUSES or 200 <= exc.status < 300
            if not uncertain:
                raise
            after = await self.get_conversation(conversation_id)
            if landed(after):
                logger.info("intercom: %s on %s but the assignment landed (read back)", exc.status, path)
                return after
            raise

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
        """`POST /conversations/{id}/parts` with `message_type: assignment` (team first, then admin).

        Intercom has no optimistic concurrency, so the conversation is re-read first and a change since
        `expected_*` (the toolkit's one semantics, `humansupport.vendor.guard`: later `updated_at` at the coarser
        precision, another `version`, another assignee than `expected_assignee_id`, `UNASSIGNED` for nobody)
        raises ConflictError without writing. Race window: a human change between that re-read
        and the write (tens of milliseconds) is still overwritten; Intercom offers no way to close it.
        """
        path = f"/conversations/{conversation_id}/parts"
        guarded = await self.reread_guard(
            conversation_id,
            expected_updated_at=expected_updated_at,
            expected_version=expected_version,
            expected_assignee_id=expected_assignee_id,
            method="POST",
            path=path,
        )
        # the current state decides which parts to post, so it is read even when nothing was expected
        current = guarded or await self.get_conversation(conversation_id)
        if already_as_asked(current, agent_id, group_id):
            return current
        admin = await self.acting_admin_id()
        result = current
        if group_id is not None and current.group_id != group_id:
            team_body = {"message_type": "assignment", "type": "team", "admin_id": admin, "assignee_id": group_id}
            result = await self._write_part(conversation_id, team_body, lambda c: c.group_id == group_id)
        if result.assignee_id != agent_id:
            admin_body = {
                "message_type": "assignment",
                "type": "admin",
                "admin_id": admin,
                "assignee_id": agent_id or "0",  # "0" unassigns (fact sheet §4)
            }
            result = await self._write_part(conversation_id, admin_body, lambda c: c.assignee_id == agent_id)
        return result

    async def add_internal_note(self, conversation_id: str, body: str) -> Message:
        """An admin note reply (`message_type: note`); not retried on 5xx, a retry could post it twice."""
        admin = await self.acting_admin_id()
        payload = {"message_type": "note", "type": "admin", "admin_id": admin, "body": body}
        data = await self._object("POST", f"/conversations/{conversation_id}/reply", body=payload, idempotent=False)
        parts = ((data.get("conversation_parts") or {}).get("conversation_parts")) or []
        notes = [p for p in parts if isinstance(p, dict) and p.get("part_type") == "note"]
        if not notes:
            raise HelpdeskError(
                vendor=self.vendor,
                method="POST",
                path=f"/conversations/{conversation_id}/reply",
                vendor_message="the answer holds no note part",
            )
        return message_from_part(str(data.get("id") or conversation_id), notes[-1])

    async def ensure_data_attributes(self, values: Mapping[str, Any]) -> list[str]:
        """Creates the contact data attributes `values` needs (PUT does not create them); returns new names."""
        types: dict[str, str] = {}
        for name, value in values.items():
            try:
                types[name] = _data_type(value)
            except TypeError as exc:
                raise ValidationError(
                    vendor=self.vendor,
                    method="POST",
                    path="/data_attributes",
                    vendor_message=f"custom attribute {name!r}: Intercom takes strings, numbers or booleans, not {exc}",
                    field_errors={name: [f"unsupported type {exc}"]},
                ) from None
        return await self.create_data_attributes(types)

    async def ensure_profile_fields(self, specs: Sequence[FieldSpec]) -> list[str]:
        """`humansupport setup intercom`: the contact data attributes profile write-back needs."""
        kinds = {"text": "string", "number": "integer", "date": "string", "url": "string"}
        return await self.create_data_attributes({spec.name: kinds.get(spec.kind, "string") for spec in specs})

    async def create_data_attributes(self, types: Mapping[str, str]) -> list[str]:
        """Creates the missing ones of these contact data attributes (name -> Intercom data_type)."""
        if self._attributes is None:
            data = await self._object("GET", "/data_attributes", params={"model": "contact"})
            self._attributes = {
                str(a["name"]) for a in data.get("data") or [] if isinstance(a, dict) and isinstance(a.get("name"), str)
            }
        created = []
        for name, data_type in types.items():
            if name in self._attributes:
                continue
            body = {"name": name, "model": "contact", "data_type": data_type}
            await self._object("POST", "/data_attributes", body=body, idempotent=False)
            self._attributes.add(name)
            created.append(name)
        return created

    async def _tag_id(self, name: str) -> str:
        if name not in self._tag_ids:
            # POST /tags creates the tag or returns the existing one with that name (OAS 2.14), so it is safe to retry
            data = await self._object("POST", "/tags", body={"name": name}, idempotent=True)
            self._tag_ids[name] = str(data["id"])
            if self._tag_names is not None:
                self._tag_names[str(data["id"])] = name
        return self._tag_ids[name]

    async def update_customer(self, customer_id: str, patch: ProfilePatch) -> Customer:
        """PUT custom attributes (creating missing data attributes), tag, add a note; returns the contact after.

        Contact notes are append-only, so a note is posted only when it differs from the last one we posted
        (its digest is kept in the `humansupport_note_digest` data attribute): a nightly `enrich` never
        stacks identical notes on a contact.
        """
        attributes: dict[str, Any] = dict(patch.custom_attributes)
        if patch.note:
            current = await self._object("GET", f"/contacts/{customer_id}")
            held = current.get("custom_attributes")
            digest = hashlib.sha256(patch.note.encode()).hexdigest()[:32]
            if not (isinstance(held, dict) and held.get(NOTE_DIGEST_ATTRIBUTE) == digest):
                admin = await self.acting_admin_id()
                note = {"body": patch.note, "admin_id": admin}
                await self._object("POST", f"/contacts/{customer_id}/notes", body=note, idempotent=False)
                attributes[NOTE_DIGEST_ATTRIBUTE] = digest  # recorded only once the note is in
        body: dict[str, Any] = {}
        if attributes:
            await self.ensure_data_attributes(attributes)
            body["custom_attributes"] = attributes
        if patch.avatar_url:
            body["avatar"] = patch.avatar_url
        if body:
            await self._object("PUT", f"/contacts/{customer_id}", body=body)
        for tag in patch.tags:
            tag_id = await self._tag_id(tag)
            await self._object("POST", f"/contacts/{customer_id}/tags", body={"id": tag_id}, idempotent=True)
        return await self.get_customer(customer_id)

    # -- webhooks ------------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        return webhooks.verify_signature(headers, body, secret)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse_notification(body)

    # -- operations ----------------------------------------------------------------------------------

    # -- saved replies, links -------------------------------------------------------------------------

    def conversation_url(self, conversation_id: str) -> str | None:
        """`https://app.intercom.com/a/inbox/{workspace_id}/inbox/conversation/{id}` (EU/AU hosts by region).

        Needs the workspace id: the `workspace_id` setting, else the one `check()` read from `GET /me`; None
        before either. No request is made here.
        """
        text = str(conversation_id).strip()
        if not self.workspace_id or not text.isalnum():
            return None
        return f"{APP_HOSTS[self.region]}/a/inbox/{self.workspace_id}/inbox/conversation/{text}"

    def _macros_client(self) -> HttpClient:
        """The client macro calls go through: ours when `api_version` has macros, else a copy sending 2.16."""
        if _version_at_least(self.api_version, MACROS_API_VERSION):
            return self.http
        if self._macros_http is None:
            token = self.settings.access_token.get_secret_value()
            self._macros_http = self.client_with(
                headers={"Authorization": f"Bearer {token}", "Intercom-Version": MACROS_API_VERSION}
            )
        return self._macros_http

    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        """Macros (Intercom's saved replies): `GET /macros` pages (`starting_after`), newest first.

        The text is `body_text` (plain, placeholders as `{{user.name|fallback:"there"}}`), else the HTML `body`
        converted. Long listings may leave both null; those macros are read one by one (`GET /macros/{id}`).
        Only macros visible to the token's admin come back. Sent with `Intercom-Version: 2.16`: 2.14 has no
        Macros API.
        """
        client = self._macros_client()
        first = PageRequest(url="/macros", params={"per_page": 150})
        pager = CursorPaginator(items="data", next_cursor="pages.next.starting_after", cursor_param="starting_after")
        try:
            async for page in iter_pages(client, first, pager):
                for item in page.items:
                    macro_id = item.get("id")
                    if not isinstance(macro_id, str | int) or isinstance(macro_id, bool) or str(macro_id) == "":
                        continue
                    if not _macro_text(item):
                        found = client.parse_json(await client.request("GET", f"/macros/{macro_id}"))
                        item = found if isinstance(found, dict) else item
                    yield _macro_to_saved_reply(item)
        except HelpdeskError as exc:
            raise _fill_request_id(exc) from exc.__cause__

    async def register_webhook(
        self,
        *,
        url: str,
        secret: str | None = None,
        events: Sequence[WebhookEventType] | None = None,
    ) -> WebhookSubscription:
        """Intercom has no API to create webhook subscriptions: raises `UnsupportedOperationError` whose
        message is the Developer Hub steps (topics to tick; the signing secret is the app's client secret)."""
        raise UnsupportedOperationError(
            webhook_steps(url=url, events=events), vendor=self.vendor, operation="register_webhook"
        )

    async def check(self) -> CheckReport:
        """`GET /me`: the token works, which workspace and admin it is, and the rate headroom.

        The workspace id it reads (`app.id_code`) is kept for `conversation_url` when none is configured.
        """
        me = await self._object("GET", "/me")
        app_obj = me.get("app")
        app: dict[str, Any] = app_obj if isinstance(app_obj, dict) else {}
        if self.workspace_id is None and isinstance(app.get("id_code"), str) and app["id_code"]:
            self.workspace_id = app["id_code"]
        room = self.http.limiter.headroom()
        return CheckReport(
            vendor=self.vendor,
            ok=True,
            base_url=self.http.base_url,
            account=str(app.get("id_code") or app.get("name") or "") or None,
            rate_limit=room.limit_per_minute,
            # the header counts what is left of this 10-second window; per minute that is six windows' worth
            rate_remaining=None if room.remaining is None else room.remaining * 60.0 / WINDOW_SECONDS,
            details={
                "admin_id": str(me.get("id")),
                "window_limit": room.limit_per_minute * WINDOW_SECONDS / 60.0,
                "window_remaining": room.remaining,
                "api_version": self.api_version,
                "region": str(app.get("region") or self.region),
                "window_seconds": WINDOW_SECONDS,
            },
        )
