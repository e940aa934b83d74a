"""The customer custom fields profile write-back needs: what the adapter contract's `ensure_profile_fields` takes.

`FieldSpec` says what to create. An adapter that cannot create fields through its vendor's API leaves
`AsyncHelpdesk.ensure_profile_fields` as it is: the default raises `FieldSetupUnsupportedError` whose message
is the manual steps, with the admin screen and field types from the adapter's `field_setup` (a
`FieldSetupScreen`), so what differs per vendor comes from the plugin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import UnsupportedOperationError

__all__ = ["FieldSetupScreen", "FieldSetupUnsupportedError", "FieldSpec", "setup_instructions", "unsupported"]


@dataclass(frozen=True, kw_only=True)
class FieldSpec:
    """A custom field `humansupport setup` must create: name, kind, and max length for text and urls.

    Kinds: ``text``, ``number`` (an integer), ``date`` (an ISO ``YYYY-MM-DD`` string) and ``url``.
    """

    name: str
    key: str
    kind: str
    max_length: int | None = None


@dataclass(frozen=True, kw_only=True)
class FieldSetupScreen:
    """Where a helpdesk's admin UI creates customer fields, and the field type each `FieldSpec.kind` becomes there.

    A plugin sets it as its adapter's `field_setup` class attribute; the manual steps name it.
    """

    where: str
    types: Mapping[str, str] = field(default_factory=dict)


class FieldSetupUnsupportedError(UnsupportedOperationError):
    """The adapter cannot create custom fields through the vendor's API; the message says how to by hand."""

    def __init__(self, message: str, *, vendor: str, fields: list[str]) -> None:
        super().__init__(message, vendor=vendor, operation="ensure_profile_fields")
        self.fields = fields


def setup_instructions(vendor: str, specs: Sequence[FieldSpec], screen: FieldSetupScreen | None = None) -> str:
    """The manual steps: where to click in the helpdesk's admin, then one line per field (name, type, max length)."""
    where = screen.where if screen else f"{vendor}'s admin settings for customer (contact, user) custom fields"
    types = screen.types if screen else {}
    lines = [f"Create these {len(specs)} customer field(s) in {vendor}: {where}."]
    for spec in specs:
        kind = types.get(spec.kind, spec.kind)
        limit = f", at most {spec.max_length} characters" if spec.max_length else ""
        fmt = " (YYYY-MM-DD)" if spec.kind == "date" else ""
        lines.append(f"  - {spec.name}: {kind}{fmt}{limit}  [{spec.key}]")
    lines.append(f"Then run `humansupport profile {vendor} CUSTOMER --write` to check one customer.")
    return "\n".join(lines)


def unsupported(
    vendor: str, specs: Sequence[FieldSpec], screen: FieldSetupScreen | None = None
) -> FieldSetupUnsupportedError:
    """The error `AsyncHelpdesk.ensure_profile_fields` raises by default."""
    steps = setup_instructions(vendor, specs, screen)
    return FieldSetupUnsupportedError(
        f"the {vendor} plugin cannot create custom fields through the API.\n{steps}",
        vendor=vendor,
        fields=[s.name for s in specs],
    )
