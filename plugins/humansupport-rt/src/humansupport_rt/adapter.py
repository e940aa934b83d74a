"""The Request Tracker adapter: every `AsyncHelpdesk` method over RT 5's REST2 API, built on `humansupport.vendor`.

What RT's API is like, as the real server showed it (docs/vendors/rt.md has the whole list):

- every request authenticates from scratch (basic or `Authorization: token ...`, both a bcrypt check), so the
  adapter asks for as few requests as it can: searches with `fields=` (and `fields[Owner]=id,Name` for nested
  records), 100 per page, messages in bulk from the transaction and attachment searches;
- a ticket's ETag is its last transaction id; a PUT with a stale `If-Match` is refused with 412;
- a PUT answers 200 with a list of messages even when a change was refused ("Could not change owner: ..."), and
  silently ignores a custom field that is not applied to the object: the adapter reads the messages and reads
  the record back;
- user searches serve neither `Privileged` nor `Disabled`, and no endpoint lists who may own tickets: agents
  are the privileged members of user-defined groups named like a queue (that queue's staff) or like the
  `agent_group` setting, each read once; a disabled member is listed only with `find_disabled_rows=1`;
- TicketSQL reads a date without a zone in the user's time zone: times are sent as ISO 8601 with `Z`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

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
    SavedReply,
    WebhookEvent,
    WebhookEventType,
    WebhookSubscription,
)
from humansupport.enrichment.setup import FieldSetupUnsupportedError
from humansupport.enrichment.writeback import FieldSpec
from humansupport.errors import ConfigError, ConflictError, HelpdeskError, UnsupportedOperationError, ValidationError
from humansupport.http import CursorPaginator
from humansupport.text import html_to_text, looks_like_html
from humansupport.vendor import (
    RestAdapter,
    already_as_asked,
    as_dict,
    as_id,
    as_list,
    as_str,
    header,
    raise_if_stale,
    verify,
)

from . import mapping
from .mapping import NOBODY, SYSTEM_USERS, TICKET_FIELDS

__all__ = ["MESSAGE_TYPES", "SIGNATURE_HEADER", "RTAdapter", "RTSettings", "scrip_steps"]

SIGNATURE_HEADER = "X-RT-Signature"
#: the transaction types that are messages (comments are internal)
MESSAGE_TYPES = ("Create", "Correspond", "Comment")
_PER_PAGE = 100  # REST2's largest page
_CHUNK = 1000  # message transactions whose text is read with one attachment search
_USER_FIELDS = "id,Name,EmailAddress,RealName,Organization,Lang,Comments,Created,LastUpdated,CustomFields"
_WEBHOOK_EVENTS: Mapping[str, WebhookEventType] = {
    "ticket.created": WebhookEventType.CONVERSATION_CREATED,
    "ticket.owner_changed": WebhookEventType.CONVERSATION_ASSIGNED,
    "ticket.correspond": WebhookEventType.CUSTOMER_REPLIED,
}
_ALL: list[dict[str, Any]] = [{"field": "id", "operator": ">", "value": 0}]
_REFUSED = ("could not", "couldn't", "permission denied", "not permitted", "may not", "invalid", "no permission")


class RTSettings(HelpdeskSettings):
    """`HUMANSUPPORT_RT_BASE_URL` (RT's address), and `HUMANSUPPORT_RT_TOKEN` or `HUMANSUPPORT_RT_USERNAME` +
    `HUMANSUPPORT_RT_PASSWORD` (secrets: environment only)."""

    vendor: ClassVar[str] = "rt"
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    #: a user-defined group whose privileged members are agents besides the queue groups' members
    agent_group: str | None = None
    #: the user custom field (multi-value) holding a customer's tags: RT users have none of their own
    tags_field: str = "humansupport_tags"


class RTAdapter(RestAdapter[RTSettings]):
    """Request Tracker as a humansupport helpdesk."""

    vendor: ClassVar[str] = "rt"
    capabilities: ClassVar[Capabilities] = Capabilities(
        optimistic_concurrency=True,
        incremental_export=True,
        bulk_messages=True,
        signed_webhooks=True,
        saved_replies=True,
        webhook_registration=False,
        satisfaction_ratings=False,
    )
    rate_limit_per_minute = 6000.0  # RT has no rate limit of its own; the server's capacity is the limit
    check_path = "/rt"
    error_hints: ClassVar[Mapping[int, str]] = {
        401: "check HUMANSUPPORT_RT_TOKEN (an RT auth token) or HUMANSUPPORT_RT_USERNAME and HUMANSUPPORT_RT_PASSWORD",
        403: "the RT user lacks a right (ShowTicket, ModifyTicket, OwnTicket, AdminUsers...) on this queue",
    }
    paginator = CursorPaginator(items="items", next_url="next_page")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._agent_cache: list[Agent] | None = None
        self._user_ids: dict[str, str] = {}
        self._agent_lock = asyncio.Lock()

    # -- connection ------------------------------------------------------------------------------------

    def resolve_base_url(self) -> str:
        url = (self.settings.base_url or "").rstrip("/")
        if not url:
            raise ConfigError("rt: no RT address; set HUMANSUPPORT_RT_BASE_URL (e.g. https://rt.example.com)")
        return url if url.endswith("/REST/2.0") else f"{url}/REST/2.0"

    def build_auth(self) -> tuple[httpx.Auth | None, Mapping[str, str]]:
        token, user, password = self.settings.token, self.settings.username, self.settings.password
        if token is not None and token.get_secret_value():
            return None, {"Authorization": f"token {token.get_secret_value()}"}
        if user and password is not None and password.get_secret_value():
            return httpx.BasicAuth(user, password.get_secret_value()), {}
        raise ConfigError(
            "rt: no credentials; set HUMANSUPPORT_RT_TOKEN (an RT auth token) or "
            "HUMANSUPPORT_RT_USERNAME and HUMANSUPPORT_RT_PASSWORD"
        )

    def web_url(self) -> str:
        return self.http.base_url.removesuffix("/REST/2.0")

    async def check_call(self) -> Mapping[str, Any]:
        data = as_dict(await self.http.get_json("/rt"))
        return {"version": as_str(data.get("Version"))}

    # -- searches --------------------------------------------------------------------------------------

    def search(self, path: str, query: str | list[dict[str, Any]], **params: Any) -> AsyncIterator[dict[str, Any]]:
        """Every item of a REST2 search, 100 per page; `query` is TicketSQL/TransactionSQL or a JSON search."""
        if isinstance(query, list) and not query:
            query = _ALL  # an empty JSON search finds nothing (articles), not everything
        text = query if isinstance(query, str) else json.dumps(query)
        return self.pages(path, query=text, per_page=_PER_PAGE, **params)

    # -- conversations ---------------------------------------------------------------------------------

    async def iter_conversations(
        self, *, updated_since: datetime | None = None, status: Sequence[ConversationStatus] | None = None
    ) -> AsyncIterator[Conversation]:
        """One TicketSQL search (LastUpdated, Status) with every field the mapping needs, ordered by id so a
        ticket updated while paging is neither skipped nor listed twice."""
        clauses = ["id > 0"]
        if updated_since is not None:
            clauses.append(f"LastUpdated >= '{mapping.ticketsql_time(updated_since)}'")
        wanted = set(status or ())
        if wanted:
            words = sorted({w for w, s in mapping._STATUS.items() if s in wanted})
            if not words:
                return
            clauses.append("(" + " OR ".join(f"Status = '{w}'" for w in words) + ")")
        async for item in self.search("/tickets", " AND ".join(clauses), orderby="id", order="ASC", **TICKET_FIELDS):
            conv = mapping.conversation(item)
            if not wanted or conv.status in wanted:
                yield conv

    async def _read_ticket(self, conversation_id: str) -> Conversation:
        """GET /ticket/:id: the ticket with its ETag (the last transaction id) as `version`."""
        if not conversation_id.isdigit():
            raise ValidationError(f"rt: a ticket id is a number, got {conversation_id!r}", vendor=self.vendor)
        response = await self.http.request("GET", f"/ticket/{conversation_id}")
        item = as_dict(self.http.parse_json(response))
        etag = (response.headers.get("ETag") or "").strip('"') or None
        # the single-record form names users (Owner: {"id": "root"}); the mapping wants numeric ids
        owner = as_dict(item.get("Owner"))
        owner_name = as_str(owner.get("id"))
        item["Owner"] = {"id": await self._user_id(owner_name), "Name": owner_name}
        item["Requestor"] = [
            {"id": await self._user_id(as_str(as_dict(r).get("id")))} for r in as_list(item.get("Requestor"))
        ]
        return mapping.conversation(item, version=etag)

    async def get_conversation(self, conversation_id: str) -> Conversation:
        return await self._read_ticket(conversation_id)

    async def _user_id(self, name: str | None) -> str | None:
        """A user's numeric id from its name (cached: names are what RT's single-record form shows)."""
        if name is None or name == NOBODY:
            return None
        if name.isdigit():
            return name
        if name not in self._user_ids:
            for agent in await self._agents():
                self._user_ids.setdefault(as_str(agent.raw.get("Name")) or "", agent.id)
        if name not in self._user_ids:
            user = as_dict(await self.http.get_json(f"/user/{name}"))
            self._user_ids[name] = str(user["id"])
        return self._user_ids[name]

    # -- messages --------------------------------------------------------------------------------------

    def _txn_query(self, extra: str) -> str:
        types = " OR ".join(f"Type = '{t}'" for t in MESSAGE_TYPES)
        return f"ObjectType = 'RT::Ticket' AND ({types}) AND {extra}"

    async def _messages(self, txns: list[dict[str, Any]], attachments: AsyncIterator[dict[str, Any]]) -> list[Message]:
        agent_ids = frozenset(a.id for a in await self._agents())
        wanted = {str(t["id"]) for t in txns}
        bodies: dict[str, tuple[str, str]] = {}
        async for att in attachments:
            txn_id = as_str(att.get("TransactionId"))
            kind = (as_str(att.get("ContentType")) or "").lower()
            if txn_id not in wanted or kind not in ("text/plain", "text/html"):
                continue
            # the first text/plain part wins; text/html only where no plain part came
            if txn_id not in bodies or (bodies[txn_id][1] != "text/plain" and kind == "text/plain"):
                bodies[txn_id] = (as_str(att.get("Content")) or "", kind)
        out = []
        for txn in txns:
            found = bodies.get(str(txn["id"]))
            out.append(
                mapping.message(
                    txn, found[0] if found else None, agent_ids=agent_ids, content_type=found[1] if found else None
                )
            )
        return out

    async def iter_messages(self, conversation_id: str) -> AsyncIterator[Message]:
        """Two listings: the ticket's message transactions, and its attachments (the text of each)."""
        txns = [
            t
            async for t in self.search(
                "/transactions",
                self._txn_query(f"ObjectId = {int(conversation_id)}"),
                orderby="id",
                fields="ObjectId,Type,Created,Creator",
                **{"fields[Creator]": "id,Name"},
            )
        ]
        if not txns:
            return
        path = f"/ticket/{int(conversation_id)}/attachments"
        attachments = self.pages(path, per_page=_PER_PAGE, fields="TransactionId,ContentType,Content")
        for msg in sorted(await self._messages(txns, attachments), key=lambda m: (m.created_at is None, m.created_at)):
            yield msg

    async def iter_all_messages(self, *, updated_since: datetime | None = None) -> AsyncIterator[Message]:
        """Messages created since a time, in bulk: a transaction search (100 a page) for the whole account and, per
        `_CHUNK` transactions, one attachment search over their id range: about two requests per 100 messages,
        instead of two listings per ticket, and memory bounded by the chunk."""
        since = f"Created >= '{mapping.ticketsql_time(updated_since)}'" if updated_since else "id > 0"
        batch: list[dict[str, Any]] = []
        async for txn in self.search(
            "/transactions",
            self._txn_query(since),
            orderby="id",
            fields="ObjectId,Type,Created,Creator",
            **{"fields[Creator]": "id,Name"},
        ):
            batch.append(txn)
            if len(batch) >= _CHUNK:
                for msg in await self._chunk(batch):
                    yield msg
                batch = []
        if batch:
            for msg in await self._chunk(batch):
                yield msg

    async def _chunk(self, txns: list[dict[str, Any]]) -> list[Message]:
        ids = [int(t["id"]) for t in txns]
        query: list[dict[str, Any]] = [
            {"field": "TransactionId", "operator": ">=", "value": min(ids)},
            {"field": "TransactionId", "operator": "<=", "value": max(ids)},
            {"field": "ContentType", "operator": "LIKE", "value": "text/"},
        ]
        attachments = self.search("/attachments", query, orderby="id", fields="TransactionId,ContentType,Content")
        return await self._messages(txns, attachments)

    # -- people ----------------------------------------------------------------------------------------

    async def _queues(self) -> list[dict[str, Any]]:
        return [q async for q in self.pages("/queues/all", per_page=_PER_PAGE, fields="id,Name,Lifecycle")]

    async def _agents(self, *, fresh: bool = False) -> list[Agent]:
        """Privileged members of the user-defined groups named like a queue or `agent_group` (cached per adapter
        for the message mapping): one listing of queues and one of groups, one per matching group, one read per
        member."""
        async with self._agent_lock:
            if self._agent_cache is not None and not fresh:
                return self._agent_cache
            queues = {as_str(q.get("Name")): str(q["id"]) for q in await self._queues()}
            groups = [
                g
                async for g in self.search(
                    "/groups", [{"field": "Domain", "value": "UserDefined"}], fields="id,Name", find_disabled_rows=0
                )
            ]
            staff: dict[str, list[str]] = {}  # user id -> queue ids
            for g in groups:
                name = as_str(g.get("Name"))
                if name not in queues and (name is None or name != self.settings.agent_group):
                    continue
                # a disabled user drops out of the member listing unless disabled rows are asked for
                members = self.pages(f"/group/{g['id']}/members", per_page=_PER_PAGE, find_disabled_rows=1)
                async for member in members:
                    if as_str(member.get("type")) != "user":
                        continue
                    queue_ids = staff.setdefault(str(member["id"]), [])
                    if name in queues:
                        queue_ids.append(queues[name])
            users = await asyncio.gather(*(self.http.get_json(f"/user/{uid}") for uid in sorted(staff, key=int)))
            agents = []
            for user in (as_dict(u) for u in users):
                if user.get("Privileged") in (1, "1") and as_str(user.get("Name")) not in SYSTEM_USERS:
                    agents.append(mapping.agent(user, sorted(set(staff[str(user["id"])]), key=int)))
            self._agent_cache = agents
            return agents

    async def iter_agents(self) -> AsyncIterator[Agent]:
        for agent in await self._agents(fresh=True):
            yield agent

    async def iter_groups(self) -> AsyncIterator[Group]:
        agents = await self._agents()
        for queue in await self._queues():
            qid = str(queue["id"])
            yield mapping.group(queue, [a.id for a in agents if qid in a.group_ids])

    async def iter_customers(self, *, updated_since: datetime | None = None) -> AsyncIterator[Customer]:
        """Every user but RT's own and the agents (requestors are users RT created from their address)."""
        skip = {a.id for a in await self._agents()}
        query = []
        if updated_since is not None:
            query.append({"field": "LastUpdated", "operator": ">=", "value": mapping.ticketsql_time(updated_since)})
        async for user in self.search("/users", query, orderby="id", fields=_USER_FIELDS):
            if str(user["id"]) in skip or as_str(user.get("Name")) in SYSTEM_USERS:
                continue
            yield mapping.customer(user, tags_field=self.settings.tags_field)

    async def get_customer(self, customer_id: str) -> Customer:
        return mapping.customer(
            as_dict(await self.http.get_json(f"/user/{customer_id}")), tags_field=self.settings.tags_field
        )

    async def find_customer(self, *, email: str) -> Customer | None:
        query = [{"field": "EmailAddress", "value": email}]
        async for user in self.search("/users", query, fields=_USER_FIELDS):
            return mapping.customer(user, tags_field=self.settings.tags_field)
        return None

    # -- writes ----------------------------------------------------------------------------------------

    def _refused(self, answer: Any, *, method: str, path: str) -> None:
        """RT answers a PUT with 200 and a list of messages; a refused change is one of them."""
        for text in (m for m in as_list(answer) if isinstance(m, str)):
            if any(word in text.lower() for word in _REFUSED):
                raise ValidationError(f"rt refused the change: {text}", vendor=self.vendor, method=method, path=path)

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
        """Reads the ticket (its ETag), refuses when it changed since the caller's read, then a PUT carrying
        `If-Match: <ETag>`: RT answers 412 if anyone wrote in between, so no race window is left."""
        path = f"/ticket/{conversation_id}"
        current = await self._read_ticket(conversation_id)
        raise_if_stale(
            current,
            vendor=self.vendor,
            path=path,
            expected_updated_at=expected_updated_at,
            expected_version=expected_version,
            expected_assignee_id=expected_assignee_id,
        )
        if already_as_asked(current, agent_id, group_id):
            return current
        body: dict[str, Any] = {"Owner": agent_id or NOBODY}
        if group_id is not None and group_id != current.group_id:
            body["Queue"] = group_id
        headers = {"If-Match": f'"{current.version}"'} if current.version else {}
        try:
            response = await self.http.request("PUT", path, json=body, headers=headers)
        except HelpdeskError as exc:
            if exc.status == 412:
                raise ConflictError(
                    vendor=self.vendor,
                    method="PUT",
                    path=path,
                    vendor_message=f"ticket {conversation_id} changed since it was read (ETag); not overwritten",
                ) from None
            raise
        answer = self.http.parse_json(response)
        self._refused(answer, method="PUT", path=path)
        after = await self._read_ticket(conversation_id)
        if not already_as_asked(after, agent_id, group_id):
            raise ValidationError(
                f"rt did not apply the assignment: {'; '.join(str(m) for m in as_list(answer)) or 'no message'}",
                vendor=self.vendor,
                method="PUT",
                path=path,
            )
        return after

    async def update_customer(self, customer_id: str, patch: ProfilePatch) -> Customer:
        """One PUT (custom fields, tags, Comments), then a read back: RT ignores a field not applied to users
        without a word, so a value that did not stick is an error naming the field."""
        path = f"/user/{customer_id}"
        fields: dict[str, Any] = {k: ("" if v is None else str(v)) for k, v in patch.custom_attributes.items()}
        # the current record only when the patch merges into it (tags) or may repeat it (the note)
        before = await self.get_customer(customer_id) if patch.tags or patch.note is not None else None
        if patch.tags and before is not None:
            fields[self.settings.tags_field] = sorted({*before.tags, *patch.tags})
        body: dict[str, Any] = {}
        if fields:
            body["CustomFields"] = fields
        if patch.note is not None and before is not None and patch.note != (before.notes or ""):
            body["Comments"] = patch.note
        if body:
            answer = await self.http.send_json("PUT", path, json=body, idempotent=True)
            self._refused(answer, method="PUT", path=path)
        after = await self.get_customer(customer_id)
        kept = after.custom_attributes
        lost = [k for k, v in patch.custom_attributes.items() if v not in (None, "") and k not in kept]
        if patch.tags and not set(patch.tags) <= set(after.tags):
            lost.append(self.settings.tags_field)
        if lost:
            raise ValidationError(
                f"rt kept no value for {', '.join(lost)}: the user custom field is missing or not applied to users "
                "(run `humansupport setup rt`)",
                vendor=self.vendor,
                method="PUT",
                path=path,
            )
        return after

    async def ensure_profile_fields(self, specs: Sequence[FieldSpec]) -> list[str]:
        """Nothing to do when every field exists and applies to users. REST2 can create a custom field but not
        apply it to users, so anything missing is the manual steps (and no write)."""
        wanted = [*(s.name for s in specs), self.settings.tags_field]
        applied: set[str] = set()
        async for user in self.search("/users", [], fields="id,CustomFields"):
            applied = {as_str(as_dict(f).get("name")) or "" for f in as_list(user.get("CustomFields"))}
            break
        missing = [name for name in wanted if name not in applied]
        if not missing:
            return []
        raise FieldSetupUnsupportedError(user_field_steps(missing, self.web_url()), vendor=self.vendor, fields=missing)

    async def add_internal_note(self, conversation_id: str, body: str) -> Message:
        """A comment (internal in RT); its id is the ticket's ETag right after (the newest transaction)."""
        path = f"/ticket/{conversation_id}/comment"
        answer = await self.http.send_json("POST", path, json={"Content": body, "ContentType": "text/plain"})
        self._refused(answer, method="POST", path=path)
        after = await self._read_ticket(conversation_id)
        return Message(
            id=after.version or f"{conversation_id}-note",
            conversation_id=conversation_id,
            body=body,
            public=False,
            author_role="agent",
            created_at=after.updated_at,
        )

    def conversation_url(self, conversation_id: str) -> str | None:
        return f"{self.web_url()}/Ticket/Display.html?id={conversation_id}" if conversation_id.isdigit() else None

    async def iter_saved_replies(self) -> AsyncIterator[SavedReply]:
        """RT's Articles (their `Content` custom field): what agents insert into replies. REST2 serves no
        templates (those are the scrips' mail templates, not replies)."""
        async for item in self.search("/articles", [], orderby="id", fields="id,Name,Summary,LastUpdated,CustomFields"):
            content = mapping.custom_field_values(item.get("CustomFields")).get("Content") or ""
            text = str(content)
            yield SavedReply(
                id=str(item["id"]),
                vendor=self.vendor,
                title=as_str(item.get("Name")),
                body=html_to_text(text) if looks_like_html(text) else text,
                kind="article",
                url=f"{self.web_url()}/Articles/Article/Display.html?id={item['id']}",
                updated_at=item.get("LastUpdated"),
                raw=item,
            )

    # -- webhooks --------------------------------------------------------------------------------------

    async def register_webhook(
        self, *, url: str, secret: str | None = None, events: Sequence[WebhookEventType] | None = None
    ) -> WebhookSubscription:
        """RT has no webhook API: the steps to create the Scrip that posts signed events, nothing sent."""
        steps = scrip_steps(url, self.web_url())
        raise UnsupportedOperationError(steps, vendor=self.vendor, operation="register_webhook")

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        """The Scrip signs the body with HMAC-SHA256 (hex) in `X-RT-Signature`."""
        return verify(header(headers, SIGNATURE_HEADER), secret, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        data = as_dict(json.loads(body))
        event = as_str(data.get("event")) or ""
        return [
            WebhookEvent(
                vendor=self.vendor,
                id=as_str(data.get("transaction_id")),
                type=_WEBHOOK_EVENTS.get(event, WebhookEventType.OTHER),
                conversation_id=as_id(data.get("ticket_id")),
                agent_id=as_id(data.get("owner_id")),
                previous_agent_id=as_id(data.get("previous_owner_id")),
                occurred_at=data.get("created"),
                actor="human" if as_str(data.get("actor")) not in SYSTEM_USERS else "system",
                raw_type=event or None,
                raw=data,
            )
        ]


def user_field_steps(names: Sequence[str], web_url: str) -> str:
    lines = [
        f"RT's REST2 API cannot apply a custom field to users. In RT ({web_url}) as a SuperUser, for each field:",
        "  Admin > Custom Fields > Create: Name <the name below>, Type 'Enter one value' (Freeform, single),",
        "  Applies to 'Users'; save; then its 'Applies to' tab: tick 'Apply globally' and save.",
        "  (the tags field is 'Enter multiple values'.) Grant 'SeeCustomField' and 'ModifyCustomField' to the",
        "  group of the RT user humansupport signs in as. Fields:",
    ]
    lines += [f"  - {name}" for name in names]
    return "\n".join(lines)


_SCRIP = """\
RT has no webhook API. Create a Scrip that posts events to {url}: in RT ({web_url}) as a SuperUser,
Admin > Global > Scrips > Create: Condition 'User Defined', Action 'User Defined', Template 'Blank',
Stage 'TransactionCreate', applied to the queues to watch.
Custom condition:
  my $t = $self->TransactionObj->Type;
  return $t eq 'Create' || $t eq 'Correspond'
      || ($t eq 'Set' && $self->TransactionObj->Field eq 'Owner');
Custom action preparation code: return 1;
Custom action commit code:
  use JSON; use LWP::UserAgent; use Digest::SHA qw(hmac_sha256_hex);
  my $txn = $self->TransactionObj; my $t = $self->TicketObj;
  my %ev = (Create => 'ticket.created', Correspond => 'ticket.correspond',
            Set => 'ticket.owner_changed');
  my $body = JSON->new->canonical->encode({ event => $ev{$txn->Type}, ticket_id => $t->id,
    transaction_id => $txn->id, owner_id => $t->Owner, previous_owner_id => $txn->OldValue,
    actor => $txn->CreatorObj->Name, created => $txn->CreatedObj->W3CDTF(Timezone => 'UTC') });
  my $sig = hmac_sha256_hex($body, RT->Config->Get('HumansupportWebhookSecret'));
  LWP::UserAgent->new(timeout => 10)->post('{url}', 'Content-Type' => 'application/json',
    'X-RT-Signature' => $sig, Content => $body);
  return 1;
and in RT_SiteConfig.pm:
  Set($HumansupportWebhookSecret, '<the value of HUMANSUPPORT_RT_WEBHOOK_SECRET>');"""


def scrip_steps(url: str, web_url: str) -> str:
    """The Scrip that posts ticket events to `url`, signed with the webhook secret."""
    return _SCRIP.replace("{web_url}", web_url).replace("{url}", url)
