"""An everyday zenpy session against the fake served over real HTTP (moto-style).

Scripts written for Zendesk with zenpy (the most used Python client) can be tested against `FakeZendesk`: the
fake is served on a loopback port and zenpy is pointed at it with its own `ZENPY_FORCE_NETLOC` /
`ZENPY_FORCE_SCHEME` variables. Each test below is one step of an agent's or an admin's ordinary session:
list, read, create, update, assign, comment, tag, search, paginate, users, groups, fields, ratings, macros,
webhooks, a 429 with Retry-After, a 404 and a safe-update conflict.

zenpy sleeps for real on a 429 (`time.sleep(1)` per second of Retry-After): the tests replace that sleep and
record what it was asked to wait, so nothing sleeps for real.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from humansupport_zendesk import FakeZendesk
from humansupport_zendesk.fake import ZENDESK_PRODUCT_AREA_FIELD
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Group, Macro, Ticket, User, Webhook
from zenpy.lib.exception import APIException, RecordNotFoundException

from humansupport.testing import ContractTransport, FakeClock, HistoryConfig, ServedFake, generate_history, served_fake

from .conftest import (  # type: ignore[import-not-found]
    _add_oauth_bearer,
    _allow_id_in_batch_update,
    _narrow_dual_pagination,
)

#: a page holds this many records, so a listing of the seeded history spans several pages
PAGE = 7


def _search_offset_paging(data: dict[str, Any]) -> None:
    """`GET /search` pages by offset ("Offset pagination only", as its own text says) but the description
    declares neither `page` nor `per_page`."""
    params = data["paths"]["/api/v2/search"]["get"].setdefault("parameters", [])
    params += [{"name": n, "in": "query", "schema": {"type": "integer"}} for n in ("page", "per_page")]


def _unset_field_values(data: dict[str, Any]) -> None:
    """Zendesk lists every ticket field on a ticket, an unset one with `"value": null`, and the ticket a macro
    would produce is the full ticket, unassigned ones with null `assignee_id`/`group_id`; the description's
    schemas for both have no null."""
    schemas = data["components"]["schemas"]
    schemas["TicketFieldValueInput"]["properties"]["value"]["oneOf"][0]["nullable"] = True
    ticket = schemas["MacroApplyTicketResponse"]["properties"]["result"]["properties"]["ticket"]["properties"]
    for key in ("assignee_id", "group_id"):
        ticket[key]["nullable"] = True


#: the description's paths this session touches (zenpy's `.json` suffix is dropped before the check)
PEER_PATHS = (
    "/api/v2/tickets",
    "/api/v2/tickets/{ticket_id}",
    "/api/v2/tickets/{ticket_id}/comments",
    "/api/v2/tickets/{ticket_id}/tags",
    "/api/v2/tickets/{ticket_id}/macros/{macro_id}/apply",
    "/api/v2/tickets/show_many",
    "/api/v2/tickets/update_many",
    "/api/v2/job_statuses/{job_status_id}",
    "/api/v2/incremental/tickets/cursor",
    "/api/v2/search",
    "/api/v2/search/count",
    "/api/v2/search/export",
    "/api/v2/users",
    "/api/v2/users/me",
    "/api/v2/users/search",
    "/api/v2/users/{user_id}",
    "/api/v2/user_fields",
    "/api/v2/groups",
    "/api/v2/group_memberships",
    "/api/v2/ticket_fields",
    "/api/v2/satisfaction_ratings",
    "/api/v2/macros",
)
#: the Webhooks API has its own reference, not in the Support description: checked for method and query only
_WEBHOOKS = {
    ("GET", "/api/v2/webhooks"): frozenset({"page[size]", "page[after]"}),
    ("POST", "/api/v2/webhooks"): frozenset(),
}
CONTRACT = ContractTransport(
    Path(__file__).with_name("specs") / "openapi.yaml",
    patches=[
        _narrow_dual_pagination,
        _allow_id_in_batch_update,
        _add_oauth_bearer,
        _search_offset_paging,
        _unset_field_values,
    ],
    undescribed=_WEBHOOKS,
    paths=PEER_PATHS,
)


class CheckedFake(FakeZendesk):
    """The fake with every exchange checked against Zendesk's description; what fails is kept in `violations`
    (the server thread cannot fail a test itself: the `checked` fixture does)."""

    violations: list[str]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        described = _without_suffix(request)
        self.violations.extend(CONTRACT.request_errors(described))
        response = super().__call__(request)
        if response.is_success:
            self.violations.extend(CONTRACT.response_errors(described, response))
        return response


def _without_suffix(request: httpx.Request) -> httpx.Request:
    """The request as the description names it, less zenpy's harmless habits (Zendesk accepts each):

    - `/api/v2/tickets.json` where the description has `/api/v2/tickets`; the account's host, not the port;
    - the ticket's own (read-only) `id` in the body of `PUT /tickets/{id}`;
    - `filter[type]` (meant for the search export) also on `/search` and `/search/count`;
    - `page[size]` on `/tickets/{id}/tags`, which is not paginated.
    """
    path = request.url.path.removesuffix(".json")
    url = request.url.copy_with(scheme="https", host=f"{FakeZendesk.subdomain}.zendesk.com", port=None, path=path)
    if path in ("/api/v2/search", "/api/v2/search/count"):
        url = url.copy_remove_param("filter[type]")
    if path.endswith("/tags"):
        url = url.copy_remove_param("page[size]")
    content = request.content
    if request.method == "PUT" and _TICKET.match(path) and content:
        body = json.loads(content)
        if isinstance(body.get("ticket"), dict):
            body["ticket"].pop("id", None)
        content = json.dumps(body).encode()
    return httpx.Request(request.method, url, headers=request.headers, content=content)


_TICKET = re.compile(r"/api/v2/tickets/\d+")


@pytest.fixture(scope="module")
def fake() -> CheckedFake:
    history = generate_history(HistoryConfig(customers=30, agents=6, groups=2))
    served = CheckedFake(clock=FakeClock(start=history.config.end + timedelta(hours=1)), history=history)
    served.violations = []
    served.page_size = PAGE
    return served


@pytest.fixture(autouse=True)
def checked(fake: CheckedFake) -> Iterator[None]:
    """Each step's requests and the fake's answers conform to Zendesk's description."""
    fake.violations.clear()
    yield
    assert not fake.violations, "\n".join(fake.violations[:10])


@pytest.fixture(scope="module")
def served(fake: FakeZendesk) -> Iterator[ServedFake]:
    with served_fake(fake) as running:
        yield running


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """zenpy's real sleep, replaced: what it was asked to wait."""
    waits: list[float] = []
    monkeypatch.setattr("zenpy.lib.api.sleep", waits.append)
    return waits


@pytest.fixture
def zd(served: ServedFake, monkeypatch: pytest.MonkeyPatch, slept: list[float]) -> Zenpy:
    for name, value in served.clients()["zenpy"]["environment"].items():
        monkeypatch.setenv(name, value)
    return Zenpy(subdomain=FakeZendesk.subdomain, email=FakeZendesk.email, token=FakeZendesk.token, disable_cache=True)


def _open_ticket(fake: FakeZendesk) -> str:
    return next(c.id for c in sorted(fake.conversations.values(), key=lambda c: int(c.id)) if c.status.is_open)


def _status(fake: FakeZendesk, tid: str) -> str:
    return str(fake._ticket(fake.conversations[tid])["status"])


def _agent(fake: FakeZendesk, *, other_than: str | None = None) -> str:
    return next(a for a in sorted(fake.agents, key=int) if fake.agents[a].active and a != other_than)


# -- tickets --------------------------------------------------------------------------------------------


def test_list_tickets_pages_through_all(zd: Zenpy, fake: FakeZendesk) -> None:
    seen = [t.id for t in zd.tickets()]
    assert len(seen) == len(fake.conversations) > PAGE, "a listing of more than one page"
    assert len(set(seen)) == len(seen)


def test_show_ticket(zd: Zenpy, fake: FakeZendesk) -> None:
    tid = _open_ticket(fake)
    ticket = zd.tickets(id=int(tid))
    assert ticket.id == int(tid)
    assert ticket.subject == fake.conversations[tid].subject
    assert ticket.status in ("new", "open", "pending", "hold")


def test_show_many_tickets(zd: Zenpy, fake: FakeZendesk) -> None:
    ids = sorted(int(i) for i in fake.conversations)[:3]
    assert sorted(t.id for t in zd.tickets(ids=ids)) == ids


def test_create_ticket_with_first_comment(zd: Zenpy, fake: FakeZendesk) -> None:
    requester = sorted(fake.customers, key=int)[0]
    audit = zd.tickets.create(
        Ticket(subject="Printer on fire", comment=Comment(body="It is on fire."), requester_id=int(requester))
    )
    ticket = audit.ticket
    assert ticket.id and ticket.subject == "Printer on fire" and ticket.status == "new"
    assert ticket.requester_id == int(requester)
    assert str(ticket.id) in fake.conversations
    comments = list(zd.tickets.comments(ticket=ticket.id))
    assert [c.body for c in comments] == ["It is on fire."]


def test_create_ticket_without_comment_is_422(zd: Zenpy) -> None:
    with pytest.raises(APIException) as err:
        zd.tickets.create(Ticket(subject="no description"))
    assert err.value.response.status_code == 422
    assert err.value.response.json()["error"] == "RecordInvalid"


def test_update_ticket_status_priority_and_tags(zd: Zenpy, fake: FakeZendesk) -> None:
    tid = _open_ticket(fake)
    ticket = zd.tickets(id=int(tid))
    ticket.status = "pending"
    ticket.priority = "high"
    ticket.tags = [*ticket.tags, "vip"]
    audit = zd.tickets.update(ticket)
    assert audit.ticket.status == "pending" and audit.ticket.priority == "high"
    again = zd.tickets(id=int(tid))
    assert again.status == "pending" and again.priority == "high" and "vip" in again.tags


def test_assign_ticket(zd: Zenpy, fake: FakeZendesk) -> None:
    tid = _open_ticket(fake)
    ticket = zd.tickets(id=int(tid))
    agent = _agent(fake, other_than=str(ticket.assignee_id) if ticket.assignee_id else None)
    ticket.assignee_id = int(agent)
    ticket.group_id = None
    zd.tickets.update(ticket)
    assert zd.tickets(id=int(tid)).assignee_id == int(agent)
    assert fake.conversations[tid].assignee_id == agent


def test_assign_to_end_user_is_422(zd: Zenpy, fake: FakeZendesk) -> None:
    ticket = zd.tickets(id=int(_open_ticket(fake)))
    ticket.assignee_id = int(sorted(fake.customers, key=int)[0])
    with pytest.raises(APIException) as err:
        zd.tickets.update(ticket)
    assert err.value.response.status_code == 422


def test_safe_update_conflict_is_409(zd: Zenpy, fake: FakeZendesk) -> None:
    tid = _open_ticket(fake)
    ticket = zd.tickets(id=int(tid))
    fake.clock.advance(5)
    fake.touch_conversation(tid)  # someone edits it meanwhile
    ticket.priority = "urgent"
    ticket.safe_update = True
    ticket.updated_stamp = ticket.updated_at
    with pytest.raises(APIException) as err:
        zd.tickets.update(ticket)
    assert err.value.response.status_code == 409
    assert err.value.response.json()["error"] == "UpdateConflict"


def test_bulk_update_job(zd: Zenpy, fake: FakeZendesk) -> None:
    ids = [int(c.id) for c in sorted(fake.conversations.values(), key=lambda c: int(c.id)) if c.status.is_open][:3]
    tickets = [zd.tickets(id=i) for i in ids]
    for ticket in tickets:
        ticket.tags = [*ticket.tags, "bulk"]
    job = zd.tickets.update(tickets)
    assert job.status in ("queued", "working", "completed")
    fake.clock.advance(fake.job_delay + 1)
    done = zd.job_status(id=job.id)
    assert done.status == "completed"
    assert all("bulk" in zd.tickets(id=i).tags for i in ids)


def test_delete_ticket(zd: Zenpy, fake: FakeZendesk) -> None:
    audit = zd.tickets.create(Ticket(subject="spam", comment=Comment(body="buy now")))
    tid = audit.ticket.id
    zd.tickets.delete(audit.ticket)
    assert str(tid) not in fake.conversations
    with pytest.raises(RecordNotFoundException):
        zd.tickets(id=tid)


def test_missing_ticket_is_record_not_found(zd: Zenpy) -> None:
    with pytest.raises(RecordNotFoundException):
        zd.tickets(id=987654321)


# -- comments and tags ----------------------------------------------------------------------------------


def test_comments_of_a_ticket(zd: Zenpy, fake: FakeZendesk) -> None:
    tid = next(t for t, msgs in sorted(fake.messages.items(), key=lambda kv: int(kv[0])) if msgs)
    comments = list(zd.tickets.comments(ticket=int(tid)))
    assert [c.body for c in comments] == [m.body for m in fake.messages[tid]]


def test_add_private_note(zd: Zenpy, fake: FakeZendesk) -> None:
    tid = _open_ticket(fake)
    ticket = zd.tickets(id=int(tid))
    ticket.comment = Comment(body="internal: check the invoice", public=False)
    zd.tickets.update(ticket)
    last = list(zd.tickets.comments(ticket=int(tid)))[-1]
    assert last.body == "internal: check the invoice" and last.public is False


def test_ticket_tags(zd: Zenpy, fake: FakeZendesk) -> None:
    tid = int(_open_ticket(fake))
    zd.tickets.set_tags(tid, ["alpha", "beta"])
    zd.tickets.add_tags(tid, ["gamma"])
    zd.tickets.delete_tags(tid, ["alpha"])
    assert sorted(zd.tickets.tags(tid)) == ["beta", "gamma"]


# -- search ---------------------------------------------------------------------------------------------


def test_search_open_tickets(zd: Zenpy, fake: FakeZendesk) -> None:
    found = list(zd.search(type="ticket", status="open"))
    assert {t.id for t in found} == {int(c.id) for c in fake.conversations.values() if _status(fake, c.id) == "open"}


def test_search_unsolved(zd: Zenpy, fake: FakeZendesk) -> None:
    found = list(zd.search(type="ticket", status_less_than="solved"))
    unsolved = {"new", "open", "pending", "hold"}
    assert {t.id for t in found} == {int(c.id) for c in fake.conversations.values() if _status(fake, c.id) in unsolved}


def test_search_pages_through_offset_pages_sorted(zd: Zenpy, fake: FakeZendesk) -> None:
    found = list(zd.search(type="ticket", sort_by="created_at", sort_order="asc"))
    assert len(found) == len(fake.conversations) > PAGE, "more than one page of search results"
    assert [t.created_at for t in found] == sorted(t.created_at for t in found)


def test_search_by_assignee_and_tag(zd: Zenpy, fake: FakeZendesk) -> None:
    tid = _open_ticket(fake)
    zd.tickets.add_tags(int(tid), ["needle"])
    assert [t.id for t in zd.search(type="ticket", tags="needle")] == [int(tid)]
    agent = next(c.assignee_id for c in fake.conversations.values() if c.assignee_id)
    found = {t.id for t in zd.search(type="ticket", assignee=int(agent))}
    assert found == {int(c.id) for c in fake.conversations.values() if c.assignee_id == agent}


def test_search_count(zd: Zenpy, fake: FakeZendesk) -> None:
    open_count = sum(1 for c in fake.conversations.values() if _status(fake, c.id) == "open")
    assert zd.search.count(type="ticket", status="open") == open_count


def test_search_export(zd: Zenpy, fake: FakeZendesk) -> None:
    found = list(zd.search_export(type="ticket", status="open"))
    assert len(found) == sum(1 for c in fake.conversations.values() if _status(fake, c.id) == "open")


def test_search_users_by_email(zd: Zenpy, fake: FakeZendesk) -> None:
    customer = next(c for c in fake.customers.values() if c.email)
    found = list(zd.search(type="user", email=customer.email))
    assert [u.id for u in found] == [int(customer.id)]


# -- incremental export ---------------------------------------------------------------------------------


def test_incremental_tickets_cursor(zd: Zenpy, fake: FakeZendesk) -> None:
    found = {t.id for t in zd.tickets.incremental(start_time=0)}
    assert found == {int(i) for i in fake.conversations}


# -- users, agents, groups ------------------------------------------------------------------------------


def test_me(zd: Zenpy, fake: FakeZendesk) -> None:
    me = zd.users.me()
    assert me.id == int(fake.me_id) and me.role == "admin"


def test_list_users_pages(zd: Zenpy, fake: FakeZendesk) -> None:
    users = list(zd.users())
    assert len(users) == len(fake.customers) + len(fake.agents) > PAGE


def test_list_agents_by_role(zd: Zenpy, fake: FakeZendesk) -> None:
    agents = list(zd.users(role=["agent", "admin"]))
    assert {u.id for u in agents} == {int(a) for a in fake.agents}


def test_show_user(zd: Zenpy, fake: FakeZendesk) -> None:
    cid = sorted(fake.customers, key=int)[0]
    user = zd.users(id=int(cid))
    assert user.id == int(cid) and user.role == "end-user" and user.email == fake.customers[cid].email


def test_create_and_update_user(zd: Zenpy, fake: FakeZendesk) -> None:
    user = zd.users.create(User(name="Ada Lovelace", email="ada@example.test"))
    assert user.id and user.role == "end-user" and str(user.id) in fake.customers
    user.notes = "prefers email"
    user.user_fields = {"plan": "enterprise"}
    updated = zd.users.update(user)
    assert updated.notes == "prefers email" and updated.user_fields["plan"] == "enterprise"


def test_search_users_endpoint(zd: Zenpy, fake: FakeZendesk) -> None:
    customer = next(c for c in fake.customers.values() if c.email)
    assert [u.id for u in zd.users.search(query=customer.email)] == [int(customer.id)]


def test_groups_and_memberships(zd: Zenpy, fake: FakeZendesk) -> None:
    assert {g.id for g in zd.groups()} == {int(g) for g in fake.groups}
    memberships = list(zd.group_memberships())
    expected = {(int(a), int(g)) for a, agent in fake.agents.items() for g in agent.group_ids}
    assert {(m.user_id, m.group_id) for m in memberships} == expected


def test_create_group(zd: Zenpy, fake: FakeZendesk) -> None:
    group = zd.groups.create(Group(name="Escalations desk"))
    assert group.id and str(group.id) in fake.groups
    assert group.name == "Escalations desk"


# -- fields, ratings, macros, webhooks -------------------------------------------------------------------


def test_ticket_fields_and_custom_values(zd: Zenpy, fake: FakeZendesk) -> None:
    fields = {f.id: f for f in zd.ticket_fields()}
    assert ZENDESK_PRODUCT_AREA_FIELD in fields
    tid = _open_ticket(fake)
    ticket = zd.tickets(id=int(tid))
    ticket.custom_fields = [{"id": ZENDESK_PRODUCT_AREA_FIELD, "value": "billing"}]
    zd.tickets.update(ticket)
    values = {f["id"]: f["value"] for f in zd.tickets(id=int(tid)).custom_fields}
    assert values[ZENDESK_PRODUCT_AREA_FIELD] == "billing"


def test_user_fields(zd: Zenpy, fake: FakeZendesk) -> None:
    keys = {f.key for f in zd.user_fields()}
    assert set(fake.user_field_types) <= keys


def test_satisfaction_ratings(zd: Zenpy, fake: FakeZendesk) -> None:
    ratings = list(zd.satisfaction_ratings())
    assert len(ratings) == len(fake.ratings)
    assert all(r.score in ("good", "bad", "offered", "unoffered") for r in ratings)


def test_macros_list_and_apply(zd: Zenpy, fake: FakeZendesk) -> None:
    fake.seed_saved_replies()
    macros = list(zd.macros())
    assert len(macros) == len(fake.macros) > 0
    created = zd.macros.create(Macro(title="Close politely", actions=[{"field": "status", "value": "solved"}]))
    assert created.id and str(created.id) in fake.macros
    result = zd.tickets.show_macro_effect(int(_open_ticket(fake)), created.id)
    assert result.ticket.status == "solved"


def test_webhooks_create_and_list(zd: Zenpy, fake: FakeZendesk) -> None:
    hook = zd.webhooks.create(
        Webhook(
            name="router",
            endpoint="https://hooks.example.test/zd",
            http_method="POST",
            request_format="json",
            status="active",
            subscriptions=["conversation_events"],
        )
    )
    assert hook.id in fake.webhooks
    assert any(h.id == hook.id for h in zd.webhooks())


# -- limits ---------------------------------------------------------------------------------------------


def test_429_retry_after_is_honoured(zd: Zenpy, fake: FakeZendesk, slept: list[float]) -> None:
    tid = int(_open_ticket(fake))
    fake.fail_next(429, headers={"Retry-After": "3"}, match=f"/api/v2/tickets/{tid}")
    assert zd.tickets(id=tid).id == tid
    assert len(slept) == 3, "zenpy waits the Retry-After seconds, then retries"
    limited = [r for r in fake.requests if r.status == 429]
    assert limited and limited[-1].path.startswith(f"/api/v2/tickets/{tid}")


def test_rate_limit_429_from_the_fakes_own_window(
    zd: Zenpy, fake: FakeZendesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the fake's per-minute limit the client gets Zendesk's 429 with Retry-After; zenpy waits (on the
    fake's clock here) and every call of the burst still succeeds."""
    monkeypatch.setattr("zenpy.lib.api.sleep", fake.clock.advance)
    monkeypatch.setattr(fake, "rate_limit_per_minute", 3)
    fake.clock.advance(60)  # a fresh window
    limited_before = fake.rate_limited
    tid = int(_open_ticket(fake))
    for _ in range(5):
        assert zd.tickets(id=tid).id == tid
    assert fake.rate_limited > limited_before
    refused = [r for r in fake.requests if r.status == 429][-1]
    assert refused.path.startswith(f"/api/v2/tickets/{tid}")


def test_rate_limit_headers_on_every_response(zd: Zenpy, fake: FakeZendesk) -> None:
    zd.tickets(id=int(_open_ticket(fake)))
    assert zd.tickets.callsafety is not None
    response = zd.users._get(zd.users._build_url(zd.users.endpoint.me()), raw_response=True)
    assert int(response.headers["X-Rate-Limit"]) == fake.plan_limit
    assert "X-Rate-Limit-Remaining" in response.headers
