"""FakeRT: Request Tracker's REST2 in memory, for tests, `humansupport demo` and `humansupport fake serve rt`.

It answers what the adapter asks, as RT 5.0.3 answers it (checked side by side against a real RT in the plugin's
tests): TicketSQL and TransactionSQL of the forms the adapter sends, JSON searches, `fields=` and
`fields[Owner]=...`, 100-item pages with `next_page`, the single-record forms naming users by Name, ETag and
`If-Match` (412), PUT answered with 200 and a list of messages (a refused change among them), custom fields
silently dropped when not applied, and an empty JSON search finding nothing.

It also answers the everyday calls of the `rt` package (`rt.rest2.Rt`), checked by the plugin's peer-client
test: ticket create and delete, a ticket's history (changes recorded as RT records them), single transactions,
attachments (base64 `Content`) and queues, TicketSQL on Queue, Owner, Subject and Requestor by name or id with
`orderby`/`order`, and dates without a zone read in RT's default US/Eastern.

Ids are the synthetic history's: queues are its groups, users its agents (named `agent<id>`) and customers
(named by e-mail), tickets its conversations, transactions its messages.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx

from humansupport import Conversation, ConversationStatus, Customer, Message
from humansupport.testing import FakeClock, FakeHelpdesk, SyntheticHistory, route
from humansupport.vendor import sign

from .adapter import SIGNATURE_HEADER
from .mapping import NOBODY, TAGS_FIELD

__all__ = ["FakeRT"]

_API = r"/REST/2\.0"
_NOBODY_ID = 6
_STATUS = {
    ConversationStatus.NEW: "new",
    ConversationStatus.OPEN: "open",
    ConversationStatus.PENDING: "stalled",
    ConversationStatus.ON_HOLD: "on hold",  # a custom lifecycle's status
    ConversationStatus.SOLVED: "resolved",
    ConversationStatus.CLOSED: "rejected",
    ConversationStatus.OTHER: "triage",
}
_FROM_RT = {v: k for k, v in _STATUS.items()}
_CLAUSE = re.compile(
    r"^\(?\s*(\w+)\s*(>=|<=|!=|=|>|<|NOT\s+LIKE|LIKE|IS\s+NOT|IS)\s*'?([^']*?)'?\s*\)?$", re.IGNORECASE
)
#: RT's own users, always there: RT_System (the system's transactions), Nobody (no owner), root (the API user)
_SYSTEM_USERS = {"RT_System": 1, "Nobody": _NOBODY_ID, "root": 14}
_ROOT_REAL_NAME = "Enoch Root"
_DATES = frozenset({"created", "lastupdated", "resolved", "started", "starts", "due", "told"})
#: the RT user's time zone for a date without one: RT's default `$Timezone`
_LOCAL_ZONE = ZoneInfo("US/Eastern")
_WHEN = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?))?\s*(Z|UTC)?$", re.IGNORECASE)


def _iso(value: datetime | None) -> str:
    return (value or datetime(1970, 1, 1, tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sql_filter(query: str) -> Callable[[dict[str, Any]], bool]:
    """The TicketSQL/TransactionSQL forms the adapter sends: clauses joined by AND, OR only inside brackets."""
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for clause in re.split(r"\s+AND\s+", query.strip()):
        options = [_clause(part) for part in re.split(r"\s+OR\s+", clause.strip().strip("()"))]
        tests.append(lambda row, options=options: any(t(row) for t in options))  # type: ignore[misc]
    return lambda row: all(t(row) for t in tests)


def _clause(text: str) -> Callable[[dict[str, Any]], bool]:
    match = _CLAUSE.match(text.strip())
    if match is None:
        raise ValueError(f"FakeRT does not understand {text!r}")
    field, op, value = match.group(1), " ".join(match.group(2).upper().split()), match.group(3)
    moment = _when(value) if field.lower() in _DATES and op not in ("LIKE", "NOT LIKE") else None
    if moment is not None:  # rows hold times as _iso's text, which orders as the times do: parse the value once
        value = _iso(moment)
    return lambda row: _compare(_field(row, field), op, value)


def _field(row: dict[str, Any], name: str) -> Any:
    """A row's value by a TicketSQL field name, which RT reads without regard to case."""
    if name in row:
        return row[name]
    return next((v for k, v in row.items() if k.lower() == name.lower()), None)


def _when(value: Any) -> datetime | None:
    """A TicketSQL time: with `Z` UTC, without a zone the RT user's (RT's default US/Eastern)."""
    match = _WHEN.match(str(value).strip())
    if match is None:
        return None
    day, time, zone = match.groups()
    moment = datetime.fromisoformat(f"{day}T{time or '00:00:00'}")
    return moment.replace(tzinfo=UTC if zone else _LOCAL_ZONE).astimezone(UTC)


def _compare(have: Any, op: str, want: Any, *, date: bool = False) -> bool:
    if op in ("IS", "IS NOT"):
        empty = have in (None, "", [], ()) and str(want).upper() in ("", "NULL")
        return empty == (op == "IS")
    if isinstance(have, tuple):  # a field of several values (a user by Name or id): any of them
        if op in ("!=", "NOT LIKE"):
            return all(_compare(h, op, want) for h in have)
        return any(_compare(h, op, want) for h in have)
    if have is None:
        return False
    if date and op not in ("LIKE", "NOT LIKE"):
        a_time, b_time = _when(have), _when(want)
        if a_time is not None and b_time is not None:
            ops = {"=": a_time == b_time, "!=": a_time != b_time, ">": a_time > b_time, ">=": a_time >= b_time}
            return bool({**ops, "<": a_time < b_time, "<=": a_time <= b_time}[op])
    if isinstance(have, int) or (isinstance(have, str) and have.isdigit() and str(want).isdigit()):
        a: Any = int(have)
        b: Any = int(want)
    else:
        a, b = str(have).lower(), str(want).lower()
    if op == "LIKE":
        return str(b) in str(a)
    if op == "NOT LIKE":
        return str(b) not in str(a)
    return bool({"=": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op])


class FakeRT(FakeHelpdesk):
    """RT 5's REST2 in memory: tickets, transactions, attachments, users, queues, groups, articles."""

    vendor = "rt"
    default_page_size = 100
    username: ClassVar[str] = "root"
    password: ClassVar[str] = "password"  # noqa: S105 - the fake's own password, not a secret
    #: the user custom fields applied to users (None: any); others are dropped without a word, as RT does
    user_fields: set[str] | None = None

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        history: SyntheticHistory | None = None,
        rate_limit_per_minute: int | None = None,
    ) -> None:
        self.articles: dict[int, dict[str, Any]] = {}
        self.priority: dict[str, int] = {}
        #: the tickets' transactions other than messages (Status, SetOwner, Set, ...), per ticket
        self.events: dict[str, list[dict[str, Any]]] = {}
        #: tickets with RT's status `deleted` (a `closed` conversation; searches leave them out)
        self.deleted: set[str] = set()
        self.last_txn_id: int | None = None
        super().__init__(clock=clock, history=history, rate_limit_per_minute=rate_limit_per_minute)

    @classmethod
    def adapter_settings(cls) -> dict[str, Any]:
        return {"base_url": "https://rt.example.test", "username": cls.username, "password": cls.password}

    @classmethod
    def client_settings(cls, url: str) -> dict[str, dict[str, Any]]:
        """The `rt` package (REST2 client `rt.rest2.Rt`) takes the REST2 address itself, `<url>/REST/2.0/`, and
        basic credentials as a tuple (it runs on httpx2, which refuses httpx's auth objects)."""
        rest = url.rstrip("/") + "/REST/2.0/"
        auth = (cls.username, cls.password)
        return {
            "rt": {
                "environment": {"RT_URL": rest, "RT_USER": cls.username, "RT_PASSWORD": cls.password},
                "python": f"import rt.rest2; tracker = rt.rest2.Rt(url={rest!r}, http_auth={auth!r})",
            }
        }

    def load(self, history: SyntheticHistory) -> None:
        self.events = {}
        self.deleted = set()
        self.last_txn_id = None
        super().load(history)

    def authenticate(self, request: httpx.Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return bool(request.headers.get("authorization") == expected)

    def error_body(self, status: int, message: str, *, field: str | None = None) -> Any:
        return {"message": message}

    # -- saved replies: Articles -------------------------------------------------------------------------

    def clear_saved_replies(self) -> None:
        self.articles = {}

    def add_saved_reply(self, *, title: str, body: str) -> str:
        article_id = max(self.articles, default=0) + 1
        self.articles[article_id] = {"id": article_id, "Name": title, "Content": body, "updated": self.clock.now()}
        return str(article_id)

    def signed_webhook(
        self, *, secret: str, conversation_id: str, event: str = "conversation.created"
    ) -> tuple[dict[str, str], bytes]:
        data = {"event": "ticket.created", "ticket_id": int(conversation_id), "transaction_id": 1, "actor": "root"}
        body = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return {SIGNATURE_HEADER: sign(secret, body)}, body

    # -- rendering -----------------------------------------------------------------------------------------

    def _url(self, request: httpx.Request, path: str) -> str:
        return f"{request.url.scheme}://{request.url.netloc.decode()}/REST/2.0{path}"

    def _user_name(self, user_id: str | None) -> str:
        if user_id is None:
            return NOBODY
        if user_id in self.agents:
            return f"agent{user_id}"
        customer = self.customers.get(user_id)
        return (customer.email if customer else None) or f"user{user_id}"

    def _user_by(self, key: str) -> str | None:
        """A user id from an id or a Name."""
        if key in self.agents or key in self.customers:
            return key
        for uid in [*self.agents, *self.customers]:
            if self._user_name(uid) == key:
                return uid
        return None

    def _ref(self, request: httpx.Request, user_id: str | None, sub: str) -> dict[str, Any]:
        name = self._user_name(user_id)
        ref: dict[str, Any] = {"type": "user", "_url": self._url(request, f"/user/{name}"), "id": name}
        for field in filter(None, request.url.params.get(sub, "").split(",")):
            if field == "id":
                ref["id"] = int(user_id) if user_id else _NOBODY_ID
            elif field == "Name":
                ref["Name"] = name
            elif field == "EmailAddress":
                customer = self.customers.get(user_id or "")
                agent = self.agents.get(user_id or "")
                ref["EmailAddress"] = (customer.email if customer else agent.email if agent else "") or ""
            elif field == "RealName":
                person = self.customers.get(user_id or "") or self.agents.get(user_id or "")
                ref["RealName"] = (person.name if person else "") or ""
        return ref

    def _system_ref(self, request: httpx.Request, name: str, sub: str) -> dict[str, Any]:
        """One of RT's own users (RT_System, root) as a reference, with the `fields[...]` asked for."""
        ref: dict[str, Any] = {"type": "user", "_url": self._url(request, f"/user/{name}"), "id": name}
        user = self._system_user(request, name)
        for field in filter(None, request.url.params.get(sub, "").split(",")):
            if field in user:
                ref[field] = user[field]
        return ref

    def _system_user(self, request: httpx.Request, name: str) -> dict[str, Any]:
        root = name == "root"
        return {
            "type": "user",
            "id": _SYSTEM_USERS[name],
            "_url": self._url(request, f"/user/{name}"),
            "Name": name,
            "EmailAddress": "root@localhost" if root else "",
            "RealName": _ROOT_REAL_NAME if root else ("The RT System itself" if name == "RT_System" else ""),
            "Privileged": 1 if name != "Nobody" else 0,
            "Disabled": "0",
            "CustomFields": [],
        }

    def _creator(self, request: httpx.Request, author_id: str | None) -> dict[str, Any]:
        """A transaction's author; a system message's is RT_System (id 1)."""
        if author_id is not None:
            return self._ref(request, author_id, "fields[Creator]")
        ref: dict[str, Any] = {"type": "user", "_url": self._url(request, "/user/RT_System"), "id": "RT_System"}
        wanted = request.url.params.get("fields[Creator]", "").split(",")
        if "id" in wanted:
            ref["id"] = 1
        if "Name" in wanted:
            ref["Name"] = "RT_System"
        return ref

    def _cfs(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for n, (name, value) in enumerate(sorted(values.items()), start=1):
            listed = value if isinstance(value, list) else [value]
            out.append({"id": str(n), "type": "customfield", "name": name, "values": [str(v) for v in listed]})
        return out

    def _status(self, conv: Conversation) -> str:
        return "deleted" if conv.id in self.deleted else _STATUS[conv.status]

    def _ticket_row(self, conv: Conversation) -> dict[str, Any]:
        """What TicketSQL matches on; a user field matches the user's Name or id, a queue its Name or id."""
        group = self.groups.get(conv.group_id or "")
        customer = self.customers.get(conv.customer_id or "")
        return {
            "id": int(conv.id),
            "Status": self._status(conv),
            "LastUpdated": _iso(conv.updated_at or conv.created_at),
            "Created": _iso(conv.created_at),
            "Subject": conv.subject or "",
            "Queue": (conv.group_id or "1", group.name if group else ""),
            "Owner": (self._user_name(conv.assignee_id), conv.assignee_id or str(_NOBODY_ID)),
            "Requestor": (customer.email or "", self._user_name(customer.id), customer.id) if customer else None,
            "Requestors": (customer.email or "", self._user_name(customer.id), customer.id) if customer else None,
            "Priority": self.priority.get(conv.id, 0),
            "Type": "ticket",
        }

    def _queue_ref(self, request: httpx.Request, queue_id: str) -> dict[str, Any]:
        ref: dict[str, Any] = {"type": "queue", "id": queue_id, "_url": self._url(request, f"/queue/{queue_id}")}
        group = self.groups.get(queue_id)
        for field in filter(None, request.url.params.get("fields[Queue]", "").split(",")):
            if field == "Name":
                ref["Name"] = group.name if group else "General"
            elif field == "id":
                ref["id"] = int(queue_id)
            elif field in ("Description", "CorrespondAddress", "CommentAddress"):
                ref[field] = ""
            elif field == "Lifecycle":
                ref[field] = "default"
        return ref

    def _ticket(self, request: httpx.Request, conv: Conversation, *, single: bool = False) -> dict[str, Any]:
        fields = {**conv.custom_fields, **({TAGS_FIELD: list(conv.tags)} if conv.tags else {})}
        full: dict[str, Any] = {
            "id": int(conv.id) if single else conv.id,
            "Owner": self._ref(request, conv.assignee_id, "fields[Owner]"),
            "Requestor": [self._ref(request, conv.customer_id, "fields[Requestor]")] if conv.customer_id else [],
            "Queue": self._queue_ref(request, conv.group_id or "1"),
        }
        if single:
            full.update(
                EffectiveId={"type": "ticket", "id": conv.id, "_url": self._url(request, f"/ticket/{conv.id}")},
                Type="ticket",
                Creator=self._system_ref(request, "root", "fields[Creator]"),
                Cc=[],
                AdminCc=[],
            )
        full.update(
            {
                "type": "ticket",
                "_url": self._url(request, f"/ticket/{conv.id}"),
                "Subject": conv.subject or "",
                "Status": self._status(conv),
                "Created": _iso(conv.created_at),
                "LastUpdated": _iso(conv.updated_at or conv.created_at),
                "Resolved": _iso(conv.updated_at if conv.status in ("solved", "closed") else None),
                "Priority": str(self.priority.get(conv.id, 0)),
                "CustomFields": self._cfs(fields),
            }
        )
        if single:  # a record names neither its type nor its address, as RT serves it
            del full["type"], full["_url"]
            return full
        return self._only(request, full)

    def _only(self, request: httpx.Request, item: dict[str, Any]) -> dict[str, Any]:
        """A search result: type, id, _url and the `fields=` asked for (empty text for a field without value)."""
        wanted = [f for f in request.url.params.get("fields", "").split(",") if f]
        out: dict[str, Any] = {k: item[k] for k in ("type", "id", "_url") if k in item}
        for field in wanted:
            out[field] = item.get(field, "")
        return out

    def _page(
        self, request: httpx.Request, items: list[Any], render: Callable[[Any], dict[str, Any]] | None = None
    ) -> httpx.Response:
        """One page of `items`; `render` turns only that page's rows into JSON."""
        per_page = min(int(request.url.params.get("per_page") or 20), 100, self.page_size)
        page = max(1, int(request.url.params.get("page") or 1))
        chunk, more = self.paginate_list(items, page=page, per_page=per_page)
        if render is not None:
            chunk = [render(row) for row in chunk]
        pages = (len(items) + per_page - 1) // per_page
        data: dict[str, Any] = {
            "count": len(chunk),
            "page": page,
            "pages": pages,
            "per_page": per_page,
            "total": len(items),
            "items": chunk,
        }
        if more:
            data["next_page"] = str(request.url.copy_set_param("page", str(page + 1)))
        return self.json_response(data)

    def _json_query(self, request: httpx.Request) -> Callable[[dict[str, Any]], bool] | None:
        """A JSON search; None when it is empty (RT then finds nothing)."""
        query = json.loads(request.url.params.get("query") or "[]")
        if not query:
            return None
        conditions = [(str(q["field"]), str(q.get("operator", "=")).upper(), q["value"]) for q in query]
        return lambda row: all(_compare(row.get(f), op, v) for f, op, v in conditions)

    # -- tickets -------------------------------------------------------------------------------------------

    @route("GET", _API + r"/rt")
    def rt_info(self, request: httpx.Request) -> httpx.Response:
        return self.json_response({"Version": "5.0.3-fake", "Plugins": []})

    @route("GET", _API + r"/tickets")
    def search_tickets(self, request: httpx.Request) -> httpx.Response:
        query = request.url.params.get("query") or "id > 0"
        test = _sql_filter(query)
        # RT 5.0.3's REST2 search finds no deleted ticket, not even with `Status = 'deleted'`
        rows = [(c, self._ticket_row(c)) for c in self.conversations.values() if c.id not in self.deleted]
        found = [(c, row) for c, row in rows if test(row)]
        found.sort(key=lambda pair: pair[1]["id"])
        orderby = (request.url.params.get("orderby") or "id").split(",")[0]
        if orderby != "id":
            found.sort(key=lambda pair: str(_field(pair[1], orderby) or ""))
        if (request.url.params.get("order") or "ASC").upper() == "DESC":
            found.reverse()
        return self._page(request, [c for c, _ in found], lambda c: self._ticket(request, c))

    @route("GET", _API + r"/ticket/(?P<tid>\d+)")
    def get_ticket(self, request: httpx.Request, tid: str) -> httpx.Response:
        conv = self.conversations.get(tid)
        if conv is None:
            return self.error(404, "Not Found")
        return self.json_response(self._ticket(request, conv, single=True), headers={"ETag": self._etag(conv)})

    def _etag(self, conv: Conversation) -> str:
        return f'"{conv.version or "0"}"'

    @route("PUT", _API + r"/ticket/(?P<tid>\d+)")
    def update_ticket(self, request: httpx.Request, tid: str) -> httpx.Response:
        conv = self.conversations.get(tid)
        if conv is None:
            return self.error(404, "Not Found")
        if_match = request.headers.get("if-match")
        if if_match is not None and if_match != self._etag(conv):
            return self.error(412, "Precondition Failed")
        body = json.loads(request.content)
        changes: dict[str, Any] = {}
        messages: list[str] = []
        if "Owner" in body:
            owner = str(body["Owner"])
            uid = None if owner in (NOBODY, str(_NOBODY_ID)) else self._user_by(owner)
            # a disabled user may own nothing, as in RT
            if owner not in (NOBODY, str(_NOBODY_ID)) and (uid not in self.agents or not self.agents[uid].active):
                messages.append(f"Ticket {tid}: That user may not own tickets in that queue")
            elif uid != conv.assignee_id:
                changes["assignee_id"] = uid
                old, new = self._user_name(conv.assignee_id), self._user_name(uid)
                messages.append(f"Ticket {tid}: Owner changed from {old} to {owner}")
                # RT records an owner change as a `Set` of Owner and the role group's `SetWatcher`
                self._event(tid, "Set", "Owner", old, new, f"Owner forcibly changed from {old} to {new}")
                self._event(tid, "SetWatcher", "Owner", old, new, f"Owner set to {new}")
        if "Queue" in body and str(body["Queue"]) not in (conv.group_id, self._queue_name(conv.group_id)):
            queue = self._queue_by(str(body["Queue"]))
            if queue is None:
                messages.append(f"Ticket {tid}: Could not load queue {body['Queue']}")  # RT's words for it
            else:
                changes["group_id"] = queue
                messages.append(f"Ticket {tid}: Queue changed")
                old_name, new_name = self._queue_name(conv.group_id), self._queue_name(queue)
                self._event(
                    tid, "Set", "Queue", conv.group_id or "", queue, f"Queue changed from {old_name} to {new_name}"
                )
        if "Status" in body:
            old_status, new_status = self._status(conv), str(body["Status"])
            changes["status"] = _FROM_RT.get(new_status, ConversationStatus.OTHER)
            self.deleted.discard(tid)
            messages.append(f"Ticket {tid}: Status changed from '{old_status}' to '{new_status}'")
            self._event(tid, "Status", "Status", old_status, new_status,
                        f"Status changed from '{old_status}' to '{new_status}'")  # fmt: skip
        if "Priority" in body:
            old_priority = self.priority.get(tid, 0)
            self.priority[tid] = int(body["Priority"])
            messages.append(f"Ticket {tid}: Priority changed")
            self._event(tid, "Set", "Priority", str(old_priority), str(body["Priority"]),
                        f"Priority changed from '{old_priority}' to '{body['Priority']}'")  # fmt: skip
        if changes or "Priority" in body:
            self.touch_conversation(tid, **changes)
        return self.json_response(messages)

    def _queue_name(self, queue_id: str | None) -> str:
        group = self.groups.get(queue_id or "")
        return (group.name if group else None) or "General"

    def _queue_by(self, key: str) -> str | None:
        """A queue id from an id or a Name."""
        if key in self.groups:
            return key
        return next((g.id for g in self.groups.values() if g.name == key), None)

    def _next_txn_id(self) -> int:
        """A new transaction id, above every message's and change's (scanned once after a load, then counted)."""
        if self.last_txn_id is None:
            known = [int(m.id) for msgs in self.messages.values() for m in msgs if m.id.isdigit()]
            known += [e["id"] for events in self.events.values() for e in events]
            self.last_txn_id = max(known, default=10_000_000)
        self.last_txn_id += 1
        return self.last_txn_id

    def _event(self, tid: str, kind: str, field: str, old: str, new: str, description: str) -> None:
        """A transaction that is not a message (a status, owner or field change), made by the API user."""
        event = {"id": self._next_txn_id(), "Type": kind, "Field": field, "OldValue": old, "NewValue": new,
                 "Description": description, "Created": self.clock.now()}  # fmt: skip
        self.events.setdefault(tid, []).append(event)

    @route("POST", _API + r"/ticket/?")
    def create_ticket(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        queue = self._queue_by(str(body.get("Queue", "")))
        if queue is None:
            return self.error(400, "Could not create ticket. Queue not set")
        status = str(body.get("Status") or "new")
        if status not in _FROM_RT or status in ("stalled", "resolved", "rejected"):  # RT: not an initial status
            return self.error(400, f"Could not create ticket. Status '{status}' isn't a valid status for this ticket.")
        requestors = body.get("Requestor") or body.get("Requestors") or []
        first = (requestors if isinstance(requestors, list) else str(requestors).split(","))[:1]
        customer_id = self._requestor(first[0].strip()) if first else None
        owner = self._user_by(str(body["Owner"])) if body.get("Owner") not in (None, NOBODY) else None
        fields = dict(body.get("CustomFields") or {})
        tags = fields.pop(TAGS_FIELD, [])
        now = self.clock.now()
        tid = str(max((int(c) for c in self.conversations if c.isdigit()), default=0) + 1)
        txn = self._next_txn_id()
        self.conversations[tid] = Conversation(
            id=tid,
            status=_FROM_RT[status],
            subject=str(body.get("Subject") or ""),
            customer_id=customer_id,
            assignee_id=owner if owner in self.agents else None,
            group_id=queue,
            channel="api",
            tags=tags if isinstance(tags, list) else [tags],
            created_at=now,
            updated_at=now,
            version=str(txn),
            custom_fields=fields,
        )
        if "Priority" in body:
            self.priority[tid] = int(body["Priority"])
        if body.get("Content") is not None:
            self.messages.setdefault(tid, []).append(
                Message(
                    id=str(txn),
                    conversation_id=tid,
                    author_id=None,
                    author_role="agent",
                    public=True,
                    body=str(body["Content"]),
                    created_at=now,
                )
            )
        else:  # RT records the Create transaction all the same, without content
            self.events.setdefault(tid, []).append(
                {
                    "id": txn,
                    "Type": "Create",
                    "Field": "",
                    "OldValue": "",
                    "NewValue": "",
                    "Description": "Ticket created",
                    "Created": now,
                }
            )
        return self.json_response({"type": "ticket", "id": tid, "_url": self._url(request, f"/ticket/{tid}")}, 201)

    def _requestor(self, address: str) -> str:
        """A requestor's user id; RT creates an unprivileged user for an address it does not know."""
        known = self._user_by(address)
        if known is not None:
            return known
        uid = str(max((int(u) for u in [*self.agents, *self.customers] if u.isdigit()), default=0) + 1)
        self.customers[uid] = Customer(id=uid, email=address, created_at=self.clock.now(),
                                       updated_at=self.clock.now())  # fmt: skip
        return uid

    @route("DELETE", _API + r"/ticket/(?P<tid>\d+)")
    def delete_ticket(self, request: httpx.Request, tid: str) -> httpx.Response:
        conv = self.conversations.get(tid)
        if conv is None:
            return self.error(404, "Not Found")
        old = self._status(conv)
        self.touch_conversation(tid, status=ConversationStatus.CLOSED)
        self.deleted.add(tid)
        self._event(tid, "Status", "Status", old, "deleted", f"Status changed from '{old}' to 'deleted'")
        return httpx.Response(204)

    @route("POST", _API + r"/ticket/(?P<tid>\d+)/(?P<kind>comment|correspond)")
    def add_message(self, request: httpx.Request, tid: str, kind: str) -> httpx.Response:
        if tid not in self.conversations:
            return self.error(404, "Not Found")
        body = json.loads(request.content)
        msg = Message(
            id=str(self._next_txn_id()),
            conversation_id=tid,
            author_id=None,
            author_role="agent",
            public=kind == "correspond",
            body=str(body.get("Content") or ""),
            created_at=self.clock.now(),
        )
        self.messages.setdefault(tid, []).append(msg)
        conv = self.touch_conversation(tid)
        self.conversations[tid] = conv.model_copy(update={"version": msg.id})
        return self.json_response(["Comments added" if kind == "comment" else "Correspondence added"], 201)

    # -- transactions and attachments -----------------------------------------------------------------------

    def _txns(self) -> list[tuple[Message, dict[str, Any]]]:
        out: list[tuple[Message, dict[str, Any]]] = []
        for cid, msgs in self.messages.items():
            for n, msg in enumerate(msgs):
                kind = "Create" if n == 0 else "Correspond" if msg.public else "Comment"
                row: dict[str, Any] = {
                    "id": int(msg.id),
                    "ObjectType": "RT::Ticket",
                    "ObjectId": int(cid),
                    "Type": kind,
                    "Created": _iso(msg.created_at),
                }
                out.append((msg, row))
        out.sort(key=lambda pair: pair[1]["id"])
        return out

    @route("GET", _API + r"/transactions")
    def search_transactions(self, request: httpx.Request) -> httpx.Response:
        test = _sql_filter(request.url.params.get("query") or "id > 0")

        def render(pair: tuple[Message, dict[str, Any]]) -> dict[str, Any]:
            msg, row = pair
            full = {
                **row,
                "type": "transaction",
                "_url": self._url(request, f"/transaction/{row['id']}"),
                "ObjectId": str(row["ObjectId"]),
                "Creator": self._creator(request, msg.author_id),
            }
            return self._only(request, full)

        return self._page(request, [pair for pair in self._txns() if test(pair[1])], render)

    def _history(self, tid: str) -> list[tuple[Message | None, dict[str, Any]]]:
        """A ticket's transactions, messages and other changes, oldest first. `Description` is not a column:
        RT 5.0.3 serves it empty when a listing's `fields=` asks for it, as here."""
        rows: list[tuple[Message | None, dict[str, Any]]] = [
            (m, {**r, "Description": ""}) for m, r in self._txns() if str(r["ObjectId"]) == tid
        ]
        for event in self.events.get(tid, []):
            row = {**event, "ObjectType": "RT::Ticket", "ObjectId": int(tid), "Created": _iso(event["Created"])}
            rows.append((None, {**row, "Description": ""}))
        rows.sort(key=lambda pair: pair[1]["id"])
        return rows

    def _txn_links(self, request: httpx.Request, msg: Message | None, row: dict[str, Any]) -> list[dict[str, Any]]:
        links: list[dict[str, Any]] = [
            {"ref": "self", "type": "transaction", "id": row["id"],
             "_url": self._url(request, f"/transaction/{row['id']}")},
            {"ref": "object", "type": "ticket", "id": str(row["ObjectId"]),
             "_url": self._url(request, f"/ticket/{row['ObjectId']}")},
        ]  # fmt: skip
        if msg is not None:
            links.append({"ref": "attachment", "_url": self._url(request, f"/attachment/{row['id']}")})
        return links

    def _txn_creator(self, request: httpx.Request, msg: Message | None, sub: str) -> dict[str, Any]:
        if msg is None:  # a change made through the API: its user's
            return self._system_ref(request, "root", sub)
        if msg.author_id is None:
            return self._system_ref(request, "RT_System", sub)
        return self._ref(request, msg.author_id, sub)

    @route("GET", _API + r"/ticket/(?P<tid>\d+)/history")
    def ticket_history(self, request: httpx.Request, tid: str) -> httpx.Response:
        if tid not in self.conversations:
            return self.error(404, "Not Found")

        def render(pair: tuple[Message | None, dict[str, Any]]) -> dict[str, Any]:
            msg, row = pair
            full = {
                **row,
                "type": "transaction",
                "id": str(row["id"]),  # a text in a listing, as RT serves it
                "_url": self._url(request, f"/transaction/{row['id']}"),
                "ObjectId": str(row["ObjectId"]),
                "Creator": self._txn_creator(request, msg, "fields[Creator]"),
                "_hyperlinks": self._txn_links(request, msg, row),
            }
            return self._only(request, full)

        return self._page(request, self._history(tid), render)

    @route("GET", _API + r"/transaction/(?P<txn>\d+)")
    def get_transaction(self, request: httpx.Request, txn: str) -> httpx.Response:
        """One transaction as RT serializes a record: `Object` in place of ObjectType/ObjectId, no `fields=`."""
        for tid in self.conversations:
            for msg, row in self._history(tid):
                if row["id"] != int(txn):
                    continue
                data: dict[str, Any] = {
                    "id": row["id"],
                    "Type": row["Type"],
                    "Created": row["Created"],
                    "Creator": self._txn_creator(request, msg, "fields[Creator]"),
                    "Object": {"type": "ticket", "id": tid, "_url": self._url(request, f"/ticket/{tid}")},
                    "TimeTaken": "0",
                    "_hyperlinks": self._txn_links(request, msg, row),
                }
                if msg is not None and row["Type"] != "Create":
                    data["Data"] = "No Subject"
                for column in ("Field", "OldValue", "NewValue"):
                    if row.get(column):
                        data[column] = row[column]
                return self.json_response(data)
        return self.error(404, "Not Found")

    @route("GET", _API + r"/attachment/(?P<aid>\d+)")
    def get_attachment(self, request: httpx.Request, aid: str) -> httpx.Response:
        """A message's text part as RT serializes it: `Content` base64-encoded, `TransactionId` a reference."""
        for msg, row in self._txns():
            if row["id"] != int(aid):
                continue
            url = self._url(request, f"/attachment/{aid}")
            return self.json_response(
                {
                    "id": row["id"],
                    "TransactionId": {
                        "type": "transaction",
                        "id": str(row["id"]),
                        "_url": self._url(request, f"/transaction/{row['id']}"),
                    },
                    "Parent": "0",
                    "MessageId": "",
                    "Subject": "",
                    "ContentType": "text/plain",
                    "Content": base64.b64encode((msg.body or "").encode()).decode() + "\n",
                    "Headers": 'Content-Type: text/plain; charset="utf-8"\n',
                    "Creator": self._txn_creator(request, msg, "fields[Creator]"),
                    "Created": row["Created"],
                    "_hyperlinks": [{"ref": "self", "type": "attachment", "id": row["id"], "_url": url}],
                }
            )
        return self.error(404, "Not Found")

    def _attachment(self, request: httpx.Request, pair: tuple[Message, dict[str, Any]]) -> dict[str, Any]:
        msg, row = pair
        return self._only(
            request,
            {
                "type": "attachment",
                "id": row["id"],
                "_url": self._url(request, f"/attachment/{row['id']}"),
                "TransactionId": str(row["id"]),
                "ContentType": "text/plain",
                "Content": msg.body or "",
            },
        )

    @route("GET", _API + r"/ticket/(?P<tid>\d+)/attachments")
    def ticket_attachments(self, request: httpx.Request, tid: str) -> httpx.Response:
        rows = [(m, r) for m, r in self._txns() if str(r["ObjectId"]) == tid]
        return self._page(request, rows, lambda pair: self._attachment(request, pair))

    @route("POST", _API + r"/ticket/(?P<tid>\d+)/attachments")
    def search_ticket_attachments(self, request: httpx.Request, tid: str) -> httpx.Response:
        """A ticket's attachments matching the JSON search in the body; the text parts have no Filename."""
        query = json.loads(request.content or b"[]")
        conditions = [(str(q["field"]), str(q.get("operator", "=")).upper(), q.get("value", "")) for q in query]
        rows = []
        for m, r in self._txns():
            fields = {"id": r["id"], "TransactionId": r["id"], "ContentType": "text/plain", "Filename": ""}
            if str(r["ObjectId"]) == tid and all(_compare(fields.get(f), op, v) for f, op, v in conditions):
                rows.append((m, r))
        return self._page(request, rows, lambda pair: self._attachment(request, pair))

    @route("GET", _API + r"/attachments")
    def search_attachments(self, request: httpx.Request) -> httpx.Response:
        test = self._json_query(request)
        rows = [
            (m, r)
            for m, r in self._txns()
            if test is not None and test({"TransactionId": r["id"], "ContentType": "text/plain", "id": r["id"]})
        ]
        return self._page(request, rows, lambda pair: self._attachment(request, pair))

    # -- queues, groups, users -------------------------------------------------------------------------------

    @route("GET", _API + r"/queues/all")
    def all_queues(self, request: httpx.Request) -> httpx.Response:
        items = [
            self._only(
                request,
                {
                    "type": "queue",
                    "id": g.id,  # a text, as RT serves it in a listing
                    "_url": self._url(request, f"/queue/{g.id}"),
                    "Name": g.name,
                    "Lifecycle": "default",
                },
            )
            for g in sorted(self.groups.values(), key=lambda g: int(g.id))
        ]
        return self._page(request, items)

    @route("GET", _API + r"/queue/(?P<key>[^/]+)")
    def get_queue(self, request: httpx.Request, key: str) -> httpx.Response:
        queue = self._queue_by(key)
        if queue is None:
            return self.error(404, "Not Found")
        url = self._url(request, f"/queue/{queue}")
        root = self._system_ref(request, "root", "fields[Creator]")
        return self.json_response(
            {
                "id": int(queue),
                "Name": self.groups[queue].name,
                "Description": "",
                "Lifecycle": "default",
                "CorrespondAddress": "",
                "CommentAddress": "",
                "SortOrder": "0",
                "Disabled": "0",
                "Cc": [],
                "AdminCc": [],
                "Creator": root,
                "LastUpdatedBy": root,
                "TicketCustomFields": [],
                "CustomFields": [],
                "_hyperlinks": [{"ref": "self", "type": "queue", "id": int(queue), "_url": url}],
            }
        )

    def _staff_group_id(self, queue_id: str) -> int:
        return 90_000 + int(queue_id)

    @route("GET", _API + r"/groups")
    def search_groups(self, request: httpx.Request) -> httpx.Response:
        test = self._json_query(request)
        items = []
        for g in sorted(self.groups.values(), key=lambda g: int(g.id)):
            gid = self._staff_group_id(g.id)
            row = {"type": "group", "id": gid, "_url": self._url(request, f"/group/{gid}"), "Name": g.name,
                   "Domain": "UserDefined"}  # fmt: skip
            if test is not None and test(row):
                items.append(self._only(request, row))
        return self._page(request, items)

    @route("GET", _API + r"/group/(?P<gid>\d+)/members")
    def group_members(self, request: httpx.Request, gid: str) -> httpx.Response:
        queue = str(int(gid) - 90_000)
        if queue not in self.groups:
            return self.error(404, "Not Found")
        members = sorted((a for a in self.agents.values() if queue in a.group_ids), key=lambda a: int(a.id))
        items = [{"type": "user", "id": int(a.id), "_url": self._url(request, f"/user/{a.id}")} for a in members]
        return self._page(request, items)

    def _user(self, request: httpx.Request, uid: str) -> dict[str, Any]:
        agent, customer = self.agents.get(uid), self.customers.get(uid)
        base: dict[str, Any] = {
            "type": "user",
            "id": int(uid),
            "_url": self._url(request, f"/user/{self._user_name(uid)}"),
            "Name": self._user_name(uid),
        }
        if agent is not None:
            base.update(
                EmailAddress=agent.email or "",
                RealName=agent.name or "",
                Privileged=1,
                Disabled="0" if agent.active else "1",
                CustomFields=[],
                Comments="",
                Organization="",
                Lang="",
            )
        elif customer is not None:
            fields = {k: v for k, v in customer.custom_attributes.items() if v not in (None, "")}
            if customer.tags:
                fields["humansupport_tags"] = list(customer.tags)
            base.update(
                EmailAddress=customer.email or "",
                RealName=customer.name or "",
                Privileged=0,
                Disabled="0",
                CustomFields=self._cfs(fields),
                Comments=customer.notes or "",
                Organization=customer.organization or "",
                Lang=customer.locale or "",
                Created=_iso(customer.created_at),
                LastUpdated=_iso(customer.updated_at or customer.created_at),
            )
        return base

    @route("GET", _API + r"/user/(?P<key>[^/]+)")
    def get_user(self, request: httpx.Request, key: str) -> httpx.Response:
        uid = self._user_by(key)
        system = next((name for name, n in _SYSTEM_USERS.items() if key in (name, str(n))), None)
        if uid is None and system is not None:
            return self.json_response(self._system_user(request, system))
        if uid is None:
            return self.error(404, "Not Found")
        return self.json_response(self._user(request, uid))

    @route("GET", _API + r"/users")
    def search_users(self, request: httpx.Request) -> httpx.Response:
        test = self._json_query(request)
        uids = sorted([*self.agents, *self.customers], key=int)
        rows = [row for row in (self._user(request, uid) for uid in uids) if test is not None and test(row)]

        def render(row: dict[str, Any]) -> dict[str, Any]:
            item = self._only(request, row)
            for hidden in ("Privileged", "Disabled"):  # a search serves neither, as RT's does
                if hidden in item:
                    item[hidden] = ""
            return item

        return self._page(request, rows, render)

    @route("PUT", _API + r"/user/(?P<key>[^/]+)")
    def update_user(self, request: httpx.Request, key: str) -> httpx.Response:
        uid = self._user_by(key)
        if uid is None or uid not in self.customers:
            return self.error(404, "Not Found")
        body = json.loads(request.content)
        customer = self.customers[uid]
        attributes = dict(customer.custom_attributes)
        tags = list(customer.tags)
        messages = []
        for name, value in dict(body.get("CustomFields") or {}).items():
            if self.user_fields is not None and name not in self.user_fields:
                continue  # not applied to users: RT drops it without a word
            if name == "humansupport_tags":
                tags = [str(v) for v in (value if isinstance(value, list) else [value])]
            else:
                attributes[name] = value
            messages.append(f"{name} {value} added")
        notes = body.get("Comments", customer.notes)
        self.customers[uid] = customer.model_copy(
            update={"custom_attributes": attributes, "tags": tags, "notes": notes, "updated_at": self.clock.now()}
        )
        return self.json_response(messages)

    # -- articles ------------------------------------------------------------------------------------------

    @route("GET", _API + r"/articles")
    def search_articles(self, request: httpx.Request) -> httpx.Response:
        test = self._json_query(request)
        items = []
        for article in sorted(self.articles.values(), key=lambda a: a["id"]):
            row = {
                "type": "article",
                "id": article["id"],
                "_url": self._url(request, f"/article/{article['id']}"),
                "Name": article["Name"],
                "Summary": "",
                "LastUpdated": _iso(article["updated"]),
                "CustomFields": self._cfs({"Content": article["Content"]}),
            }
            if test is not None and test(row):
                items.append(self._only(request, row))
        return self._page(request, items)
