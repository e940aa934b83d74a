"""Conversation custom fields as the vendor documents them map to `Conversation.custom_fields` (the digest's
`--field` themes read them); the kit's `test_custom_field_themes` checks them end to end on the fake."""

from __future__ import annotations

from humansupport_zendesk.mapping import ticket_to_conversation


def test_zendesk_ticket_custom_fields_by_id() -> None:
    ticket = {
        "id": 35436,
        "status": "open",
        "tags": ["enterprise"],
        "custom_fields": [
            {"id": 27642, "value": "745"},
            {"id": 27648, "value": "yes"},
            {"id": 27650, "value": None},
            {"id": 27651, "value": ["mobile", "web"]},
            {"id": 27652, "value": False},
            {"value": "no id"},
            "junk",
        ],
    }
    conv = ticket_to_conversation(ticket)
    assert conv is not None
    assert conv.custom_fields == {"27642": "745", "27648": "yes", "27651": ["mobile", "web"], "27652": False}
    assert ticket_to_conversation({"id": 1, "custom_fields": None}).custom_fields == {}  # type: ignore[union-attr]
