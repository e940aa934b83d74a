"""Manual field setup names the plugin's admin screen: the adapter's `field_setup`, never a table in the core."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest
from humansupport_acmedesk import AcmeAdapter, AcmeSettings, FakeAcme

from humansupport import AsyncHelpdesk
from humansupport.enrichment.setup import ensure_fields
from humansupport.fields import FieldSetupScreen, FieldSetupUnsupportedError, FieldSpec, setup_instructions

SPECS = [
    FieldSpec(name="hs_count", key="conversation_count", kind="number"),
    FieldSpec(name="hs_first", key="first_contact", kind="date"),
    FieldSpec(name="hs_agent", key="preferred_agent", kind="text", max_length=255),
]


class ManualAcme(AcmeAdapter):
    """AcmeDesk as a vendor without a fields API: the contract's default, with the plugin's screen."""

    field_setup: ClassVar[FieldSetupScreen | None] = FieldSetupScreen(
        where="Settings > People > Fields", types={"number": "Whole number", "text": "Short text"}
    )
    ensure_profile_fields = AsyncHelpdesk.ensure_profile_fields


def test_the_default_names_the_adapters_screen_and_each_field_in_its_type() -> None:
    adapter = ManualAcme.from_settings(AcmeSettings(api_token=FakeAcme.token), transport=FakeAcme().transport())
    with pytest.raises(FieldSetupUnsupportedError) as caught:
        asyncio.run(ensure_fields(adapter, SPECS))
    message = str(caught.value)
    assert "in acmedesk: Settings > People > Fields." in message
    assert "hs_count: Whole number  [conversation_count]" in message
    assert "hs_first: date (YYYY-MM-DD)" in message  # no type given for dates: our kind
    assert "hs_agent: Short text, at most 255 characters" in message
    assert caught.value.fields == ["hs_count", "hs_first", "hs_agent"] and caught.value.vendor == "acmedesk"


def test_without_a_screen_the_steps_point_at_the_admin_settings() -> None:
    text = setup_instructions("otherdesk", SPECS[:1])
    assert text.startswith("Create these 1 customer field(s) in otherdesk: otherdesk's admin settings")
    assert text.endswith("`humansupport profile otherdesk CUSTOMER --write` to check one customer.")
