"""`humansupport setup VENDOR`: the custom fields write-back needs, created through the adapter or described.

An adapter creates fields by overriding `AsyncHelpdesk.ensure_profile_fields`; the default raises
`FieldSetupUnsupportedError` whose message is the exact manual steps, built from the `FieldSpec`s and the
adapter's `field_setup` screen (`humansupport.fields`, the contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..fields import FieldSetupUnsupportedError, FieldSpec, setup_instructions
from ..helpdesk import AsyncHelpdesk

__all__ = ["FieldSetupUnsupportedError", "ensure_fields", "setup_instructions"]


async def ensure_fields(adapter: AsyncHelpdesk, specs: Sequence[FieldSpec]) -> list[str]:
    """Creates the missing fields through the adapter; returns the names created (empty when all exist).

    Uses the adapter's `ensure_profile_fields`; an adapter that predates it but has an
    `ensure_properties(name -> kind)` method is called through that. Otherwise `FieldSetupUnsupportedError`
    (the manual steps).
    """
    if type(adapter).ensure_profile_fields is AsyncHelpdesk.ensure_profile_fields:
        legacy: Any = getattr(adapter, "ensure_properties", None)
        if callable(legacy):
            created = await legacy({s.name: s.kind for s in specs})
            return [str(name) for name in created]
    return await adapter.ensure_profile_fields(specs)
