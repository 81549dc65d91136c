"""Opens the right query path: the running worker that owns the store, or the store itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from lumina.config import Settings
from lumina.remote import WorkerClient, running_worker


class Queries(Protocol):
    def search(self, text: str, scope: str, k: int = 10) -> list[dict[str, Any]]: ...
    def sql(self, query: str) -> dict[str, Any]: ...
    def stats(self) -> dict[str, int]: ...


class _LocalQueries:
    """MemorySearch with results as plain dicts, like the HTTP answers."""

    def __init__(self, settings: Settings) -> None:
        from lumina.enrich.profiles import load_encoder
        from lumina.store import open_store
        from lumina.store.search import MemorySearch

        encoder = load_encoder(settings)
        self.store = open_store(settings.store_dsn, embedding_dim=encoder.dim)
        self._search = MemorySearch(self.store, encoder)

    def search(self, text: str, scope: str, k: int = 10) -> list[dict[str, Any]]:
        return [hit.as_dict() for hit in self._search.search(text, scope, k)]

    def sql(self, query: str) -> dict[str, Any]:
        return self._search.sql(query)

    def stats(self) -> dict[str, int]:
        return self._search.stats()


@contextmanager
def open_queries(settings: Settings) -> Iterator[Queries]:
    """An embedded chDB store belongs to one process: ask its worker if one runs."""
    handle = (
        running_worker(settings.run_dir, settings.store_dsn)
        if settings.clickhouse_dsn is None or settings.store_dsn.startswith("chdb:")
        else None
    )
    if handle is not None:
        yield WorkerClient(handle.api_url)
        return
    local = _LocalQueries(settings)
    try:
        yield local
    finally:
        local.store.close()
