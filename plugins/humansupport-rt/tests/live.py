"""The conformance kit against the real RT: the synthetic history created in RT through REST2, and `LiveRT`, a
`FakeHelpdesk` whose state *is* the RT server's.

Loading (once; the database is cached by RT version, this file and the history, so later sessions skip it):
queues, user-defined groups (each queue's staff), agents, customers, custom fields, tickets (with their first
message), replies and comments, articles; all through the API as root. Then, on the throwaway SQLite database
only (RT's API cannot do these; each is what an admin or the passing of time would do):

- custom fields are applied globally (ObjectCustomFields) and `OwnTicket` is granted to privileged users (ACL);
- the history's past is written back: ticket, transaction and attachment `Created`/`LastUpdated` stamps set to
  the history's times, and each message transaction's `Creator` set to its author (the API posts as root);
- ticket ids are aligned with the history's (RT numbers tickets max(id)+1: a placeholder row is inserted before
  the first ticket and removed after).

`LiveRT` then restores that database before every kit check (SQLite's backup API; RT's workers see it on their
next request), answers the kit's questions about state from the database (owner, status, stamps), simulates a
person's edit with a real PUT, and injects the kit's faults in a transport in front of the real server.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from humansupport_rt.adapter import SIGNATURE_HEADER
from humansupport_rt.mapping import rt_status

from humansupport import Agent, Conversation, Customer, Message
from humansupport.enrichment.profile import EnrichmentSettings
from humansupport.enrichment.writeback import field_specs
from humansupport.testing import FakeClock, FakeHelpdesk, SyntheticHistory
from humansupport.testing.fake import RecordedRequest, _add_noise, _query
from humansupport.testing.saved_replies import SAMPLE_SAVED_REPLIES
from humansupport.testing.synthetic import PRODUCT_AREA_FIELD
from humansupport.vendor import sign

from .rtserver import RTServer

__all__ = ["Loaded", "LiveRT", "load_history", "user_field_names"]

PRIVILEGED_GROUP = 4  # RT's SystemInternal "Privileged" group (fixed by rt-setup-database)


def user_field_names(profile_attributes: dict[str, Any]) -> list[str]:
    specs = field_specs(EnrichmentSettings(allowed_fields=frozenset({"conversation_count", "preferred_agent"})))
    return sorted({*(s.name for s in specs), *profile_attributes})


@dataclass
class Loaded:
    """Where the history's ids went in RT."""

    agents: dict[str, str]
    customers: dict[str, str]
    groups: dict[str, str]
    messages: dict[str, str]
    nobody: str


def _stamp(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else None


def cache_key(history: SyntheticHistory, extra: str) -> str:
    rt_version = Path("/usr/share/doc/request-tracker5/changelog.Debian.gz")
    parts = [
        Path(__file__).read_text(),
        Path(__file__).with_name("rtserver.py").read_text(),
        repr(history.config),
        extra,
        str(rt_version.stat().st_mtime if rt_version.exists() else ""),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def load_history(server: RTServer, history: SyntheticHistory, user_fields: list[str]) -> Loaded:
    """Creates the history in RT (see the module docstring); returns the id maps."""
    http = httpx.Client(base_url=server.api, auth=server.auth, timeout=60)

    def post(path: str, body: Any) -> Any:
        response = http.post(path, json=body)
        assert response.status_code in (200, 201), f"{path}: {response.status_code} {response.text}"
        return response.json()

    def user_id(name: str) -> str:
        return str(server.sql("SELECT id FROM Users WHERE Name = ?", (name,))[0][0])

    # custom fields, applied globally on the database (REST2 cannot apply one)
    fields = [
        (PRODUCT_AREA_FIELD, "RT::Queue-RT::Ticket", 1),
        ("Tags", "RT::Queue-RT::Ticket", 0),
        ("humansupport_tags", "RT::User", 0),
        *((name, "RT::User", 1) for name in user_fields),
    ]
    for name, lookup, max_values in fields:
        cf = post("/customfield", {"Name": name, "Type": "Freeform", "LookupType": lookup, "MaxValues": max_values})
        server.sql(
            "INSERT INTO ObjectCustomFields (CustomField, ObjectId, SortOrder, Creator, Created, LastUpdatedBy, "
            "LastUpdated) VALUES (?, 0, 0, 1, '2026-01-01 00:00:00', 1, '2026-01-01 00:00:00')",
            (int(cf["id"]),),
        )
    server.sql(
        "INSERT INTO ACL (PrincipalType, PrincipalId, RightName, ObjectType, ObjectId, Creator, Created, "
        "LastUpdatedBy, LastUpdated) VALUES ('Group', ?, 'OwnTicket', 'RT::System', 1, 1, '2026-01-01 00:00:00', 1, "
        "'2026-01-01 00:00:00')",
        (PRIVILEGED_GROUP,),
    )
    # queues (General disabled: the history's groups are all the queues) and each queue's staff group
    groups: dict[str, str] = {}
    staff: dict[str, str] = {}
    for g in history.groups:
        groups[g.id] = str(post("/queue", {"Name": g.name or f"Queue {g.id}"})["id"])
        staff[g.id] = str(post("/group", {"Name": g.name or f"Queue {g.id}"})["id"])
    assert http.delete("/queue/1").status_code in (200, 204)
    agents: dict[str, str] = {}
    for a in history.agents:
        name = f"agent{a.id}"
        post("/user", {"Name": name, "EmailAddress": a.email, "RealName": a.name, "Privileged": 1})
        agents[a.id] = user_id(name)
    for g in history.groups:
        members = [int(agents[a.id]) for a in history.agents if g.id in a.group_ids]
        assert http.put(f"/group/{staff[g.id]}/members", json=members).status_code == 200
    customers: dict[str, str] = {}
    emails: dict[str, str] = {}
    for c in history.customers:
        emails[c.id] = c.email or f"customer{c.id}@example.test"
        post("/user", {"Name": emails[c.id], "EmailAddress": emails[c.id], "RealName": c.name})
        customers[c.id] = user_id(emails[c.id])
    # tickets, numbered as the history numbers its conversations
    convs = sorted(history.conversations, key=lambda c: int(c.id))
    first = int(convs[0].id)
    server.sql(
        "INSERT INTO Tickets (id, EffectiveId, Queue, Type, Status, Subject) "
        "VALUES (?, ?, 0, 'ticket', 'deleted', '-')",
        (first - 1, first - 1),
    )
    agent_names = {a.id: f"agent{a.id}" for a in history.agents}
    for conv in convs:
        msgs = history.messages.get(conv.id, [])
        body: dict[str, Any] = {
            "Queue": int(groups[conv.group_id or history.groups[0].id]),
            "Subject": conv.subject or "(no subject)",
            "Requestor": emails[conv.customer_id or history.customers[0].id],
            "Status": rt_status(conv.status) if rt_status(conv.status) in ("new", "open") else "open",
            "Content": (msgs[0].body if msgs else None) or "(no text)",
            "ContentType": "text/plain",
            "CustomFields": {"Tags": list(conv.tags), **conv.custom_fields},
        }
        if conv.assignee_id:
            body["Owner"] = agent_names[conv.assignee_id]
        created = post("/ticket", body)
        assert str(created["id"]) == conv.id, f"ticket numbered {created['id']}, the history says {conv.id}"
        if conv.id == convs[0].id:
            server.sql("DELETE FROM Tickets WHERE id = ?", (first - 1,))

    def replies(conv: Conversation) -> None:
        with httpx.Client(base_url=server.api, auth=server.auth, timeout=60) as own:
            for msg in history.messages.get(conv.id, [])[1:]:
                kind = "correspond" if msg.public else "comment"
                done = own.post(
                    f"/ticket/{conv.id}/{kind}", json={"Content": msg.body or "(no text)", "ContentType": "text/plain"}
                )
                assert done.status_code in (200, 201), done.text
            final = rt_status(conv.status)
            if final not in ("new", "open"):  # RT creates no ticket stalled, resolved or rejected
                done = own.put(f"/ticket/{conv.id}", json={"Status": final})
                assert done.status_code == 200 and "Status changed" in done.text, done.text

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(replies, convs))
    for a in history.agents:
        if not a.active:
            assert http.put(f"/user/{agent_names[a.id]}", json={"Disabled": 1}).status_code == 200
    for reply in SAMPLE_SAVED_REPLIES:
        post("/article", {"Name": reply.title, "Class": 1, "CustomFields": {"Content": reply.body}})
    http.close()
    # the history's past: stamps and authors (see the module docstring)
    messages: dict[str, str] = {}
    authors = {**agents, **customers}
    with sqlite3.connect(server.db_path, timeout=30) as db:
        for conv in convs:
            rows = db.execute(
                "SELECT id FROM Transactions WHERE ObjectType = 'RT::Ticket' AND ObjectId = ? "
                "AND Type IN ('Create', 'Correspond', 'Comment') ORDER BY id",
                (int(conv.id),),
            ).fetchall()
            msgs = history.messages.get(conv.id, [])
            assert len(rows) == max(1, len(msgs)), (conv.id, len(rows), len(msgs))
            created, updated = _stamp(conv.created_at), _stamp(conv.updated_at or conv.created_at)
            db.execute(
                "UPDATE Transactions SET Created = ? WHERE ObjectType = 'RT::Ticket' AND ObjectId = ?",
                (updated, int(conv.id)),
            )
            for (txn_id,), msg in zip(rows, msgs, strict=False):
                messages[msg.id] = str(txn_id)
                author = authors.get(msg.author_id or "", "1")
                db.execute(
                    "UPDATE Transactions SET Created = ?, Creator = ? WHERE id = ?",
                    (_stamp(msg.created_at), int(author), txn_id),
                )
                db.execute(
                    "UPDATE Attachments SET Created = ?, Creator = ? WHERE TransactionId = ?",
                    (_stamp(msg.created_at), int(author), txn_id),
                )
            resolved = updated if conv.status in ("solved", "closed") else None
            db.execute(
                "UPDATE Tickets SET Created = ?, LastUpdated = ?, Resolved = ?, Told = NULL, Creator = ?,"
                " LastUpdatedBy = ? WHERE id = ?",
                (created, updated, resolved, int(customers.get(conv.customer_id or "", "1")), 1, int(conv.id)),
            )
    db.close()
    nobody = str(server.sql("SELECT id FROM Users WHERE Name = 'Nobody'")[0][0])
    return Loaded(agents=agents, customers=customers, groups=groups, messages=messages, nobody=nobody)


class _LiveTransport(httpx.AsyncBaseTransport):
    """In front of the real RT: the kit's faults, page size, revoked credentials and unknown-field noise."""

    def __init__(self, live: LiveRT) -> None:
        self.live = live
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        live = self.live
        content = await request.aread()
        fault = live._take_fault(request)
        if fault is not None and fault.drop:
            raise httpx.ConnectError("connection dropped by fault injection", request=request)
        if fault is not None:
            response = httpx.Response(
                fault.status or 500, json=fault.body or {"message": "injected"}, headers=dict(fault.headers)
            )
        else:
            limited = live._rate_limit()
            if isinstance(limited, httpx.Response):
                response = limited
            else:
                url = request.url
                per_page = url.params.get("per_page")
                if per_page is not None and int(per_page) > live.page_size:
                    url = url.copy_set_param("per_page", str(live.page_size))
                headers = dict(request.headers)
                if live.credentials_revoked:
                    headers["authorization"] = httpx.BasicAuth("root", "revoked")._auth_header
                forwarded = httpx.Request(request.method, url, headers=headers, content=content)
                answer = await self.inner.handle_async_request(forwarded)
                body = await answer.aread()
                plain = {k: v for k, v in answer.headers.items() if k.lower() not in ("content-length", "connection")}
                plain.update(limited)
                if live.unknown_fields and answer.headers.get("content-type", "").startswith("application/json"):
                    response = httpx.Response(answer.status_code, json=_add_noise(json.loads(body)), headers=plain)
                else:
                    response = httpx.Response(answer.status_code, content=body, headers=plain)
        try:
            parsed = json.loads(content) if content else None
        except ValueError:
            parsed = content.decode("utf-8", "replace")
        live.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.url.path,
                query=_query(request.url),
                json=parsed,
                headers={k.lower(): v for k, v in request.headers.items()},
                status=response.status_code,
            )
        )
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class LiveRT(FakeHelpdesk):
    """The kit's fake, backed by the real RT server (see the module docstring)."""

    vendor = "rt"
    default_page_size = 100

    def __init__(self, server: RTServer, loaded: Loaded, snapshot: Path, *, clock: FakeClock | None = None) -> None:
        self.server = server
        self.loaded = loaded
        self.snapshot = snapshot
        self._base: dict[str, Conversation] = {}
        super().__init__(clock=clock)

    @classmethod
    def adapter_settings(cls) -> dict[str, Any]:
        return {"username": "root", "password": "password"}

    def transport(self) -> httpx.AsyncBaseTransport:  # type: ignore[override]
        return _LiveTransport(self)

    # -- state: the history in RT's ids, overlaid with what RT holds now -----------------------------------

    def load(self, history: SyntheticHistory) -> None:
        self.server.restore(self.snapshot)
        m = self.loaded
        self.groups = {
            m.groups[g.id]: g.model_copy(update={"id": m.groups[g.id], "agent_ids": [m.agents[a] for a in g.agent_ids]})
            for g in history.groups
        }
        self.agents = {
            m.agents[a.id]: Agent.model_validate(
                {**a.model_dump(), "id": m.agents[a.id], "group_ids": [m.groups[g] for g in a.group_ids]}
            )
            for a in history.agents
        }
        self.customers = {
            m.customers[c.id]: Customer.model_validate(
                {**c.model_dump(), "id": m.customers[c.id], "custom_attributes": {}}
            )
            for c in history.customers
        }
        people = {**m.agents, **m.customers}
        self._base = {
            c.id: c.model_copy(
                update={
                    "customer_id": people.get(c.customer_id or ""),
                    "assignee_id": people.get(c.assignee_id or ""),
                    "group_id": m.groups.get(c.group_id or ""),
                }
            )
            for c in history.conversations
        }
        self.messages = {
            cid: [
                Message.model_validate(
                    {**msg.model_dump(), "id": m.messages[msg.id], "author_id": people.get(msg.author_id or "")}
                )
                for msg in msgs
            ]
            for cid, msgs in history.messages.items()
        }
        self.ratings = {}

    @property  # type: ignore[override]
    def conversations(self) -> dict[str, Conversation]:
        if not self._base:
            return {}
        rows = self.server.sql(
            "SELECT t.id, t.Owner, t.Status, t.LastUpdated, (SELECT MAX(x.id) FROM Transactions x "
            "WHERE x.ObjectType = 'RT::Ticket' AND x.ObjectId = t.id) FROM Tickets t"
        )
        from humansupport_rt.mapping import status

        out = {}
        for tid, owner, word, updated, etag in rows:
            base = self._base.get(str(tid))
            if base is None:
                continue
            out[str(tid)] = base.model_copy(
                update={
                    "assignee_id": None if str(owner) == self.loaded.nobody else str(owner),
                    "status": status(word),
                    "updated_at": datetime.fromisoformat(str(updated)).replace(tzinfo=UTC),
                    "version": str(etag),
                }
            )
        return out

    @conversations.setter
    def conversations(self, value: dict[str, Conversation]) -> None:
        self._base = dict(value)

    def touch_conversation(self, conversation_id: str, **changes: Any) -> Conversation:
        """A person's edit in RT: a real PUT as root (priority bumped, so the ETag and LastUpdated move)."""
        body: dict[str, Any] = {"Priority": int(self.server.sql("SELECT Priority FROM Tickets WHERE id = ?",
                                                                (int(conversation_id),))[0][0] or 0) + 1}  # fmt: skip
        if "assignee_id" in changes:
            body["Owner"] = changes.pop("assignee_id") or "Nobody"
        if "status" in changes:
            body["Status"] = rt_status(changes.pop("status"))
        assert not changes, f"LiveRT cannot touch {sorted(changes)}"
        tid = int(conversation_id)
        last = self.server.sql("SELECT MAX(id) FROM Transactions")[0][0]
        with httpx.Client(base_url=self.server.api, auth=self.server.auth, timeout=60) as http:
            done = http.put(f"/ticket/{conversation_id}", json=body)
            assert done.status_code == 200, done.text
        # the edit happened at the kit's clock (the history's time), not the wall clock's
        now = _stamp(self.clock.now())
        self.server.sql("UPDATE Tickets SET LastUpdated = ? WHERE id = ?", (now, tid))
        self.server.sql("UPDATE Transactions SET Created = ? WHERE id > ? AND ObjectId = ?", (now, last, tid))
        return self.conversations[conversation_id]

    def custom_field_key(self, name: str) -> str:
        return name

    # -- saved replies: RT's Articles ----------------------------------------------------------------------

    def clear_saved_replies(self) -> None:
        self.server.sql("DELETE FROM Articles")

    def add_saved_reply(self, *, title: str, body: str) -> str:
        with httpx.Client(base_url=self.server.api, auth=self.server.auth, timeout=60) as http:
            done = http.post("/article", json={"Name": title, "Class": 1, "CustomFields": {"Content": body}})
            assert done.status_code == 201, done.text
            return str(done.json()["id"])

    def signed_webhook(
        self, *, secret: str, conversation_id: str, event: str = "conversation.created"
    ) -> tuple[dict[str, str], bytes]:
        """What the Scrip of `scrip_steps` posts (canonical JSON, HMAC-SHA256 hex)."""
        data = {
            "actor": "agent2002",
            "created": "2026-11-01T00:00:00Z",
            "event": "ticket.created",
            "owner_id": 6,
            "previous_owner_id": None,
            "ticket_id": int(conversation_id),
            "transaction_id": 1,
        }
        body = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return {SIGNATURE_HEADER: sign(secret, body)}, body


def loaded_to_json(loaded: Loaded) -> str:
    return json.dumps(asdict(loaded))


def loaded_from_json(text: str) -> Loaded:
    return Loaded(**json.loads(text))


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "humansupport-rt-tests"
