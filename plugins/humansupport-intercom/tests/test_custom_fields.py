"""Conversation custom fields as the vendor documents them map to `Conversation.custom_fields` (the digest's
`--field` themes read them); the kit's `test_custom_field_themes` checks them end to end on the fake."""

from __future__ import annotations

from humansupport_intercom.mapping import conversation_from_intercom


def test_intercom_conversation_custom_attributes() -> None:
    item = {
        "type": "conversation",
        "id": "123",
        "state": "open",
        "custom_attributes": {"issue_type": "Billing", "priority_score": 3, "resolved_by_bot": None},
    }
    assert conversation_from_intercom(item).custom_fields == {"issue_type": "Billing", "priority_score": 3}
    assert conversation_from_intercom({"id": "1", "custom_attributes": []}).custom_fields == {}
