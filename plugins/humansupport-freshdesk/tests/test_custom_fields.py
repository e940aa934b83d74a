"""Conversation custom fields as the vendor documents them map to `Conversation.custom_fields` (the digest's
`--field` themes read them); the kit's `test_custom_field_themes` checks them end to end on the fake."""

from __future__ import annotations

from humansupport_freshdesk.mapping import ticket_from_json


def test_freshdesk_ticket_custom_fields_by_name() -> None:
    ticket = {
        "id": 1,
        "status": 2,
        "custom_fields": {"cf_product_area": "Payments", "cf_plan": None, "cf_escalated": True},
    }
    assert ticket_from_json(ticket).custom_fields == {"cf_product_area": "Payments", "cf_escalated": True}
    assert ticket_from_json({"id": 2, "custom_fields": "bad"}).custom_fields == {}
