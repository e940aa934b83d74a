"""`humansupport.vendor`'s public surface is exactly its `__all__`, each name reported under the package."""

from __future__ import annotations

from types import FunctionType, ModuleType

import humansupport.vendor as vendor


def test_all_is_exactly_the_public_surface() -> None:
    public = {n for n, v in vars(vendor).items() if not n.startswith("_") and not isinstance(v, ModuleType)}
    public -= {"annotations"}
    assert vendor.__all__ == sorted(public, key=str.casefold)


def test_exported_names_report_the_package_as_their_module() -> None:
    exported = [getattr(vendor, n) for n in vendor.__all__]
    assert {v.__module__ for v in exported if isinstance(v, type | FunctionType)} == {"humansupport.vendor"}


def test_the_unassigned_sentinel_is_the_contract_one() -> None:
    from humansupport.models import UNASSIGNED

    assert vendor.UNASSIGNED is UNASSIGNED and not UNASSIGNED.isalnum()  # never a vendor's id
