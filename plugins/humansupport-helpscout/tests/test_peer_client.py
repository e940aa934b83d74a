"""The popular Help Scout client, python-helpscout-v2 (`helpscout.HelpScout`), against the fake served over HTTP.

moto-style: a script written for the real Mailbox API 2.0 runs unchanged against `FakeHelpScout` once the client's
`base_url` points at the served fake. The scripted everyday session below is what docs/vendors/helpscout.md
("Testing your scripts against the fake") counts: every step is one client call (or a short chain) checked
against the fake's state.

Known limits of python-helpscout-v2 2.0.0 itself (it behaves the same against the real API), tested around:
- a 429 or 401 on the first request of a call is retried WITHOUT its query parameters (`hit_` re-calls itself
  with `params` dropped), so a rate-limited filtered list silently returns the unfiltered default listing;
  the session's 429 step uses a call without parameters, and `test_client_retries_a_429_without_its_params`
  pins the behaviour down;
- sub-resources without an id are modelled as listings: `hs.users.me.get()` is a list of one, and
  `hs.teams[id].members.get()` one object whose `users` holds the members (the real answer's `_embedded.users`);
- `get()` on an endpoint answering a plain JSON array (saved replies) raises AttributeError in the client's
  model layer; `hs.hit(...)` returns the array;
- creates answer 201 with the new id only in the `Resource-ID` header, which the client drops (returns None):
  scripts find the record again by searching;
- it sleeps `rate_limit_sleep` seconds on a 429 with `time.sleep`: the tests replace the module's `time` with
  one that advances the fake's wall clock, so nothing sleeps for real.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from typing import Any

import helpscout as helpscout
import helpscout.client as client_module
import httpx
import pytest
import uvicorn as uvicorn
from humansupport_helpscout import FakeHelpScout

from humansupport.testing import FakeClock, served_fake

from .conftest import history
from .contract import CONTRACT


class WallClock:
    """The served fake's wall time, moved only by the client's (patched) sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    clock = WallClock()
    monkeypatch.setattr(client_module, "time", types.SimpleNamespace(sleep=clock.sleep))
    return clock


class CheckedFake(FakeHelpScout):
    """The fake with every exchange checked against tests/openapi/helpscout.yaml (the contract tests' description),
    so what the peer client sends and what the fake answers are both the vendor's shapes."""

    def __init__(self, **kw: Any) -> None:
        self.violations: list[str] = []
        super().__init__(**kw)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = super().__call__(request)
        if not request.url.path.startswith("/_fake"):
            self.violations += CONTRACT.request_errors(request) + CONTRACT.response_errors(request, response)
        return response


@pytest.fixture
def served(clock: FakeClock, wall: WallClock) -> Iterator[tuple[FakeHelpScout, str]]:
    fake = CheckedFake(clock=clock, history=history())
    fake.wall_time = wall
    with served_fake(fake) as running:
        yield fake, running.url


def client(base: str, **kw: Any) -> Any:
    """The client as the served fake tells users to build it (`client_settings`)."""
    return helpscout.HelpScout(**FakeHelpScout.client_settings(base)["python-helpscout-v2"]["kwargs"], **kw)


Step = Callable[[Any, FakeHelpScout, dict[str, Any]], None]


def _open_conversation(fake: FakeHelpScout) -> str:
    return next(c.id for c in sorted(fake.conversations.values(), key=lambda c: int(c.id)) if c.status.is_open)


def _other_agent(fake: FakeHelpScout, cid: str) -> str:
    conv = fake.conversations[cid]
    agents = sorted(fake.agents.values(), key=lambda a: int(a.id))
    return next(a.id for a in agents if a.active and a.id != conv.assignee_id)


def s_me(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    (me,) = hs.users.me.get()  # the client models `users/me` as a listing: a list of one
    assert me.email and me.role == "owner"


def s_users(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    users = hs.users.get()
    assert {str(u.id) for u in users} == {a.id for a in fake.agents.values() if a.active}
    st["user"] = users[0]


def s_user(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    user = hs.users[st["user"].id].get()
    assert user.email == st["user"].email


def s_user_status(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    (status,) = hs.users[st["user"].id].status.get()
    assert status.userId == st["user"].id


def s_teams(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    teams = hs.teams.get()
    assert {str(t.id) for t in teams} == set(fake.groups)
    (members,) = hs.teams[teams[0].id].members.get()  # `_embedded.users` under a "members" key: one object
    assert {str(m["id"]) for m in members.users} == set(fake.groups[str(teams[0].id)].agent_ids)


def s_mailboxes(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    boxes = hs.mailboxes.get()
    assert len(boxes) == len(fake.mailboxes)
    st["mailbox"] = boxes[0].id
    one = hs.mailboxes[boxes[0].id].get()
    assert one.email == boxes[0].email


def s_mailbox_fields(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    fields = hs.mailboxes[st["mailbox"]].fields.get()
    area = next(f for f in fields if f.name == "Product Area")
    assert area.type == "dropdown" and area.options
    st["field"] = area


def s_mailbox_folders(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    folders = hs.mailboxes[st["mailbox"]].folders.get()
    assert folders and all(f.name for f in folders)


def s_list_paginated(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    convs = hs.conversations.get(params={"status": "all"})
    assert len(convs) == len(fake.conversations) > fake.page_size  # more than one page, followed by `next`
    assert len({c.id for c in convs}) == len(convs)


def s_list_default_active(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    convs = hs.conversations.get()
    assert convs and all(c.status == "active" for c in convs)


def s_show(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    cid = _open_conversation(fake)
    conv = hs.conversations[cid].get()
    assert str(conv.id) == cid and conv.subject == fake.conversations[cid].subject
    st["cid"] = cid


def s_threads(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    threads = hs.conversations[st["cid"]].threads.get()
    assert len(threads) == len(fake.messages.get(st["cid"], []))


def s_create_customer(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    body = {"firstName": "Vera", "lastName": "Script", "emails": [{"type": "work", "value": "vera@example.org"}]}
    assert hs.customers.post(data=body) is None  # 201, the id only in Resource-ID
    found = hs.customers.get(params={"query": '(email:"vera@example.org")'})
    assert [c.firstName for c in found] == ["Vera"]
    st["customer"] = found[0].id


def s_show_customer(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    customer = hs.customers[st["customer"]].get()
    assert customer.lastName == "Script"
    assert customer._embedded["emails"][0]["value"] == "vera@example.org"


def s_overwrite_customer(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    hs.customers[st["customer"]].put(data={"firstName": "Vera", "lastName": "Scripted", "jobTitle": "QA"})
    customer = hs.customers[st["customer"]].get()
    assert (customer.lastName, customer.jobTitle) == ("Scripted", "QA")


def s_list_customers(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    customers = hs.customers.get()
    assert len(customers) == len(fake.customers) > fake.page_size


def s_create_conversation(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    body = {
        "subject": "Scripted: cannot sign in",
        "customer": {"email": "vera@example.org"},
        "mailboxId": st["mailbox"],
        "type": "email",
        "status": "active",
        "tags": ["scripted"],
        "threads": [{"type": "customer", "customer": {"email": "vera@example.org"}, "text": "It says no."}],
    }
    assert hs.conversations.post(data=body) is None
    found = hs.conversations.get(params={"query": '(subject:"Scripted: cannot sign in")'})
    assert len(found) == 1 and found[0].primaryCustomer["email"] == "vera@example.org"
    assert [t["tag"] for t in found[0].tags] == ["scripted"]
    st["new"] = found[0].id


def s_update_status(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    new = st.get("new") or st["cid"]  # the created one (the first open one if creating failed)
    hs.conversations[new].patch(data={"op": "replace", "path": "/status", "value": "pending"})
    assert hs.conversations[new].get().status == "pending"


def s_update_subject(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    new = st.get("new") or st["cid"]  # the created one (the first open one if creating failed)
    hs.conversations[new].patch(data={"op": "replace", "path": "/subject", "value": "Scripted: sign-in"})
    assert hs.conversations[new].get().subject == "Scripted: sign-in"


def s_assign(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    agent = _other_agent(fake, st["cid"])
    hs.conversations[st["cid"]].patch(data={"op": "replace", "path": "/assignTo", "value": int(agent)})
    assert hs.conversations[st["cid"]].get().assignee["id"] == int(agent)
    mine = hs.conversations.get(params={"status": "all", "assigned_to": agent})
    assert st["cid"] in {str(c.id) for c in mine}


def s_tags(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    hs.conversations[st["new"]].tags.put(data={"tags": ["scripted", "scripted-vip"]})
    assert [t["tag"] for t in hs.conversations[st["new"]].get().tags] == ["scripted", "scripted-vip"]
    tagged = hs.conversations.get(params={"status": "all", "tag": "scripted-vip"})
    assert [c.id for c in tagged] == [st["new"]]
    assert {"scripted", "scripted-vip"} <= {t.name for t in hs.tags.get()}


def s_custom_fields(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    option = st["field"].options[0]
    hs.conversations[st["new"]].fields.put(data={"fields": [{"id": st["field"].id, "value": str(option["id"])}]})
    fields = hs.conversations[st["new"]].get().customFields
    assert [(f["id"], f["text"]) for f in fields] == [(st["field"].id, option["label"])]


def s_note(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    new = st.get("new") or st["cid"]  # the created one (the first open one if creating failed)
    hs.conversations[new].notes.post(data={"text": "Checked the logs."})
    threads = hs.conversations[new].threads.get()
    assert threads[0].type == "note" and threads[0].body == "Checked the logs."


def s_reply(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    customer = hs.conversations[st["new"]].get().primaryCustomer["id"]
    hs.conversations[st["new"]].reply.post(data={"customer": {"id": customer}, "text": "Try again now?"})
    threads = hs.conversations[st["new"]].threads.get()
    assert threads[0].type == "reply" and threads[0].body == "Try again now?"


def s_customer_thread(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    customer = hs.conversations[st["new"]].get().primaryCustomer["id"]
    hs.conversations[st["new"]].customer.post(data={"customer": {"id": customer}, "text": "Works, thanks."})
    threads = hs.conversations[st["new"]].threads.get()
    assert threads[0].type == "customer" and threads[0].body == "Works, thanks."


def s_search_email(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    conv = fake.conversations[st["cid"]]
    email = fake.customers[conv.customer_id or ""].email
    found = hs.conversations.get(params={"query": f'(email:"{email}")', "status": "all"})
    assert st["cid"] in {str(c.id) for c in found}
    assert all(c.primaryCustomer["email"] == email for c in found)


def s_search_boolean(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    found = hs.conversations.get(
        params={"query": '(tag:"scripted-vip" OR tag:"scripted") AND status:active', "status": "all"}
    )
    assert [c.id for c in found] == [st["new"]]
    none = hs.conversations.get(params={"query": '(tag:"scripted-vip" AND NOT tag:"scripted")', "status": "all"})
    assert none == []


def s_search_customer_ids(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    customer = fake.conversations[st["cid"]].customer_id
    found = hs.conversations.get(params={"query": f"(customerIds:{customer})", "status": "all"})
    assert found and all(str(c.primaryCustomer["id"]) == customer for c in found)


def s_rating(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    rid = sorted(fake.ratings)[0]
    rating = hs.ratings[rid].get()
    assert rating.rating in ("great", "okay", "not_good", "unknown")


def s_saved_replies(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    box = next(r["mailbox_id"] for r in fake.saved_replies.values())
    (listed,) = hs.hit(f"mailboxes/{box}/saved-replies", "get")  # a plain array: the client's get() cannot model it
    reply = hs.mailboxes[box]["saved-replies"][listed[0]["id"]].get()
    assert reply.name == listed[0]["name"] and reply.text


def s_workflows(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    workflows = hs.workflows.get()
    manual = next(w for w in workflows if w.type == "manual")
    hs.workflows[manual.id].run.post(data={"conversationIds": [int(st["new"])]})
    assert hs.conversations[st["new"]].get().status == "closed"


def s_webhooks(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    body = {"url": "https://example.org/hook", "events": ["convo.created"], "secret": "test-secret"}
    hs.webhooks.post(data=body)
    hooks = hs.webhooks.get()
    assert [h.url for h in hooks] == ["https://example.org/hook"]
    assert hs.webhooks[hooks[0].id].get().events == ["convo.created"]
    hs.webhooks[hooks[0].id].delete()
    assert hs.webhooks.get() == []


def s_delete(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    hs.conversations[st["new"]].delete()
    with pytest.raises(helpscout.exceptions.HelpScoutException, match="Resource not found"):
        hs.conversations[st["new"]].get()


def s_errors(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    with pytest.raises(helpscout.exceptions.HelpScoutException, match="Expected one of these"):
        hs.conversations[st["cid"]].patch(data={"op": "replace", "path": "/status", "value": "Wrong"})


def s_token_expiry(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    issued = fake.tokens_issued
    fake.expire_tokens()
    assert hs.users.me.get()[0].email  # 401, a new token, the call again
    assert fake.tokens_issued == issued + 1


def s_rate_limit(hs: Any, fake: FakeHelpScout, st: dict[str, Any]) -> None:
    fake.spend_minute(10)  # the account's minute is spent
    try:
        users = hs.users.get()  # 429 with X-RateLimit-Retry-After; the client sleeps (on the fake wall) and retries
    finally:
        fake.rate_limit_per_minute = None
    assert users
    limited = [r for r in fake.requests if r.status == 429]
    assert limited, "the client never saw a 429"


SESSION: tuple[tuple[str, Step], ...] = (
    ("GET users/me", s_me),
    ("GET users", s_users),
    ("GET users/{id}", s_user),
    ("GET users/{id}/status", s_user_status),
    ("GET teams, teams/{id}/members", s_teams),
    ("GET mailboxes, mailboxes/{id}", s_mailboxes),
    ("GET mailboxes/{id}/fields", s_mailbox_fields),
    ("GET mailboxes/{id}/folders", s_mailbox_folders),
    ("GET conversations?status=all (paged)", s_list_paginated),
    ("GET conversations (default active)", s_list_default_active),
    ("GET conversations/{id}", s_show),
    ("GET conversations/{id}/threads", s_threads),
    ("POST customers + search by email", s_create_customer),
    ("GET customers/{id}", s_show_customer),
    ("PUT customers/{id}", s_overwrite_customer),
    ("GET customers (paged)", s_list_customers),
    ("POST conversations + search by subject", s_create_conversation),
    ("PATCH conversations/{id} status", s_update_status),
    ("PATCH conversations/{id} subject", s_update_subject),
    ("PATCH conversations/{id} assignTo + assigned_to filter", s_assign),
    ("PUT conversations/{id}/tags + tag filter + GET tags", s_tags),
    ("PUT conversations/{id}/fields", s_custom_fields),
    ("POST conversations/{id}/notes", s_note),
    ("POST conversations/{id}/reply", s_reply),
    ("POST conversations/{id}/customer", s_customer_thread),
    ("search (email:...)", s_search_email),
    ("search with AND/OR/NOT", s_search_boolean),
    ("search (customerIds:...)", s_search_customer_ids),
    ("GET ratings/{id}", s_rating),
    ("saved replies list + show", s_saved_replies),
    ("GET workflows + run a manual one", s_workflows),
    ("webhooks create/list/show/delete", s_webhooks),
    ("DELETE conversations/{id}", s_delete),
    ("400 validation error body", s_errors),
    ("expired token: 401 then a new token", s_token_expiry),
    ("429 with X-RateLimit-Retry-After, retried", s_rate_limit),
)


def run_session(hs: Any, fake: FakeHelpScout) -> dict[str, str | None]:
    """Each step's failure (None when it passed); a failed step does not stop the session."""
    state: dict[str, Any] = {}
    outcome: dict[str, str | None] = {}
    for name, step in SESSION:
        try:
            step(hs, fake, state)
        except Exception as exc:
            outcome[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
        else:
            outcome[name] = None
    return outcome


def test_everyday_session(served: tuple[FakeHelpScout, str], wall: WallClock) -> None:
    fake, base = served
    hs = client(base, rate_limit_sleep=60)
    outcome = run_session(hs, fake)
    failed = {name: why for name, why in outcome.items() if why is not None}
    assert not failed, f"{len(outcome) - len(failed)}/{len(outcome)} calls pass: {failed}"
    assert isinstance(fake, CheckedFake)
    assert fake.violations == [], "\n".join(fake.violations)
    assert wall.slept == [60], "the client slept once (on the fake's wall clock) for the 429"


def test_rate_limit_surfaces_to_a_client_that_does_not_sleep(served: tuple[FakeHelpScout, str]) -> None:
    fake, base = served
    hs = client(base, sleep_on_rate_limit_exceeded=False)
    hs.users.me.get()
    fake.spend_minute(4)
    with pytest.raises(helpscout.exceptions.HelpScoutRateLimitExceededException):
        hs.users.get()
    (limited,) = [r for r in fake.requests if r.status == 429]
    assert limited.path == "/v2/users"


def test_client_retries_a_429_without_its_params(served: tuple[FakeHelpScout, str], wall: WallClock) -> None:
    """python-helpscout-v2's own bug, the same against the real API: the retry after a 429 drops `params`."""
    fake, base = served
    hs = client(base, rate_limit_sleep=60)
    hs.users.me.get()
    fake.spend_minute(10)
    hs.conversations.get(params={"status": "closed"})
    listed = [r for r in fake.requests if r.path == "/v2/conversations" and r.query.get("page") is None]
    assert [r.status for r in listed] == [429, 200]
    assert listed[0].query.get("status") == ["closed"] and "status" not in listed[1].query


def test_the_python_line_the_fake_prints_builds_a_working_client(served: tuple[FakeHelpScout, str]) -> None:
    fake, base = served
    namespace: dict[str, Any] = {}
    exec(FakeHelpScout.client_settings(base)["python-helpscout-v2"]["python"], namespace)  # noqa: S102 - our own line
    (me,) = namespace["hs"].users.me.get()
    assert me.email == fake._owner().email
