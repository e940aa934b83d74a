"""The `WriteRecord` kept in the history store, so human-edit protection holds across runs and machines.

The store keeps one row per (customer, attribute we wrote) and one for our note block; loading builds a
`WriteRecord`, saving writes back only the customers the run changed (`WriteRecord.dirty`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .writeback import WriteRecord

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["load_write_record", "save_write_record"]


def load_write_record(store: Store, account: str) -> WriteRecord:
    """Everything enrichment last wrote for `account`'s customers, as the store keeps it."""
    from ..store.schema import NOTE_FIELD

    record = WriteRecord()
    for customer_id, fields in store.enrichment_writes(account).items():
        attributes = {name: value for name, value in fields.items() if name != NOTE_FIELD}
        if attributes:
            record.attributes[customer_id] = attributes
        note = fields.get(NOTE_FIELD)
        if isinstance(note, str):
            record.notes[customer_id] = note
    return record


def save_write_record(store: Store, account: str, record: WriteRecord, *, at: datetime) -> int:
    """Writes the customers changed since loading (one transaction); returns how many were saved."""
    from ..store.schema import NOTE_FIELD

    writes = {}
    for customer_id in sorted(record.dirty):
        fields = dict(record.attributes.get(customer_id, {}))
        if customer_id in record.notes:
            fields[NOTE_FIELD] = record.notes[customer_id]
        writes[customer_id] = fields
    if writes:
        store.save_enrichment_writes(account, writes, at=at)
    record.dirty.clear()
    return len(writes)
