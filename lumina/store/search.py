"""Query service shared by the Python API, the CLI and the worker's HTTP endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from pydantic import TypeAdapter, ValidationError

from lumina.errors import QueryRefused
from lumina.schemas.events import Scope
from lumina.store.client import MemoryStore, SearchHit

_SCOPE = TypeAdapter(Scope)
MAX_K = 1000


class Encoder(Protocol):
    version: str  # the embed stage version its vectors carry in `stages['embed']`

    @property
    def dim(self) -> int: ...  # the vectors' dimension, which the store's index is built for

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def checked_scope(scope: str) -> str:
    """Scopes follow the TextEvent rule; anything else is refused before any SQL runs."""
    try:
        return _SCOPE.validate_python(scope)
    except ValidationError as exc:
        raise QueryRefused(f"invalid scope {scope!r}: use 1-128 of [A-Za-z0-9._:-]") from exc


class MemorySearch:
    """Semantic search, read-only SQL and counts over one store."""

    def __init__(self, store: MemoryStore, encoder: Encoder) -> None:
        self.store = store
        self.encoder = encoder

    def search(self, text: str, scope: str, k: int = 10) -> list[SearchHit]:
        if not text.strip():
            raise QueryRefused("search text is empty")
        if not 1 <= k <= MAX_K:
            raise QueryRefused(f"k must be between 1 and {MAX_K}")
        vector = self.encoder.encode([text])[0]
        return self.store.search_vector(
            checked_scope(scope), vector.tolist(), k, embed_version=self.encoder.version
        )

    def sql(self, query: str) -> dict[str, Any]:
        columns, rows = self.store.read_only_sql(query)
        return {"columns": columns, "rows": [list(map(_jsonable, r)) for r in rows]}

    def stats(self) -> dict[str, int]:
        units = self.store.query_rows("SELECT count() FROM memory_units FINAL")[0][0]
        dead = self.store.query_rows("SELECT count() FROM dead_letters FINAL")[0][0]
        return {"units": int(units), "dead_letters": int(dead)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
