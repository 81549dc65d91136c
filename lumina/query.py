"""Opens the right query path: the running worker that owns the store, or the store itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from lumina.config import Settings
from lumina.remote import WorkerClient, running_worker

if TYPE_CHECKING:  # the store's modules load the ClickHouse driver: only when used
    from lumina.store.retrieval import Filters
    from lumina.store.search import SearchHit


class Queries(Protocol):
    def search(
        self, text: str, scope: str, k: int = 10, filters: Filters | None = None
    ) -> list[dict[str, Any]]: ...
    def recall(
        self, roles: dict[str, str], scope: str, k: int = 10, filters: Filters | None = None
    ) -> list[dict[str, Any]]: ...
    def unbind(self, unit_id: str, role: str, scope: str, k: int = 5) -> list[dict[str, Any]]: ...
    def sql(self, query: str) -> dict[str, Any]: ...
    def stats(self) -> dict[str, int]: ...


class _LocalQueries:
    """MemorySearch with results as plain dicts, like the HTTP answers. Result sets are
    published as accesses when a broker is configured, as the worker does."""

    def __init__(self, settings: Settings) -> None:
        from lumina.enrich.profiles import load_encoder
        from lumina.store import open_store
        from lumina.store.search import MemorySearch

        encoder = load_encoder(settings)
        self.store = open_store(settings.store_dsn, embedding_dim=encoder.dim)
        self._search = MemorySearch.from_settings(self.store, encoder, settings)
        self._settings = settings

    def _accessed(self, scope: str, hits: list[SearchHit]) -> list[dict[str, Any]]:
        from lumina.streams.access import publish_accesses

        publish_accesses(self._settings, scope, [hit.id for hit in hits])
        return [hit.as_dict() for hit in hits]

    def search(
        self, text: str, scope: str, k: int = 10, filters: Filters | None = None
    ) -> list[dict[str, Any]]:
        return self._accessed(scope, self._search.search(text, scope, k, filters))

    def recall(
        self, roles: dict[str, str], scope: str, k: int = 10, filters: Filters | None = None
    ) -> list[dict[str, Any]]:
        return self._accessed(scope, self._search.recall(roles, scope, k, filters))

    def unbind(self, unit_id: str, role: str, scope: str, k: int = 5) -> list[dict[str, Any]]:
        return self._search.unbind(unit_id, role, scope, k)

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
