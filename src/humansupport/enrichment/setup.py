"""`humansupport setup VENDOR`: the custom fields write-back needs, created through the adapter or described.

An adapter creates fields by overriding `AsyncHelpdesk.ensure_profile_fields`; the default raises
`FieldSetupUnsupportedError` whose message is the exact manual steps, built from the `FieldSpec`s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from ..errors import UnsupportedOperationError

if TYPE_CHECKING:
    from ..helpdesk import AsyncHelpdesk
    from .writeback import FieldSpec

__all__ = ["VENDOR_FIELD_SCREENS", "FieldSetupUnsupportedError", "ensure_fields", "setup_instructions"]

#: where each vendor's admin UI creates customer fields, and the field type each of our kinds becomes there
VENDOR_FIELD_SCREENS: Final[Mapping[str, tuple[str, Mapping[str, str]]]] = {
    "zendesk": (
        "Admin Center > People > Configuration > User fields > Add field (use the name below as the field key)",
        {"text": "Text", "number": "Number", "date": "Date", "url": "Text"},
    ),
    "freshdesk": (
        "Admin > Support Operations > Customer Fields > Contact fields (the API name must be the name below)",
        {"text": "Single-line text", "number": "Number", "date": "Date", "url": "Single-line text"},
    ),
    "intercom": (
        "Settings > Data > People > Create attribute (name it exactly as below)",
        {"text": "Text", "number": "Number", "date": "Date", "url": "Text"},
    ),
    "helpscout": (
        "Manage > Customer Properties > Add a property (the slug must be the name below)",
        {"text": "Text", "number": "Number", "date": "Date", "url": "URL"},
    ),
}


class FieldSetupUnsupportedError(UnsupportedOperationError):
    """The adapter cannot create custom fields through the vendor's API; the message says how to by hand."""

    def __init__(self, message: str, *, vendor: str, fields: list[str]) -> None:
        super().__init__(message, vendor=vendor, operation="ensure_profile_fields")
        self.fields = fields


def setup_instructions(vendor: str, specs: Sequence[FieldSpec]) -> str:
    """The manual steps: where to click in `vendor`'s admin, then one line per field (name, type, max length)."""
    screen, types = VENDOR_FIELD_SCREENS.get(
        vendor, (f"{vendor}'s admin settings for customer (contact, user) custom fields", {})
    )
    lines = [f"Create these {len(specs)} customer field(s) in {vendor}: {screen}."]
    for spec in specs:
        kind = types.get(spec.kind, spec.kind)
        limit = f", at most {spec.max_length} characters" if spec.max_length else ""
        fmt = " (YYYY-MM-DD)" if spec.kind == "date" else ""
        lines.append(f"  - {spec.name}: {kind}{fmt}{limit}  [{spec.key}]")
    lines.append(f"Then run `humansupport profile {vendor} CUSTOMER --write` to check one customer.")
    return "\n".join(lines)


def unsupported(vendor: str, specs: Sequence[FieldSpec]) -> FieldSetupUnsupportedError:
    """The error `AsyncHelpdesk.ensure_profile_fields` raises by default."""
    return FieldSetupUnsupportedError(
        f"the {vendor} plugin cannot create custom fields through the API.\n{setup_instructions(vendor, specs)}",
        vendor=vendor,
        fields=[s.name for s in specs],
    )


async def ensure_fields(adapter: AsyncHelpdesk, specs: Sequence[FieldSpec]) -> list[str]:
    """Creates the missing fields; returns the names created (an empty list when all exist).

    Uses the adapter's `ensure_profile_fields`; an adapter that predates it but has Help Scout's
    `ensure_properties(slug -> type)` is called through that. Otherwise `FieldSetupUnsupportedError`.
    """
    from ..helpdesk import AsyncHelpdesk

    if type(adapter).ensure_profile_fields is AsyncHelpdesk.ensure_profile_fields:
        legacy: Any = getattr(adapter, "ensure_properties", None)
        if callable(legacy):
            created = await legacy({s.name: s.kind for s in specs})
            return [str(name) for name in created]
    return await adapter.ensure_profile_fields(specs)
