"""ClickHouse store through clickhouse-connect: embedded chDB or a server, one code path."""

from lumina.store.client import MemoryStore, open_store

__all__ = ["MemoryStore", "open_store"]
