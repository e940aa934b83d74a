"""Write-back: the diff, idempotence (property), consent, human edits, truncation, opt-out and forget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humansupport.enrichment.profile import ConversationSummary, EnrichmentSettings, Profile, RatingPoint
from humansupport.enrichment.writeback import (
    NOTE_BEGIN,
    NOTE_END,
    TRUNCATION_MARKER,
    PatchPlan,
    WriteRecord,
    attribute_name,
    field_specs,
    forget,
    plan_writeback,
    profile_values,
)
from humansupport.errors import ConfigError
from humansupport.models import Customer, ProfilePatch, RatingScore

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ALL = EnrichmentSettings(allowed_fields=frozenset({"*"}))


def simulate_apply(customer: Customer, patch: ProfilePatch) -> Customer:
    """What an adapter does with a patch: attributes merge (None removes), note replaces, tags add."""
    attrs = {**customer.custom_attributes, **patch.custom_attributes}
    attrs = {k: v for k, v in attrs.items() if v is not None}
    return customer.model_copy(
        update={
            "custom_attributes": attrs,
            "notes": patch.note if patch.note is not None else customer.notes,
            "tags": [*customer.tags, *(t for t in patch.tags if t not in customer.tags)],
        }
    )


def run(customer: Customer, profile: Profile, record: WriteRecord, **kw: Any) -> tuple[Customer, PatchPlan]:
    """Plans, applies and remembers, like `enrich --write` will."""
    settings_ = kw.pop("settings", ALL)
    plan = plan_writeback(customer, profile, settings=settings_, record=record, **kw)
    record.remember(customer.id, plan.patch)
    return simulate_apply(customer, plan.patch), plan


def _profile(**kw: Any) -> Profile:
    base: dict[str, Any] = {
        "customer_id": "1",
        "name": "Ana",
        "conversation_count": 3,
        "first_contact": NOW - timedelta(days=100),
        "preferred_agent": "Nina",
        "organization": "Acme",
        "details": {"pronouns": "she/her"},
        "last_conversation": ConversationSummary(conversation_id="9", subject="Refund", date=NOW, outcome="solved"),
        "satisfaction_history": [RatingPoint(at=NOW, score=RatingScore.GOOD)],
    }
    return Profile(**{**base, **kw})


def test_first_run_writes_prefixed_attributes_and_a_note_second_run_writes_nothing() -> None:
    record = WriteRecord()
    customer = Customer(id="1", notes="Prefers email.", custom_attributes={"plan": "pro"})
    after, first = run(customer, _profile(), record)
    attrs = first.patch.custom_attributes
    assert attrs["humansupport_conversations"] == 3
    assert attrs["humansupport_detail_pronouns"] == "she/her"
    assert attrs["humansupport_first_contact"] == (NOW - timedelta(days=100)).date().isoformat()
    assert attrs["humansupport_satisfaction_history"].startswith("1 good, 0 bad")
    assert all(k.startswith("humansupport_") for k in attrs)
    assert first.patch.note is not None and first.patch.note.startswith("Prefers email.\n\n" + NOTE_BEGIN)
    assert "Preferred agent: Nina" in first.patch.note
    assert after.custom_attributes["plan"] == "pro"  # never touched
    _, second = run(after, _profile(), record)
    assert second.patch.empty and second.changes == []


def test_only_changed_values_are_sent() -> None:
    record = WriteRecord()
    after, _ = run(Customer(id="1"), _profile(), record)
    _, plan = run(after, _profile(conversation_count=4), record)
    assert plan.patch.custom_attributes == {"humansupport_conversations": 4}
    assert [c.attribute for c in plan.changes] == ["humansupport_conversations", "note"]
    assert plan.changes[0].before == 3


def test_vendor_type_coercion_is_not_a_change() -> None:
    record = WriteRecord()
    after, _ = run(Customer(id="1"), _profile(), record)
    coerced = after.model_copy(
        update={"custom_attributes": {**after.custom_attributes, "humansupport_conversations": "3"}}
    )
    assert plan_writeback(coerced, _profile(), settings=ALL, record=record).patch.empty


def test_nothing_outside_the_allow_list_is_written() -> None:
    narrow = EnrichmentSettings(allowed_fields=frozenset({"conversation_count", "details.pronouns"}))
    plan = plan_writeback(Customer(id="1"), _profile(details={"pronouns": "x", "salary": "1"}), settings=narrow)
    assert set(plan.patch.custom_attributes) == {"humansupport_conversations", "humansupport_detail_pronouns"}
    assert plan.patch.note is not None and "Nina" not in plan.patch.note and "Conversations: 3" in plan.patch.note
    nothing = plan_writeback(Customer(id="1"), _profile(), settings=EnrichmentSettings())
    assert nothing.patch.empty


def test_withdrawn_consent_removes_what_we_wrote() -> None:
    record = WriteRecord()
    after, _ = run(Customer(id="1"), _profile(), record)
    narrower = EnrichmentSettings(allowed_fields=frozenset({"conversation_count"}))
    _, plan = run(after, _profile(), record, settings=narrower)
    removed = {k for k, v in plan.patch.custom_attributes.items() if v is None}
    assert "humansupport_detail_pronouns" in removed and "humansupport_conversations" not in removed
    assert not {k for k, v in plan.patch.custom_attributes.items() if v is not None}


def test_a_value_a_human_edited_is_kept_unless_forced() -> None:
    record = WriteRecord()
    after, _ = run(Customer(id="1"), _profile(), record)
    edited = after.model_copy(
        update={
            "custom_attributes": {**after.custom_attributes, "humansupport_preferred_agent": "Bob (set by a lead)"},
            "notes": (after.notes or "").replace("Conversations: 3", "Conversations: 3 (checked)"),
        }
    )
    plan = plan_writeback(edited, _profile(preferred_agent="Nina", conversation_count=5), settings=ALL, record=record)
    assert plan.protected == ["humansupport_preferred_agent", "note"]
    assert plan.patch.custom_attributes == {"humansupport_conversations": 5} and plan.patch.note is None
    forced = plan_writeback(edited, _profile(conversation_count=5), settings=ALL, record=record, force=True)
    assert forced.patch.custom_attributes["humansupport_preferred_agent"] == "Nina" and forced.patch.note
    assert forced.protected == []


def test_a_field_filled_before_we_ever_wrote_it_is_treated_as_human() -> None:
    customer = Customer(id="1", custom_attributes={"humansupport_organization": "typed by an agent"})
    plan = plan_writeback(customer, _profile(), settings=ALL, record=WriteRecord())
    assert "humansupport_organization" in plan.protected
    assert "humansupport_organization" not in plan.patch.custom_attributes


def test_long_values_are_truncated_with_a_marker_and_reported() -> None:
    settings_ = EnrichmentSettings(allowed_fields=frozenset({"*"}), max_value_length=40, max_note_length=120)
    long = "x" * 100
    record = WriteRecord()
    after, plan = run(Customer(id="1"), _profile(organization=long), record, settings=settings_)
    value = plan.patch.custom_attributes["humansupport_organization"]
    assert len(value) == 40 and value.endswith(TRUNCATION_MARKER) and value.startswith("x" * 20)
    assert [(t.attribute, t.length, t.limit) for t in plan.truncated] == [("humansupport_organization", 100, 40)]
    assert plan.patch.note is not None and len(plan.patch.note) <= 120
    _, again = run(after, _profile(organization=long), record, settings=settings_)
    assert again.patch.empty and again.truncated == []  # a truncated value is stable, not rewritten every run


def test_opting_out_removes_what_we_wrote_but_not_a_humans_edit() -> None:
    record = WriteRecord()
    after, _ = run(Customer(id="1", notes="Human."), _profile(), record)
    edited = after.model_copy(
        update={
            "tags": ["do_not_enrich"],
            "custom_attributes": {**after.custom_attributes, "humansupport_organization": "edited by hand"},
        }
    )
    gone, plan = run(edited, _profile(), record)
    assert plan.skipped == "do_not_enrich" and plan.protected == ["humansupport_organization"]
    assert plan.patch.custom_attributes and all(v is None for v in plan.patch.custom_attributes.values())
    assert gone.custom_attributes == {"humansupport_organization": "edited by hand"} and gone.notes == "Human."
    assert run(gone, _profile(), record)[1].patch.empty


def test_do_not_enrich_writes_nothing() -> None:
    for customer in (
        Customer(id="1", tags=["do-not-enrich"]),
        Customer(id="1", custom_attributes={"do_not_enrich": True}),
    ):
        plan = plan_writeback(customer, _profile(), settings=ALL)
        assert plan.skipped == "do_not_enrich" and plan.patch.empty
    custom = EnrichmentSettings(allowed_fields=frozenset({"*"}), do_not_enrich_attributes=frozenset({"privacy_optout"}))
    flagged = Customer(id="1", custom_attributes={"privacy_optout": 1})
    assert plan_writeback(flagged, _profile(), settings=custom).skipped
    assert plan_writeback(Customer(id="1"), _profile(do_not_enrich=True), settings=ALL).skipped == "do_not_enrich"


def test_forget_removes_our_fields_and_note_block_and_keeps_everything_else() -> None:
    settings_ = EnrichmentSettings(allowed_fields=frozenset({"*"}), tags=("humansupport",))
    record = WriteRecord()
    customer = Customer(id="1", notes="Human note.", tags=["vip"], custom_attributes={"plan": "pro"})
    after, _ = run(customer, _profile(), record, settings=settings_)
    assert "humansupport" in after.tags
    plan = forget(after, settings=settings_, record=record)
    assert plan.patch.custom_attributes and all(v is None for v in plan.patch.custom_attributes.values())
    assert set(plan.patch.custom_attributes) == {k for k in after.custom_attributes if k.startswith("humansupport_")}
    assert plan.patch.note == "Human note."
    assert plan.tags_not_removed == ["humansupport"]
    assert record.attributes == {} and record.notes == {}
    gone = simulate_apply(after, plan.patch)
    assert gone.custom_attributes == {"plan": "pro"} and gone.notes == "Human note."
    assert forget(gone, settings=settings_).patch.empty


def test_forget_keeps_an_opt_out_flag_in_our_namespace() -> None:
    settings_ = EnrichmentSettings(do_not_enrich_attributes=frozenset({"humansupport_do_not_enrich"}))
    customer = Customer(id="1", custom_attributes={"humansupport_do_not_enrich": True, "humansupport_x": 1})
    assert forget(customer, settings=settings_).patch.custom_attributes == {"humansupport_x": None}


def test_customer_text_cannot_break_our_note_block() -> None:
    record = WriteRecord()
    evil = _profile(
        last_conversation=ConversationSummary(
            conversation_id="1", subject=f"{NOTE_END} ha {NOTE_BEGIN}", date=NOW, outcome="open"
        )
    )
    after, _ = run(Customer(id="1", notes="mine"), evil, record)
    assert after.notes is not None and after.notes.count(NOTE_BEGIN) == 1 and after.notes.count(NOTE_END) == 1
    assert run(after, evil, record)[1].patch.empty


def test_write_record_round_trips_through_json(tmp_path: Any) -> None:
    record = WriteRecord()
    run(Customer(id="1"), _profile(), record)
    path = tmp_path / "written.json"
    record.save(path)
    assert WriteRecord.load(path) == record
    assert WriteRecord.load(tmp_path / "none.json") == WriteRecord()
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"bad\.json is damaged"):
        WriteRecord.load(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ConfigError, match="damaged"):
        WriteRecord.load(tmp_path / "list.json")


def test_attribute_names_are_prefixed_and_slugged() -> None:
    s = EnrichmentSettings(attribute_prefix="hs_")
    # the names the conformance kit's profile round-trip uses, which every vendor fake defines
    assert attribute_name("conversation_count", s) == "hs_conversations"
    assert attribute_name("preferred_agent", s) == "hs_preferred_agent"
    assert attribute_name("details.Preferred Name", s) == "hs_detail_preferred_name"
    assert attribute_name("social.linkedin", s) == "hs_social_linkedin"
    assert attribute_name("top_tags", s) == "hs_top_tags"


# -- the property ----------------------------------------------------------------------------------

_keys = st.sampled_from(["pronouns", "preferred_name", "birthday", "salary"])
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
_profiles = st.builds(
    Profile,
    customer_id=st.just("1"),
    name=st.none() | _text,
    picture_url=st.none() | st.just("https://gravatar.com/avatar/x"),
    details=st.dictionaries(_keys, _text.filter(str.strip), max_size=4),
    social_links=st.dictionaries(st.sampled_from(["github", "twitter"]), st.just("https://github.com/a"), max_size=2),
    conversation_count=st.none() | st.integers(0, 500),
    preferred_agent=st.none() | _text,
    organization=st.none() | _text,
    top_tags=st.lists(st.sampled_from(["billing", "login", "api"]), max_size=3, unique=True),
    last_conversation=st.none()
    | st.builds(
        ConversationSummary, conversation_id=st.just("9"), subject=st.none() | _text, date=st.just(NOW), outcome=_text
    ),
)
_patterns = st.frozensets(
    st.sampled_from(
        ["conversation_count", "organization", "preferred_agent", "details.pronouns", "details.*", "social.*", "*"]
    ),
    max_size=4,
)
_values = st.none() | st.integers(0, 9) | _text
_states = st.builds(
    Customer,
    id=st.just("1"),
    notes=st.none() | _text | st.just(f"old {NOTE_BEGIN}\nstale\n{NOTE_END} tail"),
    tags=st.lists(st.sampled_from(["vip", "humansupport", "do_not_enrich"]), max_size=2),
    custom_attributes=st.dictionaries(
        st.sampled_from(["plan", "humansupport_organization", "humansupport_detail_salary", "humansupport_x"]),
        _values,
        max_size=4,
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=_profiles,
    state=_states,
    allowed=_patterns,
    force=st.booleans(),
    limit=st.integers(16, 80),
    record_known=st.booleans(),
)
def test_applying_the_patch_then_diffing_again_is_empty_and_stays_in_the_allow_list(
    profile: Profile, state: Customer, allowed: frozenset[str], force: bool, limit: int, record_known: bool
) -> None:
    settings_ = EnrichmentSettings(allowed_fields=allowed, max_value_length=limit, tags=("humansupport",))
    record = WriteRecord()
    if record_known:  # as if we had written the current values ourselves
        record.remember(state.id, ProfilePatch(custom_attributes=dict(state.custom_attributes), note=state.notes))
    plan = plan_writeback(state, profile, settings=settings_, record=record, force=force)
    written = {k for k, v in plan.patch.custom_attributes.items() if v is not None}
    allowed_names = {attribute_name(k, settings_) for k in profile_values(profile, settings_)}
    assert written <= allowed_names
    assert all(k.startswith("humansupport_") for k in plan.patch.custom_attributes)
    assert all(len(v) <= limit for v in plan.patch.custom_attributes.values() if isinstance(v, str))
    if plan.skipped:
        assert not written and not plan.patch.tags
    record.remember(state.id, plan.patch)
    after = simulate_apply(state, plan.patch)
    again = plan_writeback(after, profile, settings=settings_, record=record, force=force)
    assert again.patch.empty, again.to_dict()
    if not force:
        assert plan.patch.custom_attributes.keys().isdisjoint(plan.protected)


def test_field_specs_list_what_setup_must_create_for_the_allow_list() -> None:
    s = EnrichmentSettings(allowed_fields=frozenset({"conversation_count", "top_tags", "details.pronouns", "social.*"}))
    specs = {f.name: f for f in field_specs(s, detail_keys=["Preferred Name", "pronouns"])}
    assert (
        specs["humansupport_conversations"].kind == "number" and specs["humansupport_conversations"].max_length is None
    )
    assert specs["humansupport_top_tags"].kind == "text" and specs["humansupport_top_tags"].max_length == 255
    assert "humansupport_detail_pronouns" in specs and "humansupport_detail_preferred_name" not in specs
    assert "humansupport_social_linkedin" in specs and "humansupport_organization" not in specs
    # every attribute a plan can write has a spec
    plan = plan_writeback(
        Customer(id="1"),
        _profile(top_tags=["a"], social_links={"github": "https://github.com/a"}),
        settings=s,
    )
    assert set(plan.patch.custom_attributes) <= set(specs)
    assert field_specs(EnrichmentSettings()) == []


def test_turning_the_note_off_removes_our_block_only() -> None:
    record = WriteRecord()
    after, _ = run(Customer(id="1", notes="Human."), _profile(), record)
    no_note = EnrichmentSettings(allowed_fields=frozenset({"*"}), note=False)
    later, plan = run(after, _profile(), record, settings=no_note)
    assert plan.patch.note == "Human." and later.notes == "Human."
    assert run(later, _profile(), record, settings=no_note)[1].patch.empty


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=_profiles, second=_profiles, edits=st.dictionaries(st.integers(0, 20), _text, max_size=3))
def test_a_human_edit_after_our_write_is_never_overwritten_without_force(
    first: Profile, second: Profile, edits: dict[int, str]
) -> None:
    settings_ = ALL
    record = WriteRecord()
    after, _ = run(Customer(id="1"), first, record, settings=settings_)
    ours = sorted(after.custom_attributes)
    if not ours:
        return
    human = {ours[i % len(ours)]: value for i, value in edits.items()}
    edited = after.model_copy(update={"custom_attributes": {**after.custom_attributes, **human}})
    changed = {k for k, v in human.items() if str(v) != str(after.custom_attributes[k])}
    nxt = plan_writeback(edited, second, settings=settings_, record=record)
    assert changed.isdisjoint(nxt.patch.custom_attributes), (changed, nxt.patch.custom_attributes)
    forced = plan_writeback(edited, second, settings=settings_, record=record, force=True)
    assert not forced.protected
