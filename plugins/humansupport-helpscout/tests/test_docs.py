"""docs/vendors/helpscout.md stays in step with the code: every setting, property and capability gap is there."""

from __future__ import annotations

from pathlib import Path

import pytest
from humansupport_helpscout import HelpScoutAdapter, HelpScoutSettings
from humansupport_helpscout.mapping import PROFILE_PROPERTIES

#: beside the tests in the sdist, else the repository's docs/ folder
DOC = next(
    page
    for page in (Path(__file__).resolve().parents[i] / "docs" / "vendors" / "helpscout.md" for i in (1, 3))
    if page.exists()
)


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text()


@pytest.mark.parametrize("name", sorted(set(HelpScoutSettings.model_fields) - {"account"}))
def test_every_setting_is_documented_with_its_env_var(doc: str, name: str) -> None:
    assert f"`{name}`" in doc
    assert f"HUMANSUPPORT_HELPSCOUT_{name.upper()}" in doc


@pytest.mark.parametrize(("slug", "kind"), sorted(PROFILE_PROPERTIES.items()))
def test_every_profile_property_is_documented_with_its_type(doc: str, slug: str, kind: str) -> None:
    line = next((ln for ln in doc.splitlines() if ln.startswith(f"| `{slug}` |")), "")
    assert kind in line, f"{slug} is missing from the properties table or has the wrong type"


@pytest.mark.parametrize("capability", sorted(HelpScoutAdapter.capabilities.model_dump()))
def test_every_capability_is_explained(doc: str, capability: str) -> None:
    on = getattr(HelpScoutAdapter.capabilities, capability)
    words = capability.replace("_", " ")
    assert on or capability in doc or words in doc.lower(), f"why {capability} is off is not documented"


def test_the_error_hints_point_at_this_page(doc: str) -> None:
    from humansupport_helpscout.adapter import ERROR_HINTS

    assert "docs/vendors/helpscout.md" in ERROR_HINTS[403]
    assert "HUMANSUPPORT_HELPSCOUT_APP_SECRET" in ERROR_HINTS[401] and "APP_SECRET" in doc
