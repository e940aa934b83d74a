"""The Zendesk Support adapter: every `AsyncHelpdesk` method over `humansupport.http`.

Reads use cursor paging only (offset paging 400s past 10,000 records, vendors/zendesk.md §3): history through
the incremental cursor export, open tickets through the search export, comments in bulk through the
incremental ticket-events export with `include=comment_events`. Both exports share their own 10 requests/min
bucket. Writes use `safe_update` + `updated_stamp` (409 when stale) and `update_many` batch jobs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Final

import httpx
from pydantic import SecretStr, field_validator

from humansupport import (
    Agent,
    AgentAvailability,
    Assignment,
    AssignmentOutcome,
    AssignmentResult,
    AuthorRole,
    Capabilities,
    ConfigError,
    ConflictError,
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
    ValidationError,
    WebhookEvent,
    WebhookEventType,
    WebhookSubscription,
)
from humansupport.enrichment.writeback import FieldSpec
from humansupport.http import (
    CursorPaginator,
    PageRequest,
    Paginator,
    RateLimitHeaders,
    iter_pages,
    paginate,
)
from humansupport.vendor import (
    BasicAuth,
    BearerAuth,
    RestAdapter,
    already_as_asked,
    find_or_create,
    poll_job,
    stale_reason,
)

from . import webhooks
from .mapping import (
    CORE_TO_STATUS,
    comment_to_message,
    group_to_group,
    macro_to_saved_reply,
    rating_to_rating,
    role_to_author_role,
    stamp,
    ticket_events_to_messages,
    ticket_to_conversation,
    user_to_agent,
    user_to_customer,
    zendesk_id,
    zendesk_time,
)

__all__ = [
    "DEFAULT_WEBHOOK_EVENTS",
    "PROFILE_USER_FIELDS",
    "WEBHOOK_EVENT_TYPES",
    "ExportPage",
    "ZendeskAdapter",
    "ZendeskSettings",
]

logger = logging.getLogger("humansupport.zendesk")

ENV: Final = "HUMANSUPPORT_ZENDESK_"
#: Zendesk subdomains: letters, digits and hyphens (the `acme` of acme.zendesk.com).
_SUBDOMAIN: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
#: Account headers on every response; `ratelimit-reset` (seconds) on the ticketing list endpoints (§5).
RATE_HEADERS: Final = RateLimitHeaders(
    limit="X-Rate-Limit", remaining="X-Rate-Limit-Remaining", reset="ratelimit-reset", reset_kind="seconds"
)
#: The export and ticket-update buckets are paced on their own documented limits: the account headers describe
#: a different bucket, and the endpoint headers (`Zendesk-RateLimit-<bucket>: total=..; remaining=..`) are
#: not plain numbers.
_EXPORT_HEADERS: Final = RateLimitHeaders(limit=None, remaining=None)
REQUEST_ID_HEADERS: Final = ("X-Zendesk-Request-Id", "X-Request-Id")
PAGE_SIZE: Final = 100  # cursor pagination maximum on most endpoints
EXPORT_PAGE_SIZE: Final = 1000  # incremental exports: up to 1,000 items a request
BATCH_SIZE: Final = 100  # update_many takes at most 100 tickets a job
_TERMINAL_JOB: Final = frozenset({"completed", "failed", "killed"})
#: Zendesk event types (developer.zendesk.com/api-reference/webhooks/event-types/ticket-events) per core event.
WEBHOOK_EVENT_TYPES: Final[Mapping[WebhookEventType, tuple[str, ...]]] = {
    WebhookEventType.CONVERSATION_CREATED: ("zen:event-type:ticket.created",),
    WebhookEventType.CONVERSATION_ASSIGNED: ("zen:event-type:ticket.agent_assignment_changed",),
    WebhookEventType.CUSTOMER_REPLIED: ("zen:event-type:ticket.comment_added",),
    WebhookEventType.CONVERSATION_UPDATED: ("zen:event-type:ticket.status_changed",),
}
#: what `register_webhook` subscribes to without `events`: the four kinds `webhooks.parse_webhook` handles
DEFAULT_WEBHOOK_EVENTS: Final = (
    WebhookEventType.CONVERSATION_CREATED,
    WebhookEventType.CONVERSATION_ASSIGNED,
    WebhookEventType.CUSTOMER_REPLIED,
    WebhookEventType.CONVERSATION_UPDATED,
)
WEBHOOK_NAME: Final = "humansupport real-time routing"
#: Unified agent statuses (Agent Availability API); `transfers_only` takes no new work, custom ones are unknown.
_AVAILABILITY: Final[Mapping[str, AgentAvailability]] = {
    "online": AgentAvailability.AVAILABLE,
    "away": AgentAvailability.AWAY,
    "transfers_only": AgentAvailability.AWAY,
    "offline": AgentAvailability.OFFLINE,
}
#: The user fields humansupport's own enrichment writes (key -> Zendesk field type).
PROFILE_USER_FIELDS: Final[Mapping[str, str]] = {
    "humansupport_preferred_agent": "text",
    "humansupport_conversations": "integer",
}

_HINTS: Final[Mapping[int, str]] = {
    401: (
        f"check {ENV}EMAIL and {ENV}API_TOKEN (or {ENV}OAUTH_TOKEN) and that {ENV}SUBDOMAIN names the "
        "account the token belongs to"
    ),
    403: (
        f"the user behind {ENV}EMAIL / {ENV}OAUTH_TOKEN lacks a role or scope: agents can read and assign, "
        "incremental exports and satisfaction ratings need an admin, OAuth tokens need the read and write scopes"
    ),
    404: "the record was deleted or merged, or the credential cannot see it",
    429: (
        f"over Zendesk's rate limit; lower {ENV}RATE_LIMIT_PER_MINUTE to your plan's limit or run outside busy hours"
    ),
}


class ZendeskSettings(HelpdeskSettings):
    """Zendesk settings; secrets (`api_token`, `oauth_token`) come only from keyword arguments or the environment."""

    vendor = "zendesk"

    subdomain: str | None = None
    email: str | None = None
    api_token: SecretStr | None = None
    oauth_token: SecretStr | None = None
    #: seed of the account bucket (Suite Team 200/min); corrected from `X-Rate-Limit` on the first response
    rate_limit_per_minute: float = 200.0
    #: incremental exports have their own limit: 10/min, 30/min with the High Volume add-on
    export_rate_per_minute: float = 10.0
    #: Update Ticket has its own account limit: 100/min (20 on trials, 300 with High Volume)
    ticket_update_rate_per_minute: float = 100.0
    #: how long assign_many waits for an update_many job before reporting its tickets as failed
    job_timeout: float = 300.0
    #: how far a webhook timestamp may be from now, in seconds
    webhook_tolerance: float = 300.0
    #: the account has omnichannel routing: read agent status and capacity from the Agent Availability API
    omnichannel_routing: bool = False

    @field_validator("subdomain")
    @classmethod
    def _subdomain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not _SUBDOMAIN.fullmatch(value):
            raise ValueError(
                f"subdomain {value!r} is malformed: give only the account name, e.g. 'acme' for https://acme.zendesk.com"
            )
        return value


@dataclass(frozen=True)
class ExportPage:
    """One incremental-export page: its conversations and the cursor to resume after it (a checkpoint)."""

    conversations: list[Conversation]
    after_cursor: str | None
    end_of_stream: bool


class _ExportPaginator(Paginator):
    """Zendesk's cursor exports: follow `after_cursor` until `end_of_stream` (never past it, zenpy #451).

    The next request carries only `cursor` (plus page size): `start_time` belongs to the first request.
    """

    def __init__(self, *, items: str, per_page: int, extra: Mapping[str, Any] | None = None) -> None:
        self._items = items
        self._per_page = per_page
        self._extra = dict(extra or {})

    def items(self, data: Any, response: httpx.Response) -> list[dict[str, Any]]:
        found = data.get(self._items) if isinstance(data, dict) else None
        return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []

    def next_request(self, current: PageRequest, data: Any, response: httpx.Response) -> PageRequest | None:
        if not isinstance(data, dict) or data.get("end_of_stream") is not False:
            return None  # true, or missing: stop rather than loop
        cursor = data.get("after_cursor")
        if not isinstance(cursor, str) or not cursor:
            return None
        return PageRequest(url=current.url, params={**self._extra, "cursor": cursor, "per_page": self._per_page})


class _TimeExportPaginator(Paginator):
    """The time-based ticket-events export: next `start_time` is this page's `end_time`."""

    def __init__(self, *, items: str, extra: Mapping[str, Any]) -> None:
        self._items = items
        self._extra = dict(extra)

    def items(self, data: Any, response: httpx.Response) -> list[dict[str, Any]]:
        found = data.get(self._items) if isinstance(data, dict) else None
        return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []

    def next_request(self, current: PageRequest, data: Any, response: httpx.Response) -> PageRequest | None:
        if not isinstance(data, dict) or data.get("end_of_stream") is not False:
            return None
        end_time = data.get("end_time")
        if not isinstance(end_time, int) or isinstance(end_time, bool):
            return None
        return PageRequest(url=current.url, params={**self._extra, "start_time": end_time})


def _cursor_pager(items: str) -> CursorPaginator:
    """Zendesk cursor pagination: `meta.has_more`, `meta.after_cursor`, sent back as `page[after]`."""
    return CursorPaginator(
        items=items, next_cursor="meta.after_cursor", has_more="meta.has_more", cursor_param="page[after]"
    )


def _int_id(value: str | None, what: str) -> int | None:
    """Zendesk ids are integers in request bodies; a non-numeric id is our caller's bug, named clearly."""
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(vendor="zendesk", vendor_message=f"{what} {value!r} is not a Zendesk id") from None


class _RoleLookup:
    """A comment author's role: the side-loaded users first, then the known agents, else a customer."""

    def __init__(self, roles: Mapping[str, Any], agents: set[str]) -> None:
        self._roles = roles
        self._agents = agents

    def __call__(self, author: str | None) -> AuthorRole:
        if author is None or author == "-1":
            return AuthorRole.SYSTEM
        if author in self._roles:
            return role_to_author_role(self._roles[author])
        return AuthorRole.AGENT if author in self._agents else AuthorRole.CUSTOMER


def _epoch(when: datetime | None) -> int:
    return int(when.timestamp()) if when is not None else 0


#: API token auth: `{email}/token` and the token, as HTTP Basic (templates of settings fields, not secrets)
_API_TOKEN_AUTH: Final = BasicAuth(username="{email}/token", password="{api_token}")  # noqa: S106
_OAUTH: Final = BearerAuth("oauth_token")


class ZendeskAdapter(RestAdapter[ZendeskSettings]):
    """Zendesk Support through its REST API v2."""

    vendor: ClassVar[str] = "zendesk"
    capabilities = Capabilities(
        bulk_assign=True,
        optimistic_concurrency=True,
        availability=False,  # only accounts with omnichannel routing have it: see `omnichannel_routing`
        signed_webhooks=True,
        incremental_export=True,
        bulk_messages=True,  # comments through the ticket-events export: `iter_all_messages`
        satisfaction_ratings=True,
        webhook_registration=True,  # POST /api/v2/webhooks subscribed to ticket events
        saved_replies=True,  # active macros that write a comment
    )
    base_url_template = "https://{subdomain}.zendesk.com"
    rate_headers = RATE_HEADERS
    request_id_headers = REQUEST_ID_HEADERS
    error_hints = _HINTS
    account_setting = "subdomain"
    repr_settings = ("subdomain",)
    paginator = _cursor_pager("items")

    def __init__(self, **options: Any) -> None:
        self.auth_kind = ""
        super().__init__(**options)
        settings = self.settings
        # Exports: their own budget (10/min: ten at once, then the next minute), seeded from settings, never
        # "corrected" by the account headers, shared by every adapter (and process) on the account.
        self._export = self.client_with(
            limiter=self.limiter("exports", per_minute=settings.export_rate_per_minute, headers=_EXPORT_HEADERS)
        )
        # Single-ticket updates (assign, notes): their own bucket too, shared by every adapter on the account.
        self._ticket_writes = self.client_with(
            limiter=self.limiter(
                "tickets-update", per_minute=settings.ticket_update_rate_per_minute, headers=_EXPORT_HEADERS
            )
        )
        self._agent_ids: set[str] | None = None

    def resolve_base_url(self) -> str:
        if self.settings.base_url is None and self.settings.subdomain is None:
            raise ConfigError(
                f"zendesk: subdomain is missing (pass subdomain=..., or set {ENV}SUBDOMAIN), e.g. 'acme' for "
                "https://acme.zendesk.com"
            )
        return super().resolve_base_url()

    def limiter_key(self) -> str:
        """Zendesk limits requests per account (subdomain), whoever's token sends them: every agent's adapter on
        one account shares one budget."""
        return f"zendesk:{self.settings.account or self.settings.subdomain or self.resolve_base_url()}"

    def build_auth(self) -> tuple[httpx.Auth | None, Mapping[str, str]]:
        """An OAuth access token (`Authorization: Bearer`) when set, else the agent's email and API token."""
        settings = self.settings
        if settings.oauth_token is not None and settings.oauth_token.get_secret_value():
            self.auth_kind = "oauth_token"
            return _OAUTH.build(settings)
        if settings.api_token is not None and settings.api_token.get_secret_value():
            if not settings.email:
                raise ConfigError(f"zendesk: api_token needs the agent's email (pass email=..., or set {ENV}EMAIL)")
            self.auth_kind = "api_token"
            return _API_TOKEN_AUTH.build(settings)
        raise ConfigError(
            f"zendesk: no credential: set {ENV}EMAIL and {ENV}API_TOKEN (API token auth), "
            f"or {ENV}OAUTH_TOKEN (OAuth bearer token)"
        )

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, auth={self.auth_kind!r})"

    # -- reads: tickets ------------------------------------------------------------------------------

    def _export_start(self, updated_since: datetime | None) -> int:
        """An export's `start_time`: never in the last minute, which Zendesk's exports leave out anyway
        (vendors/zendesk.md §3); starting a little earlier only re-reads what an upsert absorbs."""
        return min(_epoch(updated_since), int(self.clock.now().timestamp()) - 60)

    async def iter_export_pages(
        self, *, updated_since: datetime | None = None, cursor: str | None = None
    ) -> AsyncIterator[ExportPage]:
        """The incremental cursor export page by page; resume a crashed run from the last `after_cursor`.

        A ticket updated again during the export shows up again with its newer state (store by upsert).
        """
        params: dict[str, Any] = {"per_page": EXPORT_PAGE_SIZE, "exclude_deleted": "true"}
        if cursor:
            params["cursor"] = cursor
        else:
            params["start_time"] = self._export_start(updated_since)
        first = PageRequest(url="/api/v2/incremental/tickets/cursor", params=params)
        pager = _ExportPaginator(items="tickets", per_page=EXPORT_PAGE_SIZE, extra={"exclude_deleted": "true"})
        async for page in iter_pages(self._export, first, pager):
            data = page.data if isinstance(page.data, dict) else {}
            convs = [c for c in (ticket_to_conversation(t) for t in page.items) if c is not None]
            after = data.get("after_cursor")
            yield ExportPage(
                conversations=convs,
                after_cursor=after if isinstance(after, str) else None,
                end_of_stream=page.next is None,
            )

    async def iter_conversations(
        self,
        *,
        updated_since: datetime | None = None,
        status: Sequence[ConversationStatus] | None = None,
    ) -> AsyncIterator[Conversation]:
        """All tickets through the export; with `status`, the search export (cursor, no 1,000 cap).

        Search is eventually consistent (minutes behind); writes are guarded by safe_update anyway.
        """
        if not status:
            async for page in self.iter_export_pages(updated_since=updated_since):
                for conv in page.conversations:
                    yield conv
            return
        wanted = {s for s in status if s in CORE_TO_STATUS}
        if not wanted:
            return  # no Zendesk status maps to OTHER
        terms = ["type:ticket", *(f"status:{CORE_TO_STATUS[s]}" for s in sorted(wanted))]
        if updated_since is not None:
            terms.append(f"updated>={stamp(updated_since)}")
        params = {"query": " ".join(terms), "filter[type]": "ticket", "page[size]": PAGE_SIZE}
        async for item in self.pages("/api/v2/search/export", _cursor_pager("results"), **params):
            found = ticket_to_conversation(item)
            if found is not None and found.status in wanted:
                yield found

    async def get_conversation(self, conversation_id: str) -> Conversation:
        data = await self.http.get_json(f"/api/v2/tickets/{_int_id(conversation_id, 'ticket id')}")
        return self._ticket_or_fail(data, "GET", f"/api/v2/tickets/{conversation_id}")

    def _ticket_or_fail(self, data: Any, method: str, path: str) -> Conversation:
        ticket = data.get("ticket") if isinstance(data, dict) else None
        conv = ticket_to_conversation(ticket) if isinstance(ticket, Mapping) else None
        if conv is None:
            raise HelpdeskError(vendor=self.vendor, method=method, path=path, vendor_message="response has no ticket")
        return conv

    # -- reads: comments -----------------------------------------------------------------------------

    async def _known_agents(self) -> set[str]:
        """Ids of every agent and admin (active or not), to tell agent comments from customer comments."""
        if self._agent_ids is None:
            ids: set[str] = set()
            for role in ("agent", "admin"):
                async for user in self.pages(
                    "/api/v2/users", _cursor_pager("users"), **{"role": role, "page[size]": PAGE_SIZE}
                ):
                    uid = zendesk_id(user.get("id"))
                    if uid is not None:
                        ids.add(uid)
            self._agent_ids = ids
        return self._agent_ids

    async def iter_messages(self, conversation_id: str) -> AsyncIterator[Message]:
        """One ticket's comments, oldest first; roles from the side-loaded users (`include=users`)."""
        tid = _int_id(conversation_id, "ticket id")
        params = {"include": "users", "sort_order": "asc", "page[size]": PAGE_SIZE}
        first = PageRequest(url=f"/api/v2/tickets/{tid}/comments", params=params)
        agents: set[str] = set()
        async for page in iter_pages(self.http, first, _cursor_pager("comments")):
            data = page.data if isinstance(page.data, dict) else {}
            roles: dict[str, Any] = {
                uid: u.get("role")
                for u in data.get("users") or []
                if isinstance(u, Mapping) and (uid := zendesk_id(u.get("id"))) is not None
            }
            unknown = {zendesk_id(c.get("author_id")) for c in page.items} - roles.keys() - {None}
            if unknown and not agents:
                agents = await self._known_agents()  # a side-load missed an author (a deleted user)
            role_of = _RoleLookup(roles, agents)
            for item in page.items:
                message = comment_to_message(item, ticket_id=str(tid), role_of=role_of)
                if message is not None:
                    yield message

    async def iter_all_messages(self, *, updated_since: datetime | None = None) -> AsyncIterator[Message]:
        """Comments of every ticket in bulk: the ticket-events export with `include=comment_events`.

        About 1,000 events a request within the export's 10/min, instead of one request per ticket.
        """
        agents = await self._known_agents()

        def role_of(author: str | None) -> AuthorRole:
            if author is None or author == "-1":
                return AuthorRole.SYSTEM
            return AuthorRole.AGENT if author in agents else AuthorRole.CUSTOMER

        extra = {"include": "comment_events"}
        params = {**extra, "start_time": self._export_start(updated_since)}
        first = PageRequest(url="/api/v2/incremental/ticket_events", params=params)
        pager = _TimeExportPaginator(items="ticket_events", extra=extra)
        previous: set[str] = set()
        async for page in iter_pages(self._export, first, pager):
            # The next page starts at this page's end_time, so it may repeat that second's events: skip what the
            # last page gave (one page of ids in memory, never the whole history).
            current: set[str] = set()
            for message in ticket_events_to_messages(list(page.items), role_of=role_of):
                current.add(message.id)
                if message.id not in previous:
                    yield message
            previous = current

    # -- reads: people -------------------------------------------------------------------------------

    async def _memberships(self) -> list[tuple[str, str]]:
        """(user id, group id) for every group membership."""
        out: list[tuple[str, str]] = []
        listed = self.pages(
            "/api/v2/group_memberships", _cursor_pager("group_memberships"), **{"page[size]": PAGE_SIZE}
        )
        async for item in listed:
            uid, gid = zendesk_id(item.get("user_id")), zendesk_id(item.get("group_id"))
            if uid is not None and gid is not None:
                out.append((uid, gid))
        return out

    async def _availabilities(self) -> dict[str, tuple[AgentAvailability, int | None]]:
        """Agent id -> (availability, capacity) from the Agent Availability API (JSON:API, cursor pages).

        Follows developer.zendesk.com/api-reference/agent-availability: `data[].attributes.agent_status.name`
        (online, away, transfers_only, offline, or a custom status) and the `channels` resources `included`
        with each agent's `max_capacity` (only with Omnichannel Contact Center).
        """
        first = PageRequest(url="/api/v2/agent_availabilities", params={"page[size]": PAGE_SIZE})
        out: dict[str, tuple[AgentAvailability, int | None]] = {}
        async for page in iter_pages(self.http, first, _cursor_pager("data")):
            data = page.data if isinstance(page.data, dict) else {}
            channels = {
                c.get("id"): c["attributes"]
                for c in data.get("included") or []
                if isinstance(c, Mapping) and c.get("type") == "channels" and isinstance(c.get("attributes"), Mapping)
            }
            for item in page.items:
                attributes: Mapping[str, Any] = (
                    item["attributes"] if isinstance(item.get("attributes"), Mapping) else {}
                )
                agent_id = zendesk_id(attributes.get("agent_id"))
                if agent_id is None:
                    continue
                status = attributes.get("agent_status")
                name = status.get("name") if isinstance(status, Mapping) else None
                relationships = item.get("relationships")
                channel_refs = relationships.get("channels") if isinstance(relationships, Mapping) else None
                links = channel_refs.get("data") if isinstance(channel_refs, Mapping) else None
                links = links if isinstance(links, list) else []
                capacities = [
                    cap
                    for link in links
                    if isinstance(link, Mapping)
                    and isinstance(cap := channels.get(link.get("id"), {}).get("max_capacity"), int)
                    and not isinstance(cap, bool)
                ]
                out[agent_id] = (
                    _AVAILABILITY.get(str(name).lower(), AgentAvailability.UNKNOWN),
                    max(capacities, default=None),
                )
        return out

    async def iter_agents(self) -> AsyncIterator[Agent]:
        """Agents and admins with their groups. Availability and capacity come from the Agent Availability API
        when `omnichannel_routing` is on (capacity falling back to `capacity_default`); else availability is
        unknown and capacity is `capacity_default`."""
        groups_of: dict[str, list[str]] = {}
        for uid, gid in await self._memberships():
            groups_of.setdefault(uid, []).append(gid)
        status = await self._availabilities() if self.settings.omnichannel_routing else {}
        ids: set[str] = set()
        for role in ("agent", "admin"):
            async for user in self.pages(
                "/api/v2/users", _cursor_pager("users"), **{"role": role, "page[size]": PAGE_SIZE}
            ):
                uid = str(user.get("id"))
                availability, capacity = status.get(uid, (AgentAvailability.UNKNOWN, None))
                agent = user_to_agent(
                    user,
                    group_ids=groups_of.get(uid, []),
                    capacity=capacity if capacity is not None else self.settings.capacity_default,
                    availability=availability,
                )
                if agent is not None:
                    ids.add(agent.id)
                    yield agent
        self._agent_ids = ids

    async def iter_groups(self) -> AsyncIterator[Group]:
        members: dict[str, list[str]] = {}
        for uid, gid in await self._memberships():
            members.setdefault(gid, []).append(uid)
        async for item in self.pages("/api/v2/groups", _cursor_pager("groups"), **{"page[size]": PAGE_SIZE}):
            group = group_to_group(item, agent_ids=members.get(str(item.get("id")), []))
            if group is not None and item.get("deleted") is not True:
                yield group

    async def iter_customers(self, *, updated_since: datetime | None = None) -> AsyncIterator[Customer]:
        """End users through the incremental user export (agents are left out)."""
        params = {"start_time": self._export_start(updated_since), "per_page": EXPORT_PAGE_SIZE}
        first = PageRequest(url="/api/v2/incremental/users/cursor", params=params)
        async for item in paginate(self._export, first, _ExportPaginator(items="users", per_page=EXPORT_PAGE_SIZE)):
            if item.get("role") not in (None, "end-user"):
                continue
            customer = user_to_customer(item)
            if customer is not None:
                yield customer

    async def get_customer(self, customer_id: str) -> Customer:
        uid = _int_id(customer_id, "user id")
        data = await self.http.get_json(f"/api/v2/users/{uid}")
        user = data.get("user") if isinstance(data, dict) else None
        customer = user_to_customer(user) if isinstance(user, Mapping) else None
        if customer is None:
            raise HelpdeskError(vendor=self.vendor, method="GET", path=f"/api/v2/users/{uid}", vendor_message="no user")
        return customer

    async def find_customer(self, *, email: str) -> Customer | None:
        """Exact email match among end users (the search also matches partially; we do not)."""
        data = await self.http.get_json("/api/v2/users/search", params={"query": f"email:{email}"})
        for user in (data or {}).get("users") or []:
            if not isinstance(user, Mapping) or user.get("role") not in (None, "end-user"):
                continue
            found = user.get("email")
            if isinstance(found, str) and found.lower() == email.lower():
                return user_to_customer(user)
        return None

    async def iter_ratings(self, *, updated_since: datetime | None = None) -> AsyncIterator[SatisfactionRating]:
        params: dict[str, Any] = {"page[size]": PAGE_SIZE}
        if updated_since is not None:
            params["start_time"] = _epoch(updated_since)
        async for item in self.pages("/api/v2/satisfaction_ratings", _cursor_pager("satisfaction_ratings"), **params):
            rating = rating_to_rating(item)
            if rating is not None:
                yield rating

    # -- writes --------------------------------------------------------------------------------------

    @staticmethod
    def _expected_stamp(expected_updated_at: datetime | None, expected_version: str | None) -> str | None:
        if expected_version:
            return expected_version
        return stamp(expected_updated_at) if expected_updated_at is not None else None

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
        """PUT the ticket with `safe_update`: Zendesk refuses (409) if it changed since `updated_stamp`.

        `expected_assignee_id` is not something Zendesk can check: the ticket is re-read and the toolkit's guard
        (`humansupport.vendor.guard`) refuses a ticket someone reassigned, the write not sent. That re-read's
        `updated_at` then goes out as the `updated_stamp` when the caller gave none, so a change landing between
        the re-read and the write is still a 409 rather than overwritten.
        """
        tid = _int_id(conversation_id, "ticket id")
        ticket: dict[str, Any] = {"assignee_id": _int_id(agent_id, "agent id")}
        if group_id is not None:
            ticket["group_id"] = _int_id(group_id, "group id")
        path = f"/api/v2/tickets/{tid}"
        updated_stamp = self._expected_stamp(expected_updated_at, expected_version)
        current = await self.reread_guard(conversation_id, expected_assignee_id=expected_assignee_id, path=path)
        if current is not None:
            updated_stamp = updated_stamp or current.version
        if updated_stamp is not None:
            ticket["safe_update"] = True
            ticket["updated_stamp"] = updated_stamp
        try:
            data = await self._ticket_writes.send_json("PUT", path, json={"ticket": ticket})
        except ConflictError:
            # A retried PUT whose first attempt landed also gets 409: if the ticket is already as asked, done.
            now = await self.get_conversation(conversation_id)
            if already_as_asked(now, agent_id, group_id):
                return now
            raise
        return self._ticket_or_fail(data, "PUT", path)

    async def assign_many(self, assignments: Sequence[Assignment]) -> list[AssignmentResult]:
        """`update_many` batch jobs of up to 100 tickets, each safe-updated; per-ticket results.

        A stale ticket fails alone (CONFLICT), a deleted one is NOT_FOUND, the rest apply. Items with an
        `expected_assignee_id` are re-read first (one `show_many` for the batch) and checked by the toolkit's
        guard: one a person reassigned is a CONFLICT and not sent, and the others go out safe-updated against the
        re-read stamp. Applied tickets are read back (`show_many`) so the result carries the ticket as Zendesk
        now has it.
        """
        results: list[AssignmentResult] = []
        for start in range(0, len(assignments), BATCH_SIZE):
            results.extend(await self._assign_batch(list(assignments[start : start + BATCH_SIZE])))
        return results

    async def _assign_batch(self, batch: list[Assignment]) -> list[AssignmentResult]:
        done: dict[str, AssignmentResult] = {}
        tickets: list[dict[str, Any]] = []
        guarded = [i.conversation_id for i in batch if i.expected_assignee_id is not None]
        current = await self._show_many(guarded) if guarded else {}
        for item in batch:
            reread: Conversation | None = None
            if item.expected_assignee_id is not None:
                reread = current.get(item.conversation_id)
                if reread is None:
                    done[item.conversation_id] = self._result(item, AssignmentOutcome.NOT_FOUND, "ticket not found")
                    continue
                why = stale_reason(reread, expected_assignee_id=item.expected_assignee_id)
                if why is not None:
                    message = f"ticket {item.conversation_id} changed since it was read ({why}); not overwritten"
                    done[item.conversation_id] = self._result(item, AssignmentOutcome.CONFLICT, message)
                    continue
            try:
                entry: dict[str, Any] = {
                    "id": _int_id(item.conversation_id, "ticket id"),
                    "assignee_id": _int_id(item.agent_id, "agent id"),
                }
                if item.group_id is not None:
                    entry["group_id"] = _int_id(item.group_id, "group id")
            except ValidationError as exc:
                done[item.conversation_id] = self._result(item, AssignmentOutcome.FAILED, str(exc))
                continue
            updated_stamp = self._expected_stamp(item.expected_updated_at, item.expected_version)
            if updated_stamp is None and reread is not None:
                updated_stamp = reread.version
            if updated_stamp is not None:  # the batch form wants both or neither (vendors/zendesk.md §4)
                entry["safe_update"] = True
                entry["updated_stamp"] = updated_stamp
            tickets.append(entry)
        if tickets:
            try:
                job = await self._run_job({"tickets": tickets})
            except HelpdeskError as exc:
                for item in batch:
                    done.setdefault(item.conversation_id, self._result(item, AssignmentOutcome.FAILED, str(exc)))
                job = None
            if job is not None:
                await self._apply_job_results(batch, job, done)
        return [done[item.conversation_id] for item in batch]

    async def _run_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """Starts an update_many job and polls `/job_statuses/{id}` (on the clock) until it ends or times out.

        Not retried on 5xx: a second job for the same tickets would report them stale. 429s are retried.
        """
        data = await self.http.send_json("PUT", "/api/v2/tickets/update_many", json=body, idempotent=False)
        started: dict[str, Any] = (data or {}).get("job_status") or {}
        path = f"/api/v2/job_statuses/{started.get('id')}"
        if started.get("status") not in _TERMINAL_JOB and not isinstance(started.get("id"), str):
            raise HelpdeskError(
                vendor=self.vendor,
                method="PUT",
                path="/api/v2/tickets/update_many",
                vendor_message="the job has no id to follow; its tickets may still change: re-read them first",
            )

        async def read() -> dict[str, Any]:
            job: dict[str, Any] = ((await self.http.get_json(path)) or {}).get("job_status") or {}
            return job

        job = await poll_job(
            read,
            finished=lambda job: job.get("status") in _TERMINAL_JOB,
            clock=self.clock,
            give_up_after=self.settings.job_timeout,
            vendor=self.vendor,
            what=f"job {started.get('id')}",
            path=path,
            first=started,
        )
        return dict(job)

    async def _apply_job_results(
        self, batch: list[Assignment], job: dict[str, Any], done: dict[str, AssignmentResult]
    ) -> None:
        by_id = {str(r.get("id")): r for r in job.get("results") or [] if isinstance(r, Mapping)}
        applied: list[Assignment] = []
        for item in batch:
            if item.conversation_id in done:
                continue
            result = by_id.get(item.conversation_id)
            if job.get("status") != "completed" or result is None:
                message = f"job {job.get('id')} {job.get('status')}: {job.get('message') or 'no result for ticket'}"
                done[item.conversation_id] = self._result(item, AssignmentOutcome.FAILED, message)
            elif result.get("success") is True:
                applied.append(item)
            else:
                error = str(result.get("error") or "")
                text = f"{error}: {result.get('details') or ''}".strip(": ")
                if "conflict" in error.lower() or "conflict" in text.lower():
                    outcome = AssignmentOutcome.CONFLICT
                elif "notfound" in error.lower().replace(" ", ""):
                    outcome = AssignmentOutcome.NOT_FOUND
                else:
                    outcome = AssignmentOutcome.FAILED
                done[item.conversation_id] = self._result(item, outcome, text or "failed")
        if not applied:
            return
        tickets = await self._show_many([a.conversation_id for a in applied])
        for item in applied:
            read_back = tickets.get(item.conversation_id)
            if read_back is None:
                done[item.conversation_id] = self._result(item, AssignmentOutcome.NOT_FOUND, "gone after the job")
                continue
            done[item.conversation_id] = AssignmentResult(
                conversation_id=item.conversation_id,
                outcome=AssignmentOutcome.APPLIED,
                agent_id=read_back.assignee_id,
                group_id=read_back.group_id,
                conversation=read_back,
            )

    async def _show_many(self, ids: Sequence[str]) -> dict[str, Conversation]:
        """The tickets as Zendesk has them now (`show_many`, up to 100 ids), by id; missing ones are absent."""
        data = await self.http.get_json("/api/v2/tickets/show_many", params={"ids": ",".join(ids)})
        tickets: dict[str, Conversation] = {}
        for raw in (data or {}).get("tickets") or []:
            found = ticket_to_conversation(raw) if isinstance(raw, Mapping) else None
            if found is not None:
                tickets[found.id] = found
        return tickets

    @staticmethod
    def _result(item: Assignment, outcome: AssignmentOutcome, message: str) -> AssignmentResult:
        return AssignmentResult(
            conversation_id=item.conversation_id, outcome=outcome, agent_id=item.agent_id, message=message
        )

    async def update_customer(self, customer_id: str, patch: ProfilePatch) -> Customer:
        """`PUT /users/{id}` for user_fields, notes and photo; tags are added (`PUT /users/{id}/tags`), never
        replaced, so tags agents set by hand survive. A user field Zendesk did not store (not created in the
        admin centre) is a ValidationError naming it.
        """
        uid = _int_id(customer_id, "user id")
        user: dict[str, Any] = {}
        if patch.custom_attributes:
            user["user_fields"] = dict(patch.custom_attributes)
        if patch.note is not None:
            user["notes"] = patch.note
        if patch.avatar_url is not None:
            user["remote_photo_url"] = patch.avatar_url
        customer: Customer | None = None
        if user:
            data = await self.http.send_json("PUT", f"/api/v2/users/{uid}", json={"user": user})
            raw = (data or {}).get("user")
            customer = user_to_customer(raw) if isinstance(raw, Mapping) else None
            if customer is not None and patch.custom_attributes:
                missing = sorted(k for k in patch.custom_attributes if k not in customer.custom_attributes)
                if missing:
                    raise ValidationError(
                        vendor=self.vendor,
                        status=422,
                        method="PUT",
                        path=f"/api/v2/users/{uid}",
                        vendor_message=f"Zendesk has no user field with key {', '.join(missing)}",
                        field_errors={"user_fields": [f"unknown key {k}" for k in missing]},
                        hint="create the user fields first: `humansupport` docs/vendors/zendesk.md, profile fields",
                    )
        if patch.tags:
            data = await self.http.send_json("PUT", f"/api/v2/users/{uid}/tags", json={"tags": list(patch.tags)})
            tags = (data or {}).get("tags")
            if customer is not None and isinstance(tags, list):
                customer = customer.model_copy(update={"tags": [t for t in tags if isinstance(t, str)]})
        if customer is None:
            customer = await self.get_customer(customer_id)
        return customer

    async def add_internal_note(self, conversation_id: str, body: str) -> Message:
        """A private comment (`public: false`). Not retried on 5xx: a retry could post the note twice."""
        tid = _int_id(conversation_id, "ticket id")
        payload = {"ticket": {"comment": {"body": body, "public": False}}}
        data = await self._ticket_writes.send_json("PUT", f"/api/v2/tickets/{tid}", json=payload, idempotent=False)
        audit = (data or {}).get("audit") or {}
        for event in audit.get("events") or []:
            if isinstance(event, Mapping) and event.get("type") == "Comment":
                comment = {
                    **event,
                    "author_id": event.get("author_id") or audit.get("author_id"),
                    "created_at": audit.get("created_at"),
                    "public": event.get("public", False),
                }
                message = comment_to_message(comment, ticket_id=str(tid), role_of=lambda _: AuthorRole.AGENT)
                if message is not None:
                    return message
        return Message(
            id=str(audit.get("id") or f"{tid}-note"),
            conversation_id=str(tid),
            author_role=AuthorRole.AGENT,
            public=False,
            body=body,
            created_at=zendesk_time(audit.get("created_at")) or self.clock.now(),
            raw=dict(audit),
        )

    async def ensure_profile_fields(self, specs: Sequence[FieldSpec]) -> list[str]:
        """`humansupport setup zendesk`: the user fields profile write-back needs, created where missing."""
        kinds = {"text": "text", "number": "integer", "date": "date", "url": "text"}
        return await self.ensure_user_fields({spec.name: kinds.get(spec.kind, "text") for spec in specs})

    async def ensure_user_fields(self, fields: Mapping[str, str]) -> list[str]:
        """Creates the user fields profile enrichment writes (key -> Zendesk type, e.g. `"text"`, `"integer"`)
        that do not exist yet; returns the keys it created. Needs an admin. Zendesk ignores `user_fields`
        values whose key has no field, so run this once before the first write-back (docs/vendors/zendesk.md).
        """
        listed = self.pages("/api/v2/user_fields", _cursor_pager("user_fields"), **{"page[size]": PAGE_SIZE})
        existing = {item.get("key") async for item in listed}
        created: list[str] = []
        for key, kind in fields.items():
            if key in existing:
                continue
            title = key.removeprefix("humansupport_").replace("_", " ").capitalize()
            body = {"user_field": {"type": kind, "key": key, "title": title}}
            await self.http.send_json("POST", "/api/v2/user_fields", json=body)
            created.append(key)
        return created

    # -- saved replies, links -------------------------------------------------------------------------

    def conversation_url(self, conversation_id: str) -> str | None:
        """`https://{subdomain}.zendesk.com/agent/tickets/{id}` (from the configured base URL); no request."""
        text = str(conversation_id).strip()
        if not text.isdigit():
            return None
        return f"{self.http.base_url}/agent/tickets/{text}"

    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        """Active macros (`GET /api/v2/macros?active=true`, cursor pages of 100) that write a comment.

        The text is the `comment_value_html` action converted to plain text, else `comment_value`; macros that
        only set fields are skipped. Agents see shared macros and their own; an admin sees every macro.
        """
        async for item in self.pages(
            "/api/v2/macros", _cursor_pager("macros"), **{"active": "true", "page[size]": PAGE_SIZE}
        ):
            reply = macro_to_saved_reply(item, admin_url=self.http.base_url)
            if reply is not None:
                yield reply

    # -- webhooks ------------------------------------------------------------------------------------

    async def register_webhook(
        self,
        *,
        url: str,
        secret: str | None = None,
        events: Sequence[WebhookEventType] | None = None,
    ) -> WebhookSubscription:
        """Creates a webhook subscribed to ticket events (`POST /api/v2/webhooks`), or reuses the one already
        sending to `url`, and reads its signing secret (`GET /api/v2/webhooks/{id}/signing_secret`).

        Zendesk generates the signing secret itself: a `secret` passed in cannot be set and is ignored (the
        returned subscription carries the one to verify with). Needs an admin.
        """
        if secret is not None:
            logger.warning("zendesk: Zendesk generates webhook signing secrets; the given secret is not used")
        wanted = [t for e in (events or DEFAULT_WEBHOOK_EVENTS) for t in WEBHOOK_EVENT_TYPES.get(e, ())]
        if not wanted:
            raise ValidationError(
                vendor=self.vendor,
                vendor_message=f"none of {', '.join(map(str, events or ()))} is a Zendesk webhook event; "
                f"use {', '.join(str(e) for e in WEBHOOK_EVENT_TYPES)}",
            )
        wanted = list(dict.fromkeys(wanted))

        async def create() -> Mapping[str, Any]:
            body = {
                "webhook": {
                    "name": WEBHOOK_NAME,
                    "status": "active",
                    "endpoint": url,
                    "http_method": "POST",
                    "request_format": "json",
                    "subscriptions": wanted,
                }
            }
            data = await self.http.send_json("POST", "/api/v2/webhooks", json=body)
            created = (data or {}).get("webhook")
            if not isinstance(created, Mapping) or not isinstance(created.get("id"), str):
                raise HelpdeskError(
                    vendor=self.vendor, method="POST", path="/api/v2/webhooks", vendor_message="response has no webhook"
                )
            return created

        # the webhook already sending to `url` (cursor pages of `GET /api/v2/webhooks`), so a rerun adds none
        listed = self.pages("/api/v2/webhooks", _cursor_pager("webhooks"), **{"page[size]": PAGE_SIZE})
        found, _ = await find_or_create(
            listed, matches=lambda hook: hook.get("endpoint") == url and isinstance(hook.get("id"), str), create=create
        )
        existing = dict(found)
        hook_id = str(existing["id"])
        data = await self.http.get_json(f"/api/v2/webhooks/{hook_id}/signing_secret")
        signing = (data or {}).get("signing_secret") or {}
        value = signing.get("secret") if isinstance(signing, Mapping) else None
        subscriptions = existing.get("subscriptions")
        return WebhookSubscription(
            id=hook_id,
            vendor=self.vendor,
            url=str(existing.get("endpoint") or url),
            events=[s for s in subscriptions if isinstance(s, str)] if isinstance(subscriptions, list) else [],
            active=existing.get("status") == "active",
            secret=SecretStr(value) if isinstance(value, str) and value else None,
            raw=existing,
        )

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        return webhooks.verify_webhook(
            headers, body, secret, now=self.clock.now(), tolerance=self.settings.webhook_tolerance
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse_webhook(headers, body)

    # -- operations ----------------------------------------------------------------------------------

    async def check_call(self) -> Mapping[str, Any]:
        """`GET /users/me`: Zendesk answers 200 with an anonymous user for a bad credential, so check the id."""
        data = await self.http.get_json("/api/v2/users/me")
        me = (data or {}).get("user") or {}
        if zendesk_id(me.get("id")) is None or me.get("role") not in ("agent", "admin"):
            raise HelpdeskError(
                vendor=self.vendor,
                status=200,
                method="GET",
                path="/api/v2/users/me",
                vendor_message=f"signed in as {me.get('role') or 'anonymous'}, not an agent or admin",
                hint=_HINTS[401],
            )
        return {"role": me.get("role"), "auth": self.auth_kind}
