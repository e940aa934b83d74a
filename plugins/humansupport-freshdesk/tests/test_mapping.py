"""Mapping: every vendor sample parses, and payloads with fields removed, added or nulled never break it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from humansupport_freshdesk import mapping as m
from hypothesis import given, settings
from hypothesis import strategies as st

from humansupport.models import AgentAvailability, AuthorRole, ConversationStatus, ProfilePatch, RatingScore

from .vendor_files import samples_dir

Mapper = Callable[[dict[str, Any]], Any]

#: Which mapper reads which sample; samples of endpoints the adapter never calls are listed with why.
MAPPERS: dict[str, Mapper] = {
    "ticket_1.json": m.ticket_from_json,
    "ticket_1_updated.json": m.ticket_from_json,
    "all_tickets.json": m.ticket_from_json,  # a v1-era list item (owner_id, custom_field, +10:00 offsets)
    "search_tickets.json": m.ticket_from_json,  # items of `results`
    "agent_1.json": lambda d: m.agent_from_json(d),
    "agent_1_updated.json": lambda d: m.agent_from_json(d),
    "agents.json": lambda d: m.agent_from_json(d),
    "contact.json": m.customer_from_json,
    "contact_updated.json": m.customer_from_json,
    "contacts.json": m.customer_from_json,
    "contact_1_agent.json": m.customer_from_json,  # a contact that is also an agent
    "search_contacts.json": m.customer_from_json,
    "conversations.json": m.message_from_json,
    "note_1.json": m.message_from_json,
    "reply_1.json": m.message_from_json,
    "group_1.json": m.group_from_json,
    "groups.json": m.group_from_json,
}
UNUSED = {
    "companies.json": "companies: the adapter reads no company objects",
    "company.json": "companies",
    "company_updated.json": "companies",
    "customer.json": "a v1 company ('customer') object",
    "search_companies.json": "companies",
    "outbound_email_1.json": "the adapter sends no outbound email",
    "role_1.json": "roles: not needed for routing",
    "roles.json": "roles",
    "solution_articles.json": "knowledge base: out of scope",
    "solution_articles_fr.json": "knowledge base",
    "solution_categories.json": "knowledge base",
    "solution_categories_fr.json": "knowledge base",
    "solution_folders.json": "knowledge base",
    "solution_folders_fr.json": "knowledge base",
    "time_entries.json": "time tracking: out of scope",
    "time_entry_1.json": "time tracking",
}


def _records(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = data["results"]
    items = data if isinstance(data, list) else [data]
    return [i for i in items if isinstance(i, dict)]


def test_every_sample_is_classified() -> None:
    names = {p.name for p in samples_dir().glob("*.json")}
    assert names, "no samples found"
    assert names == set(MAPPERS) | set(UNUSED), "a new sample needs a mapper or a reason"


@pytest.mark.parametrize("name", sorted(MAPPERS))
def test_every_used_sample_parses_and_keeps_raw(name: str) -> None:
    records = _records(samples_dir() / name)
    assert records
    for record in records:
        model = MAPPERS[name](record)
        assert model.id == str(record["id"])
        assert model.raw == record


def test_ticket_sample_fields() -> None:
    (ticket,) = _records(samples_dir() / "ticket_1.json")
    conv = m.ticket_from_json(ticket)
    assert conv.status is ConversationStatus.OPEN
    assert (conv.customer_id, conv.assignee_id, conv.group_id) == ("6012691534", "6010396333", None)
    assert conv.channel == "web" and conv.tags == ["foo", "bar"]
    assert conv.version == "2016-05-18T23:42:50Z"
    first = m.description_message(ticket)
    assert first is not None and first.author_role is AuthorRole.CUSTOMER and first.body


def test_v1_offsets_and_singular_custom_field() -> None:
    (ticket,) = _records(samples_dir() / "all_tickets.json")
    assert m.ticket_from_json(ticket).updated_at == datetime(2015, 1, 1, 0, 58, 39, tzinfo=UTC)
    contact = m.customer_from_json({"id": 3, "custom_field": {"cf_plan": "gold"}})
    assert contact.custom_attributes == {"cf_plan": "gold"}


def test_conversation_roles_from_samples() -> None:
    note, reply = _records(samples_dir() / "conversations.json")
    assert (m.message_from_json(note).public, m.message_from_json(note).author_role) == (False, AuthorRole.AGENT)
    assert (m.message_from_json(reply).public, m.message_from_json(reply).author_role) == (True, AuthorRole.AGENT)
    assert m.message_from_json({"id": 1, "incoming": True, "user_id": 5}).author_role is AuthorRole.CUSTOMER
    assert m.message_from_json({"id": 1, "incoming": False, "user_id": None}).author_role is AuthorRole.SYSTEM
    assert m.message_from_json({"id": 1}).author_role is AuthorRole.OTHER


def test_agent_sample_phone_ints_and_inactive() -> None:
    agents = [m.agent_from_json(a) for a in _records(samples_dir() / "agents.json")]
    assert [a.active for a in agents] == [True, False]
    assert agents[0].availability is AgentAvailability.AVAILABLE


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2, ConversationStatus.OPEN), (3, ConversationStatus.PENDING), (4, ConversationStatus.SOLVED),
     (5, ConversationStatus.CLOSED), (6, ConversationStatus.OTHER), ("5", ConversationStatus.CLOSED),
     (None, ConversationStatus.OTHER), ("Open", ConversationStatus.OTHER), (True, ConversationStatus.OTHER)],
)  # fmt: skip
def test_statuses(value: object, expected: ConversationStatus) -> None:
    assert m.status_from_freshdesk(value) is expected


def test_custom_statuses_map_both_ways() -> None:
    custom = {6: ConversationStatus.ON_HOLD}
    assert m.status_from_freshdesk(6, custom) is ConversationStatus.ON_HOLD
    assert m.status_to_freshdesk(ConversationStatus.ON_HOLD, custom) == 6
    assert m.status_to_freshdesk(ConversationStatus.ON_HOLD) is None
    assert m.status_to_freshdesk(ConversationStatus.NEW) == 2


@pytest.mark.parametrize(
    ("answer", "score"),
    [(103, RatingScore.GOOD), (101, RatingScore.GOOD), (100, RatingScore.UNKNOWN), (-102, RatingScore.BAD),
     (None, RatingScore.UNKNOWN), ("103", RatingScore.GOOD), ("great", RatingScore.UNKNOWN)],
)  # fmt: skip
def test_rating_scale(answer: object, score: RatingScore) -> None:
    assert m.rating_score({"default_question": answer}) is score


def test_fd_time_is_z_and_whole_seconds() -> None:
    assert m.fd_time(datetime(2026, 1, 2, 3, 4, 5, 999, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert m.fd_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"


def test_merge_description_round_trips() -> None:
    once = m.merge_description("Human text.", "ours v1")
    twice = m.merge_description(once, "ours v2")
    assert twice.startswith("Human text.") and "ours v2" in twice and "ours v1" not in twice
    assert m.merge_description(None, "x") == f"{m.DESCRIPTION_MARKER_START}\nx\n{m.DESCRIPTION_MARKER_END}"


def test_contact_update_body_is_minimal() -> None:
    current = {"tags": ["a"], "description": None}
    assert m.contact_update_body(current, ProfilePatch(tags=["a"])) == {}
    body = m.contact_update_body(current, ProfilePatch(tags=["b"], custom_attributes={"x": 1}, note="n"))
    assert body["tags"] == ["a", "b"] and body["custom_fields"] == {"x": 1} and "n" in body["description"]


# -- property tests: drop, add and null fields ------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _sample_records() -> list[tuple[str, dict[str, Any]]]:
    try:
        folder = samples_dir()
    except FileNotFoundError:
        return []
    return [(name, rec) for name in sorted(MAPPERS) for rec in _records(folder / name)]


SAMPLES = _sample_records()


@settings(max_examples=150, deadline=None)
@given(
    index=st.integers(min_value=0),
    drop=st.sets(st.text(min_size=1, max_size=20)),
    drop_share=st.floats(min_value=0, max_value=1),
    extra=st.dictionaries(st.text(min_size=1, max_size=12), _JSON, max_size=4),
    null_share=st.floats(min_value=0, max_value=1),
)
def test_mapping_survives_removed_added_and_null_fields(
    index: int, drop: set[str], drop_share: float, extra: dict[str, Any], null_share: float
) -> None:
    assert SAMPLES, "samples not found"
    name, record = SAMPLES[index % len(SAMPLES)]
    keys = sorted(record)
    removed = set(keys[: int(len(keys) * drop_share)]) | drop
    payload = {k: v for k, v in record.items() if k not in removed or k == "id"}
    nulled = keys[int(len(keys) * (1 - null_share)) :]
    payload.update({k: None for k in nulled if k != "id"})
    payload.update({k: v for k, v in extra.items() if k != "id"})
    model = MAPPERS[name](payload)
    assert model.id == str(record["id"]) and model.raw == payload


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "status", "source", "updated_at", "created_at", "tags", "responder_id",
                                        "requester_id", "group_id", "subject", "description", "incoming", "private",
                                        "user_id", "ratings", "custom_fields", "contact", "group_ids", "avatar",
                                        "other_emails", "agent_ids", "available", "ticket_id"]), _JSON))  # fmt: skip
def test_every_mapper_takes_arbitrary_values(payload: dict[str, Any]) -> None:
    for mapper in (m.ticket_from_json, m.message_from_json, m.customer_from_json, m.group_from_json,
                   m.agent_from_json, m.rating_from_json, m.description_message):  # fmt: skip
        mapper(payload)


@pytest.mark.parametrize("when", [1e20, 10**30, -(10**15), "99999999999999999999", "Z", "2026-13-45", [], {}])
def test_absurd_times_become_none(when: object) -> None:
    conv = m.ticket_from_json({"id": 1, "updated_at": when, "created_at": when})
    assert conv.updated_at is None and conv.created_at is None and conv.version is None
