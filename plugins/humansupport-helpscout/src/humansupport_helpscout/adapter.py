"""The Help Scout adapter: Mailbox API 2.0 on `humansupport.vendor.RestAdapter`, OAuth2 client credentials.

Sources: https://developer.helpscout.com/mailbox-api/ (endpoints named at each call) and the summary with
unconfirmed points flagged in docs/vendors/helpscout.md.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import httpx
from pydantic import SecretStr, field_validator

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
    NotFoundError,
    ProfilePatch,
    SatisfactionRating,
    SavedReply,
    ValidationError,
    WebhookEvent,
    WebhookEventType,
    WebhookSubscription,
)
from humansupport.http import (
    Page,
    PageNumberPaginator,
    PageRequest,
    RateLimitHeaders,
    iter_pages,
)
from humansupport.text import html_to_text
from humansupport.vendor import (
    RestAdapter,
    already_as_asked,
    as_dict,
    as_id,
    as_str,
    event_names,
    find_or_create,
    new_secret,
    raise_if_stale,
)

from . import mapping
from ._auth import TOKEN_PATH, ClientCredentialsAuth
from .webhooks import parse_webhook, verify_signature

__all__ = ["DEFAULT_WEBHOOK_EVENTS", "WEBHOOK_EVENTS", "HelpScoutAdapter", "HelpScoutSettings"]

logger = logging.getLogger("humansupport.helpscout")

DEFAULT_BASE_URL: Final = "https://api.helpscout.net"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: Plan limits are not published as numbers we could confirm; 400/min is the commonly reported one (vendor
#: notes §5). The limiter switches to the server's `X-RateLimit-Limit-Minute` after the first response.
DEFAULT_PER_MINUTE: Final = 400.0
RATE_HEADERS: Final = RateLimitHeaders(
    limit="X-RateLimit-Limit-Minute",
    remaining="X-RateLimit-Remaining-Minute",
    reset="X-RateLimit-Retry-After",
    reset_kind="seconds",
    retry_after="X-RateLimit-Retry-After",  # v2 documents no standard Retry-After
)
ERROR_HINTS: Final[Mapping[int, str]] = {
    401: (
        "Help Scout refused the app credentials or token; check HUMANSUPPORT_HELPSCOUT_APP_ID and "
        "HUMANSUPPORT_HELPSCOUT_APP_SECRET (Your Profile > My Apps), and that the app's owner is an active user"
    ),
    403: (
        "the user owning the app (HUMANSUPPORT_HELPSCOUT_APP_ID) lacks access to this inbox or resource; "
        "give that user the role or inbox access listed in docs/vendors/helpscout.md"
    ),
}


#: Help Scout webhook events per core event (developer.helpscout.com/webhooks, vendors/helpscout.md §7)
WEBHOOK_EVENTS: Final[Mapping[WebhookEventType, str]] = {
    WebhookEventType.CONVERSATION_CREATED: "convo.created",
    WebhookEventType.CONVERSATION_ASSIGNED: "convo.assigned",
    WebhookEventType.CUSTOMER_REPLIED: "convo.customer.reply.created",
    WebhookEventType.CONVERSATION_UPDATED: "convo.status",
}
DEFAULT_WEBHOOK_EVENTS: Final = tuple(WEBHOOK_EVENTS)
#: "secret: <= 40 characters you choose" (Create Webhook)
MAX_SECRET_LENGTH: Final = 40
WEBHOOK_LABEL: Final = "humansupport real-time routing"


class HelpScoutSettings(HelpdeskSettings):
    """`HUMANSUPPORT_HELPSCOUT_APP_ID`, `HUMANSUPPORT_HELPSCOUT_APP_SECRET` (secret: environment only)."""

    vendor: ClassVar[str] = "helpscout"
    app_id: str
    app_secret: SecretStr
    #: inbox ids to limit conversation listings to (None: every inbox the app's user can see)
    mailbox_ids: list[str] | None = None
    #: the customer text property holding tags (Help Scout customers have no tags)
    tags_property: str = mapping.DEFAULT_TAGS_PROPERTY
    #: the account's per-minute limit if known (plan dependent); the server's header overrides it
    rate_limit_per_minute: float | None = None

    @field_validator("mailbox_ids", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list | tuple) else value


class HelpScoutAdapter(RestAdapter[HelpScoutSettings]):
    """Help Scout as a humansupport helpdesk; writes cost double against the account's per-minute limit."""

    vendor: ClassVar[str] = "helpscout"
    capabilities: ClassVar[Capabilities] = Capabilities(
        bulk_assign=False,  # no bulk endpoint: concurrent single PATCHes within the rate budget
        optimistic_concurrency=False,  # no ETag/version: re-read before write, see `assign`
        availability=True,  # GET /v2/users/{id}/status
        signed_webhooks=True,  # X-HelpScout-Signature, HMAC-SHA1
        incremental_export=False,  # only modifiedSince on the list endpoint
        embedded_messages=True,  # the listing with embed=threads; chats re-read (the list truncates them)
        satisfaction_ratings=False,  # GET /v2/ratings/{id} only; no list endpoint to sync from
        webhook_registration=True,  # POST /v2/webhooks with our secret
        saved_replies=True,  # per inbox: GET /v2/mailboxes/{id}/saved-replies, then each reply's text
    )
    assign_concurrency: ClassVar[int] = 8
    base_url_template = DEFAULT_BASE_URL
    rate_limit_per_minute = DEFAULT_PER_MINUTE
    rate_headers = RATE_HEADERS
    request_id_headers = ("Correlation-ID", "X-Request-Id")
    error_hints = ERROR_HINTS
    write_cost = 2.0  # "write requests count as 2" (rate-limiting page)
    check_path = "/v2/users/me"
    repr_settings = ("app_id",)

    #: the OAuth2 client-credentials flow every request goes through (built from the settings)
    oauth: ClientCredentialsAuth

    def build_auth(self) -> tuple[httpx.Auth | None, Mapping[str, str]]:
        self.oauth = ClientCredentialsAuth(
            app_id=self.settings.app_id,
            app_secret=self.settings.app_secret,
            token_url=self.resolve_base_url() + TOKEN_PATH,
            clock=self.clock,
        )
        return self.oauth, {}

    def limiter_key(self) -> str:
        """One budget per Help Scout account: every account shares api.helpscout.net and authenticates by OAuth,
        so the key is the configured account name, else the app id."""
        return f"helpscout:{self.settings.account or self.settings.app_id}"

    # -- paging ---------------------------------------------------------------------------------------

    @staticmethod
    def _pager(key: str) -> PageNumberPaginator:
        # HAL page-number paging: `_embedded.<key>`, `page.totalPages`; size is fixed by the server.
        return PageNumberPaginator(items=f"_embedded.{key}", total_pages="page.totalPages")

    def _list(self, path: str, key: str, **params: Any) -> AsyncIterator[dict[str, Any]]:
        return self.pages(path, self._pager(key), **params)

    # -- conversations --------------------------------------------------------------------------------

    def conversation_query(
        self,
        *,
        updated_since: datetime | None = None,
        status: Sequence[ConversationStatus] | None = None,
        page: int = 1,
    ) -> PageRequest:
        """The first (or `page`-th) listing request: `status=all` unless filtered, oldest change first."""
        params: dict[str, Any] = {
            "status": mapping.hs_status_filter(status),
            "sortField": "modifiedAt",
            "sortOrder": "asc",
        }
        if updated_since is not None:
            params["modifiedSince"] = mapping.hs_time(updated_since)
        if self.settings.mailbox_ids:
            params["mailbox"] = ",".join(self.settings.mailbox_ids)
        if page > 1:
            params["page"] = page
        return PageRequest(url="/v2/conversations", params=params)

    def iter_conversation_pages(
        self,
        *,
        updated_since: datetime | None = None,
        status: Sequence[ConversationStatus] | None = None,
        start_page: int = 1,
    ) -> AsyncIterator[Page]:
        """Raw pages with `next` for checkpoints: after a failure, resume at `start_page=page.number + 1`."""
        first = self.conversation_query(updated_since=updated_since, status=status, page=start_page)
        return iter_pages(self.http, first, self._pager("conversations"))

    async def iter_conversations(
        self,
        *,
        updated_since: datetime | None = None,
        status: Sequence[ConversationStatus] | None = None,
        start_page: int = 1,
    ) -> AsyncIterator[Conversation]:
        first = self.conversation_query(updated_since=updated_since, status=status, page=start_page)
        async for _, conv in self._mapped(first, status):
            yield conv

    async def _mapped(
        self, first: PageRequest, status: Sequence[ConversationStatus] | None
    ) -> AsyncIterator[tuple[dict[str, Any], Conversation]]:
        """Each listed conversation once, raw and mapped; unmappable ones are logged and skipped."""
        wanted = set(status) if status else None
        seen: set[str] = set()
        async for page in iter_pages(self.http, first, self._pager("conversations")):
            for item in page.items:
                try:
                    conv = mapping.conversation_from_hs(item)
                except mapping.MappingError as exc:
                    logger.warning("%s (skipped)", exc)
                    continue
                # Page numbers over a list sorted by modifiedAt shift when a record changes mid-run: skip repeats.
                if conv.id in seen or (wanted is not None and conv.status not in wanted):
                    continue
                seen.add(conv.id)
                yield item, conv

    async def iter_conversations_with_messages(
        self,
        *,
        updated_since: datetime | None = None,
        status: Sequence[ConversationStatus] | None = None,
    ) -> AsyncIterator[tuple[Conversation, list[Message]]]:
        """Conversations with their messages from one listing (`embed=threads`): no request per conversation.

        The list view truncates chat threads (vendor notes §2), so chats, and any conversation whose embed is
        missing, are read again from the threads endpoint.
        """
        first = self.conversation_query(updated_since=updated_since, status=status).with_params(embed="threads")
        async for item, conv in self._mapped(first, status):
            embedded = as_dict(item.get("_embedded")).get("threads")
            if conv.channel == "chat" or not isinstance(embedded, list):
                messages = [m async for m in self.iter_messages(conv.id)]
            else:
                messages = _in_time_order(_messages(embedded, conv.id))
            yield conv, messages

    async def get_conversation(self, conversation_id: str) -> Conversation:
        # GET /v2/conversations/{id}; a merged one answers 301 and the auth flow follows it.
        data = await self.http.get_json(f"/v2/conversations/{_path_id(conversation_id)}")
        return mapping.conversation_from_hs(as_dict(data))

    async def iter_messages(self, conversation_id: str) -> AsyncIterator[Message]:
        # GET /v2/conversations/{id}/threads is newest first; the contract wants time order.
        threads = [
            item async for item in self._list(f"/v2/conversations/{_path_id(conversation_id)}/threads", "threads")
        ]
        for message in _in_time_order(_messages(threads, str(conversation_id))):
            yield message

    # -- people ---------------------------------------------------------------------------------------

    async def _teams(self) -> AsyncIterator[tuple[dict[str, Any], str, list[str]]]:
        """Each team (GET /v2/teams) with its id and its members' ids (GET /v2/teams/{id}/members)."""
        async for team in self._list("/v2/teams", "teams"):
            team_id = as_id(team.get("id"))
            if team_id is None:
                continue
            members = [
                uid
                async for member in self._list(f"/v2/teams/{team_id}/members", "users")
                if (uid := as_id(member.get("id"))) is not None
            ]
            yield team, team_id, members

    async def _status(self, user_id: str) -> dict[str, Any] | None:
        try:
            data = await self.http.get_json(f"/v2/users/{user_id}/status")
        except NotFoundError:
            return None  # deleted between the listing and this call
        return data if isinstance(data, dict) else None

    async def iter_agents(self) -> AsyncIterator[Agent]:
        memberships: dict[str, list[str]] = {}
        async for _, team_id, members in self._teams():
            for uid in members:
                memberships.setdefault(uid, []).append(team_id)
        async for user in self._list("/v2/users", "users"):
            if str(user.get("type") or "user").lower() != "user":
                continue
            user_id = as_id(user.get("id"))
            if user_id is None:
                continue
            status = await self._status(user_id)
            yield mapping.agent_from_user(
                user, status=status, group_ids=memberships.get(user_id, []), capacity=self.settings.capacity_default
            )

    async def iter_groups(self) -> AsyncIterator[Group]:
        async for team, _, members in self._teams():
            yield mapping.group_from_team(team, members)

    async def iter_customers(self, *, updated_since: datetime | None = None) -> AsyncIterator[Customer]:
        since = mapping.hs_time(updated_since) if updated_since else None
        async for item in self._list(
            "/v2/customers", "customers", modifiedSince=since, sortField="modifiedAt", sortOrder="asc"
        ):
            try:
                yield mapping.customer_from_hs(item, tags_property=self.settings.tags_property)
            except mapping.MappingError as exc:
                logger.warning("%s (skipped)", exc)

    async def get_customer(self, customer_id: str) -> Customer:
        data = await self.http.get_json(f"/v2/customers/{_path_id(customer_id)}")
        return mapping.customer_from_hs(as_dict(data), tags_property=self.settings.tags_property)

    async def find_customer(self, *, email: str) -> Customer | None:
        # Search syntax `(email:"a@b.com")` on GET /v2/customers; quotes in the address are dropped.
        query = '(email:"{}")'.format(email.replace('"', ""))
        async for item in self._list("/v2/customers", "customers", query=query):
            found = as_id(item.get("id"))
            if found is not None:
                return await self.get_customer(found)  # the list view lacks properties
        return None

    async def iter_mailboxes(self) -> AsyncIterator[mapping.Mailbox]:
        """Inboxes the app's user can see (GET /v2/mailboxes); their ids go into the `mailbox_ids` setting."""
        async for item in self._list("/v2/mailboxes", "mailboxes"):
            try:
                yield mapping.mailbox_from_hs(item)
            except mapping.MappingError as exc:
                logger.warning("%s (skipped)", exc)

    async def get_rating(self, rating_id: str) -> SatisfactionRating:
        """GET /v2/ratings/{id}: ids come from `satisfaction.ratings` webhooks (there is no list endpoint)."""
        return mapping.rating_from_hs(as_dict(await self.http.get_json(f"/v2/ratings/{_path_id(rating_id)}")))

    # -- writes ---------------------------------------------------------------------------------------

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
        """PATCH /v2/conversations/{id} `replace /assignTo` (204), guarded by a re-read right before it.

        Help Scout has no optimistic concurrency, so with any `expected_*` the conversation is read again and the
        toolkit's guard (`humansupport.vendor.guard`: coarser-precision timestamps, `UNASSIGNED`) decides; a
        change since planning raises ConflictError without writing. The race window left is the time between
        that read and the PATCH (one round trip): a human edit landing inside it is overwritten.
        """
        cid = _path_id(conversation_id)
        path = f"/v2/conversations/{cid}"
        guarded = expected_updated_at is not None or expected_version is not None or expected_assignee_id is not None
        if guarded:
            current = await self.get_conversation(cid)
            if current.id != cid:  # GET followed a merge's 301; writes to the old id are 404
                raise NotFoundError(
                    vendor=self.vendor,
                    method="PATCH",
                    path=path,
                    vendor_message=f"the conversation was merged into {current.id}; re-plan it",
                )
            raise_if_stale(
                current,
                vendor=self.vendor,
                method="PATCH",
                path=path,
                expected_updated_at=expected_updated_at,
                expected_version=expected_version,
                expected_assignee_id=expected_assignee_id,
            )
            agent = str(agent_id) if agent_id else None
            if already_as_asked(current, agent, None if agent is not None else group_id):
                return current  # already as asked: spend no write
        body: dict[str, Any]
        if agent_id is not None:
            body = {"op": "replace", "path": "/assignTo", "value": _int_id(agent_id, "agent_id")}
        elif group_id is not None:
            # Assigning to a team id via /assignTo is not confirmed by the docs (vendor notes §4).
            body = {"op": "replace", "path": "/assignTo", "value": _int_id(group_id, "group_id")}
        else:
            body = {"op": "remove", "path": "/assignTo"}
        await self.http.send_json("PATCH", path, json=body, idempotent=True)
        return await self.get_conversation(cid)

    async def update_customer(self, customer_id: str, patch: ProfilePatch) -> Customer:
        """Background and photo by customer PATCH; attributes and tags by the properties PATCH (both 204).

        Properties must be defined in the account first (docs/vendors/helpscout.md, `ensure_properties`).
        Tags are merged with the ones already stored, as the core's ProfilePatch adds tags.
        """
        cid = _path_id(customer_id)
        ops: list[dict[str, Any]] = []
        if patch.note:  # None and "" leave the background alone (the core's convention)
            ops.append({"op": "replace", "path": "/background", "value": patch.note[:200]})  # UI limit: 200
        if patch.avatar_url is not None:
            ops.append({"op": "replace", "path": "/photoUrl", "value": patch.avatar_url})
        if ops:
            # PATCH /v2/customers/{id} as a JSON-Patch list (exact ops unconfirmed; PUT would null other fields).
            await self.http.send_json("PATCH", f"/v2/customers/{cid}", json=ops, idempotent=True)
        props = [
            {"op": "replace", "path": f"/{slug}", "value": value}
            for slug, value in patch.custom_attributes.items()
            if value is not None
        ]
        props += [
            {"op": "remove", "path": f"/{slug}"} for slug, value in patch.custom_attributes.items() if value is None
        ]
        if patch.tags:
            current = await self.get_customer(cid)
            merged = list(dict.fromkeys([*current.tags, *patch.tags]))
            props.append({"op": "replace", "path": f"/{self.settings.tags_property}", "value": ",".join(merged)})
        if props:
            await self.http.send_json("PATCH", f"/v2/customers/{cid}/properties", json=props, idempotent=True)
        return await self.get_customer(cid)

    async def ensure_properties(self, definitions: Mapping[str, str]) -> list[str]:
        """Creates missing customer property definitions (`slug -> type`); returns the slugs created.

        GET/POST /v2/customer-properties; an account holds at most 50 definitions.
        """
        existing = {
            str(item.get("slug")) async for item in self._list("/v2/customer-properties", "customer-properties")
        }
        created = []
        for slug, kind in definitions.items():
            if slug in existing:
                continue
            body = {"type": kind, "slug": slug, "name": slug.replace("_", " ").title()}
            await self.http.send_json("POST", "/v2/customer-properties", json=body)
            created.append(slug)
        return created

    async def add_internal_note(self, conversation_id: str, body: str) -> Message:
        """POST /v2/conversations/{id}/notes (201, new thread id in `Resource-ID`); not retried on 5xx."""
        cid = _path_id(conversation_id)
        response = await self.http.request("POST", f"/v2/conversations/{cid}/notes", json={"text": body})
        thread_id = response.headers.get("Resource-ID") or f"note-{cid}"
        return Message(
            id=thread_id,
            conversation_id=str(conversation_id),
            author_role="agent",
            public=False,
            body=body,
            created_at=self.clock.now(),
            thread_type="note",
        )

    # -- saved replies, links --------------------------------------------------------------------------

    def conversation_url(self, conversation_id: str) -> str | None:
        """`https://secure.helpscout.net/conversation/{id}` (the id, not the number); no request."""
        text = str(conversation_id).strip()
        return f"https://secure.helpscout.net/conversation/{text}" if text.isdigit() else None

    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        """Saved replies of each inbox (`mailbox_ids`, else every inbox the app's user sees).

        The list (`GET /v2/mailboxes/{id}/saved-replies`) has only a shortened `preview`, so each reply's full
        `text` (HTML) is read with `GET /v2/mailboxes/{id}/saved-replies/{replyId}` and converted to plain text;
        a chat-only reply falls back to its `chatText`.
        """
        boxes = self.settings.mailbox_ids or [box.id async for box in self.iter_mailboxes()]
        for box in boxes:
            mailbox = _path_id(box)
            listed = await self.http.get_json(f"/v2/mailboxes/{mailbox}/saved-replies")
            for item in listed if isinstance(listed, list) else []:
                reply_id = as_id(item.get("id")) if isinstance(item, dict) else None
                if reply_id is None:
                    continue
                detail = as_dict(await self.http.get_json(f"/v2/mailboxes/{mailbox}/saved-replies/{reply_id}"))
                text = as_str(detail.get("text"))
                body = html_to_text(text) if text else (as_str(detail.get("chatText")) or "").strip()
                title = as_str(detail.get("name")) or as_str(item.get("name"))
                yield SavedReply(
                    id=reply_id,
                    vendor=self.vendor,
                    title=title,
                    body=body,
                    kind="saved_reply",
                    raw={**detail, "mailboxId": int(mailbox)},
                )

    # -- webhooks and operations ----------------------------------------------------------------------

    async def register_webhook(
        self,
        *,
        url: str,
        secret: str | None = None,
        events: Sequence[WebhookEventType] | None = None,
    ) -> WebhookSubscription:
        """`POST /v2/webhooks` (201, id in `Resource-ID`) with our secret: the caller's (at most 40 characters)
        or a generated one, returned in the subscription. A webhook already sending to `url` is reused: with a
        `secret` it is updated in place (`PUT /v2/webhooks/{id}`), without one it is returned as it is (Help Scout
        never shows a secret again, so `secret` is then None and the old one stays valid).
        """
        if secret is not None and not 1 <= len(secret) <= MAX_SECRET_LENGTH:
            raise ValidationError(
                vendor=self.vendor,
                vendor_message=f"a Help Scout webhook secret has 1 to {MAX_SECRET_LENGTH} characters, "
                f"got {len(secret)}; pass a shorter one or none to have one generated",
            )
        names = event_names(events or DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENTS, vendor=self.vendor)
        chosen = secret or new_secret(MAX_SECRET_LENGTH)
        body = {
            "url": url,
            "events": names,
            "secret": chosen,
            "payloadVersion": "V2",
            "label": WEBHOOK_LABEL,
            "notification": False,
        }

        async def create() -> Mapping[str, Any]:
            response = await self.http.request("POST", "/v2/webhooks", json=body)
            location = response.headers.get("Location", "")
            hook_id = response.headers.get("Resource-ID") or location.rstrip("/").rsplit("/", 1)[-1]
            if not hook_id.isdigit():
                raise HelpdeskError(
                    vendor=self.vendor,
                    status=response.status_code,
                    method="POST",
                    path="/v2/webhooks",
                    vendor_message="created, but the answer names no webhook id (no Resource-ID or Location)",
                )
            return {"id": int(hook_id), "url": url, "events": names, "state": "enabled", "notification": False}

        hook, created = await find_or_create(
            self._list("/v2/webhooks", "webhooks"),
            matches=lambda item: item.get("url") == url and as_id(item.get("id")) is not None,
            create=create,
        )
        if created or secret is None:
            return _subscription(hook, url=url, secret=chosen if created else None)
        await self.http.request("PUT", f"/v2/webhooks/{as_id(hook.get('id'))}", json=body)
        return _subscription({**hook, "events": names, "state": "enabled"}, url=url, secret=chosen)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        return verify_signature(headers, body, secret)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return parse_webhook(headers, body)

    async def check_call(self) -> Mapping[str, Any]:
        """GET /v2/users/me: proves the app credentials; the app owner's email is the account shown."""
        me = as_dict(await self.http.get_json(self.check_path or "/v2/users/me"))
        return {"user_id": as_id(me.get("id")), "role": as_str(me.get("role")), "email": as_str(me.get("email"))}

    async def check(self) -> CheckReport:
        report = await super().check()
        return dataclasses.replace(report, account=report.details.get("email") or report.account)


def _subscription(item: Mapping[str, Any], *, url: str, secret: str | None) -> WebhookSubscription:
    events = item.get("events")
    return WebhookSubscription(
        id=str(item.get("id")),
        vendor="helpscout",
        url=as_str(item.get("url")) or url,
        events=[e for e in events if isinstance(e, str)] if isinstance(events, list) else [],
        active=item.get("state", "enabled") == "enabled",
        secret=SecretStr(secret) if secret else None,
        raw=dict(item),
    )


def _messages(threads: Sequence[Any], conversation_id: str) -> list[Message]:
    out = []
    for item in threads:
        if not isinstance(item, dict):
            continue
        try:
            out.append(mapping.message_from_thread(item, conversation_id))
        except mapping.MappingError as exc:
            logger.warning("%s (skipped)", exc)
    return out


def _in_time_order(messages: list[Message]) -> list[Message]:
    """Threads come newest first; the contract wants time order (undated last, ties by id)."""
    return sorted(messages, key=lambda m: (m.created_at is None, m.created_at or _EPOCH, _int_or_zero(m.id)))


def _path_id(value: str) -> str:
    """Ids go into paths; refuse anything but digits so a bad id cannot reach another endpoint."""
    text = str(value).strip()
    if not text.isdigit():
        raise NotFoundError(vendor="helpscout", vendor_message=f"not a Help Scout id: {text[:40]!r}")
    return text


def _int_id(value: str, name: str) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"{name} must be a numeric Help Scout id, got {text[:40]!r}")
    return int(text)


def _int_or_zero(value: str) -> int:
    return int(value) if value.isdigit() else 0
