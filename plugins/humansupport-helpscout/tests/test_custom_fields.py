"""Conversation custom fields as the vendor documents them map to `Conversation.custom_fields` (the digest's
`--field` themes read them); the kit's `test_custom_field_themes` checks them end to end on the fake."""

from __future__ import annotations

from humansupport_helpscout.mapping import conversation_from_hs


def test_helpscout_custom_fields_by_name_with_the_shown_text() -> None:
    item = {
        "id": 10,
        "status": "active",
        "customFields": [
            {"id": 8, "name": "Account Type", "value": "8518", "text": "Free"},  # a dropdown: value is the option id
            {"id": 6688, "name": "Account Status", "value": "33077", "text": "Trial"},
            {"id": 9, "name": "Order", "value": "A-17"},  # a text field without `text`
            {"id": 10, "name": "Notes", "value": None, "text": ""},
            {"id": 11, "value": "nameless"},
        ],
    }
    expected = {"Account Type": "Free", "Account Status": "Trial", "Order": "A-17"}
    assert conversation_from_hs(item).custom_fields == expected
