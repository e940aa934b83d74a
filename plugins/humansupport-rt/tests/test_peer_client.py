"""The established REST2 client, the `rt` package (`rt.rest2.Rt`), against FakeRT served over HTTP.

moto-style: a script written for a real RT 5 runs unchanged against `FakeRT` once the client's `url` points at
the served fake's `/REST/2.0/`. The scripted everyday session below is what docs/vendors/rt.md ("Testing your
scripts against the fake") counts: every step is one client call (or a short chain) checked against the fake.

Known limits of rt 3.x itself (it behaves the same against a real RT), tested around:
- it runs on httpx2, not httpx: `http_auth` takes a `(user, password)` tuple, an `httpx.BasicAuth` is refused;
- `get_ticket_history` asks for `Description`, which RT 5.0.3 serves empty in a listing;
- it sends no `If-Match` of its own: a script guarding a write puts the header on `tracker.session` (every
  PUT copies the session's headers), and the 412 surfaces as `UnexpectedResponseError(status_code=412)`;
- `get_attachments(ticket)` lists only files (`Filename IS NOT ''`): a message's text part is read with
  `get_attachment(id)`, its `Content` base64-encoded as RT serves it;
- `delete_ticket` succeeds by RT's 204 surfacing as an UnexpectedResponseError the client catches;
- it handles no 429: RT has no rate limit of its own (a proxy in front of it may), so the session has no
  rate-limit step rather than one the real RT would never answer.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import rt.exceptions as rt_exceptions
import rt.rest2 as rt_rest2
from humansupport_rt import FakeRT

from humansupport import ConversationStatus
from humansupport.testing import FakeClock, generate_history, served_fake

from .conftest import RT_HISTORY


@pytest.fixture
def served() -> Iterator[tuple[FakeRT, str]]:
    history = generate_history(RT_HISTORY)
    fake = FakeRT(clock=FakeClock(start=history.config.end + timedelta(hours=1)), history=history)
    with served_fake(fake) as running:
        yield fake, running.url


def client(base: str) -> Any:
    """The client as the served fake tells users to build it (`client_settings`)."""
    namespace: dict[str, Any] = {}
    exec(FakeRT.client_settings(base)["rt"]["python"], namespace)  # noqa: S102 - our own line
    return namespace["tracker"]


Step = Callable[[Any, FakeRT, dict[str, Any]], None]


def _open(fake: FakeRT) -> str:
    return next(c.id for c in sorted(fake.conversations.values(), key=lambda c: int(c.id)) if c.status.is_open)


def _created(fake: FakeRT, st: dict[str, Any]) -> str:
    """The ticket the session created (an open one of the history when creating failed, so later steps still
    count on their own)."""
    return str(st.get("created") or st.setdefault("fallback", _open(fake)))


def s_queues(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    queues = rt.get_all_queues()
    assert {q["Name"] for q in queues} == {g.name for g in fake.groups.values()}
    st["queue"] = queues[0]


def s_queue(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    queue = rt.get_queue(st["queue"]["id"])
    assert queue["Name"] == st["queue"]["Name"] and str(queue["id"]) == str(st["queue"]["id"])
    by_name = rt.get_queue(st["queue"]["Name"])
    assert str(by_name["id"]) == str(st["queue"]["id"])


def s_user(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    agent = sorted(fake.agents.values(), key=lambda a: int(a.id))[0]
    user = rt.get_user(f"agent{agent.id}")
    assert user["EmailAddress"] == agent.email and user["Privileged"] == 1
    assert rt.user_exists(f"agent{agent.id}") is True
    customer = next(c for c in fake.customers.values() if c.email)
    assert rt.get_user(customer.email)["RealName"] == (customer.name or "")
    assert rt.user_exists(customer.email) is False  # unprivileged
    assert rt.user_exists("nobody-such@example.test", privileged=False) is False


def s_search_queue_status(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    queue = st["queue"]
    found = list(rt.search(queue=queue["Name"], Status="open"))
    want = {
        c.id
        for c in fake.conversations.values()
        if c.group_id == str(queue["id"]) and c.status == ConversationStatus.OPEN
    }
    assert want and {str(t["id"]) for t in found} == want
    assert all(t["Status"] == "open" and t["Queue"]["Name"] == queue["Name"] for t in found)


def s_search_paged(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    assert len(fake.conversations) > 20, "more than one page of the client's 20"
    found = list(rt.search(raw_query="id > 0", query_format="s"))
    assert sorted(int(t["id"]) for t in found) == sorted(int(c) for c in fake.conversations)
    assert len({t["id"] for t in found}) == len(found)
    pages = [r for r in fake.requests if r.path == "/REST/2.0/tickets"]
    assert len(pages) >= 2


def s_search_like_ordered(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    conv = fake.conversations[_open(fake)]
    word = (conv.subject or "").split()[0]
    found = list(rt.search(Subject__like=word, order="-id", query_format=["Subject", "Status"]))
    assert conv.id in {str(t["id"]) for t in found}
    assert all(word.lower() in t["Subject"].lower() for t in found)
    ids = [int(t["id"]) for t in found]
    assert ids == sorted(ids, reverse=True)


def s_last_updated(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    stamps = sorted((c.updated_at or c.created_at) for c in fake.conversations.values())
    since = stamps[len(stamps) // 2]
    # a date without a zone is the RT user's time zone, RT's default US/Eastern, against the fake as against RT
    local = since.astimezone(ZoneInfo("US/Eastern")).strftime("%Y-%m-%d %H:%M:%S")
    found = list(rt.last_updated(local))
    want = {c.id for c in fake.conversations.values() if (c.updated_at or c.created_at) > since}
    assert want and {str(t["id"]) for t in found} == want
    updated = [t["LastUpdated"] for t in found]
    assert updated == sorted(updated, reverse=True)


def s_get_ticket(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    conv = fake.conversations[_open(fake)]
    ticket = rt.get_ticket(conv.id)
    assert ticket["Subject"] == conv.subject and ticket["Status"] == _status(conv.status)
    assert ticket["Queue"]["Name"] == fake.groups[conv.group_id or ""].name
    with pytest.raises(rt_exceptions.NotFoundError):
        rt.get_ticket(999_999)


def _status(status: ConversationStatus) -> str:
    return {"new": "new", "open": "open", "pending": "stalled", "solved": "resolved", "closed": "rejected"}[status]


def s_create_ticket(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    customer = next(c for c in fake.customers.values() if c.email)
    new_id = rt.create_ticket(
        queue=st["queue"]["Name"], subject="Printer on fire", content="It smokes.", Requestor=customer.email
    )
    conv = fake.conversations[str(new_id)]
    assert conv.subject == "Printer on fire" and conv.customer_id == customer.id
    assert conv.group_id == str(st["queue"]["id"]) and conv.status == ConversationStatus.NEW
    assert [m.body for m in fake.messages[str(new_id)]] == ["It smokes."]
    assert rt.get_ticket(new_id)["Requestor"][0]["id"] == customer.email
    st["created"] = str(new_id)


def s_edit_status(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    assert rt.edit_ticket(_created(fake, st), Status="open") is True
    assert fake.conversations[_created(fake, st)].status == ConversationStatus.OPEN
    assert rt.edit_ticket(_created(fake, st), Status="stalled", Priority=5) is True
    assert fake.conversations[_created(fake, st)].status == ConversationStatus.PENDING
    assert rt.get_ticket(_created(fake, st))["Priority"] == "5"


def s_assign(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    agent = sorted(fake.agents.values(), key=lambda a: int(a.id))[-1]
    assert rt.edit_ticket(_created(fake, st), Owner=f"agent{agent.id}") is True
    assert fake.conversations[_created(fake, st)].assignee_id == agent.id
    assert rt.get_ticket(_created(fake, st))["Owner"]["id"] == f"agent{agent.id}"
    assigned = list(rt.search(Owner=f"agent{agent.id}", query_format="i"))
    assert _created(fake, st) in {str(t["id"]) for t in assigned}


def s_reply(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    assert rt.reply(_created(fake, st), content="We are on it.") is True
    last = fake.messages[_created(fake, st)][-1]
    assert last.public and last.body == "We are on it."


def s_comment(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    assert rt.comment(_created(fake, st), content="Facilities called.") is True
    last = fake.messages[_created(fake, st)][-1]
    assert not last.public and last.body == "Facilities called."


def s_history(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    history = rt.get_ticket_history(_created(fake, st))
    kinds = [h["Type"] for h in history]
    assert kinds[0] == "Create" and "Correspond" in kinds and "Comment" in kinds
    assert {"Status", "Set", "SetWatcher"} <= set(kinds)  # the edits above, as RT records them
    assert all(h["Creator"]["Name"] for h in history)
    assert {h["Description"] for h in history} == {""}  # not a column: RT 5.0.3 serves it empty in a listing
    st["history"] = history


def s_transaction(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    reply = next(h for h in st["history"] if h["Type"] == "Correspond")
    txn = rt.get_transaction(reply["id"])
    assert txn["Type"] == "Correspond" and str(txn["Object"]["id"]) == _created(fake, st)
    st["attachment"] = next(link["_url"] for link in txn["_hyperlinks"] if link["ref"] == "attachment")


def s_attachment(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    attachment = rt.get_attachment(st["attachment"].rsplit("/", 1)[1])
    assert base64.b64decode(attachment["Content"]).decode() == "We are on it."
    assert attachment["ContentType"] == "text/plain"
    assert rt.get_attachments(_created(fake, st)) == []  # the client lists files only; these messages have none


def s_stale_if_match(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    tid = _open(fake)
    before = fake.conversations[tid].assignee_id
    rt.session.headers["If-Match"] = '"1"'  # the client sends no If-Match of its own (see the module's notes)
    try:
        with pytest.raises(rt_exceptions.UnexpectedResponseError) as refused:
            rt.edit_ticket(tid, Owner="Nobody")
    finally:
        del rt.session.headers["If-Match"]
    assert refused.value.status_code == 412
    assert fake.conversations[tid].assignee_id == before


def s_delete(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    rt.delete_ticket(_created(fake, st))
    assert rt.get_ticket(_created(fake, st))["Status"] == "deleted"
    assert _created(fake, st) not in {str(t["id"]) for t in rt.search(raw_query="id > 0", query_format="i")}


def s_errors(rt: Any, fake: FakeRT, st: dict[str, Any]) -> None:
    with pytest.raises(rt_exceptions.NotFoundError):
        rt.get_user("no-such-user")
    bad = rt_rest2.Rt(url=rt.url, http_auth=("root", "wrong"))
    with pytest.raises(rt_exceptions.AuthorizationError):
        bad.get_ticket(_open(fake))


# No rate-limit step: RT has no rate limit of its own (and the client handles no 429), so one would only test
# the fake's generic limiter, not anything a script meets against RT.
SESSION: tuple[tuple[str, Step], ...] = (
    ("GET queues/all", s_queues),
    ("GET queue/{id} and queue/{name}", s_queue),
    ("GET user/{name}, user/{email}; user_exists", s_user),
    ("search(queue=, Status=) TicketSQL", s_search_queue_status),
    ("search raw_query, paged over 20", s_search_paged),
    ("search Subject LIKE, orderby/order DESC", s_search_like_ordered),
    ("last_updated(since)", s_last_updated),
    ("GET ticket/{id} (fields[Queue]=Name), 404", s_get_ticket),
    ("POST ticket (create)", s_create_ticket),
    ("PUT ticket/{id} Status, Priority", s_edit_status),
    ("PUT ticket/{id} Owner (assign) + search Owner=", s_assign),
    ("POST ticket/{id}/correspond (reply)", s_reply),
    ("POST ticket/{id}/comment", s_comment),
    ("GET ticket/{id}/history", s_history),
    ("GET transaction/{id}", s_transaction),
    ("GET attachment/{id}; POST ticket/{id}/attachments", s_attachment),
    ("PUT ticket/{id} with a stale If-Match: 412", s_stale_if_match),
    ("DELETE ticket/{id}", s_delete),
    ("404 and 401", s_errors),
)


def run_session(rt: Any, fake: FakeRT) -> dict[str, str | None]:
    """Each step's failure (None when it passed); a failed step does not stop the session."""
    state: dict[str, Any] = {}
    outcome: dict[str, str | None] = {}
    for name, step in SESSION:
        try:
            step(rt, fake, state)
        except Exception as exc:
            outcome[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
        else:
            outcome[name] = None
    return outcome


def test_everyday_session(served: tuple[FakeRT, str]) -> None:
    fake, base = served
    outcome = run_session(client(base), fake)
    failed = {name: why for name, why in outcome.items() if why is not None}
    assert not failed, f"{len(outcome) - len(failed)}/{len(outcome)} calls pass: {failed}"


def test_the_settings_the_fake_prints(served: tuple[FakeRT, str]) -> None:
    _fake, base = served
    hint = FakeRT.client_settings(base)["rt"]
    assert hint["environment"]["RT_URL"] == base + "/REST/2.0/"
    assert client(base).get_user("root")["Name"] == "root"


def _walk(tracker: Any, queue: str, owner: str, requestor: str) -> dict[str, Any]:
    """One everyday walk with the client, the answers kept for comparing a real RT with the fake."""
    seen: dict[str, Any] = {"queues": tracker.get_all_queues(), "queue": tracker.get_queue(queue)}
    tid = tracker.create_ticket(queue=queue, subject="Printer on fire", content="It smokes.", Requestor=requestor)
    seen["edits"] = [
        tracker.edit_ticket(tid, Status="open"),  # one field a PUT: RT applies several in no fixed order
        tracker.edit_ticket(tid, Priority=5),
        tracker.edit_ticket(tid, Owner=owner),
    ]
    seen["ticket"] = tracker.get_ticket(tid)
    tracker.reply(tid, content="We are on it.")
    tracker.comment(tid, content="Facilities called.")
    seen["history"] = tracker.get_ticket_history(tid)
    reply = next(h for h in seen["history"] if h["Type"] == "Correspond")
    seen["transaction"] = tracker.get_transaction(reply["id"])
    link = next(x["_url"] for x in seen["transaction"]["_hyperlinks"] if x["ref"] == "attachment")
    seen["attachment"] = tracker.get_attachment(link.rsplit("/", 1)[1])
    seen["files"] = tracker.get_attachments(tid)
    seen["found"] = [t["id"] for t in tracker.search(raw_query=f"id = {tid}", query_format="i")]
    tracker.delete_ticket(tid)
    seen["deleted"] = tracker.get_ticket(tid)["Status"]
    seen["found_deleted"] = list(tracker.search(raw_query=f"id = {tid} AND Status = 'deleted'", query_format="i"))
    return seen


def test_the_client_meets_the_same_shapes_at_a_real_rt(rt_live: Any) -> None:
    """The session's writes and reads through the client, on a real RT 5 and on the fake holding the same history:
    every key the fake serves, RT serves too, with the same kind of value; the history records the same changes."""
    history = generate_history(RT_HISTORY)
    agent = next(a for a in sorted(history.agents, key=lambda a: int(a.id)) if a.active and a.group_ids)
    group = next(g for g in history.groups if g.id in agent.group_ids)
    m = rt_live.loaded
    server = rt_live.server
    server.restore(rt_live.snapshot)
    try:
        real_rt = rt_rest2.Rt(url=server.url.rstrip("/") + "/REST/2.0/", http_auth=("root", "password"))
        real = _walk(real_rt, group.name, real_rt.get_user(m.agents[agent.id])["Name"], "someone@example.test")
    finally:
        server.restore(rt_live.snapshot)
    fake = FakeRT(clock=FakeClock(start=history.config.end + timedelta(hours=1)), history=history)
    with served_fake(fake) as running:
        ours = _walk(client(running.url), group.name, f"agent{agent.id}", "someone@example.test")

    problems: list[str] = []

    def same_shape(fake_value: Any, real_value: Any, where: str) -> None:
        if isinstance(fake_value, dict) and isinstance(real_value, dict):
            if missing := set(fake_value) - set(real_value):
                problems.append(f"{where}: the fake serves {sorted(missing)}, RT does not")
            for key in set(fake_value) & set(real_value):
                if key not in ("_hyperlinks", "CustomFields", "Requestor", "Cc", "AdminCc"):
                    same_shape(fake_value[key], real_value[key], f"{where}.{key}")
        elif type(fake_value) is not type(real_value):
            problems.append(f"{where}: {fake_value!r} against RT's {real_value!r}")

    for key in ("queue", "ticket", "transaction", "attachment"):
        same_shape(ours[key], real[key], key)
    same_shape(ours["queues"][0], real["queues"][0], "queues[0]")
    same_shape(ours["history"][0], real["history"][0], "history[0]")
    assert not problems, "\n".join(problems)
    assert ours["edits"] == real["edits"] == [True, True, True]
    assert ours["ticket"]["Owner"]["id"] == f"agent{agent.id}"
    assert real["ticket"]["Owner"]["id"] == real_rt.get_user(m.agents[agent.id])["Name"]
    assert [h["Type"] for h in ours["history"]] == [h["Type"] for h in real["history"]]
    assert base64.b64decode(ours["attachment"]["Content"]) == base64.b64decode(real["attachment"]["Content"])
    assert ours["files"] == real["files"] == []
    assert len(ours["found"]) == len(real["found"]) == 1
    assert ours["deleted"] == real["deleted"] == "deleted"
    assert ours["found_deleted"] == real["found_deleted"] == []
