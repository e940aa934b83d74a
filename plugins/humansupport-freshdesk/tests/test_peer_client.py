"""python-freshdesk, the popular Freshdesk API v2 client, runs an everyday session against the fake over HTTP.

The fake is served on a free local port (`humansupport.testing.served_fake`) and the client is built by the
fake's own hint (`FakeFreshdesk.client_settings`), which replaces its URL prefix: the client hard-codes
`https://<domain>/api/v2/` and refuses domains without `freshdesk.com`. Each step is one client call a support
script makes every day; `SESSION` lists them in the order a script would, and `run_session` reports which
passed, so docs/vendors/freshdesk.md can quote the figure.

Client quirks tested around (python-freshdesk 1.3.9, the same against the real API):
- list calls send their keyword arguments twice (in the URL and again as query params): `per_page=5&...&per_page=5`;
- auto-pagination stops at the first page shorter than `per_page` (it ignores the `Link` header);
- `filter_tickets`/`filter_contacts` put the query in the URL unencoded (requests encodes spaces and quotes);
- models rename fields that clash with `Ticket` properties: `ticket._status == 2` (`ticket.status == "open"`),
  `_priority`, `_source`; every model needs `created_at`/`updated_at` (it parses both);
- a 429 raises `FreshdeskRateLimited` at once (the client never retries): the script must wait `Retry-After`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import freshdesk.v2.errors as freshdesk_errors
import httpx
import pytest
from humansupport_freshdesk import FakeFreshdesk

from humansupport.testing import FakeClock, ServedFake, served_fake

from .conftest import small_history
from .contract import PEER_CONTRACT


def client_for(served: ServedFake) -> Any:
    """The client as the fake's own hint builds it (`FakeFreshdesk.client_settings`)."""
    scope: dict[str, Any] = {}
    exec(served.clients()["python-freshdesk"]["python"], scope)  # noqa: S102 - our own one-line hint
    return scope["api"]


class CheckedFake(FakeFreshdesk):
    """The fake, with each answer it serves checked against the whole description (`PEER_CONTRACT`); the
    violations are collected (the server thread must not raise) and asserted by the test."""

    violations: list[str]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = super().__call__(request)
        if not self.__dict__.setdefault("checking", True):
            return response
        found = PEER_CONTRACT.template(request.method, request.url.path)
        if found is None:
            self.__dict__.setdefault("violations", []).append(f"{request.method} {request.url.path}: not described")
        else:
            self.__dict__.setdefault("violations", []).extend(PEER_CONTRACT.response_errors(request, response))
        return response


def new_fake() -> CheckedFake:
    history = small_history()
    return CheckedFake(clock=FakeClock(start=history.config.end + timedelta(hours=1)), history=history)


@dataclass
class Ctx:
    api: Any
    fake: FakeFreshdesk
    state: dict[str, Any]


def _open_ticket(ctx: Ctx) -> int:
    conv = next(c for c in sorted(ctx.fake.conversations.values(), key=lambda c: int(c.id)) if c.status.is_open)
    return int(conv.id)


def _other_agent(ctx: Ctx, ticket_id: int) -> int:
    conv = ctx.fake.conversations[str(ticket_id)]
    agent = next(
        a
        for a in sorted(ctx.fake.agents.values(), key=lambda a: int(a.id))
        if a.active and a.id != conv.assignee_id and (conv.group_id is None or conv.group_id in a.group_ids)
    )
    return int(agent.id)


def step_me(ctx: Ctx) -> None:
    me = ctx.api.agents.currently_authenticated_agent()
    assert me.id and me.contact["email"]
    ctx.state["me"] = me.id


def step_list_agents(ctx: Ctx) -> None:
    agents = ctx.api.agents.list_agents()
    assert {a.id for a in agents} == {int(a.id) for a in ctx.fake.agents.values() if a.active}


def step_get_agent(ctx: Ctx) -> None:
    agent = ctx.api.agents.get_agent(ctx.state["me"])
    assert agent.id == ctx.state["me"] and isinstance(agent.group_ids, list)


def step_list_groups(ctx: Ctx) -> None:
    groups = ctx.api.groups.list_groups()
    assert {g.id for g in groups} == {int(g) for g in ctx.fake.groups}
    ctx.state["group"] = groups[0].id


def step_get_group(ctx: Ctx) -> None:
    group = ctx.api.groups.get_group(ctx.state["group"])
    assert group.id == ctx.state["group"] and group.name


def step_list_roles(ctx: Ctx) -> None:
    roles = ctx.api.roles.list_roles()
    assert roles and all(r.name for r in roles)
    assert ctx.api.roles.get_role(roles[0].id).name == roles[0].name


def step_ticket_fields(ctx: Ctx) -> None:
    fields = ctx.api.ticket_fields.list_ticket_fields()
    names = {f.name for f in fields}
    assert {"status", "priority", "cf_product_area"} <= names
    status = next(f for f in fields if f.name == "status")
    assert "2" in status.choices


def step_list_tickets_default(ctx: Ctx) -> None:
    tickets = ctx.api.tickets.list_tickets()  # filter=new_and_my_open
    me = str(ctx.state["me"])
    assert all(t._status == 2 and (t.responder_id is None or str(t.responder_id) == me) for t in tickets)


def step_list_tickets_paged(ctx: Ctx) -> None:
    tickets = ctx.api.tickets.list_tickets(filter_name=None, updated_since="2000-01-01T00:00:00Z", per_page=25)
    assert len(tickets) == len(ctx.fake.conversations) > 25, "more than one page"
    assert len({t.id for t in tickets}) == len(tickets)
    pages = [r for r in ctx.fake.requests if r.path == "/api/v2/tickets" and "updated_since" in r.query]
    assert len(pages) > 1


def step_get_ticket(ctx: Ctx) -> None:
    tid = _open_ticket(ctx)
    ticket = ctx.api.tickets.get_ticket(tid, "stats", "requester", "conversations")
    assert ticket.id == tid and ticket.description_text is not None
    assert ticket.requester["id"] == ticket.requester_id
    assert "resolved_at" in ticket.stats and isinstance(ticket.conversations, list)


def step_create_ticket(ctx: Ctx) -> None:
    customer = next(iter(sorted(ctx.fake.customers.values(), key=lambda c: int(c.id))))
    ticket = ctx.api.tickets.create_ticket(
        "Printer on fire",
        email=customer.email,
        description="<p>It is <b>really</b> on fire.</p>",
        priority=3,
        tags=["fire"],
        custom_fields={"cf_product_area": "hardware"},
    )
    assert ticket.requester_id == int(customer.id) and ticket._status == 2 and ticket._priority == 3
    assert ticket.tags == ["fire"] and ticket.custom_fields["cf_product_area"] == "hardware"
    assert ctx.api.tickets.get_ticket(ticket.id).description_text == "It is really on fire."
    ctx.state["created"] = ticket.id


def step_update_ticket(ctx: Ctx) -> None:
    tid = ctx.state["created"]
    ticket = ctx.api.tickets.update_ticket(tid, status=3, priority=4, tags=["fire", "urgent"], type="Incident")
    assert (ticket._status, ticket._priority, ticket.tags, ticket.type) == (3, 4, ["fire", "urgent"], "Incident")


def step_assign(ctx: Ctx) -> None:
    tid = _open_ticket(ctx)
    agent = _other_agent(ctx, tid)
    ticket = ctx.api.tickets.update_ticket(tid, responder_id=agent)
    assert ticket.responder_id == agent
    assert ctx.fake.conversations[str(tid)].assignee_id == str(agent)
    ctx.state["assigned"] = (tid, agent)


def step_search_tickets(ctx: Ctx) -> None:
    tid, agent = ctx.state["assigned"]
    found = ctx.api.tickets.filter_tickets(f"agent_id:{agent} AND (status:2 OR status:3)")
    assert tid in {t.id for t in found}
    assert all(t.responder_id == agent and t._status in (2, 3) for t in found)
    tagged = ctx.api.tickets.filter_tickets("tag:'urgent' AND priority:4")
    assert [t.id for t in tagged] == [ctx.state["created"]]
    custom = ctx.api.tickets.filter_tickets("cf_product_area:'hardware'")
    assert ctx.state["created"] in {t.id for t in custom}
    dated = ctx.api.tickets.filter_tickets("created_at:>'2000-01-01'")
    assert len(dated) == 300, "search pages 1..10 of 30, then stops"


def step_search_errors(ctx: Ctx) -> None:
    with pytest.raises(freshdesk_errors.FreshdeskBadRequest, match="invalid_field"):
        ctx.api.tickets.filter_tickets("responder_id:1")  # the search field is agent_id
    with pytest.raises(freshdesk_errors.FreshdeskBadRequest, match="page"):
        ctx.api.tickets.filter_tickets("status:2", page=11)
    with pytest.raises(AttributeError, match="512"):  # the client checks the length itself
        ctx.api.tickets.filter_tickets("status:2 OR " * 60 + "status:3")


def step_list_conversations(ctx: Ctx) -> None:
    tid = _open_ticket(ctx)
    comments = ctx.api.comments.list_comments(tid)
    assert len(comments) == len(ctx.fake.messages.get(str(tid), [])) - 1  # the first is the description
    assert all(c.ticket_id == tid for c in comments)


def step_create_note(ctx: Ctx) -> None:
    note = ctx.api.comments.create_note(ctx.state["created"], "<p>Called the fire brigade</p>", private=True)
    assert note.private is True and note.body_text == "Called the fire brigade"


def step_create_reply(ctx: Ctx) -> None:
    reply = ctx.api.comments.create_reply(ctx.state["created"], "<p>Help is on the way</p>")
    assert reply.private is False and reply.incoming is False and reply.body_text == "Help is on the way"
    bodies = [c.body_text for c in ctx.api.comments.list_comments(ctx.state["created"])]
    assert bodies == ["Called the fire brigade", "Help is on the way"]


def step_list_contacts(ctx: Ctx) -> None:
    customer = next(iter(sorted(ctx.fake.customers.values(), key=lambda c: int(c.id))))
    found = ctx.api.contacts.list_contacts(email=customer.email)
    assert [c.id for c in found] == [int(customer.id)]
    ctx.state["contact"] = int(customer.id)


def step_get_contact(ctx: Ctx) -> None:
    contact = ctx.api.contacts.get_contact(ctx.state["contact"])
    assert contact.id == ctx.state["contact"] and contact.email


def step_create_contact(ctx: Ctx) -> None:
    contact = ctx.api.contacts.create_contact(name="Ada Lovelace", email="ada@example.com", tags=["vip"])
    assert contact.name == "Ada Lovelace" and contact.email == "ada@example.com" and contact.tags == ["vip"]
    ctx.state["new_contact"] = contact.id
    with pytest.raises(freshdesk_errors.FreshdeskError, match="duplicate_value"):
        ctx.api.contacts.create_contact(name="Ada again", email="ada@example.com")


def step_update_contact(ctx: Ctx) -> None:
    contact = ctx.api.contacts.update_contact(ctx.state["new_contact"], job_title="Analyst", tags=["vip", "math"])
    assert contact.job_title == "Analyst" and contact.tags == ["vip", "math"]


def step_search_contacts(ctx: Ctx) -> None:
    found = ctx.api.contacts.filter_contacts("email:'ada@example.com'")
    assert [c.id for c in found] == [ctx.state["new_contact"]]


def step_delete_contact(ctx: Ctx) -> None:
    cid = ctx.state["new_contact"]
    ctx.api.contacts.soft_delete_contact(cid)
    assert ctx.api.contacts.get_contact(cid).deleted is True
    ctx.api.contacts.restore_contact(cid)
    assert ctx.api.contacts.get_contact(cid).deleted is False


def step_delete_ticket(ctx: Ctx) -> None:
    tid = ctx.state["created"]
    ctx.api.tickets.delete_ticket(tid)
    assert tid in {t.id for t in ctx.api.tickets.list_deleted_tickets()}
    assert tid not in {t.id for t in ctx.api.tickets.list_tickets(filter_name=None, updated_since="2000-01-01")}


def step_not_found(ctx: Ctx) -> None:
    with pytest.raises(freshdesk_errors.FreshdeskNotFound):
        ctx.api.tickets.get_ticket(987654321)


def step_validation_error(ctx: Ctx) -> None:
    with pytest.raises(freshdesk_errors.FreshdeskBadRequest, match=r"Validation failed.*status"):
        ctx.api.tickets.update_ticket(_open_ticket(ctx), status=42)


def step_satisfaction_ratings(ctx: Ctx) -> None:
    ratings = ctx.api._get("surveys/satisfaction_ratings")  # no wrapper in python-freshdesk
    assert ratings and all("default_question" in r["ratings"] for r in ratings)


def step_ticket_rating(ctx: Ctx) -> None:
    tid = _open_ticket(ctx)
    body = {"ratings": {"default_question": 102}, "feedback": "Quick and kind"}
    created = ctx.api._post(f"tickets/{tid}/satisfaction_ratings", data=json.dumps(body))  # no wrapper either
    assert created["ratings"] == {"default_question": 102} and created["ticket_id"] == tid
    listed = ctx.api._get(f"tickets/{tid}/satisfaction_ratings")
    assert created["id"] in {r["id"] for r in listed}
    with pytest.raises(freshdesk_errors.FreshdeskBadRequest, match="default_question"):
        ctx.api._post(f"tickets/{tid}/satisfaction_ratings", data=json.dumps({"ratings": {"default_question": 7}}))


def step_canned_responses(ctx: Ctx) -> None:
    ctx.fake.add_saved_reply(title="Refund", body="We refunded you.")
    folders = ctx.api._get("canned_response_folders")  # no wrapper in python-freshdesk
    replies = ctx.api._get(f"canned_response_folders/{folders[0]['id']}/responses")
    assert "Refund" in {r["title"] for r in replies}


def step_rate_limited(ctx: Ctx) -> None:
    seen: list[Any] = []
    ctx.api._session.hooks["response"].append(lambda response, *a, **kw: seen.append(response))
    ctx.fake.endpoint_limits["tickets_list"] = 1
    try:
        ctx.api.tickets.list_tickets(filter_name=None, page=1)
        with pytest.raises(freshdesk_errors.FreshdeskRateLimited, match=r"until \d+ seconds"):
            ctx.api.tickets.list_tickets(filter_name=None, page=1)
        limited = seen[-1]
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert limited.headers["X-RateLimit-Remaining"] == "0" and "X-RateLimit-Total" in limited.headers
        assert limited.json()["code"]
        ctx.fake.clock.advance(int(limited.headers["Retry-After"]))  # what a script does: wait, then retry
        assert ctx.api.tickets.list_tickets(filter_name=None, page=1) is not None
    finally:
        ctx.fake.endpoint_limits.pop("tickets_list", None)
        ctx.api._session.hooks["response"].clear()


SESSION: list[tuple[str, Callable[[Ctx], None]]] = [
    ("agents/me", step_me),
    ("list agents", step_list_agents),
    ("show agent", step_get_agent),
    ("list groups", step_list_groups),
    ("show group", step_get_group),
    ("roles", step_list_roles),
    ("ticket fields", step_ticket_fields),
    ("list tickets (new_and_my_open)", step_list_tickets_default),
    ("list tickets, several pages", step_list_tickets_paged),
    ("show ticket with includes", step_get_ticket),
    ("create ticket", step_create_ticket),
    ("update ticket", step_update_ticket),
    ("assign ticket", step_assign),
    ("search tickets", step_search_tickets),
    ("search errors", step_search_errors),
    ("list conversations", step_list_conversations),
    ("create note", step_create_note),
    ("create reply", step_create_reply),
    ("list contacts by email", step_list_contacts),
    ("show contact", step_get_contact),
    ("create contact", step_create_contact),
    ("update contact", step_update_contact),
    ("search contacts", step_search_contacts),
    ("delete and restore contact", step_delete_contact),
    ("delete ticket", step_delete_ticket),
    ("404 as FreshdeskNotFound", step_not_found),
    ("400 validation as FreshdeskBadRequest", step_validation_error),
    ("satisfaction ratings", step_satisfaction_ratings),
    ("rate a ticket", step_ticket_rating),
    ("canned responses", step_canned_responses),
    ("429 with Retry-After", step_rate_limited),
]


def run_session(fake: FakeFreshdesk) -> dict[str, str | None]:
    """Every step in order against the served fake: None when it passed, else why it failed."""
    outcome: dict[str, str | None] = {}
    with served_fake(fake) as served:
        ctx = Ctx(api=client_for(served), fake=fake, state={})
        for name, step in SESSION:
            try:
                step(ctx)
            except Exception as exc:
                outcome[name] = f"{type(exc).__name__}: {exc}"[:300]
            else:
                outcome[name] = None
    return outcome


def test_everyday_session_passes() -> None:
    fake = new_fake()
    outcome = run_session(fake)
    failed = {name: why for name, why in outcome.items() if why is not None}
    for name, why in outcome.items():
        print(f"{'ok  ' if why is None else 'FAIL'} {name}" + (f": {why}" if why else ""))
    assert not failed, f"{len(outcome) - len(failed)}/{len(outcome)} passed; failed: {failed}"
    violations = fake.__dict__.get("violations", [])
    assert not violations, f"the fake answered outside the description: {violations[:5]}"
