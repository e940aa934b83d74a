"""The relationship history store: what sync writes and what affinity, routing and metrics read."""

from .schema import SCHEMA_VERSION, build_metadata
from .store import STORE_ENV, Reply, Store, StoredConversation, default_store_url

__all__ = ["SCHEMA_VERSION", "STORE_ENV", "Reply", "Store", "StoredConversation", "build_metadata", "default_store_url"]
