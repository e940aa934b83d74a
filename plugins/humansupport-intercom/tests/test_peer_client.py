"""The fake serves the everyday session of the popular Intercom client (python-intercom 5.x, `intercom` package).

The fake runs over real HTTP on a free loopback port (uvicorn in a background thread) and the client talks to
it through its documented `base_url` option, pinned to `Intercom-Version: 2.14` as a production script would
be. Every exchange also passes the session's contract checker (conftest.py): requests and answers match
Intercom's OpenAPI description, so what works here is what the client would send to and get from Intercom.

`SESSION` is the scripted session: each step is one everyday call (or a short sequence around one), named
after the client method. `test_everyday_session` runs them all and names every step that failed.

Known defects of the client, tested around. Retries: `max_retries` counts from 2 (`retries: int = 2` in
`core/http_client.py`), so `request_options={"max_retries": 4}` gives two retries and the default none.
Search paging: in python-intercom 5.0.1 the pager returned by
`conversations.search` / `contacts.search` fetches its next page by re-sending the *same* request (the
`pagination` argument, not `pages.next.starting_after`), so iterating it repeats page 1 forever. Scripts page
search results by hand with `pagination={"starting_after": page.response.pages.next.starting_after}`; the
list pagers (`conversations.list`, `contacts.list`) do pass the cursor and work.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import intercom as intercom
import intercom.core.http_client as core_http
import pytest
from humansupport_intercom import FakeIntercom
from humansupport_intercom.mapping import STATE_FOR_STATUS
from intercom import Intercom
from intercom.core.api_error import ApiError

from humansupport.testing import HistoryConfig, LiveClock, generate_history, served_fake

VERSION = "2.14"


@dataclass
class Served:
    fake: FakeIntercom
    base_url: str
    clock: LiveClock
    waits: list[float] = field(default_factory=list)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """A fresh fake served on loopback by `humansupport.testing.served_fake`."""
    history = generate_history(HistoryConfig(customers=60, agents=5, groups=2))
    clock = LiveClock(start=datetime.now(UTC))  # X-RateLimit-Reset is read against real time by the client
    fake = FakeIntercom(clock=clock, history=history)
    with served_fake(fake) as serving:
        here = Served(fake=fake, base_url=serving.url, clock=clock)

        def sleep(seconds: float) -> None:  # the client's retry waits move the fake's clock, not real time
            here.waits.append(seconds)
            clock.advance(seconds)

        monkeypatch.setattr(core_http, "time", SimpleNamespace(sleep=sleep, time=time.time))
        yield here


def client_for(served: Served, **options: Any) -> Intercom:
    return Intercom(
        token=FakeIntercom.token, base_url=served.base_url, headers={"Intercom-Version": VERSION}, **options
    )


def test_the_fake_says_how_python_intercom_reaches_it() -> None:
    hint = FakeIntercom.client_settings("http://127.0.0.1:8765")["python-intercom"]
    namespace: dict[str, Any] = {}
    exec(hint["python"], namespace)  # noqa: S102 - the fake's own one-liner, run as a user would paste it
    client = namespace["client"]
    assert isinstance(client, Intercom)
    assert client._client_wrapper.get_base_url() == "http://127.0.0.1:8765"


@dataclass
class Session:
    """What the steps share: the client, the fake behind it and what earlier steps created."""

    client: Intercom
    served: Served
    made: dict[str, Any] = field(default_factory=dict)

    @property
    def fake(self) -> FakeIntercom:
        return self.served.fake

    def admin_id(self) -> str:
        return str(self.fake.acting_admin().id)

    def open_conversation_id(self) -> str:
        return next(c.id for c in sorted(self.fake.conversations.values(), key=lambda c: int(c.id)) if c.status.is_open)

    def contact_id(self) -> str:
        return sorted((k for k in self.fake.customers if k.isdigit()), key=int)[0]


Step = Callable[[Session], None]
SESSION: list[tuple[str, Step]] = []


def step(name: str) -> Callable[[Step], Step]:
    def deco(fn: Step) -> Step:
        SESSION.append((name, fn))
        return fn

    return deco


# -- identity, admins, teams ---------------------------------------------------------------------------


@step("admins.identify")
def _me(s: Session) -> None:
    me = s.client.admins.identify()
    assert me is not None and me.id == s.admin_id() and me.app is not None and me.app.id_code


@step("admins.list")
def _admins(s: Session) -> None:
    admins = s.client.admins.list().admins or []
    assert {a.id for a in admins} == set(s.fake.agents)


@step("admins.find")
def _admin(s: Session) -> None:
    admin = s.client.admins.find(s.admin_id())
    assert admin is not None and admin.id == s.admin_id() and admin.email


@step("admins.away")
def _away(s: Session) -> None:
    admin = s.client.admins.away(int(s.admin_id()), away_mode_enabled=True, away_mode_reassign=False)
    assert admin is not None and admin.away_mode_enabled is True
    assert s.client.admins.find(s.admin_id()).away_mode_enabled is True  # type: ignore[union-attr]
    s.client.admins.away(int(s.admin_id()), away_mode_enabled=False, away_mode_reassign=False)


@step("teams.list")
def _teams(s: Session) -> None:
    teams = s.client.teams.list().teams or []
    assert {t.id for t in teams} == set(s.fake.groups)


@step("teams.find")
def _team(s: Session) -> None:
    team_id = sorted(s.fake.groups)[0]
    team = s.client.teams.find(team_id)
    assert team.id == team_id and team.name


# -- conversations ---------------------------------------------------------------------------------------


@step("conversations.list (every page)")
def _list_conversations(s: Session) -> None:
    pager = s.client.conversations.list(per_page=50)
    seen = [c.id for c in pager]  # the list pager follows pages.next.starting_after
    assert len(seen) == len(s.fake.conversations) > 50 and len(set(seen)) == len(seen)


@step("conversations.find")
def _find_conversation(s: Session) -> None:
    cid = s.open_conversation_id()
    conv = s.client.conversations.find(cid)
    assert conv.id == cid and conv.state == "open"
    assert conv.conversation_parts is not None and conv.source is not None


@step("conversations.find (rated)")
def _rated_conversation(s: Session) -> None:
    rated = next(r.conversation_id for r in s.fake.ratings.values() if r.conversation_id)
    conv = s.client.conversations.find(rated)
    assert conv.conversation_rating is not None and conv.conversation_rating.rating in (1, 5)


@step("conversations.create")
def _create_conversation(s: Session) -> None:
    # a contact made through the API has a real-shaped id (24 hex digits), which `from.id` requires
    contact = s.client.contacts.create(request={"email": "writer@example.test", "name": "Writer"}).id
    made = s.client.conversations.create(from_={"type": "user", "id": contact}, body="Hello, my invoice is wrong")
    conversation_id = str(made.conversation_id)
    conv = s.client.conversations.find(conversation_id)
    assert conv.source is not None and "invoice" in (conv.source.body or "")
    assert conv.contacts is not None and [c.id for c in conv.contacts.contacts or []] == [contact]
    s.made["conversation"] = conversation_id


@step("conversations.update")
def _update_conversation(s: Session) -> None:
    cid = s.open_conversation_id()
    conv = s.client.conversations.update(cid, title="Refund request", read=True, custom_attributes={"tier": "gold"})
    assert conv.title == "Refund request" and (conv.custom_attributes or {}).get("tier") == "gold"


@step("conversations.reply (note and comment)")
def _reply(s: Session) -> None:
    cid = s.open_conversation_id()
    for kind, text in (("note", "internal: check the refund"), ("comment", "We are on it")):
        conv = s.client.conversations.reply(
            cid, request={"message_type": kind, "type": "admin", "admin_id": s.admin_id(), "body": text}
        )
        parts = conv.conversation_parts.conversation_parts or []  # type: ignore[union-attr]
        assert parts[-1].part_type == kind and parts[-1].body == text


@step("conversations.manage (assign)")
def _assign(s: Session) -> None:
    cid = s.open_conversation_id()
    other = next(a for a in sorted(s.fake.agents) if a != s.admin_id())
    body = {"message_type": "assignment", "type": "admin", "admin_id": s.admin_id(), "assignee_id": other}
    conv = s.client.conversations.manage(cid, request=body)
    assert str(conv.admin_assignee_id) == other


@step("conversations.manage (close, open)")
def _close_open(s: Session) -> None:
    cid = s.open_conversation_id()
    close = {"message_type": "close", "type": "admin", "admin_id": s.admin_id()}
    closed = s.client.conversations.manage(cid, request=close)
    assert closed.state == "closed"
    opened = s.client.conversations.manage(cid, request={"message_type": "open", "admin_id": s.admin_id()})
    assert opened.state == "open"


def search_all(search: Callable[..., Any], query: dict[str, Any], *, per_page: int = 20) -> list[str]:
    """Every id a search finds, paged by hand (the 5.0.1 search pager would re-send page 1, see above)."""
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        pagination = {"per_page": per_page, **({"starting_after": cursor} if cursor else {})}
        page = search(query=query, pagination=pagination)
        seen.extend(str(item.id) for item in page.items or [])
        pages = page.response.pages if page.response is not None else None
        cursor = pages.next.starting_after if pages is not None and pages.next is not None else None
        if not cursor:
            return seen
    raise AssertionError("search paging did not end")


@step("conversations.search (paged by hand)")
def _search_conversations(s: Session) -> None:
    query = {"field": "state", "operator": "=", "value": "closed"}
    expected = {c.id for c in s.fake.conversations.values() if STATE_FOR_STATUS.get(c.status, "open") == "closed"}
    seen = search_all(s.client.conversations.search, query)
    assert len(expected) > 20 and sorted(seen) == sorted(expected)


@step("conversations.search (AND of fields)")
def _search_and(s: Session) -> None:
    admin = next(c.assignee_id for c in s.fake.conversations.values() if c.assignee_id)
    query = {
        "operator": "AND",
        "value": [
            {"field": "admin_assignee_id", "operator": "=", "value": int(admin)},
            {"field": "updated_at", "operator": ">", "value": 0},
        ],
    }
    want = {c.id for c in s.fake.conversations.values() if c.assignee_id == admin}
    assert set(search_all(s.client.conversations.search, query, per_page=150)) == want


@step("tags.tag_conversation / untag_conversation")
def _tag_conversation(s: Session) -> None:
    cid = s.open_conversation_id()
    tag = s.client.tags.create(request={"name": "refund"})
    s.client.tags.tag_conversation(cid, tag_id=tag.id, admin_id=s.admin_id())
    assert "refund" in [t.name for t in s.client.conversations.find(cid).tags.tags or []]  # type: ignore[union-attr]
    s.client.tags.untag_conversation(cid, tag.id, admin_id=s.admin_id())
    assert "refund" not in [t.name for t in s.client.conversations.find(cid).tags.tags or []]  # type: ignore[union-attr]


@step("conversations.delete_conversation")
def _delete_conversation(s: Session) -> None:
    cid = s.made.get("conversation") or s.open_conversation_id()
    deleted = s.client.conversations.delete_conversation(int(cid))
    assert str(deleted.id) == cid and deleted.deleted is True
    with pytest.raises(ApiError) as caught:
        s.client.conversations.find(cid)
    assert caught.value.status_code == 404


# -- contacts, notes, tags, data attributes -------------------------------------------------------------


@step("contacts.list (every page)")
def _list_contacts(s: Session) -> None:
    seen = [c.id for c in s.client.contacts.list(per_page=25)]
    assert sorted(seen) == sorted(s.fake.customers) and len(seen) > 25


@step("contacts.find")
def _find_contact(s: Session) -> None:
    cid = s.contact_id()
    contact = s.client.contacts.find(cid)
    assert contact.id == cid and contact.email == s.fake.customers[cid].email


@step("contacts.create")
def _create_contact(s: Session) -> None:
    made = s.client.contacts.create(request={"email": "new.person@example.test", "name": "New Person"})
    assert made.email == "new.person@example.test" and made.id in s.fake.customers
    s.made["contact"] = made.id


@step("contacts.update")
def _update_contact(s: Session) -> None:
    cid = s.contact_id()
    contact = s.client.contacts.update(cid, name="Renamed Person", phone="+44 20 7946 0001")
    assert contact.name == "Renamed Person" and s.fake.customers[cid].phone == "+44 20 7946 0001"


@step("contacts.search (email)")
def _search_contacts(s: Session) -> None:
    cid = s.contact_id()
    email = s.fake.customers[cid].email
    page = s.client.contacts.search(query={"field": "email", "operator": "=", "value": email})
    assert [c.id for c in page.items or []] == [cid]


@step("contacts.delete")
def _delete_contact(s: Session) -> None:
    cid = s.made.get("contact") or s.client.contacts.create(request={"email": "gone@example.test"}).id
    deleted = s.client.contacts.delete(cid)
    assert deleted.id == cid and deleted.deleted is True and cid not in s.fake.customers


@step("notes.create / list / find")
def _notes(s: Session) -> None:
    cid = s.contact_id()
    note = s.client.notes.create(cid, body="Prefers email", admin_id=s.admin_id())
    # a page-number pager: it stops at the first empty page, so a fake ignoring `page` would loop
    listed = [n.id for n in itertools.islice(s.client.notes.list(cid, per_page=2), 100)]
    assert note.id in listed and len(listed) == len(set(listed)) < 100
    assert "Prefers email" in (s.client.notes.find(int(note.id)).body or "")


@step("tags.list / create / find / delete")
def _tags(s: Session) -> None:
    made = s.client.tags.create(request={"name": "vip-peer"})
    assert made.name == "vip-peer" and made.id in {t.id for t in s.client.tags.list().data or []}
    assert s.client.tags.find(made.id).name == "vip-peer"
    s.client.tags.delete(made.id)
    assert made.id not in {t.id for t in s.client.tags.list().data or []}


@step("tags.tag_contact / contacts.list_attached_tags / untag_contact")
def _tag_contact(s: Session) -> None:
    cid = s.contact_id()
    tag = s.client.tags.create(request={"name": "churn-risk"})
    s.client.tags.tag_contact(cid, tag_id=tag.id)
    assert "churn-risk" in [t.name for t in s.client.contacts.list_attached_tags(cid).data or []]
    s.client.tags.untag_contact(cid, tag.id)
    assert "churn-risk" not in [t.name for t in s.client.contacts.list_attached_tags(cid).data or []]


@step("data_attributes.list / create, contacts.update(custom_attributes)")
def _data_attributes(s: Session) -> None:
    s.client.data_attributes.create(request={"name": "plan_tier", "model": "contact", "data_type": "string"})
    names = {a.name for a in s.client.data_attributes.list(model="contact").data or []}
    assert "plan_tier" in names
    contact = s.client.contacts.update(s.contact_id(), custom_attributes={"plan_tier": "gold"})
    assert (contact.custom_attributes or {}).get("plan_tier") == "gold"


@step("unstable.macros.list_macros / get_macro (2.16)")
def _macros(s: Session) -> None:
    v216 = {"additional_headers": {"Intercom-Version": "2.16"}}  # the Macros API starts at 2.16
    listed = s.client.unstable.macros.list_macros(per_page=5, request_options=v216)
    ids = [m.id for m in listed.data or []]
    assert ids and set(ids) <= set(s.fake.macros)
    macro = s.client.unstable.macros.get_macro(str(ids[0]), request_options=v216)
    assert macro is not None and macro.name == s.fake.macros[str(ids[0])]["name"]


# -- errors and rate limits ------------------------------------------------------------------------------


@step("errors: 404 and 401 as Intercom's error.list")
def _errors(s: Session) -> None:
    with pytest.raises(ApiError) as missing:
        s.client.contacts.find("no-such-contact")
    assert missing.value.status_code == 404
    assert missing.value.body["type"] == "error.list" and missing.value.body["errors"][0]["code"] == "not_found"  # type: ignore[index]
    stranger = Intercom(token="test-token", base_url=s.served.base_url, headers={"Intercom-Version": VERSION})
    with pytest.raises(ApiError) as refused:
        stranger.admins.identify()
    assert refused.value.status_code == 401


@step("429: X-RateLimit-Reset (no Retry-After), the client's retry")
def _rate_limited(s: Session) -> None:
    fake = s.fake
    fake.rate_limit_per_minute = 6  # one request per 10-second window
    try:
        once = {"max_retries": 0}
        error = _first_error(lambda: s.client.admins.list(request_options=once), tries=5)
        assert error.status_code == 429 and "retry-after" not in {k.lower() for k in (error.headers or {})}
        assert error.body["errors"][0]["code"] == "rate_limit_exceeded"  # type: ignore[index]
        reset = int((error.headers or {})["x-ratelimit-reset"])
        assert -1 <= reset - s.served.clock.now().timestamp() <= 10  # (a window may close meanwhile)
        # the client's own retry waits until X-RateLimit-Reset (its sleep moves the fake's clock, see `served`)
        s.served.waits.clear()
        # 5.0.1 counts retries from 2 (`retries: int = 2` in core/http_client.py): max_retries=4 means two retries,
        # and no request_options means none at all
        admins = s.client.admins.list(request_options={"max_retries": 4})
        waits = s.served.waits
        assert admins.admins and waits and all(0 < w <= 12.5 for w in waits)
    finally:
        fake.rate_limit_per_minute = None


def _first_error(call: Callable[[], Any], *, tries: int) -> ApiError:
    """The first ApiError of up to `tries` calls (a window boundary may fall between two; the next is limited)."""
    for _ in range(tries):
        try:
            call()
        except ApiError as exc:
            return exc
    raise AssertionError(f"no error in {tries} calls")


def run_session(served: Served) -> dict[str, str | None]:
    """Runs every step on one client; the failure (type and message) of each step, None when it passed."""
    session = Session(client=client_for(served), served=served)
    outcome: dict[str, str | None] = {}
    for name, fn in SESSION:
        try:
            fn(session)
        except Exception as exc:
            outcome[name] = f"{type(exc).__name__}: {str(exc)[:300]}"
        else:
            outcome[name] = None
    return outcome


def test_everyday_session(served: Served, contract: Any) -> None:
    outcome = run_session(served)
    failed = {name: why for name, why in outcome.items() if why is not None}
    passed = len(outcome) - len(failed)
    assert not failed, f"{passed}/{len(outcome)} calls pass; failing:\n" + "\n".join(
        f"- {name}: {why}" for name, why in failed.items()
    )


def test_session_steps_are_distinct() -> None:
    names = [name for name, _ in SESSION]
    assert len(names) == len(set(names)) and len(names) >= 31
