"""apply_profile against the AcmeDesk example fake: dry-run, write + read-back, 422 and missing fields."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from humansupport_acmedesk import AcmeAdapter, FakeAcme
from pydantic import SecretStr

from humansupport.enrichment.enrichers import BUILTIN_ENRICHERS
from humansupport.enrichment.history import history_from_synthetic
from humansupport.enrichment.lookup import CustomerLookupError, resolve_customer
from humansupport.enrichment.profile import EnrichmentSettings, Profile, ProfileBuilder
from humansupport.enrichment.writeback import (
    MissingCustomFieldError,
    PatchPlan,
    WriteBackError,
    WriteRecord,
    apply_plans,
    apply_profile,
    forget,
    plan_writeback,
)
from humansupport.errors import ConfigError
from humansupport.models import ProfilePatch
from humansupport.testing import FakeBadRequest, FakeClock, generate_history, route

SETTINGS = EnrichmentSettings(
    allowed_fields=frozenset({"conversation_count", "preferred_agent", "first_contact", "details.plan"}),
    tags=("humansupport",),
)
HISTORY = generate_history(customers=12, agents=4, groups=2, seed=5)


class TypedAcme(FakeAcme):
    """AcmeDesk with declared customer fields: unknown ones are dropped, wrong types get a 422 naming them."""

    fields: dict[str, type] = {}  # noqa: RUF012 - set per instance below

    @route("PATCH", r"/api/customers/(?P<cid>[^/]+)")
    def update_customer(self, request: httpx.Request, cid: str) -> httpx.Response:
        body = json.loads(request.content)
        attrs: dict[str, Any] = body.get("custom_attributes", {})
        for name, value in attrs.items():
            kind = self.fields.get(name)
            if kind is not None and value is not None and not isinstance(value, kind):
                raise FakeBadRequest(f"{name} must be a {kind.__name__}", status=422, field=name)
        keep = {k: v for k, v in attrs.items() if k in self.fields or not k.startswith("humansupport_")}
        request = httpx.Request("PATCH", request.url, json={**body, "custom_attributes": keep})
        return super().update_customer(request, cid)


def _setup(fake: FakeAcme) -> tuple[AcmeAdapter, FakeAcme]:
    fake.load(HISTORY)
    return AcmeAdapter(api_token=SecretStr(FakeAcme.token), transport=fake.transport(), clock=fake.clock), fake


async def _plan(adapter: AcmeAdapter, customer_id: str, record: WriteRecord) -> Any:
    customer = await adapter.get_customer(customer_id)
    builder = ProfileBuilder([cls() for cls in BUILTIN_ENRICHERS], settings=SETTINGS)
    histories = history_from_synthetic(HISTORY)
    profile = await builder.build(customer, now=HISTORY.config.end, history=histories[customer_id])
    return plan_writeback(customer, profile, settings=SETTINGS, record=record)


def _writes(fake: FakeAcme) -> list[Any]:
    return [r for r in fake.requests if r.method == "PATCH"]


async def test_dry_run_writes_nothing_then_write_verifies_and_a_second_run_is_empty() -> None:
    adapter, fake = _setup(FakeAcme(clock=FakeClock()))
    cid = HISTORY.customers[0].id
    record = WriteRecord()
    plan = await _plan(adapter, cid, record)
    assert not plan.patch.empty
    dry = await apply_profile(adapter, cid, plan.patch, record=record)
    assert dry.dry_run and not dry.written and _writes(fake) == [] and record == WriteRecord()
    done = await apply_profile(adapter, cid, plan.patch, dry_run=False, record=record)
    assert done.written and done.mismatches == [] and done.customer is not None
    assert len(_writes(fake)) == 1 and fake.requests[-1].method == "GET"  # read-back
    stored = fake.customers[cid]
    assert (
        stored.custom_attributes["humansupport_conversations"]
        == plan.patch.custom_attributes["humansupport_conversations"]
    )
    assert "humansupport" in stored.tags and stored.notes and "[humansupport profile]" in stored.notes
    assert record.attributes[cid] == plan.patch.custom_attributes
    again = await _plan(adapter, cid, record)
    assert again.patch.empty, again.to_dict()
    before = len(fake.requests)
    assert not (await apply_profile(adapter, cid, again.patch, dry_run=False, record=record)).written
    assert len(fake.requests) == before
    await adapter.aclose()


async def test_forget_through_the_fake_removes_our_values() -> None:
    adapter, fake = _setup(FakeAcme(clock=FakeClock()))
    cid = HISTORY.customers[1].id
    record = WriteRecord()
    plan = await _plan(adapter, cid, record)
    await apply_profile(adapter, cid, plan.patch, dry_run=False, record=record)
    erase = forget(await adapter.get_customer(cid), settings=SETTINGS, record=record)
    await apply_profile(adapter, cid, erase.patch, dry_run=False, record=record)
    left = fake.customers[cid].custom_attributes
    assert all(v is None for k, v in left.items() if k.startswith("humansupport_"))
    assert left["plan"] == HISTORY.customers[1].custom_attributes["plan"]
    assert erase.tags_not_removed == ["humansupport"] and record.attributes == {}
    await adapter.aclose()


async def test_a_422_is_surfaced_with_the_field_name() -> None:
    fake = TypedAcme(clock=FakeClock())
    fake.fields = {
        "humansupport_conversations": str,  # created as a text field: our int is rejected
        "humansupport_preferred_agent": str,
        "humansupport_first_contact": str,
        "humansupport_detail_plan": str,
    }
    adapter, _ = _setup(fake)
    cid = HISTORY.customers[2].id
    plan = await _plan(adapter, cid, WriteRecord())
    with pytest.raises(WriteBackError, match=r"humansupport_conversations.*humansupport setup acmedesk") as info:
        await apply_profile(adapter, cid, plan.patch, dry_run=False)
    assert info.value.fields == ["humansupport_conversations"] and info.value.customer_id == cid
    assert "must be a str" in str(info.value)
    await adapter.aclose()


async def test_a_missing_custom_field_names_humansupport_setup() -> None:
    fake = TypedAcme(clock=FakeClock())
    fake.fields = {"humansupport_conversations": int, "humansupport_first_contact": str}
    adapter, _ = _setup(fake)
    cid = HISTORY.customers[3].id
    record = WriteRecord()
    plan = await _plan(adapter, cid, record)
    with pytest.raises(MissingCustomFieldError, match="run `humansupport setup acmedesk`") as info:
        await apply_profile(adapter, cid, plan.patch, dry_run=False, record=record)
    assert isinstance(info.value, ConfigError)
    assert set(info.value.fields) == {"humansupport_preferred_agent", "humansupport_detail_plan"}
    # what did land is remembered, so the next run does not treat it as a human's value
    assert set(record.attributes[cid]) == {"humansupport_conversations", "humansupport_first_contact"}
    await adapter.aclose()


async def test_a_value_the_helpdesk_changes_on_write_is_reported_as_a_mismatch() -> None:
    class Shouting(FakeAcme):
        @route("PATCH", r"/api/customers/(?P<cid>[^/]+)")
        def update_customer(self, request: httpx.Request, cid: str) -> httpx.Response:
            body = json.loads(request.content)
            attrs = {k: v.upper() if isinstance(v, str) else v for k, v in body["custom_attributes"].items()}
            return super().update_customer(
                httpx.Request("PATCH", request.url, json={**body, "custom_attributes": attrs}), cid
            )

    adapter, _ = _setup(Shouting(clock=FakeClock()))
    cid = HISTORY.customers[4].id
    patch = ProfilePatch(custom_attributes={"humansupport_preferred_agent": "Nina", "humansupport_n": 2})
    result = await apply_profile(adapter, cid, patch, dry_run=False)
    assert result.mismatches == ["humansupport_preferred_agent"]
    await adapter.aclose()


# -- many customers ----------------------------------------------------------------------------------


async def _plans(adapter: AcmeAdapter, record: WriteRecord) -> list[Any]:
    return [await _plan(adapter, c.id, record) for c in HISTORY.customers]


async def test_apply_plans_sends_one_request_per_changed_customer_and_nothing_on_a_rerun() -> None:
    adapter, fake = _setup(FakeAcme(clock=FakeClock()))
    record = WriteRecord()
    first = await apply_plans(adapter, await _plans(adapter, record), dry_run=False, record=record, concurrency=3)
    assert first.written == first.planned == len(HISTORY.customers) and not first.failed
    assert len(_writes(fake)) == first.written
    # a human touches one customer, the history of another changes: only that one is written
    touched = HISTORY.customers[5].id
    fake.customers[touched] = fake.customers[touched].model_copy(
        update={"custom_attributes": {**fake.customers[touched].custom_attributes, "humansupport_preferred_agent": "X"}}
    )
    plans = await _plans(adapter, record)
    changed = HISTORY.customers[6].id
    plans = [p if p.customer_id != changed else plan_writeback(
        fake.customers[changed], _bumped(changed), settings=SETTINGS, record=record
    ) for p in plans]  # fmt: skip
    writes_before, requests_before = len(_writes(fake)), len(fake.requests)
    second = await apply_plans(adapter, plans, dry_run=False, record=record)
    assert (second.written, second.unchanged, second.protected) == (1, len(HISTORY.customers) - 1, 1)
    assert len(_writes(fake)) - writes_before == 1 and len(fake.requests) - requests_before == 1  # no read-back GET
    assert fake.customers[touched].custom_attributes["humansupport_preferred_agent"] == "X"
    await adapter.aclose()


def _bumped(customer_id: str) -> Profile:
    """A profile whose history changed since the last run."""
    return Profile(customer_id=customer_id, conversation_count=10_000)


async def test_apply_plans_reports_a_rejected_customer_and_goes_on_but_stops_on_missing_fields() -> None:
    fake = TypedAcme(clock=FakeClock())
    fake.fields = {"humansupport_conversations": int, "humansupport_first_contact": str}
    adapter, _ = _setup(fake)
    narrow = EnrichmentSettings(allowed_fields=frozenset({"conversation_count", "first_contact"}))
    customers = [await adapter.get_customer(c.id) for c in HISTORY.customers[:3]]
    plans = [
        plan_writeback(c, _bumped(c.id).model_copy(update={"first_contact": HISTORY.config.end}), settings=narrow)
        for c in customers
    ]
    bad = plans[1].patch.model_copy(update={"custom_attributes": {"humansupport_conversations": "many"}})
    plans[1] = PatchPlan(customer_id=plans[1].customer_id, patch=bad)
    report = await apply_plans(adapter, plans, dry_run=False)
    assert report.written == 2 and list(report.failed) == [customers[1].id]
    assert "humansupport_conversations" in report.failed[customers[1].id]
    fake.fields = {}
    with pytest.raises(MissingCustomFieldError):
        await apply_plans(adapter, plans, dry_run=False, concurrency=1)
    dry = await apply_plans(adapter, plans)
    assert dry.written == 0 and dry.planned == 3
    await adapter.aclose()


# -- finding the customer ----------------------------------------------------------------------------


async def test_resolve_customer_by_id_and_email_never_guessing() -> None:
    adapter, fake = _setup(FakeAcme(clock=FakeClock()))
    ana, other = HISTORY.customers[0], HISTORY.customers[1]
    assert (await resolve_customer(adapter, ana.id)).email == ana.email
    assert ana.email is not None
    assert (await resolve_customer(adapter, f" {ana.email.upper()} ", known=HISTORY.customers)).id == ana.id
    with pytest.raises(CustomerLookupError, match="no customer with id '999'"):
        await resolve_customer(adapter, "999")
    with pytest.raises(CustomerLookupError, match="no customer with email"):
        await resolve_customer(adapter, "nobody@nowhere.test", known=HISTORY.customers)
    twin = other.model_copy(update={"emails": [*other.emails, ana.email]})
    fake.customers[other.id] = twin
    with pytest.raises(CustomerLookupError, match="2 customers") as info:
        await resolve_customer(adapter, ana.email, known=[ana, twin])
    assert info.value.candidates == sorted([ana.id, other.id])
    await adapter.aclose()


async def test_a_note_the_helpdesk_did_not_keep_is_a_mismatch_and_not_remembered() -> None:
    class NoteEater(FakeAcme):
        @route("PATCH", r"/api/customers/(?P<cid>[^/]+)")
        def update_customer(self, request: httpx.Request, cid: str) -> httpx.Response:
            body = {k: v for k, v in json.loads(request.content).items() if k != "note"}
            return super().update_customer(httpx.Request("PATCH", request.url, json=body), cid)

    adapter, fake = _setup(NoteEater(clock=FakeClock()))
    record = WriteRecord()
    cid = HISTORY.customers[0].id
    fake.customers[cid] = fake.customers[cid].model_copy(update={"notes": "Human note."})
    plan = await _plan(adapter, cid, record)
    assert plan.patch.note is not None
    result = await apply_profile(adapter, cid, plan.patch, dry_run=False, record=record)
    assert "note" in result.mismatches and cid not in record.notes
    await adapter.aclose()
