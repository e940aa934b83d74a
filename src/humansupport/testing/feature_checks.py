"""The kit's feature checks: what the core builds on an adapter (sync, enrichment, insights, the reply check,
the CLI) run against a plugin's fake, so every plugin gets them by subclassing `AdapterConformance`.

These used to be core tests with a hard-coded list of vendors; as checks of the kit they run for every
plugin, first-party or not, and a new plugin learns here (not in production) that its mapping loses the
customer of a conversation or that its profile write does not read back.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pytest

from ..helpdesk import AsyncHelpdesk
from ..models import ConversationStatus
from .clock import FakeClock
from .fake import FakeHelpdesk
from .saved_replies import ISSUE_RULES, SAMPLE_SAVED_REPLIES
from .synthetic import PRODUCT_AREA_FIELD, SyntheticHistory

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["FeatureChecks"]

T = TypeVar("T")

#: the fields enrichment is allowed to write in the checks (every plugin must be able to hold them)
_ENRICH_FIELDS = frozenset({"conversation_count", "preferred_agent"})


def _writes(fake: FakeHelpdesk) -> int:
    return fake.write_count()


class FeatureChecks:
    """Mixed into `AdapterConformance`; uses its `run`, `history`, `make_fake` and `make_adapter`."""

    if TYPE_CHECKING:
        config: ClassVar[Any]

        def history(self) -> SyntheticHistory: ...

        def make_fake(self, clock: FakeClock) -> FakeHelpdesk: ...

        def make_adapter(self, transport: Any, clock: FakeClock) -> AsyncHelpdesk: ...

        def run(self, scenario: Callable[[FakeHelpdesk, AsyncHelpdesk, FakeClock], Coroutine[Any, Any, T]]) -> T: ...

    # -- plumbing -----------------------------------------------------------------------------------

    @contextmanager
    def _store(self) -> Iterator[Store]:
        from ..store import Store

        with tempfile.TemporaryDirectory(prefix="humansupport-kit-") as tmp, Store.open(Path(tmp) / "kit.db") as store:
            yield store

    def _period(self) -> Any:
        from ..insights import Period

        end = self.history().config.end
        return Period(end - timedelta(days=120), end + timedelta(hours=2))

    @staticmethod
    async def _sync(adapter: AsyncHelpdesk, store: Store, clock: FakeClock) -> None:
        from ..sync import sync_helpdesk

        await sync_helpdesk(adapter, store, account=adapter.vendor, clock=clock)

    # -- enrichment -----------------------------------------------------------------------------------

    def test_enrich_writes_once_then_nothing(self) -> None:
        """Profile write-back writes changed customers once; a second run writes nothing, notes included."""
        from ..enrichment.enrichers import BUILTIN_ENRICHERS
        from ..enrichment.profile import EnrichmentSettings
        from ..enrichment.service import run_enrich

        settings = EnrichmentSettings(allowed_fields=_ENRICH_FIELDS)

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, clock: FakeClock) -> None:
            with self._store() as store:
                await self._sync(adapter, store, clock)
                first = await run_enrich(
                    adapter, store, account=adapter.vendor, settings=settings, enrichers=BUILTIN_ENRICHERS,
                    now=clock.now(), write=True,
                )  # fmt: skip
                assert not first.report.failed, f"enrich failed for some customers: {first.report.failed}"
                assert first.report.written > 0, "the first enrich wrote nothing: nothing reached the helpdesk"
                customer_id = first.plans[0].customer_id
                written = (await adapter.get_customer(customer_id)).custom_attributes
                writes = _writes(fake)
                clock.advance(60)
                for _ in range(2):
                    again = await run_enrich(
                        adapter, store, account=adapter.vendor, settings=settings, enrichers=BUILTIN_ENRICHERS,
                        now=clock.now(), write=True,
                    )  # fmt: skip
                    assert again.report.written == 0 and not again.plans, (
                        f"a second enrich planned changes again: {[p.to_dict() for p in again.plans][:2]}; "
                        "does update_customer return (and get_customer read back) what it wrote?"
                    )
                assert _writes(fake) == writes, "a second enrich sent writes (a note stacked, a field rewritten)"
                assert (await adapter.get_customer(customer_id)).custom_attributes == written

        self.run(scenario)

    def test_field_setup_creates_once_or_says_how(self) -> None:
        """`setup` creates our profile fields once (a second run creates none), or names each field to create
        by hand where the vendor's API cannot, sending no write."""
        from ..enrichment.profile import EnrichmentSettings
        from ..enrichment.setup import FieldSetupUnsupportedError, ensure_fields
        from ..enrichment.writeback import field_specs

        specs = field_specs(EnrichmentSettings(allowed_fields=_ENRICH_FIELDS))
        assert specs

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> None:
            before = _writes(fake)
            try:
                await ensure_fields(adapter, specs)
            except FieldSetupUnsupportedError as exc:
                missing = [s.name for s in specs if s.name not in str(exc)]
                assert not missing, f"the manual steps do not name {missing}"
                assert _writes(fake) == before, "an unsupported field setup still sent writes"
                return
            writes = _writes(fake)
            assert await ensure_fields(adapter, specs) == [], "a second setup created fields again"
            assert _writes(fake) == writes, "a second setup sent writes"

        self.run(scenario)

    # -- the reply check ------------------------------------------------------------------------------

    def test_reply_check_on_saved_replies(self) -> None:
        """`replies lint --vendor` reads every saved reply and finds exactly the problems each sample holds."""
        from ..plugins import PluginRegistry
        from ..replies.linter import Linter, ReplyReport
        from ..replies.sources import lint_saved_replies

        linter = Linter(rules=PluginRegistry().reply_rules())

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, _: FakeClock) -> list[ReplyReport]:
            if not adapter.capabilities.saved_replies:
                pytest.skip(f"{adapter.vendor} cannot read saved replies (capabilities.saved_replies is false)")
            fake.clear_saved_replies()
            fake.seed_saved_replies()
            return [report async for report in lint_saved_replies(adapter, linter)]

        reports = self.run(scenario)
        by_title = {r.source.title: r for r in reports}
        assert set(by_title) == {s.title for s in SAMPLE_SAVED_REPLIES}, "a saved reply was lost or added"
        for sample in SAMPLE_SAVED_REPLIES:
            found = {f.rule for f in by_title[sample.title].findings}
            assert found == {ISSUE_RULES[i] for i in sample.issues}, (sample.title, found)

    # -- insights -------------------------------------------------------------------------------------

    def test_digest_and_avoidable_on_a_synced_fake(self) -> None:
        """The digest and avoidable contacts on a synced fake match the history it was seeded with: counts,
        ratings, quotes through the message mapping, and a conversation reopened between two syncs."""
        from ..insights import ThemeMap, build_avoidable, build_digest

        history = self.history()
        period = self._period()
        solved = next(
            c for c in history.conversations
            if str(c.status) in ("solved", "closed") and c.created_at and period.contains(c.created_at)
        )  # fmt: skip

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, clock: FakeClock) -> tuple[Any, Any]:
            with self._store() as store:
                await self._sync(adapter, store, clock)
                clock.advance(600)
                fake.touch_conversation(solved.id, status=ConversationStatus.OPEN)  # the customer wrote back: reopened
                clock.advance(600)
                await self._sync(adapter, store, clock)
                themes = ThemeMap()
                return (
                    build_digest(store, adapter.vendor, period=period, themes=themes),
                    build_avoidable(store, adapter.vendor, period=period, themes=themes),
                )

        digest, avoidable = self.run(scenario)
        rates = self._syncs_ratings()
        inside = [c for c in history.conversations if c.created_at and period.contains(c.created_at)]
        assert digest.conversations == len(inside) > 0, "conversations lost or added between fake and store"
        assert digest.customers == len({c.customer_id for c in inside}), "a conversation lost its customer"
        assert sum(t.conversations for t in digest.themes) == len(inside)
        rated = {r.conversation_id: str(r.score) for r in history.ratings}
        expected_rated = sum(rated.get(c.id) in ("good", "bad") for c in inside) if rates else 0
        assert sum(t.good + t.bad for t in digest.themes) == expected_rated, "ratings lost in mapping or sync"
        quotes = [e.quote for t in digest.themes for e in t.examples if e.quote]
        assert quotes, "no customer quote came through the vendor's messages"
        assert all("@" not in q for q in quotes), "a quote kept an e-mail address"
        expected: dict[str, set[tuple[str, str | None]]] = {}
        for c in [solved, *(c for c in inside if "reopened" in c.tags)]:
            expected.setdefault(c.tags[0], set()).add((c.id, c.customer_id))
        reopened = {f.theme: f for f in avoidable.of_kind("reopened")}
        assert {t: (f.conversations, f.customers) for t, f in reopened.items()} == {
            t: (len(ids), len({cust for _, cust in ids})) for t, ids in expected.items()
        }, "the reopened conversation was not found: does the status survive mapping?"

    def _syncs_ratings(self) -> bool:
        """Whether the plugin syncs satisfaction ratings (a fresh adapter's capabilities)."""
        fake = self.make_fake(FakeClock())
        adapter = self.make_adapter(fake.transport(), fake.clock)
        return bool(adapter.capabilities.satisfaction_ratings)

    def test_custom_field_themes(self) -> None:
        """A conversation custom field comes through mapping and sync, and the digest themes by its value."""
        from ..insights import ThemeMap, build_avoidable, build_digest

        history = self.history()
        period = self._period()
        fake_key: dict[str, str] = {}

        async def scenario(fake: FakeHelpdesk, adapter: AsyncHelpdesk, clock: FakeClock) -> tuple[Any, Any, Any]:
            key = fake.custom_field_key(PRODUCT_AREA_FIELD)
            fake_key["key"] = key
            with self._store() as store:
                await self._sync(adapter, store, clock)
                themes = ThemeMap.of(fields=[key])
                return (
                    build_digest(store, adapter.vendor, period=period, themes=themes, examples=0),
                    build_avoidable(store, adapter.vendor, period=period, themes=themes, examples=0),
                    store.conversation(adapter.vendor, history.conversations[0].id),
                )

        digest, avoidable, synced = self.run(scenario)
        key = fake_key["key"]
        assert synced is not None
        area = history.conversations[0].custom_fields[PRODUCT_AREA_FIELD]
        assert synced.custom_fields == {key: area}, f"custom fields did not round-trip: {synced.custom_fields}"
        inside = [c for c in history.conversations if c.created_at and period.contains(c.created_at)]
        expected = Counter(c.custom_fields[PRODUCT_AREA_FIELD] for c in inside)
        customers: dict[str, set[str | None]] = defaultdict(set)
        for c in inside:
            customers[c.custom_fields[PRODUCT_AREA_FIELD]].add(c.customer_id)
        assert {t.theme: t.conversations for t in digest.themes} == dict(expected)
        assert {t.theme: t.customers for t in digest.themes} == {a: len(ids) for a, ids in customers.items()}
        reopened = Counter(c.custom_fields[PRODUCT_AREA_FIELD] for c in inside if "reopened" in c.tags)
        assert {f.theme: f.conversations for f in avoidable.of_kind("reopened")} == dict(reopened)

    # -- the CLI --------------------------------------------------------------------------------------

    def test_cli_commands_on_the_fake(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """`check`, `sync`, `digest`, `route --new` (a dry run: no write), `enrich` (dry run) and `replies lint
        --vendor` through the CLI against the fake: exit codes and JSON as docs/cli.md says."""
        from typer.testing import CliRunner

        import humansupport.cli as cli

        history = self.history()
        clock = FakeClock(start=history.config.end + timedelta(hours=1))
        fake = self.make_fake(clock)
        fake.load(history)
        vendor = self.make_adapter(fake.transport(), clock).vendor

        def build(*_: Any, **__: Any) -> AsyncHelpdesk:
            return self.make_adapter(fake.transport(), clock)

        monkeypatch.setattr(cli, "build_adapter", build)
        monkeypatch.setattr(cli, "SYSTEM_CLOCK", clock)
        monkeypatch.chdir(tmp_path)  # no humansupport.toml from elsewhere
        monkeypatch.delenv("HUMANSUPPORT_CONFIG", raising=False)
        store = ["--store", f"sqlite:///{tmp_path / 'kit.db'}"]
        runner = CliRunner()

        def run(*args: str, code: int = 0) -> Any:
            result = runner.invoke(cli.app, [*args, "--json"])
            assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
            assert "Traceback" not in result.output
            assert result.exit_code == code, f"{' '.join(args)}: exit {result.exit_code}\n{result.output}"
            return json.loads(result.stdout)

        for limit in (None, 10_000):  # a fake without a rate limit sends no remaining figure, as some vendors
            fake.rate_limit_per_minute = limit
            checked = run("check", vendor)
            assert checked["ok"] is True and checked["vendor"] == vendor
            text = runner.invoke(cli.app, ["check", vendor])
            assert text.exit_code == 0 and f"{vendor}: ok" in text.stdout and "rate limit:" in text.stdout
        synced = run("sync", vendor, *store)
        assert synced["streams"]["conversations"]["items"] == len(history.conversations)
        digest = run("digest", vendor, *store, "--since", "120d")
        assert digest["conversations"] > 0
        writes = _writes(fake)
        routed = run("route", vendor, "--new", *store)
        assert isinstance(routed, dict)
        enriched = run("enrich", vendor, *store)
        assert enriched["dry_run"] is True
        assert _writes(fake) == writes, "a dry run (route --new, enrich without --write) sent writes"
        if self.make_adapter(fake.transport(), clock).capabilities.saved_replies:
            fake.clear_saved_replies()
            fake.seed_saved_replies()
            linted = run("replies", "lint", "--vendor", vendor, code=1)  # the samples hold findings: exit 1
            assert linted["summary"]["checked"] == len(SAMPLE_SAVED_REPLIES)
