"""`humansupport profile`, `enrich` and `setup` end to end on the AcmeDesk fake, with the issue's bad inputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import humansupport_acmedesk
import pytest
from humansupport_acmedesk import AcmeAdapter, AcmeSettings, FakeAcme
from typer.testing import CliRunner

from humansupport import PluginRegistry
from humansupport.cli import ExitCode, app
from humansupport.enrichment.writeback import NOTE_BEGIN, TRUNCATION_MARKER
from humansupport.models import Customer
from humansupport.store import Store
from humansupport.testing import FakeClock
from humansupport.testing.synthetic import HistoryConfig, generate_history

runner = CliRunner()

ALLOWED = ["conversation_count", "preferred_agent", "top_tags", "first_contact", "details.plan"]


@dataclass
class Env:
    fake: FakeAcme
    store: str
    config: Path
    clock: FakeClock

    def run(self, *args: str, store: bool = True) -> Any:
        return runner.invoke(app, [*args, *(["--store", self.store] if store else [])])

    def json(self, *args: str, code: int = 0, store: bool = True) -> Any:
        result = self.run(*args, "--json", store=store)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout)

    def configure(self, **enrichment: Any) -> None:
        lines = ["[enrichment]"]
        for key, value in enrichment.items():
            lines.append(f"{key} = {json.dumps(value)}")
        self.config.write_text("\n".join(lines) + "\n")

    def customer(self, cid: str) -> Customer:
        return self.fake.customers[cid]

    def stored(self) -> Store:
        return Store.open(self.store, create=False)


@pytest.fixture
def env(plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Env:
    return _make_env(plugin_registry, monkeypatch, tmp_path, str(tmp_path / "hs.db"))


def _make_env(plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: str) -> Env:
    import humansupport.cli as cli

    plugin_registry.register(humansupport_acmedesk, name="acmedesk")
    history = generate_history(HistoryConfig(customers=20, agents=5, groups=2, seed=11))
    clock = FakeClock(start=history.config.end)
    fake = FakeAcme(history=history, clock=clock)

    def build(vendor: str, **_: Any) -> AcmeAdapter:
        assert vendor == "acmedesk"
        settings = AcmeSettings(api_token=FakeAcme.token)
        return AcmeAdapter.from_settings(settings, transport=fake.transport(), clock=clock)

    monkeypatch.setattr(cli, "build_adapter", build)
    monkeypatch.setattr(cli, "SYSTEM_CLOCK", clock)
    config = tmp_path / "humansupport.toml"
    monkeypatch.setenv("HUMANSUPPORT_CONFIG", str(config))
    e = Env(fake=fake, store=store, config=config, clock=clock)
    e.configure(allowed_fields=ALLOWED)
    assert e.run("sync", "acmedesk").exit_code == 0
    return e


def _first(env: Env) -> Customer:
    return env.fake.customers[sorted(env.fake.customers)[0]]


def _writes(env: Env) -> int:
    return sum(1 for r in env.fake.requests if r.method == "PATCH" and "/api/customers/" in r.path)


# -- profile ----------------------------------------------------------------------------------------------


def test_profile_by_email_dry_run_shows_card_and_diff_and_writes_nothing(env: Env) -> None:
    customer = _first(env)
    assert customer.email
    result = env.run("profile", "acmedesk", customer.email.upper())
    assert result.exit_code == 0, result.output
    assert customer.name and customer.name in result.stdout
    assert "humansupport_conversations" in result.stdout and "dry run" in result.stdout
    assert NOTE_BEGIN in result.stdout  # our note markers are shown, not read as rich markup
    assert _writes(env) == 0 and env.customer(customer.id).custom_attributes == customer.custom_attributes


def test_profile_write_verifies_and_store_keeps_the_write_record(env: Env, tmp_path: Path) -> None:
    customer = _first(env)
    html = tmp_path / "card.html"
    out = env.json("profile", "acmedesk", customer.id, "--write", "--html", str(html))
    assert out["written"] and not out["mismatches"]
    after = env.customer(customer.id).custom_attributes
    conversations = sum(1 for c in env.fake.conversations.values() if c.customer_id == customer.id)
    assert after["humansupport_conversations"] == conversations == out["profile"]["conversation_count"]
    assert "humansupport_detail_plan" in after  # a consented detail from the vendor's own field
    assert NOTE_BEGIN in (env.customer(customer.id).notes or "")
    assert customer.name and customer.name in html.read_text()
    with env.stored() as store:
        writes = store.enrichment_writes("acmedesk")[customer.id]
    assert writes["humansupport_conversations"] == conversations and NOTE_BEGIN in writes[""]
    # a second run, a new process reading the record from the store: nothing to write
    again = env.json("profile", "acmedesk", customer.id, "--write")
    assert again["plan"]["changes"] == [] and not again["written"]


def test_profile_unknown_email_is_an_error_naming_it(env: Env) -> None:
    out = env.json("profile", "acmedesk", "nobody@nowhere.test", code=ExitCode.ERROR)
    assert "no customer with email 'nobody@nowhere.test'" in out["error"]["message"]
    unknown_id = env.json("profile", "acmedesk", "999999", code=ExitCode.ERROR)
    assert "no customer with id '999999'" in unknown_id["error"]["message"]


def test_profile_duplicate_email_lists_candidates_and_writes_nothing(env: Env) -> None:
    a, b = (env.fake.customers[cid] for cid in sorted(env.fake.customers)[:2])
    assert a.email
    env.fake.customers[b.id] = b.model_copy(update={"email": a.email, "emails": [a.email]})
    env.run("sync", "acmedesk", "--full")
    out = env.json("profile", "acmedesk", a.email, "--write", code=ExitCode.ERROR)
    message = out["error"]["message"]
    assert "2 customers" in message and a.id in message and b.id in message and "name one by id" in message
    assert _writes(env) == 0


def test_missing_custom_field_names_humansupport_setup(env: Env) -> None:
    env.fake.customer_fields = {}  # a real helpdesk: nothing defined yet, undefined attributes dropped
    out = env.json("profile", "acmedesk", _first(env).id, "--write", code=ExitCode.CONFIG)
    assert out["error"]["type"] == "MissingCustomFieldError"
    assert "humansupport setup acmedesk" in out["error"]["message"]
    assert "humansupport_conversations" in out["error"]["message"]


def test_fields_written_before_a_missing_one_are_remembered(env: Env) -> None:
    assert env.fake.customer_fields is None
    env.fake.customer_fields = {"humansupport_conversations": {"type": "number", "max_length": None}}
    customer = _first(env)
    env.json("profile", "acmedesk", customer.id, "--write", code=ExitCode.CONFIG)
    with env.stored() as store:
        # the one defined field and our note block were accepted and verified
        assert set(store.enrichment_writes("acmedesk")[customer.id]) == {"humansupport_conversations", ""}
    env.run("setup", "acmedesk", store=False)
    out = env.json("profile", "acmedesk", customer.id, "--write")
    assert out["written"] and out["plan"]["protected"] == []  # our earlier value is not taken for a human's


def test_field_type_mismatch_422_is_surfaced_with_the_field_name(env: Env) -> None:
    assert env.run("setup", "acmedesk", store=False).exit_code == 0
    assert env.fake.customer_fields is not None
    env.fake.customer_fields["humansupport_conversations"]["type"] = "date"  # someone created it as a date
    out = env.json("profile", "acmedesk", _first(env).id, "--write", code=ExitCode.ERROR)
    assert out["error"]["type"] == "WriteBackError"
    assert "humansupport_conversations" in out["error"]["message"] and "must be a string" in out["error"]["message"]


def test_too_long_values_are_truncated_with_a_marker_and_reported(env: Env) -> None:
    customer = _first(env)
    env.fake.customers[customer.id] = customer.model_copy(
        update={"custom_attributes": {**customer.custom_attributes, "plan": "enterprise " * 40}}
    )
    env.configure(allowed_fields=ALLOWED, max_value_length=64)
    assert env.run("setup", "acmedesk", store=False).exit_code == 0  # fields with a 64-character limit
    out = env.json("profile", "acmedesk", customer.id, "--write")
    assert out["plan"]["truncated"] == [{"attribute": "humansupport_detail_plan", "length": 439, "limit": 64}]
    written = env.customer(customer.id).custom_attributes["humansupport_detail_plan"]
    assert len(written) == 64 and written.endswith(TRUNCATION_MARKER)
    human = env.run("profile", "acmedesk", customer.id)
    assert "nothing to change" in human.stdout  # the cut value is ours now: no churn


def test_human_edit_is_kept_unless_force(env: Env) -> None:
    customer = _first(env)
    env.json("profile", "acmedesk", customer.id, "--write")
    edited = env.customer(customer.id)
    env.fake.customers[customer.id] = edited.model_copy(
        update={"custom_attributes": {**edited.custom_attributes, "humansupport_preferred_agent": "Sam (by hand)"}}
    )
    env.clock.advance(86_400 * 30)  # a month later the history says something new too
    out = env.json("profile", "acmedesk", customer.id, "--write")
    assert "humansupport_preferred_agent" in out["plan"]["protected"]
    assert env.customer(customer.id).custom_attributes["humansupport_preferred_agent"] == "Sam (by hand)"
    human = env.run("profile", "acmedesk", customer.id)
    assert "--force overwrites" in human.stdout
    forced = env.json("profile", "acmedesk", customer.id, "--write", "--force")
    assert forced["written"] and forced["plan"]["protected"] == []
    assert env.customer(customer.id).custom_attributes["humansupport_preferred_agent"] != "Sam (by hand)"


def test_do_not_enrich_customer_gets_nothing(env: Env) -> None:
    customer = _first(env)
    env.fake.customers[customer.id] = customer.model_copy(update={"tags": [*customer.tags, "do_not_enrich"]})
    out = env.json("profile", "acmedesk", customer.id, "--write")
    assert out["plan"]["skipped"] == "do_not_enrich" and not out["written"] and _writes(env) == 0


# -- forget -------------------------------------------------------------------------------------------------


def test_forget_removes_our_fields_and_erases_the_store_copy(env: Env) -> None:
    customer = _first(env)
    assert customer.email
    env.json("profile", "acmedesk", customer.id, "--write")
    with env.stored() as store:
        assert store.conversations_of("acmedesk", customer.id)
        other = next(c for c in store.customers("acmedesk") if c.id != customer.id)
        before_other = len(store.conversations_of("acmedesk", other.id))
    out = env.json("profile", "acmedesk", customer.email, "--forget")
    assert out["customer_id"] == customer.id
    assert out["erased"]["customers"] == 1 and out["erased"]["conversations"] > 0 and out["erased"]["messages"] > 0
    after = env.customer(customer.id)
    assert not any(v is not None for k, v in after.custom_attributes.items() if k.startswith("humansupport_"))
    assert after.custom_attributes["plan"] == customer.custom_attributes["plan"]  # not ours: untouched
    assert NOTE_BEGIN not in (after.notes or "")
    with env.stored() as store:
        assert store.customer("acmedesk", customer.id) is None
        assert store.conversations_of("acmedesk", customer.id) == []
        assert customer.id not in store.enrichment_writes("acmedesk")
        assert not [r for r in store.ratings("acmedesk") if r.customer_id == customer.id]
        assert len(store.conversations_of("acmedesk", other.id)) == before_other  # only that customer


def test_forget_human_output_says_what_was_removed_and_erased(env: Env) -> None:
    customer = _first(env)
    env.json("profile", "acmedesk", customer.id, "--write")
    result = env.run("profile", "acmedesk", customer.id, "--forget")
    assert result.exit_code == 0, result.output
    assert "humansupport_conversations" in result.stdout and "(removed)" in result.stdout
    assert "erased from the store: " in result.stdout and "1 customers" in result.stdout
    bad = env.run("profile", "acmedesk", customer.id, "--forget", "--force")
    assert bad.exit_code == ExitCode.USAGE


def test_forget_a_customer_gone_from_the_helpdesk_still_erases_the_store(env: Env) -> None:
    customer = _first(env)
    del env.fake.customers[customer.id]
    out = env.json("profile", "acmedesk", customer.id, "--forget")
    assert out["helpdesk"] is None and out["erased"]["customers"] == 1
    human = env.run("profile", "acmedesk", "nobody@nowhere.test", "--forget")
    assert human.exit_code == ExitCode.ERROR


# -- enrich -------------------------------------------------------------------------------------------------


def test_enrich_dry_run_then_write_then_nothing_to_write(env: Env) -> None:
    dry = env.json("enrich", "acmedesk")
    assert dry["dry_run"] and dry["customers"] == len(env.fake.customers)
    changed = len(dry["plans"])
    assert changed > 0 and _writes(env) == 0
    wrote = env.json("enrich", "acmedesk", "--write")
    assert wrote["report"]["written"] == changed == _writes(env)
    assert wrote["report"]["failed"] == {}
    again = env.json("enrich", "acmedesk", "--write")
    assert again["report"]["written"] == 0 and again["plans"] == [] and _writes(env) == changed
    # even after a fresh sync (the helpdesk's own copy), nothing to write
    env.run("sync", "acmedesk", "--full")
    assert env.json("enrich", "acmedesk", "--write")["report"]["written"] == 0


def test_enrich_removes_our_fields_when_a_customer_opts_out(env: Env) -> None:
    env.json("enrich", "acmedesk", "--write")
    target = sorted(env.fake.customers)[1]
    assert env.customer(target).custom_attributes.get("humansupport_conversations") is not None
    env.clock.advance(60)
    env.fake.customers[target] = env.customer(target).model_copy(
        update={"tags": [*env.customer(target).tags, "do-not-enrich"], "updated_at": env.clock.now()}
    )
    env.run("sync", "acmedesk")
    out = env.json("enrich", "acmedesk", "--write")
    assert out["report"]["skipped"] == 1 and out["report"]["written"] == 1
    after = env.customer(target)
    assert not any(v is not None for k, v in after.custom_attributes.items() if k.startswith("humansupport_"))
    assert NOTE_BEGIN not in (after.notes or "")
    assert env.json("enrich", "acmedesk", "--write")["report"]["written"] == 0


def test_enrich_max_writes_is_a_budget_the_next_run_continues(env: Env) -> None:
    changed = len(env.json("enrich", "acmedesk")["plans"])
    assert changed > 5
    first = env.json("enrich", "acmedesk", "--write", "--max-writes", "5", code=ExitCode.PARTIAL)
    assert first["report"]["written"] == 5 == _writes(env) and first["report"]["deferred"] == changed - 5
    rest = env.json("enrich", "acmedesk", "--write")
    assert rest["report"]["written"] == changed - 5 and _writes(env) == changed


def test_enrich_since_takes_only_customers_touched_since(env: Env) -> None:
    later = env.clock.now()
    target = sorted(env.fake.customers)[3]
    env.clock.advance(3600)
    env.fake.customers[target] = env.fake.customers[target].model_copy(update={"updated_at": env.clock.now()})
    env.run("sync", "acmedesk")
    out = env.json("enrich", "acmedesk", "--since", later.isoformat())
    assert out["customers"] == 1 and [p["customer_id"] for p in out["plans"]] == [target]


def test_enrich_reports_a_rejected_customer_and_goes_on(env: Env) -> None:
    assert env.run("setup", "acmedesk", store=False).exit_code == 0
    victim = sorted(env.fake.customers)[2]
    env.fake.fail_next(422, match=f"/api/customers/{victim}", times=1)
    out = env.json("enrich", "acmedesk", "--write", code=ExitCode.PARTIAL)
    assert list(out["report"]["failed"]) == [victim]
    assert out["report"]["written"] == len(out["plans"]) - 1


def test_enrich_human_output_summarizes(env: Env) -> None:
    result = env.run("enrich", "acmedesk")
    assert result.exit_code == 0, result.output
    assert f"{len(env.fake.customers)} customers" in result.stdout and "dry run" in result.stdout


# -- setup --------------------------------------------------------------------------------------------------


def test_setup_creates_the_fields_once_then_profile_writes(env: Env) -> None:
    env.fake.customer_fields = {}
    out = env.json("setup", "acmedesk", "--detail", "pronouns", store=False)
    names = {f["name"] for f in out["fields"]}
    assert {"humansupport_conversations", "humansupport_preferred_agent", "humansupport_detail_plan"} <= names
    assert "humansupport_detail_pronouns" not in names  # not on the allow-list
    assert sorted(out["created"]) == sorted(names) == sorted(env.fake.customer_fields)
    assert env.fake.customer_fields["humansupport_conversations"]["type"] == "number"
    again = env.json("setup", "acmedesk", store=False)
    assert again["created"] == [] and sorted(again["existing"]) == sorted(names)
    assert env.json("profile", "acmedesk", _first(env).id, "--write")["written"]


def test_setup_prints_exact_steps_where_the_adapter_cannot(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from humansupport.helpdesk import AsyncHelpdesk

    monkeypatch.setattr(AcmeAdapter, "ensure_profile_fields", AsyncHelpdesk.ensure_profile_fields)
    result = env.run("setup", "acmedesk", store=False)
    assert result.exit_code == ExitCode.CONFIG
    text = " ".join(result.stderr.split())
    assert "cannot create custom fields" in text and "humansupport_conversations: number" in text
    assert "humansupport_first_contact: date (YYYY-MM-DD)" in text


def test_setup_with_an_empty_allow_list_says_so(env: Env) -> None:
    env.configure(allowed_fields=[])
    out = env.json("setup", "acmedesk", code=ExitCode.CONFIG, store=False)
    assert "allowed_fields" in out["error"]["message"]


def test_consent_file_and_order_come_from_the_enrichment_table(env: Env, tmp_path: Path) -> None:
    customer = _first(env)
    details = tmp_path / "consented.csv"
    details.write_text(f"email,Pronouns,Plan\n{customer.email},she/her,platinum\n")
    env.configure(
        allowed_fields=[*ALLOWED, "details.pronouns"],
        details_file=str(details),
        order=["helpdesk", "history", "picture", "social_links", "consented_details"],
    )
    setup = env.json("setup", "acmedesk", store=False)
    assert "humansupport_detail_pronouns" in setup["created"]  # detail keys read from the file's columns
    out = env.json("profile", "acmedesk", customer.id, "--write")
    assert out["profile"]["details"]["pronouns"] == "she/her"
    assert out["profile"]["sources"]["details.pronouns"] == "consented_details"
    assert env.customer(customer.id).custom_attributes["humansupport_detail_pronouns"] == "she/her"
    assert out["profile"]["details"]["plan"] == "platinum"  # the team's file wins over the vendor's field
    env.configure(allowed_fields=ALLOWED, order=["helpdesk", "crm"])  # the order names the registry's enrichers
    bad = env.json("profile", "acmedesk", customer.id, code=ExitCode.CONFIG)
    assert "unknown enricher(s) crm" in bad["error"]["message"]


def test_profile_without_a_synced_store_says_to_sync(env: Env, tmp_path: Path) -> None:
    result = runner.invoke(app, ["profile", "acmedesk", "1", "--store", str(tmp_path / "none.db"), "--json"])
    assert result.exit_code == ExitCode.CONFIG  # like every "sync first" case
    assert "humansupport sync" in json.loads(result.stdout)["error"]["message"]


def test_bad_enrichment_table_is_a_config_error(env: Env) -> None:
    env.configure(allowed_fields=ALLOWED, colour="blue")
    out = env.json("enrich", "acmedesk", code=ExitCode.CONFIG)
    assert "[enrichment]" in out["error"]["message"] and "colour" in out["error"]["message"]


def test_write_record_and_erasure_on_each_store_backend(
    plugin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store_url: str
) -> None:
    env = _make_env(plugin_registry, monkeypatch, tmp_path, store_url)
    changed = env.json("enrich", "acmedesk", "--write")["report"]["written"]
    assert changed > 0 and env.json("enrich", "acmedesk", "--write")["report"]["written"] == 0
    customer = _first(env)
    with env.stored() as store:
        rows = len(store.enrichment_writes("acmedesk")[customer.id])  # one per field, and our note block
    out = env.json("profile", "acmedesk", customer.id, "--forget")
    assert out["erased"]["customers"] == 1 and out["erased"]["enrichment_writes"] == rows > 1
    with env.stored() as store:
        assert customer.id not in store.enrichment_writes("acmedesk")
        assert len(store.enrichment_writes("acmedesk")) == changed - 1
