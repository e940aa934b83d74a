"""From a `Profile` to the smallest `ProfilePatch`, and through an adapter with read-back verification.

Write-back is a diff: a second run against an unchanged helpdesk produces an empty patch. Only keys on
the consent allow-list are ever given a value; a value a human edited since our last write is left
alone (unless `force`), so the `WriteRecord` of what we last wrote is part of the state. The patch
semantics assumed are the adapters': custom attributes merge (``None`` removes ours), `note` replaces
the customer's notes, `tags` are added.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..errors import ConfigError, ConflictError, HumansupportError, NotFoundError, ValidationError
from ..fields import FieldSpec
from ..helpdesk import AsyncHelpdesk
from ..models import Customer, ProfilePatch
from .enrichers import SOCIAL_NETWORKS
from .profile import EnrichmentSettings, Profile

__all__ = [
    "BatchReport",
    "NOTE_BEGIN",
    "NOTE_END",
    "TRUNCATION_MARKER",
    "ApplyResult",
    "FieldChange",
    "FieldSpec",
    "MissingCustomFieldError",
    "PatchPlan",
    "Truncation",
    "WriteBackError",
    "WriteRecord",
    "apply_plans",
    "apply_profile",
    "attribute_name",
    "field_specs",
    "forget",
    "plan_writeback",
    "profile_values",
]

TRUNCATION_MARKER: Final = "… [truncated]"
NOTE_BEGIN: Final = "[humansupport profile]"
NOTE_END: Final = "[/humansupport profile]"
_BLOCK: Final = re.compile(re.escape(NOTE_BEGIN) + r".*?" + re.escape(NOTE_END), re.DOTALL)


class WriteBackError(HumansupportError):
    """The helpdesk rejected our fields (e.g. a type mismatch); `fields` names the attributes it blamed."""

    def __init__(self, message: str, *, customer_id: str, fields: list[str]) -> None:
        super().__init__(message)
        self.customer_id = customer_id
        self.fields = fields


class MissingCustomFieldError(ConfigError):
    """The helpdesk dropped attributes we wrote: the custom fields do not exist there yet."""

    def __init__(self, message: str, *, customer_id: str, fields: list[str]) -> None:
        super().__init__(message)
        self.customer_id = customer_id
        self.fields = fields


# -- profile -> values -----------------------------------------------------------------------------


def _opt(value: Any) -> Any:
    return value if value not in (None, "", []) else None


_SCALARS: Final[dict[str, Callable[[Profile], Any]]] = {
    "picture_url": lambda p: _opt(p.picture_url),
    "first_contact": lambda p: p.first_contact.date().isoformat() if p.first_contact else None,
    "conversation_count": lambda p: p.conversation_count,
    "preferred_agent": lambda p: _opt(p.preferred_agent),
    "preferred_agent_reason": lambda p: _opt(p.preferred_agent_reason),
    "last_conversation": lambda p: p.last_conversation.line() if p.last_conversation else None,
    "last_contact": lambda p: (
        p.last_conversation.date.date().isoformat() if p.last_conversation and p.last_conversation.date else None
    ),
    "satisfaction_history": lambda p: p.satisfaction_line(),
    "top_tags": lambda p: ", ".join(p.top_tags) or None,
    "organization": lambda p: _opt(p.organization),
    "locale": lambda p: _opt(p.locale),
    "timezone": lambda p: _opt(p.timezone),
}


def _slug(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")


def profile_values(profile: Profile, settings: EnrichmentSettings) -> dict[str, Any]:
    """The write-back keys (``conversation_count``, ``details.pronouns``, ...) the allow-list lets through."""
    values: dict[str, Any] = {key: get(profile) for key, get in _SCALARS.items()}
    values.update({f"details.{_slug(k)}": v for k, v in profile.details.items()})
    values.update({f"social.{_slug(k)}": v for k, v in profile.social_links.items()})
    return {k: v for k, v in values.items() if v is not None and v != "" and settings.allows(k)}


# the names the conformance kit and the vendor fakes already define for these keys
_NAMES: Final = {"conversation_count": "conversations"}


def attribute_name(key: str, settings: EnrichmentSettings) -> str:
    """The helpdesk attribute for a write-back key: ``details.pronouns`` -> ``humansupport_detail_pronouns``."""
    head, _, rest = key.partition(".")
    if rest:
        head = {"details": "detail", "social": "social"}.get(head, head)
        return f"{settings.attribute_prefix}{head}_{_slug(rest)}"
    return f"{settings.attribute_prefix}{_NAMES.get(key, _slug(key))}"


_KINDS: Final = {"conversation_count": "number", "first_contact": "date", "last_contact": "date", "picture_url": "url"}
_SOCIAL_NETWORKS: Final = tuple(dict.fromkeys(SOCIAL_NETWORKS.values()))


def field_specs(settings: EnrichmentSettings, *, detail_keys: Iterable[str] = ()) -> list[FieldSpec]:
    """Every custom field the allow-list can write, for `humansupport setup VENDOR` to create.

    Patterns cannot be enumerated for details, so pass the detail keys you expect (the details file's
    columns, your vendor fields); explicit ``details.<key>`` entries of the allow-list are always included.
    """
    keys = [*_SCALARS, *(f"details.{_slug(k)}" for k in detail_keys), *(f"social.{n}" for n in _SOCIAL_NETWORKS)]
    keys += [k for k in sorted(settings.allowed_fields) if k.startswith("details.") and not any(c in k for c in "*?[")]
    specs: dict[str, FieldSpec] = {}
    for key in keys:
        if not settings.allows(key):
            continue
        name = attribute_name(key, settings)
        kind = "url" if key.startswith("social.") else _KINDS.get(key, "text")
        limit = settings.max_value_length if kind in ("text", "url") else None
        specs.setdefault(name, FieldSpec(name=name, key=key, kind=kind, max_length=limit))
    return list(specs.values())


@dataclass(frozen=True, kw_only=True)
class Truncation:
    attribute: str
    length: int
    limit: int


def _truncate(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER


def _note_block(profile: Profile, settings: EnrichmentSettings) -> str | None:
    """The note we own inside the customer's notes: only lines whose keys the allow-list lets through."""
    values = profile_values(profile, settings)
    labels = (
        ("first_contact", "Customer since"),
        ("conversation_count", "Conversations"),
        ("preferred_agent", "Preferred agent"),
        ("preferred_agent_reason", "Why"),
        ("last_conversation", "Last conversation"),
        ("satisfaction_history", "Satisfaction"),
        ("top_tags", "Usually about"),
        ("organization", "Organization"),
    )
    lines = [f"{label}: {_unmarked(str(values[key]))}" for key, label in labels if key in values]
    if not lines:
        return None
    body = "\n".join(lines)
    room = settings.max_note_length - len(NOTE_BEGIN) - len(NOTE_END) - 2
    return f"{NOTE_BEGIN}\n{_truncate(body, room)}\n{NOTE_END}"


def _unmarked(text: str) -> str:
    """Customer-provided text (a subject) must not close or open our block and break the next diff."""
    return text.replace(NOTE_BEGIN, "").replace(NOTE_END, "")


def _current_block(notes: str | None) -> str | None:
    found = _BLOCK.search(notes or "")
    return found.group(0) if found else None


def _with_block(notes: str | None, block: str | None) -> str:
    """The customer's notes with our block replaced, added or (block None) removed; human text untouched."""
    text = notes or ""
    if _BLOCK.search(text):
        text = _BLOCK.sub(lambda _: block or "", text, count=1)
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")
    if block is None:
        return text
    return f"{text.rstrip()}\n\n{block}" if text.strip() else block


def _same(current: Any, wanted: Any) -> bool:
    """Vendors coerce types (12 comes back as "12"), so compare the way an agent would read them."""
    if current is None or wanted is None:
        return current is None and wanted is None
    return bool(current == wanted or str(current) == str(wanted))


# -- what we last wrote ----------------------------------------------------------------------------


@dataclass(kw_only=True)
class WriteRecord:
    """What we last wrote per customer, to tell our values from a human's.

    The CLI keeps it in the store (`enrichment.persist`); `to_json`/`save`/`load` keep it in a file instead.
    """

    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    #: customers changed since loading, so a store saves only those
    dirty: set[str] = field(default_factory=set, repr=False, compare=False)

    def remember(self, customer_id: str, patch: ProfilePatch) -> None:
        """Records a patch the helpdesk accepted (``None`` values drop the attribute from the record)."""
        self.dirty.add(customer_id)
        mine = self.attributes.setdefault(customer_id, {})
        for name, value in patch.custom_attributes.items():
            if value is None:
                mine.pop(name, None)
            else:
                mine[name] = value
        if not mine:
            del self.attributes[customer_id]
        if patch.note is not None:
            block = _current_block(patch.note)
            if block is None:
                self.notes.pop(customer_id, None)
            else:
                self.notes[customer_id] = block

    def forget(self, customer_id: str) -> None:
        self.dirty.add(customer_id)
        self.attributes.pop(customer_id, None)
        self.notes.pop(customer_id, None)

    def to_json(self) -> str:
        return json.dumps({"attributes": self.attributes, "notes": self.notes}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WriteRecord:
        data = json.loads(text)
        return cls(attributes=dict(data.get("attributes", {})), notes=dict(data.get("notes", {})))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> WriteRecord:
        """The record saved at `path`, or an empty one when there is none yet."""
        if not path.exists():
            return cls()
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, AttributeError, TypeError) as exc:
            raise ConfigError(
                f"the write record {path} is damaged ({exc}); restore it or delete it, and every field we wrote "
                "before will be treated as a human's until `--force`"
            ) from exc


# -- the diff --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FieldChange:
    attribute: str
    before: Any
    after: Any


@dataclass(frozen=True, kw_only=True)
class PatchPlan:
    """A patch and why it looks the way it does: the diff, what a human protects, what was cut."""

    customer_id: str
    patch: ProfilePatch
    changes: list[FieldChange] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    truncated: list[Truncation] = field(default_factory=list)
    skipped: str | None = None
    tags_not_removed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.patch.empty

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "patch": self.patch.model_dump(mode="json"),
            "changes": [{"attribute": c.attribute, "before": c.before, "after": c.after} for c in self.changes],
            "protected": self.protected,
            "truncated": [{"attribute": t.attribute, "length": t.length, "limit": t.limit} for t in self.truncated],
            "skipped": self.skipped,
            "tags_not_removed": self.tags_not_removed,
        }


def _ours(name: str, settings: EnrichmentSettings) -> bool:
    """Attributes in our namespace, except an opt-out flag a team chose to name with our prefix."""
    return name.startswith(settings.attribute_prefix) and name not in settings.do_not_enrich_attributes


def _human_edited(current: Any, last: Any, has_last: bool) -> bool:
    """Someone else changed a value since our last write (or filled it before we ever wrote it)."""
    if has_last:
        return not _same(current, last)
    return current is not None


def plan_writeback(
    customer: Customer,
    profile: Profile,
    *,
    settings: EnrichmentSettings,
    record: WriteRecord | None = None,
    force: bool = False,
    append_only_notes: bool = False,
) -> PatchPlan:
    """Only the changes the helpdesk needs so that it shows `profile`; empty when it already does.

    An inactive customer (`Customer.active` false: deleted or deactivated in the helpdesk) gets no patch at
    all (`skipped="inactive"`). An opted-out customer (`do_not_enrich`) gets nothing new, and what we wrote
    before is removed (a human's edits to it stay, unless `force`). With `append_only_notes` (the adapter's
    capability) the customer record shows no note text, and nobody can edit the note we posted, so our
    current block is the one the write record holds.
    """
    if not customer.active:  # deleted or deactivated in the helpdesk: nothing to show anyone, nothing to write
        return PatchPlan(customer_id=customer.id, patch=ProfilePatch(), skipped="inactive")
    opted_out = settings.opted_out(customer) or profile.do_not_enrich
    record = record or WriteRecord()
    last = record.attributes.get(customer.id, {})
    current = customer.custom_attributes
    wanted: dict[str, Any] = {}
    truncated: list[Truncation] = []
    for key, value in ({} if opted_out else profile_values(profile, settings)).items():
        name = attribute_name(key, settings)
        if isinstance(value, str) and len(value) > settings.max_value_length:
            truncated.append(Truncation(attribute=name, length=len(value), limit=settings.max_value_length))
            value = _truncate(value, settings.max_value_length)
        wanted[name] = value
    # ours but no longer wanted (consent withdrawn, value gone): removed
    for name in current:
        if _ours(name, settings) and name not in wanted and current[name] is not None:
            wanted[name] = None

    attributes: dict[str, Any] = {}
    changes: list[FieldChange] = []
    protected: list[str] = []
    for name, value in sorted(wanted.items()):
        before = current.get(name)
        if _same(before, value):
            continue
        if not force and _human_edited(before, last.get(name), name in last):
            protected.append(name)
            continue
        attributes[name] = value
        changes.append(FieldChange(attribute=name, before=before, after=value))

    note: str | None = None
    block = _note_block(profile, settings) if settings.note and not opted_out else None  # else ours goes
    now_block = _current_block(customer.notes)
    if append_only_notes and now_block is None:
        now_block = record.notes.get(customer.id)
    if block != now_block:
        ours = record.notes.get(customer.id)
        edited = now_block is not None and (ours is None or ours != now_block)
        if edited and not force:
            protected.append("note")
        else:
            note = _with_block(customer.notes, block)
            changes.append(FieldChange(attribute="note", before=now_block, after=block))
    tags = [] if opted_out else [t for t in settings.tags if t not in customer.tags]
    changes.extend(FieldChange(attribute=f"tag:{t}", before=None, after=t) for t in tags)
    return PatchPlan(
        customer_id=customer.id,
        patch=ProfilePatch(custom_attributes=attributes, note=note, tags=tags),
        changes=changes,
        protected=protected,
        truncated=[t for t in truncated if t.attribute in attributes],  # reported when written, not every run
        skipped="do_not_enrich" if opted_out else None,
    )


def forget(customer: Customer, *, settings: EnrichmentSettings, record: WriteRecord | None = None) -> PatchPlan:
    """The patch that removes every attribute we own and our note block (right to erasure).

    Tags cannot be removed through `ProfilePatch` (it only adds), so ours are listed in
    `tags_not_removed` for the caller to report. `record` forgets the customer too.
    """
    attributes = {
        name: None
        for name, value in sorted(customer.custom_attributes.items())
        if _ours(name, settings) and value is not None
    }
    changes = [FieldChange(attribute=n, before=customer.custom_attributes[n], after=None) for n in attributes]
    note: str | None = None
    block = _current_block(customer.notes)
    if block is not None:
        note = _with_block(customer.notes, None)
        changes.append(FieldChange(attribute="note", before=block, after=None))
    if record is not None:
        record.forget(customer.id)
    return PatchPlan(
        customer_id=customer.id,
        patch=ProfilePatch(custom_attributes=attributes, note=note),
        changes=changes,
        tags_not_removed=[t for t in settings.tags if t in customer.tags],
    )


# -- applying --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ApplyResult:
    customer_id: str
    patch: ProfilePatch
    dry_run: bool
    written: bool
    customer: Customer | None = None
    mismatches: list[str] = field(default_factory=list)


def _blamed(exc: ValidationError, names: Mapping[str, Any]) -> list[str]:
    said = " ".join(str(s) for s in (exc.vendor_message, exc.body) if s)
    return [n for n in names if n in exc.field_errors or n in said]


async def apply_profile(
    adapter: AsyncHelpdesk,
    customer_id: str,
    patch: ProfilePatch,
    *,
    dry_run: bool = True,
    record: WriteRecord | None = None,
    read_back: bool = True,
) -> ApplyResult:
    """Writes `patch` through `adapter.update_customer` and verifies it by reading the customer back.

    Dry-run (the default) writes nothing. `read_back=False` verifies against the customer the update
    returned instead, so a bulk run sends one request per changed customer. A 400/422 becomes a
    `WriteBackError` naming the attributes the helpdesk blamed (a field type mismatch); attributes the
    helpdesk silently dropped raise `MissingCustomFieldError` pointing to ``humansupport setup``. What was
    verified is remembered in `record`.
    """
    if dry_run or patch.empty:
        return ApplyResult(customer_id=customer_id, patch=patch, dry_run=dry_run, written=False)
    vendor = adapter.vendor
    try:
        returned = await adapter.update_customer(customer_id, patch)
    except ValidationError as exc:
        blamed = _blamed(exc, patch.custom_attributes)
        what = ", ".join(blamed) if blamed else "the profile patch"
        raise WriteBackError(
            f"{vendor} rejected {what} for customer {customer_id}: {exc.vendor_message or exc}. "
            f"Check the field type in {vendor}, or let `humansupport setup {vendor}` create the fields",
            customer_id=customer_id,
            fields=blamed,
        ) from exc
    after = await adapter.get_customer(customer_id) if read_back else returned
    missing: list[str] = []
    mismatches: list[str] = []
    verified: dict[str, Any] = {}
    for name, value in patch.custom_attributes.items():
        got = after.custom_attributes.get(name)
        if value is None:
            if got is not None:
                mismatches.append(name)
            else:
                verified[name] = None
        elif name not in after.custom_attributes:
            missing.append(name)
        elif not _same(got, value):
            mismatches.append(name)
        else:
            verified[name] = value
    mismatches.extend(f"tag:{t}" for t in patch.tags if t not in after.tags)
    note = patch.note
    # vendors that keep notes elsewhere return none: only a returned note that lacks our block is a mismatch
    if note is not None and after.notes is not None and _current_block(note) != _current_block(after.notes):
        mismatches.append("note")
        note = None
    if record is not None:
        record.remember(customer_id, ProfilePatch(custom_attributes=verified, note=note))
    if missing:
        raise MissingCustomFieldError(
            f"{vendor} has no custom field(s) {', '.join(missing)} for customers, so the values were dropped; "
            f"run `humansupport setup {vendor}` to create them",
            customer_id=customer_id,
            fields=missing,
        )
    return ApplyResult(
        customer_id=customer_id, patch=patch, dry_run=False, written=True, customer=after, mismatches=mismatches
    )


@dataclass(kw_only=True)
class BatchReport:
    """What a bulk write did; `failed` maps customer ids to the reason, the run goes on past them."""

    planned: int = 0
    written: int = 0
    unchanged: int = 0
    skipped: int = 0
    protected: int = 0
    truncated: int = 0
    #: changed customers left for a later run by a write budget (`max_writes`)
    deferred: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    mismatches: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "planned": self.planned,
            "written": self.written,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "protected": self.protected,
            "truncated": self.truncated,
            "deferred": self.deferred,
            "failed": self.failed,
            "mismatches": self.mismatches,
        }


async def apply_plans(
    adapter: AsyncHelpdesk,
    plans: Iterable[PatchPlan],
    *,
    dry_run: bool = True,
    record: WriteRecord | None = None,
    concurrency: int = 8,
    read_back: bool = False,
    on_written: Callable[[ApplyResult], None] | None = None,
) -> BatchReport:
    """Applies many plans; empty ones send nothing, so requests = customers that changed.

    The adapter's rate limiter paces the writes. A rejected or vanished customer is reported and the run
    goes on; a `ConfigError` (missing custom fields) or an authentication error stops it, since every
    other customer would fail the same way. `on_written` sees each verified write (the CLI updates the
    store's copy of the customer with it, so the next run diffs against what the helpdesk now holds).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    report = BatchReport()
    gate = asyncio.Semaphore(concurrency)

    async def one(plan: PatchPlan) -> None:
        async with gate:
            try:
                result = await apply_profile(
                    adapter, plan.customer_id, plan.patch, dry_run=dry_run, record=record, read_back=read_back
                )
            except (WriteBackError, NotFoundError, ConflictError) as exc:
                report.failed[plan.customer_id] = str(exc)
                return
        if result.written:
            report.written += 1
            if on_written is not None:
                on_written(result)
        if result.mismatches:
            report.mismatches[plan.customer_id] = result.mismatches

    tasks: list[asyncio.Task[None]] = []
    for plan in plans:
        report.planned += 1
        report.protected += bool(plan.protected)
        report.truncated += bool(plan.truncated)
        if plan.skipped:
            report.skipped += 1  # an opted-out customer: still written when it removes what we wrote before
        elif plan.patch.empty:
            report.unchanged += 1
        if not plan.patch.empty:
            tasks.append(asyncio.ensure_future(one(plan)))
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return report
